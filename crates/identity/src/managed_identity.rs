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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::cache::{CacheKey, TokenCache, TokenKind};
use crate::confidential::ClientOptions;
use crate::environment::Env;
use crate::error::{EntraErrorResponse, Error};
use crate::http::{self, Pipeline, Request, ReqwestClient, Response, RetryPolicy};
use crate::secret::Secret;
use crate::token::{
    AccessToken, BoxFuture, TokenCredential, TokenRequest, now, parse_expires_on, refresh_on,
    seconds,
};
use crate::workload::{WorkloadIdentityCredential, WorkloadIdentityOptions};

const NAME: &str = "ManagedIdentityCredential";

/// The default IMDS base.
pub const IMDS_DEFAULT_BASE: &str = "http://169.254.169.254";
/// The IMDS token path, appended to the base.
pub const IMDS_TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
/// Where the Azure Arc agent listens when only its installation is detected.
pub const ARC_DEFAULT_ENDPOINT: &str = "http://localhost:40342/metadata/identity/oauth2/token";
/// Largest Azure Arc key file read (azure-identity's and MSAL's limit).
pub const ARC_MAX_KEY_BYTES: u64 = 4096;

/// Is the Azure Arc agent installed on this machine (`/opt/azcmagent/bin/himds`, or
/// `%ProgramFiles%\AzureConnectedMachineAgent\himds.exe`, located with `env`)? MSAL's
/// fallback detection; what [`ManagedIdentityOptions::arc_agent_installed`] defaults to.
pub fn arc_agent_installed(env: &Env) -> bool {
    arc_agent_path(env).is_some_and(|p| p.exists())
}

fn arc_agent_path(env: &Env) -> Option<PathBuf> {
    if cfg!(target_os = "linux") {
        Some(PathBuf::from("/opt/azcmagent/bin/himds"))
    } else if cfg!(windows) {
        env.get("ProgramFiles")
            .or(env.get("PROGRAMFILES"))
            .map(|p| {
                Path::new(p)
                    .join("AzureConnectedMachineAgent")
                    .join("himds.exe")
            })
    } else {
        None
    }
}

/// The Azure Arc agent's token directory on this platform.
pub fn arc_key_directory(env: &Env) -> Result<PathBuf, String> {
    if cfg!(target_os = "linux") {
        Ok(PathBuf::from("/var/opt/azcmagent/tokens"))
    } else if cfg!(windows) {
        env.get("ProgramData")
            .or(env.get("PROGRAMDATA"))
            .map(|p| {
                Path::new(p)
                    .join("AzureConnectedMachineAgent")
                    .join("Tokens")
            })
            .ok_or_else(|| "PROGRAMDATA is not set".to_string())
    } else {
        Err("Azure Arc managed identity exists on Linux and Windows only".into())
    }
}

/// Which managed identity: the host's system-assigned one, or a user-assigned one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum ManagedIdentityId {
    /// The system-assigned identity (or whatever the host uses by default).
    #[default]
    System,
    /// A user-assigned identity by client (application) id.
    ClientId(String),
    /// A user-assigned identity by object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by Azure resource id.
    ResourceId(String),
}

impl ManagedIdentityId {
    fn cache_id(&self) -> String {
        match self {
            ManagedIdentityId::System => "system".into(),
            ManagedIdentityId::ClientId(c) => format!("client_id:{c}"),
            ManagedIdentityId::ObjectId(o) => format!("object_id:{o}"),
            ManagedIdentityId::ResourceId(r) => format!("resource_id:{r}"),
        }
    }

    fn describe(&self) -> String {
        match self {
            ManagedIdentityId::System => "the system-assigned identity".into(),
            ManagedIdentityId::ClientId(c) => format!("the identity with client id {c}"),
            ManagedIdentityId::ObjectId(o) => format!("the identity with object id {o}"),
            ManagedIdentityId::ResourceId(r) => format!("the identity with resource id {r}"),
        }
    }

    /// The query parameter selecting this identity, given the host's names for client id,
    /// object id and resource id (`None`: the host cannot select by that).
    fn param<'a>(
        &'a self,
        host: ManagedIdentityHost,
        names: [Option<&'static str>; 3],
    ) -> Result<Option<(&'static str, &'a str)>, Error> {
        let (slot, value) = match self {
            ManagedIdentityId::System => return Ok(None),
            ManagedIdentityId::ClientId(v) => (0, v),
            ManagedIdentityId::ObjectId(v) => (1, v),
            ManagedIdentityId::ResourceId(v) => (2, v),
        };
        match names[slot] {
            Some(name) => Ok(Some((name, value.as_str()))),
            None if names.iter().all(Option::is_none) => Err(Error::Config(format!(
                "{} managed identity supports only the system-assigned identity, not {}; leave the identity unset (and AZURE_CLIENT_ID too, with a chain)",
                host.name(),
                self.describe()
            ))),
            None => Err(Error::Config(format!(
                "{} managed identity selects a user-assigned identity by client id only, not {}",
                host.name(),
                self.describe()
            ))),
        }
    }
}

