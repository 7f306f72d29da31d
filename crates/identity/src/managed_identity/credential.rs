//! [`ManagedIdentityCredential`] and its options: detects the host once, then sends each
//! token request to that host's module (IMDS, App Service, Azure Arc, Cloud Shell,
//! Service Fabric) or to workload identity, with a token cache in front.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::arc::{self, arc_key_directory};
use super::detect::{ManagedIdentityEndpoint, NotFound, arc_agent_installed};
use super::host::{ManagedIdentityHost, NAME};
use super::id::ManagedIdentityId;
use super::imds::{Imds, ImdsRetryPolicy};
use super::pinned_tls::pinned_client;
use super::{app_service, cloud_shell, service_fabric};
use crate::cache::{CacheKey, TokenCache, TokenKind};
use crate::env::Env;
use crate::error::Error;
use crate::http::{self, Pipeline, Request, Response, RetryPolicy};
use crate::options::ClientOptions;
use crate::token::{AccessToken, BoxFuture, TokenCredential, TokenRequest, token_credential};
use crate::workload::{WorkloadIdentityCredential, WorkloadIdentityOptions};

/// Settings for [`ManagedIdentityCredential`].
#[derive(Debug, Clone)]
pub struct ManagedIdentityOptions {
    /// Transport (CA file, injected pipeline); `authority_host` is used only for
    /// workload identity. Service Fabric over HTTPS ignores `ca_file` and trusts only
    /// `IDENTITY_SERVER_THUMBPRINT`, unless a pipeline is injected (then that is used as is).
    pub client: ClientOptions,
    /// The environment to detect the host from; `None` reads the process's.
    pub env: Option<Env>,
    /// Whether the Azure Arc agent is installed here (then, with no endpoint variable
    /// set, Azure Arc at `http://localhost:40342` is used); `None` looks for it on this
    /// machine (`/opt/azcmagent/bin/himds`, or `himds.exe` under `%ProgramFiles%`).
    pub arc_agent_installed: Option<bool>,
    /// IMDS retry rules.
    pub imds_retry: ImdsRetryPolicy,
    /// How long the probe of the default IMDS address may take.
    pub imds_probe_timeout: Duration,
    /// Where Azure Arc key files must live; `None`: the agent's directory for this
    /// platform. Only for tests and unusual agent installs.
    pub arc_key_directory: Option<PathBuf>,
    /// Ignore the workload identity variables (a chain that has its own
    /// [`WorkloadIdentityCredential`] sets this).
    pub exclude_workload_identity: bool,
}

impl Default for ManagedIdentityOptions {
    fn default() -> Self {
        Self {
            client: ClientOptions::default(),
            env: None,
            arc_agent_installed: None,
            imds_retry: ImdsRetryPolicy::default(),
            imds_probe_timeout: Duration::from_secs(1),
            arc_key_directory: None,
            exclude_workload_identity: false,
        }
    }
}

enum Target {
    Endpoint(ManagedIdentityEndpoint),
    Workload(Box<WorkloadIdentityCredential>),
    Nothing(NotFound),
}

