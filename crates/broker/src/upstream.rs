//! Upstream identities: the real credentials the broker holds, built from
//! `[[identity]]` tables with entra-identity.

use std::sync::Arc;

use entra_identity::{
    ClientCertificate, ClientCertificateCredential, ClientOptions, ClientSecretCredential,
    InstanceDiscovery, ManagedIdentityCredential, ManagedIdentityId, ManagedIdentityOptions,
    TokenCredential, WorkloadIdentityCredential, WorkloadIdentityOptions,
};

use crate::config::{IdentityConfig, IdentityKind, read_secret};
use crate::error::{BrokerError, ConfigError};

/// The emulator's development daemon app (public values, as in `entra up`).
pub(crate) const EMULATOR_DEV_CLIENT_ID: &str = "d0000000-0000-4000-8000-0000000000d1";
const EMULATOR_DEV_SECRET: &str = "daemon-dev-secret";
const EMULATOR_DEV_TENANT: &str = "contoso.onmicrosoft.com";

/// One upstream identity, ready to ask for tokens.
pub(crate) struct Identity {
    /// Its configured name.
    pub name: Arc<str>,
    /// Its client id, when configured (responses name it; else the token's `appid`).
    pub client_id: Option<String>,
    /// Other ids callers may select it by.
    pub object_id: Option<String>,
    /// ARM resource id callers may select it by.
    pub resource_id: Option<String>,
    /// The credential.
    pub credential: Arc<dyn TokenCredential>,
    /// The table it was built from (a reload keeps identities whose table is unchanged,
    /// and their cached tokens).
    pub config: IdentityConfig,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("name", &self.name)
            .field("kind", &self.config.kind)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl Identity {
    /// Builds the credential (reads its secret or certificate now, so a missing one is
    /// an error at start or reload rather than at the first request).
    pub(crate) fn build(c: &IdentityConfig) -> Result<Self, BrokerError> {
        let err = |source| BrokerError::Identity {
            name: c.name.clone(),
            source,
        };
        let what = format!("identity {:?}", c.name);
        let mut options = ClientOptions {
            authority_host: c.authority.clone(),
            ca_file: c.ca_file.clone(),
            ..Default::default()
        };
        if c.authority.as_deref().is_some_and(is_loopback_url) {
            // A local authority (the emulator) is not in Entra's instance list.
            options.instance_discovery = InstanceDiscovery::DangerDisabled;
        }
        let credential = credential(c, &what, options, &err)?;
        let client_id = match c.kind {
            IdentityKind::EmulatorDev => Some(
                c.client_id
                    .clone()
                    .unwrap_or_else(|| EMULATOR_DEV_CLIENT_ID.into()),
            ),
            _ => c.client_id.clone(),
        };
        Ok(Self {
            name: Arc::from(c.name.as_str()),
            client_id,
            object_id: c.object_id.clone(),
            resource_id: c.resource_id.clone(),
            credential,
            config: c.clone(),
        })
    }

    /// Whether a caller's selector (`client_id`, `object_id`/`principal_id`,
    /// `msi_res_id`/`mi_res_id`) names this identity.
    pub(crate) fn matches(&self, selector: &Selector<'_>) -> bool {
        let eq = |mine: &Option<String>, theirs: &str| {
            mine.as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(theirs))
        };
        match selector {
            Selector::ClientId(v) => eq(&self.client_id, v),
            Selector::ObjectId(v) => eq(&self.object_id, v),
            Selector::ResourceId(v) => eq(&self.resource_id, v),
            Selector::Name(v) => &*self.name == *v,
        }
    }
}

