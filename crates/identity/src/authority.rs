//! [`Authority`]: a login host and a tenant, the well-known clouds, and instance
//! discovery (the rules are in [`Authority`]'s docs).

use tokio::sync::OnceCell;

use crate::error::Error;
use crate::http::Pipeline;

/// Azure public cloud.
pub const AZURE_PUBLIC_CLOUD: &str = "https://login.microsoftonline.com";
/// Azure US Government.
pub const AZURE_US_GOVERNMENT: &str = "https://login.microsoftonline.us";
/// Azure operated by 21Vianet (China).
pub const AZURE_CHINA: &str = "https://login.chinacloudapi.cn";

/// The instance-discovery endpoint Entra serves on the public cloud (MSAL uses the same).
pub const INSTANCE_DISCOVERY_ENDPOINT: &str =
    "https://login.microsoftonline.com/common/discovery/instance";

/// Hosts trusted without instance discovery (MSAL's list of Microsoft login hosts).
const WELL_KNOWN_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
    "login.microsoftonline.us",
    "login.usgovcloudapi.net",
    "login-us.microsoftonline.com",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
];

/// Microsoft login hosts by cloud: a discovery document of one may name another of the
/// same cloud as an endpoint.
const MICROSOFT_CLOUDS: &[&[&str]] = &[
    &[
        "login.microsoftonline.com",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
    ],
    &["login.microsoftonline.us", "login.usgovcloudapi.net"],
    &["login-us.microsoftonline.com"],
    &["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"],
];

/// Suffixes of Azure AD B2C and External ID hosts, which instance discovery does not cover.
const WELL_KNOWN_SUFFIXES: &[&str] = &[
    ".b2clogin.com",
    ".b2clogin.cn",
    ".b2clogin.us",
    ".ciamlogin.com",
];

/// Whether, and where, a login host is checked before it is used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceDiscovery {
    /// Check hosts that are not well known at Entra's public endpoint
    /// ([`INSTANCE_DISCOVERY_ENDPOINT`]). The default.
    #[default]
    Validate,
    /// Check every host, loopback included, at this instance-discovery endpoint
    /// (`https://.../common/discovery/instance`).
    Endpoint(String),
    /// Trust the host as given: for private clouds, Azure Stack and authorities that
    /// Entra's discovery does not know. Make sure the host is the one you mean: the
    /// credential's secrets go there.
    DangerDisabled,
}

/// A login host and a tenant.
///
/// Authorities: the cloud's login host and a tenant. Public, US Government, China and
/// custom hosts; `AZURE_AUTHORITY_HOST`; tenants as GUID, domain, `common`,
/// `organizations` or `consumers`. The OpenID metadata of each authority is fetched once
/// and cached for the life of the credential.
///
/// **Instance discovery.** A credential sends secrets and assertions to its authority, so
/// a host that is not a known Microsoft login host is first checked the way MSAL checks
/// it: Entra's instance-discovery endpoint is asked whether the host is one of its
/// instances, and the metadata address it answers with is used. An unknown host fails
/// with AADSTS50049 before any secret leaves the process. Hosts that need no check: the
/// well-known Microsoft clouds, Azure AD B2C and External ID (`*.b2clogin.com`,
/// `*.ciamlogin.com`), the `adfs` tenant, and loopback hosts (`localhost`, `127.0.0.1`,
/// `[::1]`: a login host on this machine, such as the entrakit emulator, is the user's
/// own). [`InstanceDiscovery::DangerDisabled`] is the explicit opt-out for private clouds,
/// Azure Stack and other authorities Entra does not know; [`InstanceDiscovery::Endpoint`]
/// checks every host (loopback included) against another discovery endpoint.
#[derive(Debug)]
pub struct Authority {
    host: String,
    tenant: String,
    discovery: InstanceDiscovery,
    metadata: OnceCell<AuthorityMetadata>,
}