/// Tokens for the managed identity of the host this runs on.
///
/// Tokens are cached per host kind, identity and resource (single-flight, proactive
/// refresh at half-life for the usual 24-hour tokens). A claims challenge bypasses the
/// cache; a request's tenant is ignored (the identity has one), as in azure-identity.
///
/// ```no_run
/// use entra_identity::{ManagedIdentityCredential, ManagedIdentityId, TokenCredential, TokenRequest};
/// # async fn demo() -> Result<(), entra_identity::Error> {
/// let credential = ManagedIdentityCredential::new(ManagedIdentityId::System, Default::default())?;
/// let token = credential
///     .get_token(&TokenRequest::new(["https://management.azure.com/.default"]))
///     .await?;
/// # Ok(()) }
/// ```
///
/// Managed identity: tokens from the Azure host the code runs on, with no secret in the app.
///
/// [`ManagedIdentityCredential`] finds its host from the environment the way azure-identity
/// (1.19+) and MSAL do, first match wins:
///
/// | environment | host | request |
/// |---|---|---|
/// | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` + `IDENTITY_SERVER_THUMBPRINT` | Service Fabric | `GET`, header `secret`, `api-version=2019-07-01-preview`, `client_id` / `object_id` / `mi_res_id`; HTTPS pinned to the thumbprint |
/// | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` | App Service, Functions, Container Apps | `GET`, header `X-IDENTITY-HEADER`, `api-version=2019-08-01`, `client_id` / `principal_id` / `mi_res_id` |
/// | `IDENTITY_ENDPOINT` + `IMDS_ENDPOINT` | Azure Arc | `GET`, `api-version=2020-06-01`, 401 challenge naming a key file, retry with `Authorization: Basic <key>`; system-assigned only |
/// | `IDENTITY_ENDPOINT` alone | none | [`Error::Unavailable`] (azure-identity does the same) |
/// | `MSI_ENDPOINT` + `MSI_SECRET` | Azure ML, or legacy App Service | `GET`, header `secret`, `api-version=2017-09-01`, `clientid` only |
/// | `MSI_ENDPOINT` alone | Cloud Shell | `POST` form `resource=R`, header `Metadata: true`; system-assigned only |
/// | Arc agent installed (`/opt/azcmagent/bin/himds`) | Azure Arc at `http://localhost:40342` | as above (MSAL's rule) |
/// | `AZURE_AUTHORITY_HOST` + `AZURE_TENANT_ID` + `AZURE_FEDERATED_TOKEN_FILE` | workload identity (AKS) | [`WorkloadIdentityCredential`], unless [`ManagedIdentityOptions::exclude_workload_identity`] |
/// | anything else | IMDS | `GET {base}/metadata/identity/oauth2/token`, header `Metadata: true`, `api-version=2018-02-01`, `client_id` / `object_id` / `msi_res_id` |
///
/// **Azure ML and App Service 2017.** Both set `MSI_ENDPOINT` + `MSI_SECRET` and speak the same
/// protocol; azure-identity and MSAL call it Azure ML. Azure ML also sets
/// `DEFAULT_IDENTITY_CLIENT_ID`, and MSAL .NET and msal-node send it as `clientid` when
/// the system-assigned identity is asked for; so does this crate, which also uses the
/// variable to tell the two apart in messages. Without it the request names no identity
/// (azure-identity's behaviour). Azure ML answers `expires_on` in epoch seconds, App
/// Service 2017 as a date (`1/16/2020 5:24:12 AM +00:00` on Windows, `06/20/2019 02:57:58
/// +00:00` on Linux); both are read.
///
/// **IMDS base.** `http://169.254.169.254` unless `AZURE_POD_IDENTITY_AUTHORITY_HOST` (or,
/// an entrakit extension, `IMDS_ENDPOINT` without `IDENTITY_ENDPOINT`) names another base,
/// which may be `https://` (the emulator's is; trust its CA with [`ClientOptions::ca_file`]).
/// With the default base the first request is a short probe
/// ([`ManagedIdentityOptions::imds_probe_timeout`]): no answer means "not an Azure VM", and
/// the credential reports [`Error::Unavailable`] from then on, so a chain moves on quickly.
///
/// **Retries.** IMDS: 404, 408, 429 and 5xx up to 3 times with exponential backoff (1 s,
/// 2 s, 4 s, or the server's `Retry-After`), 410 ("upgrading, ready within 70 s") every
/// 10 s up to 7 times, and connection failures like 5xx; see [`ImdsRetryPolicy`], whose
/// delays tests shrink. Other hosts use the [`Pipeline`]'s policy.
///
/// **Errors.** [`Error::Unavailable`] when no endpoint is configured, IMDS does not answer, or
/// IMDS says the identity is not assigned here; [`Error::Config`] for an identity kind the
/// host cannot select (Arc, Cloud Shell, Azure ML) or a bad endpoint URL;
/// [`Error::ManagedIdentity`] naming the host around what it answered ([`Error::Entra`] when
/// it relayed an OAuth error, so [`Error::entra`] and its hints work); [`Error::Transport`]
/// when a configured host never answered.
///
/// ## Security notes
/// The identity header, the MSI secret and the Arc key are [`Secret`](crate::Secret)s: they are never
/// logged, never in `Debug`, and scrubbed from any error text a host echoes them in. Error
/// bodies are reduced to their fields, never kept raw. The Arc key file is read only from
/// the agent's token directory (`/var/opt/azcmagent/tokens`, or
/// `%ProgramData%\AzureConnectedMachineAgent\Tokens`), only with a `.key` extension and at
/// most 4096 bytes, after resolving links. Service Fabric's self-signed endpoint is trusted
/// by its `IDENTITY_SERVER_THUMBPRINT` (SHA-1, or SHA-256) and nothing else, where
/// azure-identity turns certificate checks off.
pub struct ManagedIdentityCredential {
    id: ManagedIdentityId,
    target: Target,
    pipeline: Pipeline,
    cache: TokenCache,
    imds: Imds,
    arc_key_directory: Result<PathBuf, String>,
}