/// The kinds of managed-identity host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentityHost {
    /// Azure VMs and scale sets (Instance Metadata Service), AKS pod identity.
    Imds,
    /// App Service, Functions, Container Apps (api-version 2019-08-01).
    AppService,
    /// Legacy App Service (api-version 2017-09-01).
    AppService2017,
    /// Azure Machine Learning (the 2017-09-01 protocol, `DEFAULT_IDENTITY_CLIENT_ID`).
    AzureMl,
    /// Azure Arc-enabled servers.
    AzureArc,
    /// Azure Cloud Shell.
    CloudShell,
    /// Service Fabric.
    ServiceFabric,
    /// AKS workload identity (a federated token file).
    WorkloadIdentity,
}

impl ManagedIdentityHost {
    /// A human name, used in messages.
    pub fn name(self) -> &'static str {
        match self {
            ManagedIdentityHost::Imds => "IMDS",
            ManagedIdentityHost::AppService => "App Service (2019-08-01)",
            ManagedIdentityHost::AppService2017 => "App Service (2017-09-01)",
            ManagedIdentityHost::AzureMl => "Azure ML",
            ManagedIdentityHost::AzureArc => "Azure Arc",
            ManagedIdentityHost::CloudShell => "Cloud Shell",
            ManagedIdentityHost::ServiceFabric => "Service Fabric",
            ManagedIdentityHost::WorkloadIdentity => "workload identity",
        }
    }

    fn key(self) -> &'static str {
        match self {
            ManagedIdentityHost::Imds => "imds",
            ManagedIdentityHost::AppService => "app-service",
            ManagedIdentityHost::AppService2017 => "app-service-2017",
            ManagedIdentityHost::AzureMl => "azure-ml",
            ManagedIdentityHost::AzureArc => "azure-arc",
            ManagedIdentityHost::CloudShell => "cloud-shell",
            ManagedIdentityHost::ServiceFabric => "service-fabric",
            ManagedIdentityHost::WorkloadIdentity => "workload-identity",
        }
    }
}

/// Where tokens come from, as detected from the environment. `Debug` hides the secrets.
#[derive(Clone)]
#[non_exhaustive]
pub enum ManagedIdentityEndpoint {
    /// IMDS at `base` (`explicit`: set by the environment, so no probe is needed).
    Imds {
        /// `http://169.254.169.254` or the configured base.
        base: String,
        /// Configured rather than the default.
        explicit: bool,
    },
    /// App Service 2019-08-01.
    AppService {
        /// `IDENTITY_ENDPOINT`.
        url: String,
        /// `IDENTITY_HEADER`.
        header: Secret,
    },
    /// App Service 2017-09-01.
    AppService2017 {
        /// `MSI_ENDPOINT`.
        url: String,
        /// `MSI_SECRET`.
        secret: Secret,
    },
    /// Azure ML.
    AzureMl {
        /// `MSI_ENDPOINT`.
        url: String,
        /// `MSI_SECRET`.
        secret: Secret,
        /// `DEFAULT_IDENTITY_CLIENT_ID`: sent for the system-assigned identity.
        default_client_id: String,
    },
    /// Azure Arc.
    AzureArc {
        /// `IDENTITY_ENDPOINT`, or the agent's default.
        url: String,
    },
    /// Cloud Shell.
    CloudShell {
        /// `MSI_ENDPOINT`.
        url: String,
    },
    /// Service Fabric.
    ServiceFabric {
        /// `IDENTITY_ENDPOINT`.
        url: String,
        /// `IDENTITY_HEADER`.
        header: Secret,
        /// `IDENTITY_SERVER_THUMBPRINT`.
        thumbprint: String,
    },
    /// Workload identity.
    WorkloadIdentity {
        /// `AZURE_TENANT_ID`.
        tenant_id: String,
        /// `AZURE_FEDERATED_TOKEN_FILE`.
        token_file: PathBuf,
        /// `AZURE_AUTHORITY_HOST`.
        authority_host: String,
    },
}

impl std::fmt::Debug for ManagedIdentityEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct(self.host().name());
        match self {
            ManagedIdentityEndpoint::Imds { base, explicit } => {
                d.field("base", base).field("explicit", explicit)
            }
            ManagedIdentityEndpoint::AppService { url, header }
            | ManagedIdentityEndpoint::AppService2017 {
                url,
                secret: header,
            } => d.field("url", url).field("secret", header),
            ManagedIdentityEndpoint::AzureMl {
                url,
                secret,
                default_client_id,
            } => d
                .field("url", url)
                .field("secret", secret)
                .field("default_client_id", default_client_id),
            ManagedIdentityEndpoint::AzureArc { url }
            | ManagedIdentityEndpoint::CloudShell { url } => d.field("url", url),
            ManagedIdentityEndpoint::ServiceFabric {
                url,
                header,
                thumbprint,
            } => d
                .field("url", url)
                .field("secret", header)
                .field("thumbprint", thumbprint),
            ManagedIdentityEndpoint::WorkloadIdentity {
                tenant_id,
                token_file,
                authority_host,
            } => d
                .field("tenant_id", tenant_id)
                .field("token_file", token_file)
                .field("authority_host", authority_host),
        };
        d.finish()
    }
}