/// What the discovery document says (only what credentials use).
#[derive(Debug, Clone)]
pub struct AuthorityMetadata {
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
            discovery: InstanceDiscovery::default(),
            metadata: OnceCell::new(),
        })
    }

    /// This authority with another instance-discovery setting.
    pub fn with_instance_discovery(mut self, discovery: InstanceDiscovery) -> Self {
        self.discovery = discovery;
        self
    }

    /// The instance-discovery endpoint to ask about this host, if it needs asking.
    fn discovery_endpoint(&self) -> Option<&str> {
        let name = self.host["https://".len()..].to_ascii_lowercase();
        let bare = match name.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => name.as_str(),
        };
        match &self.discovery {
            InstanceDiscovery::DangerDisabled => None,
            InstanceDiscovery::Endpoint(url) => Some(url),
            InstanceDiscovery::Validate => {
                let trusted = WELL_KNOWN_HOSTS.contains(&bare)
                    || WELL_KNOWN_SUFFIXES.iter().any(|s| bare.ends_with(s))
                    || matches!(bare, "localhost" | "127.0.0.1" | "[::1]")
                    || self.tenant.eq_ignore_ascii_case("adfs");
                (!trusted).then_some(INSTANCE_DISCOVERY_ENDPOINT)
            }
        }
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

    /// The same host (and instance-discovery setting) with another tenant, for
    /// per-request tenant overrides.
    pub fn with_tenant(&self, tenant: &str) -> Result<Self, Error> {
        Ok(Self::new(&self.host, tenant)?.with_instance_discovery(self.discovery.clone()))
    }

    /// Whether an endpoint from the discovery document may receive this authority's
    /// requests (secrets, assertions, codes): `https://`, no user info, and on the
    /// authority's own host (and port), or on a Microsoft login host of the same cloud
    /// when the authority is one (`login.windows.net` for `login.microsoftonline.com`).
    /// The authority is always `https://`, a loopback one included, so no plain-HTTP
    /// endpoint is ever accepted.
    fn check_endpoint(&self, endpoint: &str) -> Result<(), String> {
        let Some(rest) = endpoint.strip_prefix("https://") else {
            return Err("is not https".into());
        };
        let host = rest
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if host.is_empty() || host.contains('@') || endpoint.parse::<http::Uri>().is_err() {
            return Err("is not a plain https URL".into());
        }
        let normal = |h: &str| h.strip_suffix(":443").unwrap_or(h).to_string();
        let own = normal(&self.host["https://".len()..].to_ascii_lowercase());
        let host = normal(&host);
        let cloud = |h: &str| MICROSOFT_CLOUDS.iter().position(|c| c.contains(&h));
        if host == own || cloud(&own).is_some_and(|c| cloud(&host) == Some(c)) {
            Ok(())
        } else {
            Err("is on another host than the authority".into())
        }
    }

    /// Asks the instance-discovery endpoint whether this host is an Entra instance and
    /// returns the metadata address it gives.
    async fn discover_instance(
        &self,
        endpoint: &str,
        pipeline: &Pipeline,
    ) -> Result<String, Error> {
        let authorize = format!("{}/{}/oauth2/v2.0/authorize", self.host, self.tenant);
        let query = serde_urlencoded::to_string([
            ("api-version", "1.1"),
            ("authorization_endpoint", authorize.as_str()),
        ])
        .map_err(|e| Error::Config(format!("instance discovery query: {e}")))?;
        let url = format!("{endpoint}?{query}");
        let doc = get_json(pipeline, &url, "instance discovery").await?;
        match doc
            .get("tenant_discovery_endpoint")
            .and_then(|v| v.as_str())
        {
            Some(next) if next.starts_with("https://") => Ok(next.to_string()),
            _ => Err(Error::Response {
                endpoint: endpoint.to_string(),
                message: "the instance-discovery answer has no https tenant_discovery_endpoint"
                    .into(),
            }),
        }
    }

    /// The discovery document, fetched once (after instance discovery when the host
    /// needs it).
    pub async fn metadata(&self, pipeline: &Pipeline) -> Result<&AuthorityMetadata, Error> {
        self.metadata
            .get_or_try_init(|| async {
                let url = match self.discovery_endpoint() {
                    Some(endpoint) => self.discover_instance(endpoint, pipeline).await?,
                    None => format!(
                        "{}/{}/v2.0/.well-known/openid-configuration",
                        self.host, self.tenant
                    ),
                };
                let doc = get_json(pipeline, &url, "OpenID discovery").await?;
                let field = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_string);
                let need = |k: &str| {
                    field(k).ok_or_else(|| Error::Response {
                        endpoint: url.clone(),
                        message: format!("the discovery document has no {k}"),
                    })
                };
                let endpoint = |k: &str, v: String| {
                    self.check_endpoint(&v)
                        .map(|()| v)
                        .map_err(|why| Error::Response {
                            endpoint: url.clone(),
                            message: format!("the discovery document's {k} {why}; refused"),
                        })
                };
                Ok(AuthorityMetadata {
                    token_endpoint: endpoint("token_endpoint", need("token_endpoint")?)?,
                    authorization_endpoint: endpoint(
                        "authorization_endpoint",
                        need("authorization_endpoint")?,
                    )?,
                    device_authorization_endpoint: field("device_authorization_endpoint")
                        .map(|v| endpoint("device_authorization_endpoint", v))
                        .transpose()?,
                    issuer: field("issuer").unwrap_or_default(),
                })
            })
            .await
    }
}