impl std::fmt::Debug for ManagedIdentityCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct(NAME);
        d.field("id", &self.id);
        match &self.target {
            Target::Endpoint(e) => d.field("endpoint", e),
            Target::Workload(w) => d.field("workload", w),
            Target::Nothing(NotFound::Unavailable(r) | NotFound::Config(r)) => {
                d.field("unusable", r)
            }
        };
        d.finish()
    }
}

impl ManagedIdentityCredential {
    /// A credential for `id`, its host detected from `options.env` (or the process
    /// environment). Fails only when the transport cannot be built (a bad CA file); a
    /// missing or unusable host shows up as an error from `get_token`, so a chain can
    /// move on.
    pub fn new(id: ManagedIdentityId, options: ManagedIdentityOptions) -> Result<Self, Error> {
        let env = options.env.clone().unwrap_or_else(Env::from_process);
        let arc = options
            .arc_agent_installed
            .unwrap_or_else(|| arc_agent_installed(&env));
        let target = match ManagedIdentityEndpoint::detect_inner(
            &env,
            !options.exclude_workload_identity,
            arc,
        ) {
            Ok(ManagedIdentityEndpoint::WorkloadIdentity {
                tenant_id,
                token_file,
                authority_host,
            }) => workload_target(&id, &env, tenant_id, token_file, authority_host, &options),
            Ok(e) => Target::Endpoint(e),
            Err(e) => Target::Nothing(e),
        };
        let pipeline = match (&target, &options.client.pipeline) {
            (
                Target::Endpoint(ManagedIdentityEndpoint::ServiceFabric {
                    url, thumbprint, ..
                }),
                None,
            ) if url.starts_with("https://") => match pinned_client(thumbprint) {
                Ok(client) => Pipeline::new(Arc::new(client), RetryPolicy::default()),
                Err(reason) => {
                    return Ok(Self::unusable(id, NotFound::Config(reason), &options));
                }
            },
            _ => options.client.pipeline()?,
        };
        if let Target::Endpoint(e) = &target {
            tracing::debug!(host = e.host().name(), "managed identity host detected");
        }
        Ok(Self {
            id,
            target,
            pipeline,
            cache: TokenCache::new(),
            imds: Imds {
                retry: options.imds_retry,
                probe_timeout: options.imds_probe_timeout,
                reachable: OnceCell::new(),
            },
            arc_key_directory: options
                .arc_key_directory
                .map(Ok)
                .unwrap_or_else(|| arc_key_directory(&env)),
        })
    }

    fn unusable(id: ManagedIdentityId, why: NotFound, options: &ManagedIdentityOptions) -> Self {
        Self {
            id,
            target: Target::Nothing(why),
            pipeline: Pipeline::new(Arc::new(Unreachable), RetryPolicy::default()),
            cache: TokenCache::new(),
            imds: Imds {
                retry: options.imds_retry.clone(),
                probe_timeout: options.imds_probe_timeout,
                reachable: OnceCell::new(),
            },
            arc_key_directory: Err("unused".into()),
        }
    }