/// Why detection found nothing usable.
enum NotFound {
    Unavailable(String),
    Config(String),
}

impl NotFound {
    fn error(&self) -> Error {
        match self {
            NotFound::Unavailable(r) => Error::Unavailable {
                credential: NAME,
                reason: r.clone(),
            },
            NotFound::Config(r) => Error::Config(r.clone()),
        }
    }
}

fn endpoint_url(env: &Env, name: &str) -> Result<String, NotFound> {
    let v = env.get(name).unwrap_or_default();
    let ok = (v.starts_with("http://") || v.starts_with("https://"))
        && v.parse::<::http::Uri>().is_ok_and(|u| u.host().is_some());
    if ok {
        Ok(v.to_string())
    } else {
        Err(NotFound::Config(format!(
            "{name} is {:?}, which is not an http(s) URL",
            truncate(v, 200)
        )))
    }
}

impl ManagedIdentityEndpoint {
    /// The host kind.
    pub fn host(&self) -> ManagedIdentityHost {
        match self {
            ManagedIdentityEndpoint::Imds { .. } => ManagedIdentityHost::Imds,
            ManagedIdentityEndpoint::AppService { .. } => ManagedIdentityHost::AppService,
            ManagedIdentityEndpoint::AppService2017 { .. } => ManagedIdentityHost::AppService2017,
            ManagedIdentityEndpoint::AzureMl { .. } => ManagedIdentityHost::AzureMl,
            ManagedIdentityEndpoint::AzureArc { .. } => ManagedIdentityHost::AzureArc,
            ManagedIdentityEndpoint::CloudShell { .. } => ManagedIdentityHost::CloudShell,
            ManagedIdentityEndpoint::ServiceFabric { .. } => ManagedIdentityHost::ServiceFabric,
            ManagedIdentityEndpoint::WorkloadIdentity { .. } => {
                ManagedIdentityHost::WorkloadIdentity
            }
        }
    }

    /// Detects the host from `env` (see the module docs for the order).
    /// `workload_identity`: whether the AKS workload identity variables count;
    /// `arc_agent_installed`: whether the Azure Arc agent is on this machine (see
    /// [`arc_agent_installed`]).
    pub fn detect(
        env: &Env,
        workload_identity: bool,
        arc_agent_installed: bool,
    ) -> Result<Self, Error> {
        Self::detect_inner(env, workload_identity, arc_agent_installed).map_err(|e| e.error())
    }

    fn detect_inner(
        env: &Env,
        workload_identity: bool,
        arc_agent_installed: bool,
    ) -> Result<Self, NotFound> {
        let secret = |name: &str| Secret::new(env.get(name).unwrap_or_default());
        if env.get("IDENTITY_ENDPOINT").is_some() {
            let url = endpoint_url(env, "IDENTITY_ENDPOINT")?;
            return match (
                env.get("IDENTITY_HEADER"),
                env.get("IDENTITY_SERVER_THUMBPRINT"),
                env.get("IMDS_ENDPOINT"),
            ) {
                (Some(_), Some(thumbprint), _) => Ok(Self::ServiceFabric {
                    url,
                    header: secret("IDENTITY_HEADER"),
                    thumbprint: thumbprint.to_string(),
                }),
                (Some(_), None, _) => Ok(Self::AppService {
                    url,
                    header: secret("IDENTITY_HEADER"),
                }),
                (None, _, Some(_)) => Ok(Self::AzureArc { url }),
                (None, _, None) => Err(NotFound::Unavailable(
                    "IDENTITY_ENDPOINT is set but neither IDENTITY_HEADER (App Service, Service Fabric) nor IMDS_ENDPOINT (Azure Arc) is; no managed identity endpoint can be used".into(),
                )),
            };
        }
        if env.get("MSI_ENDPOINT").is_some() {
            let url = endpoint_url(env, "MSI_ENDPOINT")?;
            return Ok(
                match (env.get("MSI_SECRET"), env.get("DEFAULT_IDENTITY_CLIENT_ID")) {
                    (Some(_), Some(default_client_id)) => Self::AzureMl {
                        url,
                        secret: secret("MSI_SECRET"),
                        default_client_id: default_client_id.to_string(),
                    },
                    (Some(_), None) => Self::AppService2017 {
                        url,
                        secret: secret("MSI_SECRET"),
                    },
                    (None, _) => Self::CloudShell { url },
                },
            );
        }
        if arc_agent_installed {
            return Ok(Self::AzureArc {
                url: ARC_DEFAULT_ENDPOINT.into(),
            });
        }
        if workload_identity
            && let (Some(authority_host), Some(tenant_id), Some(file)) = (
                env.get("AZURE_AUTHORITY_HOST"),
                env.get("AZURE_TENANT_ID"),
                env.get("AZURE_FEDERATED_TOKEN_FILE"),
            )
        {
            return Ok(Self::WorkloadIdentity {
                tenant_id: tenant_id.into(),
                token_file: file.into(),
                authority_host: authority_host.into(),
            });
        }
        for name in ["AZURE_POD_IDENTITY_AUTHORITY_HOST", "IMDS_ENDPOINT"] {
            if env.get(name).is_some() {
                let base = endpoint_url(env, name)?;
                return Ok(Self::Imds {
                    base: base.trim_end_matches('/').to_string(),
                    explicit: true,
                });
            }
        }
        Ok(Self::Imds {
            base: IMDS_DEFAULT_BASE.into(),
            explicit: false,
        })
    }
}