/// GETs `url` and parses a JSON object; Entra errors keep their codes.
async fn get_json(pipeline: &Pipeline, url: &str, what: &str) -> Result<serde_json::Value, Error> {
    let resp = pipeline.send(crate::http::get(url, &[])?, what).await?;
    if !resp.status().is_success() {
        return Err(
            match crate::error::EntraErrorResponse::parse(resp.status().as_u16(), resp.body()) {
                Some(e) => Error::Entra(Box::new(e)),
                None => Error::Response {
                    endpoint: url.to_string(),
                    message: format!("HTTP {}", resp.status()),
                },
            },
        );
    }
    serde_json::from_slice(resp.body()).map_err(|e| Error::Response {
        endpoint: url.to_string(),
        message: format!("not JSON: {e}"),
    })
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

    /// A pipeline whose every answer is `doc` (200, JSON).
    fn answering(doc: serde_json::Value) -> Pipeline {
        struct Doc(Vec<u8>);
        impl crate::http::HttpClient for Doc {
            fn send(
                &self,
                _: crate::http::Request,
            ) -> crate::token::BoxFuture<'_, Result<crate::http::Response, String>> {
                let body = self.0.clone();
                Box::pin(
                    async move { Ok(http::Response::builder().status(200).body(body).unwrap()) },
                )
            }
        }
        Pipeline::new(
            std::sync::Arc::new(Doc(doc.to_string().into_bytes())),
            crate::http::RetryPolicy::default(),
        )
    }

    fn document(host: &str, token: &str, device: &str) -> serde_json::Value {
        serde_json::json!({
            "issuer": format!("{host}/contoso/v2.0"),
            "authorization_endpoint": format!("{host}/contoso/oauth2/v2.0/authorize"),
            "token_endpoint": token,
            "device_authorization_endpoint": device,
        })
    }

    async fn metadata_for(host: &str, doc: serde_json::Value) -> Result<AuthorityMetadata, Error> {
        Authority::new(host, "contoso")
            .unwrap()
            .with_instance_discovery(InstanceDiscovery::DangerDisabled)
            .metadata(&answering(doc))
            .await
            .cloned()
    }

    #[tokio::test]
    async fn discovery_endpoint_on_foreign_host_refused() {
        let ms = AZURE_PUBLIC_CLOUD;
        let device = format!("{ms}/contoso/oauth2/v2.0/devicecode");
        for (authority, token) in [
            (ms, "https://evil.example/contoso/oauth2/v2.0/token"),
            (ms, "https://login.microsoftonline.com.evil.example/t"),
            (ms, "https://login.microsoftonline.com@evil.example/t"),
            (
                ms,
                "https://login.microsoftonline.us/contoso/oauth2/v2.0/token",
            ),
            ("https://localhost:8443", "https://localhost:9443/t"),
            (
                "https://login.contoso.com",
                "https://login.microsoftonline.com/t",
            ),
        ] {
            let e = metadata_for(authority, document(authority, token, &device))
                .await
                .unwrap_err();
            assert!(
                matches!(&e, Error::Response { message, .. } if message.contains("token_endpoint")),
                "{authority} {token}: {e}"
            );
        }
        // The device endpoint is held to the same rule.
        let token = format!("{ms}/contoso/oauth2/v2.0/token");
        let e = metadata_for(ms, document(ms, &token, "https://evil.example/devicecode"))
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("device_authorization_endpoint"),
            "{e}"
        );
        // Its own host, its default port spelled out, or a host of the same cloud: fine.
        for (authority, token) in [
            (ms, token.as_str()),
            (
                ms,
                "https://login.microsoftonline.com:443/contoso/oauth2/v2.0/token",
            ),
            (ms, "https://LOGIN.windows.net/contoso/oauth2/v2.0/token"),
            (
                "https://localhost:8443",
                "https://localhost:8443/contoso/oauth2/v2.0/token",
            ),
        ] {
            let device = format!("{authority}/contoso/oauth2/v2.0/devicecode");
            let m = metadata_for(authority, document(authority, token, &device)).await;
            assert!(m.is_ok(), "{authority} {token}: {:?}", m.err());
        }
    }

    #[tokio::test]
    async fn discovery_endpoint_plain_http_refused() {
        for authority in [
            AZURE_PUBLIC_CLOUD,
            "https://localhost:8443",
            "https://127.0.0.1:8443",
        ] {
            let host = &authority["https://".len()..];
            let device = format!("{authority}/contoso/oauth2/v2.0/devicecode");
            let e = metadata_for(
                authority,
                document(
                    authority,
                    &format!("http://{host}/contoso/oauth2/v2.0/token"),
                    &device,
                ),
            )
            .await
            .unwrap_err();
            assert!(e.to_string().contains("token_endpoint is not https"), "{e}");
            let mut doc = document(authority, &format!("{authority}/t"), &device);
            doc["authorization_endpoint"] = format!("http://{host}/authorize").into();
            let e = metadata_for(authority, doc).await.unwrap_err();
            assert!(
                e.to_string()
                    .contains("authorization_endpoint is not https"),
                "{e}"
            );
        }
    }

    #[test]
    fn which_hosts_instance_discovery_checks() {
        let endpoint = |host: &str, tenant: &str, d: InstanceDiscovery| {
            Authority::new(host, tenant)
                .unwrap()
                .with_instance_discovery(d)
                .discovery_endpoint()
                .map(str::to_string)
        };
        let v = InstanceDiscovery::Validate;
        for trusted in [
            AZURE_PUBLIC_CLOUD,
            AZURE_US_GOVERNMENT,
            AZURE_CHINA,
            "https://LOGIN.WINDOWS.NET",
            "https://contoso.b2clogin.com",
            "https://contoso.ciamlogin.com",
            "https://localhost:8443",
            "https://127.0.0.1:1",
            "https://[::1]:8443",
        ] {
            assert_eq!(endpoint(trusted, "common", v.clone()), None, "{trusted}");
        }
        assert_eq!(
            endpoint("https://adfs.contoso.com", "adfs", v.clone()),
            None
        );
        for unknown in [
            "https://login.contoso.com",
            "https://login.microsoftonline.com.evil.example",
            "https://b2clogin.com",
            "https://localhost.evil.example",
        ] {
            assert_eq!(
                endpoint(unknown, "common", v.clone()).as_deref(),
                Some(INSTANCE_DISCOVERY_ENDPOINT),
                "{unknown}"
            );
        }
        assert_eq!(
            endpoint(
                "https://login.contoso.com",
                "common",
                InstanceDiscovery::DangerDisabled
            ),
            None
        );
        let own =
            InstanceDiscovery::Endpoint("https://localhost:1/common/discovery/instance".into());
        assert!(endpoint("https://localhost:8443", "common", own.clone()).is_some());
        // A per-request tenant keeps the setting.
        let a = Authority::new("https://login.contoso.com", "t1")
            .unwrap()
            .with_instance_discovery(InstanceDiscovery::DangerDisabled);
        assert_eq!(a.with_tenant("t2").unwrap().discovery_endpoint(), None);
    }
}