    /// The detected host, if any.
    pub fn host(&self) -> Option<ManagedIdentityHost> {
        match &self.target {
            Target::Endpoint(e) => Some(e.host()),
            Target::Workload(_) => Some(ManagedIdentityHost::WorkloadIdentity),
            Target::Nothing(_) => None,
        }
    }

    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        let endpoint = match &self.target {
            Target::Nothing(why) => return Err(why.error()),
            Target::Workload(w) => return w.get_token(request).await,
            Target::Endpoint(e) => e,
        };
        let resource = resource_for(&request.scopes)?;
        let host = endpoint.host();
        let key = CacheKey::new(
            &format!("managed-identity:{}", host.key()),
            "",
            &self.id.cache_id(),
            "",
            std::slice::from_ref(&resource),
            TokenKind::App,
        );
        self.cache
            .get_or_fetch(&key, request.skips_cache(), || {
                self.fetch(endpoint, &resource)
            })
            .await
    }

    async fn fetch(
        &self,
        endpoint: &ManagedIdentityEndpoint,
        resource: &str,
    ) -> Result<AccessToken, Error> {
        let (pipeline, id) = (&self.pipeline, &self.id);
        match endpoint {
            ManagedIdentityEndpoint::Imds { base, explicit } => {
                self.imds
                    .fetch(pipeline, id, base, *explicit, resource)
                    .await
            }
            ManagedIdentityEndpoint::AppService { url, header } => {
                app_service::fetch(pipeline, id, url, header, resource).await
            }
            ManagedIdentityEndpoint::AppService2017 { url, secret } => {
                let host = ManagedIdentityHost::AppService2017;
                app_service::fetch_2017(pipeline, id, host, None, (url, secret), resource).await
            }
            ManagedIdentityEndpoint::AzureMl {
                url,
                secret,
                default_client_id,
            } => {
                let host = ManagedIdentityHost::AzureMl;
                let default = Some(default_client_id.as_str());
                app_service::fetch_2017(pipeline, id, host, default, (url, secret), resource).await
            }
            ManagedIdentityEndpoint::AzureArc { url } => {
                arc::fetch(pipeline, id, &self.arc_key_directory, url, resource).await
            }
            ManagedIdentityEndpoint::CloudShell { url } => {
                cloud_shell::fetch(pipeline, id, url, resource).await
            }
            ManagedIdentityEndpoint::ServiceFabric { url, header, .. } => {
                service_fabric::fetch(pipeline, id, url, header, resource).await
            }
            // `new` turns this endpoint into its own target; never fetched from here.
            ManagedIdentityEndpoint::WorkloadIdentity { .. } => Err(Error::Config(
                "workload identity is served by WorkloadIdentityCredential".into(),
            )),
        }
    }
}

token_credential!(ManagedIdentityCredential, NAME);

fn workload_target(
    id: &ManagedIdentityId,
    env: &Env,
    tenant_id: String,
    token_file: PathBuf,
    authority_host: String,
    options: &ManagedIdentityOptions,
) -> Target {
    let client_id = match id {
        ManagedIdentityId::ClientId(c) => c.clone(),
        ManagedIdentityId::System => match env.get("AZURE_CLIENT_ID") {
            Some(c) => c.to_string(),
            None => {
                return Target::Nothing(NotFound::Config(
                    "workload identity needs a client id: set AZURE_CLIENT_ID or ask for ManagedIdentityId::ClientId".into(),
                ));
            }
        },
        other => {
            return Target::Nothing(NotFound::Config(format!(
                "workload identity selects an app by client id only, not {}",
                other.describe()
            )));
        }
    };
    let mut client = options.client.clone();
    client.authority_host.get_or_insert(authority_host);
    match WorkloadIdentityCredential::new(WorkloadIdentityOptions {
        tenant_id: Some(tenant_id),
        client_id: Some(client_id),
        token_file: Some(token_file),
        client,
        env: Some(env.clone()),
    }) {
        Ok(w) => Target::Workload(Box::new(w)),
        Err(e) => Target::Nothing(NotFound::Config(e.to_string())),
    }
}

/// The one scope, as a resource: `https://x/.default` -> `https://x`.
pub(super) fn resource_for(scopes: &[String]) -> Result<String, Error> {
    match scopes {
        [scope] if !scope.trim().is_empty() => {
            let s = scope.trim();
            Ok(s.strip_suffix("/.default").unwrap_or(s).to_string())
        }
        _ => Err(Error::Config(format!(
            "managed identity takes exactly one scope per request (such as https://management.azure.com/.default), not {}",
            scopes.len()
        ))),
    }
}

/// A transport for credentials that can never send (their configuration is unusable).
struct Unreachable;

impl http::HttpClient for Unreachable {
    fn send(&self, _: Request) -> BoxFuture<'_, Result<Response, String>> {
        Box::pin(async { Err("not configured".to_string()) })
    }
}