/// IMDS's retry rules (Microsoft's guidance for VMs, as MSAL .NET implements it). Tests
/// shrink the delays; the shape stays.
#[derive(Debug, Clone)]
pub struct ImdsRetryPolicy {
    /// Retries after 404, 408, 429, 5xx or a connection failure.
    pub max_retries: u32,
    /// First backoff (doubled each time).
    pub base_delay: Duration,
    /// Cap of one backoff.
    pub max_delay: Duration,
    /// Cap of a server's `Retry-After`.
    pub max_retry_after: Duration,
    /// Wait after a 410 (IMDS is being upgraded).
    pub gone_delay: Duration,
    /// Retries after 410 (7 x 10 s covers the 70 s IMDS promises).
    pub gone_max_retries: u32,
}

impl Default for ImdsRetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(60),
            gone_delay: Duration::from_secs(10),
            gone_max_retries: 7,
        }
    }
}

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
    /// set, Azure Arc at [`ARC_DEFAULT_ENDPOINT`] is used); `None` looks for it on this
    /// machine ([`arc_agent_installed`]).
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

/// Tokens for the managed identity of the host this runs on. See the module docs.
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
pub struct ManagedIdentityCredential {
    id: ManagedIdentityId,
    target: Target,
    pipeline: Pipeline,
    cache: TokenCache,
    imds_retry: ImdsRetryPolicy,
    imds_probe_timeout: Duration,
    imds_reachable: OnceCell<Result<(), String>>,
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
            imds_retry: options.imds_retry,
            imds_probe_timeout: options.imds_probe_timeout,
            imds_reachable: OnceCell::new(),
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
            imds_retry: options.imds_retry.clone(),
            imds_probe_timeout: options.imds_probe_timeout,
            imds_reachable: OnceCell::new(),
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

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
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
        let host = endpoint.host();
        let context = format!("{} managed identity endpoint", host.name());
        match endpoint {
            ManagedIdentityEndpoint::Imds { base, explicit } => {
                self.fetch_imds(base, *explicit, resource).await
            }
            ManagedIdentityEndpoint::AppService { url, header } => {
                let mut params = vec![("api-version", "2019-08-01"), ("resource", resource)];
                params.extend(self.id.param(
                    host,
                    [Some("client_id"), Some("principal_id"), Some("mi_res_id")],
                )?);
                let request = http::get(
                    &with_query(url, &params),
                    &[("x-identity-header", header.expose()), ("metadata", "true")],
                )?;
                let resp = self.pipeline.send(request, &context).await?;
                read_token(host, url, &resp, &[header.expose()])
            }
            ManagedIdentityEndpoint::AppService2017 { url, secret }
            | ManagedIdentityEndpoint::AzureMl { url, secret, .. } => {
                let mut params = vec![("api-version", "2017-09-01"), ("resource", resource)];
                match (&self.id, endpoint) {
                    (
                        ManagedIdentityId::System,
                        ManagedIdentityEndpoint::AzureMl {
                            default_client_id, ..
                        },
                    ) => params.push(("clientid", default_client_id.as_str())),
                    _ => params.extend(self.id.param(host, [Some("clientid"), None, None])?),
                }
                let request = http::get(
                    &with_query(url, &params),
                    &[("secret", secret.expose()), ("metadata", "true")],
                )?;
                let resp = self.pipeline.send(request, &context).await?;
                read_token(host, url, &resp, &[secret.expose()])
            }
            ManagedIdentityEndpoint::AzureArc { url } => self.fetch_arc(url, resource).await,
            ManagedIdentityEndpoint::CloudShell { url } => {
                self.id.param(host, [None, None, None])?;
                let mut request = http::form_post(url, &[("resource", resource)])?;
                request
                    .headers_mut()
                    .insert("metadata", ::http::HeaderValue::from_static("true"));
                let resp = self.pipeline.send(request, &context).await?;
                read_token(host, url, &resp, &[])
            }
            ManagedIdentityEndpoint::ServiceFabric { url, header, .. } => {
                let mut params = vec![
                    ("api-version", "2019-07-01-preview"),
                    ("resource", resource),
                ];
                params.extend(self.id.param(
                    host,
                    [Some("client_id"), Some("object_id"), Some("mi_res_id")],
                )?);
                let request = http::get(&with_query(url, &params), &[("secret", header.expose())])?;
                let resp = self.pipeline.send(request, &context).await?;
                read_token(host, url, &resp, &[header.expose()])
            }
            // `new` turns this endpoint into its own target; never fetched from here.
            ManagedIdentityEndpoint::WorkloadIdentity { .. } => Err(Error::Config(
                "workload identity is served by WorkloadIdentityCredential".into(),
            )),
        }
    }

    async fn fetch_imds(
        &self,
        base: &str,
        explicit: bool,
        resource: &str,
    ) -> Result<AccessToken, Error> {
        let host = ManagedIdentityHost::Imds;
        let url = format!("{base}{IMDS_TOKEN_PATH}");
        let once = self.pipeline.with_retry(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        });
        if !explicit {
            self.probe_imds(&once, base, &url).await?;
        }
        let mut params = vec![("api-version", "2018-02-01"), ("resource", resource)];
        params.extend(self.id.param(
            host,
            [Some("client_id"), Some("object_id"), Some("msi_res_id")],
        )?);
        let full = with_query(&url, &params);
        let policy = &self.imds_retry;
        let (mut retries, mut gone_retries) = (0u32, 0u32);
        let resp = loop {
            let request = http::get(&full, &[("metadata", "true")])?;
            let outcome = once.send(request, "IMDS").await;
            let wait = match &outcome {
                Ok(r) if r.status() == 410 && gone_retries < policy.gone_max_retries => {
                    gone_retries += 1;
                    Some(policy.gone_delay)
                }
                Ok(r) if imds_retryable(r.status().as_u16()) && retries < policy.max_retries => {
                    retries += 1;
                    Some(
                        http::server_delay(r)
                            .map(|d| d.min(policy.max_retry_after))
                            .unwrap_or_else(|| backoff(policy, retries)),
                    )
                }
                Err(_) if retries < policy.max_retries => {
                    retries += 1;
                    Some(backoff(policy, retries))
                }
                _ => None,
            };
            match (wait, outcome) {
                (Some(wait), _) => {
                    tracing::debug!(
                        retries,
                        gone_retries,
                        wait_ms = wait.as_millis() as u64,
                        "retrying IMDS"
                    );
                    tokio::time::sleep(wait).await;
                }
                (None, Ok(resp)) => break resp,
                (None, Err(e)) => {
                    return Err(Error::Unavailable {
                        credential: NAME,
                        reason: format!(
                            "IMDS at {base} did not answer ({} attempt{}): {}",
                            retries + 1,
                            if retries == 0 { "" } else { "s" },
                            transport_reason(&e)
                        ),
                    });
                }
            }
        };
        if resp.status() == 400
            && let Some(e) = EntraErrorResponse::parse(400, resp.body())
            && e.error == "invalid_request"
            && e.description.to_ascii_lowercase().contains("identity")
        {
            return Err(Error::Unavailable {
                credential: NAME,
                reason: format!(
                    "IMDS at {base} says {} is not assigned to this resource",
                    self.id.describe()
                ),
            });
        }
        read_token(host, &url, &resp, &[])
    }

    /// One short request to the default IMDS address, remembered: no answer means this
    /// is not an Azure VM (azure-identity's probe). The request lacks `Metadata: true`, so
    /// a real IMDS refuses it at once.
    async fn probe_imds(&self, once: &Pipeline, base: &str, url: &str) -> Result<(), Error> {
        let timeout = self.imds_probe_timeout;
        let outcome = self
            .imds_reachable
            .get_or_init(|| async {
                let request = http::get(url, &[]).map_err(|e| e.to_string())?;
                match tokio::time::timeout(timeout, once.send(request, "IMDS probe")).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(transport_reason(&e)),
                    Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
                }
            })
            .await;
        outcome.clone().map_err(|why| Error::Unavailable {
            credential: NAME,
            reason: format!(
                "no managed identity endpoint found: IMDS at {base} is unreachable ({why})"
            ),
        })
    }

    async fn fetch_arc(&self, url: &str, resource: &str) -> Result<AccessToken, Error> {
        let host = ManagedIdentityHost::AzureArc;
        let context = "Azure Arc managed identity endpoint";
        self.id.param(host, [None, None, None])?;
        let full = with_query(
            url,
            &[("api-version", "2020-06-01"), ("resource", resource)],
        );
        let first = self
            .pipeline
            .send(http::get(&full, &[("metadata", "true")])?, context)
            .await?;
        if first.status() != 401 {
            return read_token(host, url, &first, &[]);
        }
        let refuse = |message: String| Error::ManagedIdentity {
            host: host.name(),
            source: Box::new(Error::Response {
                endpoint: strip_query(url).to_string(),
                message,
            }),
        };
        let challenge = first
            .headers()
            .get(::http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(path) = basic_realm(challenge) else {
            return Err(refuse(
                "HTTP 401 without a `WWW-Authenticate: Basic realm=<key file>` challenge".into(),
            ));
        };
        let dir = self
            .arc_key_directory
            .as_ref()
            .map_err(|why| refuse(format!("cannot read the key file: {why}")))?;
        let key = read_arc_key(Path::new(path), dir).map_err(|why| {
            refuse(format!(
                "refused the key file {:?} named by the challenge: {why}",
                truncate(path, 300)
            ))
        })?;
        let authorization = Secret::new(format!("Basic {}", key.expose()));
        let second = self
            .pipeline
            .send(
                http::get(
                    &full,
                    &[
                        ("metadata", "true"),
                        ("authorization", authorization.expose()),
                    ],
                )
                .map_err(|_| refuse("the key file's content is not a valid header value".into()))?,
                context,
            )
            .await?;
        read_token(host, url, &second, &[key.expose()])
    }
}

