//! Authorities: the cloud's login host and a tenant. Public, US Government, China and
//! custom hosts; `AZURE_AUTHORITY_HOST`; tenants as GUID, domain, `common`,
//! `organizations` or `consumers`. The OpenID metadata of each authority is fetched once
//! and cached for the life of the credential.

use tokio::sync::OnceCell;

use crate::error::Error;
use crate::http::Pipeline;

/// Azure public cloud.
pub const AZURE_PUBLIC_CLOUD: &str = "https://login.microsoftonline.com";
/// Azure US Government.
pub const AZURE_US_GOVERNMENT: &str = "https://login.microsoftonline.us";
/// Azure operated by 21Vianet (China).
pub const AZURE_CHINA: &str = "https://login.chinacloudapi.cn";

/// A login host and a tenant.
#[derive(Debug)]
pub struct Authority {
    host: String,
    tenant: String,
    metadata: OnceCell<Metadata>,
}

/// What the discovery document says (only what credentials use).
#[derive(Debug, Clone)]
pub struct Metadata {
    /// Token endpoint.
    pub token_endpoint: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Device authorization endpoint, if any.
    pub device_authorization_endpoint: Option<String>,
    /// Issuer (may hold `{tenantid}`).
    pub issuer: String,
}

impl Authority {
    /// `host` is `https://...` (a bare host name gets `https://`); `tenant` is checked.
    pub fn new(host: &str, tenant: &str) -> Result<Self, Error> {
        let host = host.trim().trim_end_matches('/');
        let host = if host.contains("://") {
            host.to_string()
        } else {
            format!("https://{host}")
        };
        if !host.starts_with("https://") {
            return Err(Error::Config(format!(
                "authority host {host:?} must use https:// (Entra and every MSAL refuse plain HTTP)"
            )));
        }
        if host["https://".len()..].is_empty() || host["https://".len()..].contains('/') {
            return Err(Error::Config(format!(
                "authority host {host:?} must be just scheme and host, e.g. {AZURE_PUBLIC_CLOUD}"
            )));
        }
        let tenant = tenant.trim();
        if tenant.is_empty()
            || !tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        {
            return Err(Error::Config(format!(
                "tenant {tenant:?} is not a tenant id, a domain, common, organizations or consumers"
            )));
        }
        Ok(Self {
            host,
            tenant: tenant.to_string(),
            metadata: OnceCell::new(),
        })
    }

    /// The host from `AZURE_AUTHORITY_HOST`, else the public cloud.
    pub fn host_from_env() -> String {
        std::env::var("AZURE_AUTHORITY_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| AZURE_PUBLIC_CLOUD.to_string())
    }

    /// `https://host`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The tenant as given.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The same host with another tenant (for per-request tenant overrides).
    pub fn with_tenant(&self, tenant: &str) -> Result<Self, Error> {
        Self::new(&self.host, tenant)
    }

    /// The discovery document, fetched once.
    pub async fn metadata(&self, pipeline: &Pipeline) -> Result<&Metadata, Error> {
        self.metadata
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/{}/v2.0/.well-known/openid-configuration",
                    self.host, self.tenant
                );
                let resp = pipeline
                    .send(crate::http::get(&url, &[])?, "OpenID discovery")
                    .await?;
                if !resp.status().is_success() {
                    return Err(
                        match crate::error::EntraErrorResponse::parse(
                            resp.status().as_u16(),
                            resp.body(),
                        ) {
                            Some(e) => Error::Entra(Box::new(e)),
                            None => Error::Response {
                                endpoint: url,
                                message: format!("HTTP {}", resp.status()),
                            },
                        },
                    );
                }
                let doc: serde_json::Value =
                    serde_json::from_slice(resp.body()).map_err(|e| Error::Response {
                        endpoint: url.clone(),
                        message: format!("not JSON: {e}"),
                    })?;
                let field = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_string);
                let need = |k: &str| {
                    field(k).ok_or_else(|| Error::Response {
                        endpoint: url.clone(),
                        message: format!("the discovery document has no {k}"),
                    })
                };
                Ok(Metadata {
                    token_endpoint: need("token_endpoint")?,
                    authorization_endpoint: need("authorization_endpoint")?,
                    device_authorization_endpoint: field("device_authorization_endpoint"),
                    issuer: field("issuer").unwrap_or_default(),
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_tenants_are_checked() {
        assert_eq!(
            Authority::new("login.microsoftonline.us/", "contoso.com")
                .unwrap()
                .host(),
            AZURE_US_GOVERNMENT
        );
        assert!(Authority::new("http://localhost:8443", "common").is_err());
        assert!(Authority::new("https://h/path", "common").is_err());
        assert!(Authority::new(AZURE_PUBLIC_CLOUD, "bad tenant/../x").is_err());
        assert!(Authority::new(AZURE_PUBLIC_CLOUD, "").is_err());
    }
}