/// How a request names an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selector<'a> {
    /// By client id.
    ClientId(&'a str),
    /// By object (principal) id.
    ObjectId(&'a str),
    /// By ARM resource id.
    ResourceId(&'a str),
    /// By configured name (native API).
    Name(&'a str),
}

fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How an identity's errors are wrapped (with its name).
type IdentityErr<'a> = &'a dyn Fn(entra_identity::Error) -> BrokerError;

/// The credential of identity `c` (`what` names it in errors).
fn credential(
    c: &IdentityConfig,
    what: &str,
    options: ClientOptions,
    err: IdentityErr<'_>,
) -> Result<Arc<dyn TokenCredential>, BrokerError> {
    let tenant = c.tenant.clone().unwrap_or_default();
    let client_id = c.client_id.clone().unwrap_or_default();
    Ok(match c.kind {
        IdentityKind::ClientSecret => {
            let secret =
                read_secret(what, &c.secret_env, &c.secret_file, &c.secret)?.ok_or_else(|| {
                    BrokerError::from(ConfigError::Missing {
                        what: what.to_string(),
                        needs: "secret_env or secret_file",
                    })
                })?;
            Arc::new(
                ClientSecretCredential::new(&tenant, &client_id, secret, options).map_err(err)?,
            )
        }
        IdentityKind::ClientCertificate => {
            certificate_credential(c, what, &tenant, &client_id, options, err)?
        }
        IdentityKind::WorkloadIdentity => Arc::new(
            WorkloadIdentityCredential::new(WorkloadIdentityOptions {
                tenant_id: Some(tenant),
                client_id: Some(client_id),
                token_file: c.token_file.clone(),
                client: options,
                env: None,
            })
            .map_err(err)?,
        ),
        IdentityKind::ManagedIdentity => {
            let id = match (&c.client_id, &c.object_id, &c.resource_id) {
                (Some(v), _, _) => ManagedIdentityId::ClientId(v.clone()),
                (None, Some(v), _) => ManagedIdentityId::ObjectId(v.clone()),
                (None, None, Some(v)) => ManagedIdentityId::ResourceId(v.clone()),
                _ => ManagedIdentityId::System,
            };
            Arc::new(
                ManagedIdentityCredential::new(
                    id,
                    ManagedIdentityOptions {
                        client: options,
                        ..Default::default()
                    },
                )
                .map_err(err)?,
            )
        }
        IdentityKind::EmulatorDev => emulator_dev_credential(c, what, options, err)?,
    })
}

/// `kind = "client-certificate"`: the certificate file, with its password if any.
fn certificate_credential(
    c: &IdentityConfig,
    what: &str,
    tenant: &str,
    client_id: &str,
    options: ClientOptions,
    err: IdentityErr<'_>,
) -> Result<Arc<dyn TokenCredential>, BrokerError> {
    let path = c.certificate_file.as_ref().ok_or_else(|| {
        BrokerError::from(ConfigError::Missing {
            what: what.to_string(),
            needs: "certificate_file",
        })
    })?;
    let password = read_secret(what, &c.certificate_password_env, &None, &None)?;
    let cert =
        ClientCertificate::from_file(path, password.as_ref().map(|p| p.expose())).map_err(err)?;
    Ok(Arc::new(
        ClientCertificateCredential::new(
            tenant,
            client_id,
            cert,
            entra_identity::Algorithm::RS256,
            c.send_certificate_chain,
            options,
        )
        .map_err(err)?,
    ))
}

/// `kind = "emulator-dev"`: the emulator's public development secret, only against a
/// loopback authority.
fn emulator_dev_credential(
    c: &IdentityConfig,
    what: &str,
    options: ClientOptions,
    err: IdentityErr<'_>,
) -> Result<Arc<dyn TokenCredential>, BrokerError> {
    let authority = c.authority.as_deref().unwrap_or_default();
    if !is_loopback_url(authority) {
        return Err(ConfigError::EmulatorDevAuthority {
            what: what.to_string(),
            authority: authority.to_string(),
        }
        .into());
    }
    Ok(Arc::new(
        ClientSecretCredential::new(
            c.tenant.as_deref().unwrap_or(EMULATOR_DEV_TENANT),
            c.client_id.as_deref().unwrap_or(EMULATOR_DEV_CLIENT_ID),
            EMULATOR_DEV_SECRET,
            options,
        )
        .map_err(err)?,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_urls() {
        assert!(super::is_loopback_url("https://127.0.0.1:8443"));
        assert!(super::is_loopback_url("https://localhost:8443/"));
        assert!(super::is_loopback_url("https://[::1]:8443"));
        assert!(!super::is_loopback_url("http://127.0.0.1:8443"));
        assert!(!super::is_loopback_url("https://login.microsoftonline.com"));
        assert!(!super::is_loopback_url("https://127.0.0.1.evil.example"));
    }
}
