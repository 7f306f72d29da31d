//! Finding the host from the environment ([`ManagedIdentityEndpoint::detect`], first
//! match wins, in azure-identity's order; see the module docs of `managed_identity`).

use std::path::{Path, PathBuf};

use super::host::{ManagedIdentityHost, NAME};
use super::response::truncate;
use crate::env::Env;
use crate::error::Error;
use crate::secret::Secret;

/// The default IMDS base.
pub(super) const IMDS_DEFAULT_BASE: &str = "http://169.254.169.254";
/// Where the Azure Arc agent listens when only its installation is detected.
pub(super) const ARC_DEFAULT_ENDPOINT: &str =
    "http://localhost:40342/metadata/identity/oauth2/token";
/// Is the Azure Arc agent installed on this machine (`/opt/azcmagent/bin/himds`, or
/// `%ProgramFiles%\AzureConnectedMachineAgent\himds.exe`, located with `env`)? MSAL's
/// fallback detection; what [`ManagedIdentityOptions::arc_agent_installed`] defaults to.
pub(super) fn arc_agent_installed(env: &Env) -> bool {
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
pub(super) enum NotFound {
    Unavailable(String),
    Config(String),
}

impl NotFound {
    pub(super) fn error(&self) -> Error {
        match self {
            NotFound::Unavailable(r) => Error::Unavailable {
                credential: NAME,
                reason: r.clone(),
            },
            NotFound::Config(r) => Error::Config(r.clone()),
        }
    }
}

pub(super) fn endpoint_url(env: &Env, name: &str) -> Result<String, NotFound> {
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
    /// `arc_agent_installed`).
    pub fn detect(
        env: &Env,
        workload_identity: bool,
        arc_agent_installed: bool,
    ) -> Result<Self, Error> {
        Self::detect_inner(env, workload_identity, arc_agent_installed).map_err(|e| e.error())
    }

    pub(super) fn detect_inner(
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