impl TokenCredential for ManagedIdentityCredential {
    fn get_token<'a>(
        &'a self,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(self.get_token(request))
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

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
pub fn resource_for(scopes: &[String]) -> Result<String, Error> {
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

fn imds_retryable(status: u16) -> bool {
    matches!(status, 404 | 408 | 429) || (500..=599).contains(&status)
}

fn backoff(policy: &ImdsRetryPolicy, retry: u32) -> Duration {
    policy
        .base_delay
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(policy.max_delay)
}

fn transport_reason(e: &Error) -> String {
    match e {
        Error::Transport { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).expect("string pairs always encode");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn truncate(s: &str, max: usize) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() <= max {
        clean
    } else {
        clean.chars().take(max).collect::<String>() + "..."
    }
}

/// `Basic realm=<path>` (the path may be quoted).
fn basic_realm(challenge: &str) -> Option<&str> {
    let (scheme, rest) = challenge.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let (name, value) = rest.trim().split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("realm") {
        return None;
    }
    let value = value.trim().trim_matches('"');
    (!value.is_empty()).then_some(value)
}

/// Reads an Azure Arc key file, refusing anything outside `dir`, without a `.key`
/// extension, or over 4096 bytes (azure-identity's rules), after resolving links.
fn read_arc_key(path: &Path, dir: &Path) -> Result<Secret, String> {
    use std::io::Read as _;
    if path.extension().and_then(|e| e.to_str()) != Some("key") {
        return Err("it does not end in .key".into());
    }
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| format!("the agent's token directory {}: {e}", dir.display()))?;
    let file = std::fs::canonicalize(path).map_err(|e| format!("cannot open it: {e}"))?;
    if file.parent() != Some(dir.as_path()) {
        return Err(format!("it is not in {}", dir.display()));
    }
    let meta = std::fs::metadata(&file).map_err(|e| format!("cannot open it: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > ARC_MAX_KEY_BYTES {
        return Err(format!("it is larger than {ARC_MAX_KEY_BYTES} bytes"));
    }
    let mut content = Vec::new();
    std::fs::File::open(&file)
        .and_then(|f| f.take(ARC_MAX_KEY_BYTES + 1).read_to_end(&mut content))
        .map_err(|e| format!("cannot read it: {e}"))?;
    if content.len() as u64 > ARC_MAX_KEY_BYTES {
        return Err(format!("it is larger than {ARC_MAX_KEY_BYTES} bytes"));
    }
    let text = String::from_utf8(content).map_err(|_| "it is not text".to_string())?;
    let key = text.trim();
    if key.is_empty() {
        return Err("it is empty".into());
    }
    Ok(Secret::new(key))
}

/// Replaces every secret in `text` and keeps it short.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, "[redacted]");
    }
    truncate(&out, 600)
}

/// An AADSTS code in a description, for hosts that relay Entra's text without
/// `error_codes`.
fn aadsts_code(description: &str) -> Option<u32> {
    let at = description.find("AADSTS")? + "AADSTS".len();
    let digits: String = description[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// What a host's refusal means, typed, with the host named and secrets scrubbed.
fn host_error(
    host: ManagedIdentityHost,
    url: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Error {
    let endpoint = strip_query(url).to_string();
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |v: &serde_json::Value, k: &str| -> Option<String> {
        match v.get(k)? {
            serde_json::Value::String(s) => Some(scrub(s, secrets)),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let inner = match &v {
        // OAuth shape: IMDS, Arc, Cloud Shell, and App Service relaying Entra.
        Some(v) if v.get("error").is_some_and(|e| e.is_string()) => {
            let mut e = EntraErrorResponse::parse(status, body).unwrap_or_default();
            e.error = scrub(&e.error, secrets);
            e.description = scrub(&e.description, secrets);
            e.claims = None;
            if e.codes.is_empty() {
                e.codes.extend(aadsts_code(&e.description));
            }
            Error::Entra(Box::new(e))
        }
        // Service Fabric: {"error": {"code": "SecretHeaderNotFound", "message": "..."}}.
        Some(v) if v.get("error").is_some_and(|e| e.is_object()) => {
            let e = &v["error"];
            let description = field(e, "message").unwrap_or_default();
            Error::Entra(Box::new(EntraErrorResponse {
                error: field(e, "code").unwrap_or_else(|| "error".into()),
                codes: aadsts_code(&description).into_iter().collect(),
                description,
                status,
                ..Default::default()
            }))
        }
        // App Service: {"statusCode": 400, "message": "..."}.
        Some(v) if v.get("message").is_some() || v.get("Message").is_some() => {
            let message = field(v, "message")
                .or_else(|| field(v, "Message"))
                .unwrap_or_default();
            Error::Response {
                endpoint,
                message: format!("HTTP {status}: {message}"),
            }
        }
        _ => Error::Response {
            endpoint,
            message: format!("HTTP {status} without a JSON error body"),
        },
    };
    Error::ManagedIdentity {
        host: host.name(),
        source: Box::new(inner),
    }
}

/// Reads a host's token response: `access_token`, then `expires_in` (number or string)
/// or `expires_on` in any form seen in the wild.
fn read_token(
    host: ManagedIdentityHost,
    url: &str,
    resp: &Response,
    secrets: &[&str],
) -> Result<AccessToken, Error> {
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(host_error(host, url, status, resp.body(), secrets));
    }
    let bad = |message: String| Error::ManagedIdentity {
        host: host.name(),
        source: Box::new(Error::Response {
            endpoint: strip_query(url).to_string(),
            message,
        }),
    };
    let v: serde_json::Value = serde_json::from_slice(resp.body())
        .map_err(|_| bad(format!("HTTP {status} with a body that is not JSON")))?;
    let token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("no access_token in the response".into()))?;
    let issued = now();
    let expires_on = match (seconds(v.get("expires_in")), v.get("expires_on")) {
        (Some(i), _) if i > 0 => issued + i,
        (_, Some(on)) => parse_expires_on(on).ok_or_else(|| {
            bad(format!(
                "expires_on {} is in no known form",
                truncate(&on.to_string(), 80)
            ))
        })?,
        _ => return Err(bad("no expires_in or expires_on in the response".into())),
    };
    Ok(AccessToken {
        token: Secret::new(token),
        expires_on,
        refresh_on: refresh_on(issued, expires_on - issued, seconds(v.get("refresh_in"))),
        token_type: v
            .get("token_type")
            .and_then(|t| t.as_str())
            .unwrap_or("Bearer")
            .into(),
    })
}

/// A transport for credentials that can never send (their configuration is unusable).
struct Unreachable;

impl http::HttpClient for Unreachable {
    fn send(&self, _: Request) -> BoxFuture<'_, Result<Response, String>> {
        Box::pin(async { Err("not configured".to_string()) })
    }
}

/// Service Fabric's endpoint serves a self-signed certificate: trust exactly the one whose
/// thumbprint the cluster put in `IDENTITY_SERVER_THUMBPRINT`.
#[derive(Debug)]
struct PinnedCertificate {
    digest: &'static aws_lc_rs::digest::Algorithm,
    thumbprint: Vec<u8>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

fn parse_thumbprint(value: &str) -> Result<Vec<u8>, String> {
    let hex: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<Vec<u8>>>();
    match bytes {
        Some(b) if b.len() == 20 || b.len() == 32 => Ok(b),
        _ => Err(format!(
            "IDENTITY_SERVER_THUMBPRINT {:?} is not a SHA-1 or SHA-256 thumbprint in hex",
            truncate(value, 100)
        )),
    }
}

fn pinned_client(thumbprint: &str) -> Result<ReqwestClient, String> {
    let thumbprint = parse_thumbprint(thumbprint)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = PinnedCertificate {
        digest: if thumbprint.len() == 20 {
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY
        } else {
            &aws_lc_rs::digest::SHA256
        },
        thumbprint,
        provider: provider.clone(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    ReqwestClient::with_tls_config(tls).map_err(|e| e.to_string())
}

impl rustls::client::danger::ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let seen = aws_lc_rs::digest::digest(self.digest, end_entity.as_ref());
        if aws_lc_rs::constant_time::verify_slices_are_equal(seen.as_ref(), &self.thumbprint)
            .is_ok()
        {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server certificate does not match IDENTITY_SERVER_THUMBPRINT".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(pairs: &[(&str, &str)]) -> Result<ManagedIdentityHost, String> {
        ManagedIdentityEndpoint::detect(&Env::from_pairs(pairs.iter().copied()), true, false)
            .map(|e| e.host())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn hosts_are_detected_in_azure_identity_order() {
        use ManagedIdentityHost::*;
        let ep = ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token");
        let header = ("IDENTITY_HEADER", "h");
        let msi = ("MSI_ENDPOINT", "http://127.0.0.1:41741/msi/token");
        let secret = ("MSI_SECRET", "s");
        assert_eq!(host_of(&[]), Ok(Imds));
        assert_eq!(host_of(&[ep, header]), Ok(AppService));
        assert_eq!(
            host_of(&[ep, header, ("IDENTITY_SERVER_THUMBPRINT", "ab")]),
            Ok(ServiceFabric)
        );
        assert_eq!(
            host_of(&[ep, ("IMDS_ENDPOINT", "http://localhost:40342")]),
            Ok(AzureArc)
        );
        // App Service sets both protocols' variables; the newer wins.
        assert_eq!(host_of(&[ep, header, msi, secret]), Ok(AppService));
        assert_eq!(host_of(&[msi, secret]), Ok(AppService2017));
        assert_eq!(
            host_of(&[msi, secret, ("DEFAULT_IDENTITY_CLIENT_ID", "c")]),
            Ok(AzureMl)
        );
        assert_eq!(host_of(&[msi]), Ok(CloudShell));
        let err = host_of(&[ep]).unwrap_err();
        assert!(
            err.contains("unavailable") && err.contains("IDENTITY_HEADER"),
            "{err}"
        );
        assert!(
            host_of(&[("IDENTITY_ENDPOINT", "not a url"), header])
                .unwrap_err()
                .contains("not an http(s) URL")
        );
        let workload = [
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/token"),
        ];
        assert_eq!(host_of(&workload), Ok(WorkloadIdentity));
        let detected =
            ManagedIdentityEndpoint::detect(&Env::from_pairs(workload), false, false).unwrap();
        assert_eq!(detected.host(), Imds);
        assert!(matches!(
            ManagedIdentityEndpoint::detect(&Env::new(), true, true),
            Ok(ManagedIdentityEndpoint::AzureArc { url }) if url == ARC_DEFAULT_ENDPOINT
        ));
        match ManagedIdentityEndpoint::detect(
            &Env::from_pairs([(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                "https://localhost:8443/",
            )]),
            true,
            false,
        ) {
            Ok(ManagedIdentityEndpoint::Imds { base, explicit }) => {
                assert_eq!((base.as_str(), explicit), ("https://localhost:8443", true))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn identities_map_to_each_hosts_parameter_names() {
        let id = ManagedIdentityId::ObjectId("o".into());
        let imds = [Some("client_id"), Some("object_id"), Some("msi_res_id")];
        assert_eq!(
            id.param(ManagedIdentityHost::Imds, imds).unwrap(),
            Some(("object_id", "o"))
        );
        assert_eq!(
            ManagedIdentityId::System
                .param(ManagedIdentityHost::Imds, imds)
                .unwrap(),
            None
        );
        let e = id
            .param(ManagedIdentityHost::AzureMl, [Some("clientid"), None, None])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Azure ML") && e.contains("client id only"),
            "{e}"
        );
        let e = ManagedIdentityId::ClientId("c".into())
            .param(ManagedIdentityHost::AzureArc, [None, None, None])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Azure Arc") && e.contains("system-assigned"),
            "{e}"
        );
    }

    #[test]
    fn scopes_become_a_resource() {
        assert_eq!(
            resource_for(&["https://vault.azure.net/.default".into()]).unwrap(),
            "https://vault.azure.net"
        );
        assert_eq!(resource_for(&["api://x".into()]).unwrap(), "api://x");
        assert!(resource_for(&[]).is_err());
        assert!(resource_for(&["a/.default".into(), "b/.default".into()]).is_err());
    }

    #[test]
    fn challenges_thumbprints_and_codes() {
        assert_eq!(
            basic_realm("Basic realm=/var/opt/azcmagent/tokens/x.key"),
            Some("/var/opt/azcmagent/tokens/x.key")
        );
        assert_eq!(
            basic_realm("basic realm=\"C:\\a\\b.key\""),
            Some("C:\\a\\b.key")
        );
        assert_eq!(basic_realm("Bearer realm=x"), None);
        assert_eq!(basic_realm("Basic"), None);
        assert_eq!(
            parse_thumbprint("AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:AB:CD:EF:01")
                .unwrap()
                .len(),
            20
        );
        assert!(parse_thumbprint("xyz").is_err());
        assert!(parse_thumbprint("abcd").is_err());
        assert_eq!(
            aadsts_code("AADSTS500011: The resource principal"),
            Some(500011)
        );
        assert_eq!(aadsts_code("nothing"), None);
        assert_eq!(
            scrub("bad header hunter2-secret!", &["hunter2-secret"]),
            "bad header [redacted]!"
        );
        assert_eq!(
            backoff(&ImdsRetryPolicy::default(), 1),
            Duration::from_secs(1)
        );
        assert_eq!(
            backoff(&ImdsRetryPolicy::default(), 3),
            Duration::from_secs(4)
        );
        assert_eq!(
            backoff(&ImdsRetryPolicy::default(), 9),
            Duration::from_secs(4)
        );
    }

    #[test]
    fn host_errors_are_typed_and_scrubbed() {
        let e = host_error(
            ManagedIdentityHost::Imds,
            "http://x/metadata?resource=r",
            400,
            br#"{"error":"invalid_resource","error_description":"AADSTS500011: The resource principal named r was not found"}"#,
            &[],
        );
        assert_eq!(e.entra().unwrap().codes, vec![500011]);
        let text = e.to_string();
        assert!(
            text.starts_with("IMDS managed identity: invalid_resource (HTTP 400): AADSTS500011"),
            "{text}"
        );
        assert!(text.contains("hint:"), "{text}");
        let e = host_error(
            ManagedIdentityHost::ServiceFabric,
            "https://x",
            401,
            br#"{"error":{"code":"SecretHeaderNotFound","message":"Secret s3cr3t-value is not valid"}}"#,
            &["s3cr3t-value"],
        );
        assert_eq!(e.entra().unwrap().error, "SecretHeaderNotFound");
        assert!(!e.to_string().contains("s3cr3t-value"), "{e}");
        let e = host_error(
            ManagedIdentityHost::AppService,
            "http://x?q",
            500,
            b"<html>s3cr3t-value",
            &["s3cr3t-value"],
        );
        assert_eq!(
            e.to_string(),
            "App Service (2019-08-01) managed identity: unexpected response from http://x: HTTP 500 without a JSON error body"
        );
    }
}
