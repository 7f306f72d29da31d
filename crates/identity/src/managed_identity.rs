//! Managed identity: tokens from the Azure host the code runs on, with no secret in the app.
//!
//! [`ManagedIdentityCredential`] finds its host from the environment the way azure-identity
//! (1.19+) and MSAL do, first match wins:
//!
//! | environment | host | request |
//! |---|---|---|
//! | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` + `IDENTITY_SERVER_THUMBPRINT` | Service Fabric | `GET`, header `secret`, `api-version=2019-07-01-preview`, `client_id` / `object_id` / `mi_res_id`; HTTPS pinned to the thumbprint |
//! | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` | App Service, Functions, Container Apps | `GET`, header `X-IDENTITY-HEADER`, `api-version=2019-08-01`, `client_id` / `principal_id` / `mi_res_id` |
//! | `IDENTITY_ENDPOINT` + `IMDS_ENDPOINT` | Azure Arc | `GET`, `api-version=2020-06-01`, 401 challenge naming a key file, retry with `Authorization: Basic <key>`; system-assigned only |
//! | `IDENTITY_ENDPOINT` alone | none | [`Error::Unavailable`] (azure-identity does the same) |
//! | `MSI_ENDPOINT` + `MSI_SECRET` | Azure ML, or legacy App Service | `GET`, header `secret`, `api-version=2017-09-01`, `clientid` only |
//! | `MSI_ENDPOINT` alone | Cloud Shell | `POST` form `resource=R`, header `Metadata: true`; system-assigned only |
//! | Arc agent installed (`/opt/azcmagent/bin/himds`) | Azure Arc at `http://localhost:40342` | as above (MSAL's rule) |
//! | `AZURE_AUTHORITY_HOST` + `AZURE_TENANT_ID` + `AZURE_FEDERATED_TOKEN_FILE` | workload identity (AKS) | [`WorkloadIdentityCredential`], unless [`ManagedIdentityOptions::exclude_workload_identity`] |
//! | anything else | IMDS | `GET {base}/metadata/identity/oauth2/token`, header `Metadata: true`, `api-version=2018-02-01`, `client_id` / `object_id` / `msi_res_id` |
//!
//! **Azure ML and App Service 2017.** Both set `MSI_ENDPOINT` + `MSI_SECRET` and speak the same
//! protocol; azure-identity and MSAL call it Azure ML. Azure ML also sets
//! `DEFAULT_IDENTITY_CLIENT_ID`, and MSAL .NET and msal-node send it as `clientid` when
//! the system-assigned identity is asked for; so does this crate, which also uses the
//! variable to tell the two apart in messages. Without it the request names no identity
//! (azure-identity's behaviour). Azure ML answers `expires_on` in epoch seconds, App
//! Service 2017 as a date (`1/16/2020 5:24:12 AM +00:00` on Windows, `06/20/2019 02:57:58
//! +00:00` on Linux); both are read.
//!
//! **IMDS base.** `http://169.254.169.254` unless `AZURE_POD_IDENTITY_AUTHORITY_HOST` (or,
//! an entrakit extension, `IMDS_ENDPOINT` without `IDENTITY_ENDPOINT`) names another base,
//! which may be `https://` (the emulator's is; trust its CA with [`ClientOptions::ca_file`]).
//! With the default base the first request is a short probe
//! ([`ManagedIdentityOptions::imds_probe_timeout`]): no answer means "not an Azure VM", and
//! the credential reports [`Error::Unavailable`] from then on, so a chain moves on quickly.
//!
//! **Retries.** IMDS: 404, 408, 429 and 5xx up to 3 times with exponential backoff (1 s,
//! 2 s, 4 s, or the server's `Retry-After`), 410 ("upgrading, ready within 70 s") every
//! 10 s up to 7 times, and connection failures like 5xx; see [`ImdsRetryPolicy`], whose
//! delays tests shrink. Other hosts use the [`Pipeline`]'s policy.
//!
//! **Errors.** [`Error::Unavailable`] when no endpoint is configured, IMDS does not answer, or
//! IMDS says the identity is not assigned here; [`Error::Config`] for an identity kind the
//! host cannot select (Arc, Cloud Shell, Azure ML) or a bad endpoint URL;
//! [`Error::ManagedIdentity`] naming the host around what it answered ([`Error::Entra`] when
//! it relayed an OAuth error, so [`Error::entra`] and its hints work); [`Error::Transport`]
//! when a configured host never answered.
//!
//! ## Security notes
//! The identity header, the MSI secret and the Arc key are [`Secret`]s: they are never
//! logged, never in `Debug`, and scrubbed from any error text a host echoes them in. Error
//! bodies are reduced to their fields, never kept raw. The Arc key file is read only from
//! the agent's token directory (`/var/opt/azcmagent/tokens`, or
//! `%ProgramData%\AzureConnectedMachineAgent\Tokens`), only with a `.key` extension and at
//! most 4096 bytes, after resolving links. Service Fabric's self-signed endpoint is trusted
//! by its `IDENTITY_SERVER_THUMBPRINT` (SHA-1, or SHA-256) and nothing else, where
//! azure-identity turns certificate checks off.

mod app_service;
mod arc;
mod cloud_shell;
mod credential;
mod detect;
mod host;
mod id;
mod imds;
mod pinned_tls;
mod response;
mod service_fabric;

pub use credential::{ManagedIdentityCredential, ManagedIdentityOptions};
pub use detect::ManagedIdentityEndpoint;
pub use host::ManagedIdentityHost;
pub use id::ManagedIdentityId;
pub use imds::ImdsRetryPolicy;

#[cfg(test)]
mod tests;
