//! # entra-identity
//!
//! Entra ID (Azure AD) credentials for Rust, and a token cache that never stampedes.
//!
//! ```no_run
//! use entra_identity::{ClientOptions, ClientSecretCredential, TokenCredential, TokenRequest};
//! # async fn demo() -> Result<(), entra_identity::Error> {
//! let credential = ClientSecretCredential::new(
//!     "contoso.onmicrosoft.com",
//!     "d0000000-0000-4000-8000-0000000000d1",
//!     std::env::var("AZURE_CLIENT_SECRET").unwrap_or_default(),
//!     ClientOptions::default(),
//! )?;
//! let token = credential.get_token(&TokenRequest::new(["https://graph.microsoft.com/.default"])).await?;
//! println!("expires at {}", token.expires_on);
//! # Ok(()) }
//! ```
//!
//! ## Configuration from the environment
//! [`ClientOptions::from_env`] reads, in one call, the variables the `entra` CLI reads and
//! `entra up` prints: `AZURE_AUTHORITY_HOST` (the login host; the public cloud when unset)
//! and `SSL_CERT_FILE` (an extra CA to trust, such as the emulator's `ca.pem`), with
//! `ENTRA_AUTHORITY` / `ENTRA_CA_FILE` as aliases. [`ClientOptions::for_emulator`] is the
//! same with the two values passed in. Neither turns a security check off.
//!
//! ```no_run
//! use entra_identity::{ClientOptions, ClientSecretCredential, TokenCredential, TokenRequest};
//! # async fn demo() -> Result<(), entra_identity::Error> {
//! // AZURE_AUTHORITY_HOST=https://localhost:8443 SSL_CERT_FILE=/path/to/emulator/ca.pem
//! let options = ClientOptions::from_env();
//! let credential = ClientSecretCredential::new("contoso.onmicrosoft.com", "d0000000-0000-4000-8000-0000000000d1", "s3cret", options)?;
//! let token = credential.get_token(&TokenRequest::new(["api://contoso-api/.default"])).await?;
//! println!("valid for {:?}", token.expires_in());
//! # Ok(()) }
//! ```
//!
//! Runnable programs: `examples/client_secret.rs` (a daemon) and `examples/device_code.rs`
//! (a CLI with the encrypted persistent cache).
//!
//! ## What is here
//! - [`ClientSecretCredential`], [`ClientCertificateCredential`] (PEM or PKCS#12, RS256 `x5t` or
//!   PS256 `x5t#S256`, optional `x5c`), [`ClientAssertionCredential`].
//! - [`EnvironmentCredential`] (the `AZURE_*` variables, read from an injectable [`Env`]),
//!   [`AzureCliCredential`] (runs `az`, no shell, with a timeout).
//! - [`ChainedTokenCredential`] and [`DefaultAzureCredential`] (environment → workload
//!   identity → managed identity → Azure CLI → the cached user account, narrowed by
//!   `AZURE_TOKEN_CREDENTIALS`): when every credential fails, one error lists each one
//!   and why. [`SharedTokenCacheCredential`] is that cached user account.
//! - [`ManagedIdentityCredential`] for all six managed-identity hosts (IMDS, App Service
//!   2019 and 2017, Azure Arc, Cloud Shell, Service Fabric, Azure ML), detected from the
//!   environment as azure-identity does; [`WorkloadIdentityCredential`] for AKS, re-reading
//!   its rotating token file.
//! - [`TokenCache`]: single-flight per key, proactive refresh at `refresh_on`, a 5-minute
//!   expiry buffer, claims challenges bypass it.
//! - [`persist`]: a token cache file in the MSAL schema, shared with MSAL
//!   Python/Node/.NET; AES-256-GCM at rest unless opted out by name, the key in the OS
//!   keyring where one is reachable (feature `os-keyring`, default) or a 0600 key file;
//!   atomic writes under a cross-process lock, damaged files refused and kept; refresh
//!   tokens redeemed by one process at a time.
//! - [`Authority`]: public, US Government, China and custom clouds; hosts that are not
//!   well known are checked by instance discovery before any secret is sent to them
//!   ([`InstanceDiscovery::DangerDisabled`] opts out).
//! - [`http::Pipeline`]: retries 429/5xx/connection errors with backoff and jitter,
//!   honouring `Retry-After` and `x-ms-retry-after-ms`; never follows a redirect to
//!   another host.
//! - Typed errors that keep Entra's `error`, AADSTS codes, trace and correlation ids, with
//!   a hint for the classic mistakes.
//!
//! ## Security notes
//! Every token, secret and key is a [`Secret`]: `Debug` prints `[redacted]`, there is no
//! `Display`, and memory is zeroed on drop. Errors never carry request or response bodies.

#![warn(missing_docs)]

// Every type has one public path: the re-exports below. The modules are private, except
// `http` (the transport seam), `persist` (the cache file toolkit), `aadsts` (the table of
// Entra error codes) and `unix_time` (lenient time fields), whose items are not
// re-exported here.
pub mod aadsts;
mod account;
mod authority;
mod azure_cli;
mod cache;
mod chain;
mod confidential;
mod env;
mod environment;
mod error;
pub mod http;
mod managed_identity;
mod on_behalf_of;
mod options;
pub mod persist;
mod public_client;
mod secret;
mod shared_cache;
mod token;
mod token_endpoint;
pub mod unix_time;
mod workload;

pub use account::Account;
pub use authority::{
    AZURE_CHINA, AZURE_PUBLIC_CLOUD, AZURE_US_GOVERNMENT, Authority, AuthorityMetadata,
    INSTANCE_DISCOVERY_ENDPOINT, InstanceDiscovery,
};
pub use azure_cli::{AzureCliCredential, AzureCliOptions};
pub use cache::{CacheKey, TokenCache, TokenKind};
pub use chain::{
    ChainedTokenCredential, CredentialFactory, DefaultAzureCredential,
    DefaultAzureCredentialOptions,
};
pub use confidential::{
    Algorithm, AssertionCallback, ClientAssertionCredential, ClientAuth, ClientCertificate,
    ClientCertificateCredential, ClientSecretCredential,
};
pub use env::Env;
pub use environment::EnvironmentCredential;
pub use error::{EntraErrorResponse, Error};
pub use managed_identity::{
    ImdsRetryPolicy, ManagedIdentityCredential, ManagedIdentityEndpoint, ManagedIdentityHost,
    ManagedIdentityId, ManagedIdentityOptions,
};
pub use on_behalf_of::OnBehalfOfCredential;
pub use options::ClientOptions;
pub use public_client::{
    DeviceCodeCallback, DeviceCodeCredential, DeviceCodeInfo, InteractiveBrowserCredential,
    InteractiveOptions, PublicClient, RedirectHost, SignIn, UrlCallback,
};
pub use secret::Secret;
pub use shared_cache::{
    DEFAULT_PUBLIC_CLIENT_ID, SharedTokenCacheCredential, SharedTokenCacheOptions,
    default_cache_path, default_cache_path_in,
};
pub use token::{AccessToken, BoxFuture, TokenCredential, TokenRequest};
pub use workload::{WorkloadIdentityCredential, WorkloadIdentityOptions};
