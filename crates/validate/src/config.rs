//! [`ValidatorConfig`] and its builder: who may call (tenants, audiences, versions,
//! clients), what they need (scopes, roles), and where the keys come from.
//!
//! Invalid setups are refused by [`ValidatorConfigBuilder::build`] with a
//! [`ConfigError`] that says what to change.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use entra_jose::{Algorithm, RsaBackend};
use rustls_pki_types::{CertificateDer, pem::PemObject};

use crate::clock::Clock;
use crate::jwks::{JwksSettings, KeySet, parse_jwks_with};
use crate::requirement::Requirement;
use crate::token::{TokenVersion, is_guid};

/// The Entra public cloud.
pub const PUBLIC_CLOUD: &str = "https://login.microsoftonline.com";

/// What is wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No audience: every API must say which `aud` it is.
    #[error("no audience: give the API's client id and/or App ID URI (`audience(...)`)")]
    NoAudience,
    /// No tenant, tenant list, multi-tenant setting or issuer.
    #[error(
        "say which tenants may call: `tenant(id)`, `tenants([...])`, `multi_tenant([...])`, `any_tenant()`, or an exact `issuer(url)`"
    )]
    NoTenant,
    /// More than one of tenant / tenants / multi-tenant / issuer.
    #[error("choose one of `tenant`, `tenants`, `multi_tenant`/`any_tenant` and `issuer`")]
    ConflictingTenancy,
    /// A tenant is not a GUID (tokens carry `tid` as a GUID; domain names are not compared).
    #[error(
        "tenant {0:?} is not a tenant id (GUID): look it up in the portal (Overview, Tenant ID)"
    )]
    TenantNotGuid(String),
    /// An empty allow-list.
    #[error("the {0} list is empty")]
    EmptyList(&'static str),
    /// No algorithm allowed.
    #[error("the algorithm allow-list is empty")]
    NoAlgorithm,
    /// The token size limit is 0 or larger than the JOSE parser's cap.
    #[error("max token size must be between 1 and {max} bytes")]
    BadMaxTokenSize {
        /// The largest allowed.
        max: usize,
    },
    /// Clock skew above 1 hour.
    #[error("clock skew over an hour defeats expiry checks")]
    SkewTooLarge,
    /// An authority or issuer URL that is not https.
    #[error("{0:?} is not an https URL")]
    NotHttps(String),
    /// The static JWKS could not be used.
    #[error("static JWKS: {0}")]
    Jwks(String),
    /// The HTTP client could not be built (e.g. the extra CA file).
    #[error("HTTP client: {0}")]
    Http(String),
    /// An authority issuer template without `{tenantid}`.
    #[error("issuer template {0:?} has no {{tenantid}}")]
    IssuerTemplate(String),
    /// The tenant header name is not a valid HTTP header name.
    #[error("{0:?} is not a valid header name")]
    BadHeaderName(String),
}

/// Which token versions the API accepts (Entra picks the version from the API's
/// registration, `accessTokenAcceptedVersion`: null or 1 gives v1, 2 gives v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcceptedVersions {
    /// Only v1 (`ver` 1.0).
    V1,
    /// Only v2 (`ver` 2.0).
    V2,
    /// Either (the default).
    #[default]
    Both,
}

impl AcceptedVersions {
    /// Whether `v` is accepted.
    pub fn accepts(self, v: TokenVersion) -> bool {
        matches!(
            (self, v),
            (AcceptedVersions::Both, _)
                | (AcceptedVersions::V1, TokenVersion::V1)
                | (AcceptedVersions::V2, TokenVersion::V2)
        )
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            AcceptedVersions::V1 => "v1 tokens",
            AcceptedVersions::V2 => "v2 tokens",
            AcceptedVersions::Both => "v1 or v2 tokens",
        }
    }
}

/// The authority that issues the tokens, and so the issuer strings and key URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    base: String,
    v1_issuer: String,
    v2_issuer: String,
}

impl Authority {
    /// Entra's public cloud: v2 issuer `https://login.microsoftonline.com/{tenantid}/v2.0`,
    /// v1 issuer `https://sts.windows.net/{tenantid}/`.
    pub fn public_cloud() -> Self {
        Self {
            base: PUBLIC_CLOUD.into(),
            v1_issuer: "https://sts.windows.net/{tenantid}/".into(),
            v2_issuer: format!("{PUBLIC_CLOUD}/{{tenantid}}/v2.0"),
        }
    }

    /// Another authority host (a sovereign cloud, or the entrakit emulator): issuers
    /// `{base}/{tenantid}/v2.0` and `{base}/{tenantid}/`, keys by discovery under `base`.
    pub fn custom(base: impl Into<String>) -> Self {
        let base = base.into().trim_end_matches('/').to_string();
        Self {
            v1_issuer: format!("{base}/{{tenantid}}/"),
            v2_issuer: format!("{base}/{{tenantid}}/v2.0"),
            base,
        }
    }

    /// Overrides the v1 issuer template (it must contain `{tenantid}`).
    pub fn with_v1_issuer(mut self, template: impl Into<String>) -> Self {
        self.v1_issuer = template.into();
        self
    }

    /// The base URL (discovery lives under it).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The issuer template for `version` (with `{tenantid}`).
    pub fn issuer_template(&self, version: TokenVersion) -> &str {
        match version {
            TokenVersion::V1 => &self.v1_issuer,
            TokenVersion::V2 => &self.v2_issuer,
        }
    }

    /// The issuer a `version` token of `tenant` must carry.
    pub fn issuer(&self, version: TokenVersion, tenant: &str) -> String {
        self.issuer_template(version).replace("{tenantid}", tenant)
    }
}

/// Whether `issuer` is `template` with `{tenantid}` (if present) replaced by `tenant`,
/// without building the string.
pub(crate) fn issuer_matches(template: &str, tenant: &str, issuer: &str) -> bool {
    // The first `{tenantid}`, found from its `{` (memchr) rather than with a substring
    // searcher built for every token.
    const TENANT: &str = "{tenantid}";
    let at = memchr::memchr_iter(b'{', template.as_bytes())
        .find(|&i| template.as_bytes()[i..].starts_with(TENANT.as_bytes()));
    match at.map(|i| (&template[..i], &template[i + TENANT.len()..])) {
        None => template == issuer,
        Some((pre, post)) => {
            issuer.len() == pre.len() + tenant.len() + post.len()
                && issuer.starts_with(pre)
                && issuer.ends_with(post)
                && &issuer[pre.len()..pre.len() + tenant.len()] == tenant
        }
    }
}

impl Default for Authority {
    fn default() -> Self {
        Self::public_cloud()
    }
}

/// Who may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenancy {
    /// Tenants by id (lower case), each with its own discovery and key set.
    Tenants(Vec<String>),
    /// Multi-tenant: keys from `common`; tokens from these tenants (`None`: any tenant).
    MultiTenant(Option<Vec<String>>),
    /// Any OIDC issuer, by its exact `iss`; `tid` is not required.
    Issuer(String),
}

/// Where the keys come from, when not from the authority's discovery.
#[derive(Debug, Clone)]
pub(crate) enum KeysFrom {
    Discovery,
    JwksUri(String),
    Static(Arc<KeySet>),
}

/// A checked validator configuration. Build one with [`ValidatorConfig::builder`].
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    pub(crate) tenancy: Tenancy,
    pub(crate) authority: Authority,
    pub(crate) audiences: Vec<String>,
    pub(crate) versions: AcceptedVersions,
    pub(crate) required_scopes: Vec<String>,
    pub(crate) required_roles: Vec<String>,
    pub(crate) requirement: Option<Requirement>,
    pub(crate) skew: i64,
    pub(crate) max_token_size: usize,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) allowed_clients: Option<Vec<String>>,
    pub(crate) tenant_header: Option<http::HeaderName>,
    pub(crate) realm: Option<String>,
    pub(crate) keys: KeysFrom,
    pub(crate) jwks: JwksSettings,
    /// `None` with a static key set.
    pub(crate) http: Option<reqwest::Client>,
    pub(crate) clock: Clock,
    pub(crate) cache_capacity: usize,
    pub(crate) stats: bool,
}

impl ValidatorConfig {
    /// A builder with the defaults: public cloud, v1 and v2, RS256 only, 5 minutes of
    /// clock skew, 16 KiB tokens, a 10,000-token validated cache.
    pub fn builder() -> ValidatorConfigBuilder {
        ValidatorConfigBuilder::default()
    }

    /// The tenant header name, if the API uses one.
    pub fn tenant_header(&self) -> Option<&http::HeaderName> {
        self.tenant_header.as_ref()
    }

    /// The `realm` of `WWW-Authenticate` challenges, if set.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The RSA implementation this configuration asks for, combined with
    /// `ENTRA_RSA_BACKEND` ([`RsaBackend::with_env`]); whether entra-rsa really runs also
    /// depends on the CPU ([`RsaBackend::effective_for`], [`TrustedKey::backend`](crate::TrustedKey::backend)).
    pub fn rsa_backend(&self) -> RsaBackend {
        self.jwks.rsa_backend.with_env()
    }
}

/// Builds a [`ValidatorConfig`].
#[derive(Debug, Default)]
#[must_use]
pub struct ValidatorConfigBuilder {
    tenant: Vec<String>,
    tenants: Option<Vec<String>>,
    multi: Option<Option<Vec<String>>>,
    issuer: Option<String>,
    authority: Option<Authority>,
    audiences: Vec<String>,
    versions: AcceptedVersions,
    required_scopes: Vec<String>,
    required_roles: Vec<String>,
    requirement: Option<Requirement>,
    skew: Option<Duration>,
    max_token_size: Option<usize>,
    algorithms: Option<Vec<Algorithm>>,
    allowed_clients: Option<Vec<String>>,
    tenant_header: Option<String>,
    realm: Option<String>,
    jwks_uri: Option<String>,
    static_jwks: Option<Vec<u8>>,
    static_jwks_file: Option<PathBuf>,
    jwks: JwksSettings,
    http: Option<reqwest::Client>,
    extra_ca: Option<PathBuf>,
    clock: Option<Clock>,
    cache_capacity: Option<usize>,
    stats: bool,
    rsa_backend: Option<RsaBackend>,
}

impl ValidatorConfigBuilder {
    /// A single-tenant API: only tokens of this tenant (its id, a GUID).
    pub fn tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant.push(tenant_id.into());
        self
    }

    /// Tokens of any of these tenants; each tenant's keys are discovered separately.
    pub fn tenants<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tenant_ids: I) -> Self {
        self.tenants = Some(tenant_ids.into_iter().map(Into::into).collect());
        self
    }

    /// A multi-tenant API that admits these tenants: keys come from `common`, whose
    /// issuer is the `{tenantid}` template.
    pub fn multi_tenant<I: IntoIterator<Item = S>, S: Into<String>>(mut self, allowed: I) -> Self {
        self.multi = Some(Some(allowed.into_iter().map(Into::into).collect()));
        self
    }

    /// A multi-tenant API open to every Entra tenant (any organisation can get tokens
    /// for it: check authorisation yourself).
    pub fn any_tenant(mut self) -> Self {
        self.multi = Some(None);
        self
    }

    /// Any OIDC issuer: `iss` must equal `issuer` exactly; keys by discovery at
    /// `{issuer}/.well-known/openid-configuration` (or [`jwks_uri`](Self::jwks_uri) /
    /// [`static_jwks`](Self::static_jwks)). `tid` is not required; when the issuer is
    /// Entra-shaped (`https://{host}/{tenant id}/v2.0`, `https://sts.windows.net/{tenant
    /// id}/`) and the token has a `tid`, it must be that tenant
    /// ([`ValidationError::IssuerTenantMismatch`](crate::ValidationError::IssuerTenantMismatch)).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The authority (default: [`Authority::public_cloud`]).
    pub fn authority(mut self, authority: Authority) -> Self {
        self.authority = Some(authority);
        self
    }

    /// An accepted `aud`: the API's client id (v2 tokens) and/or App ID URI (v1 tokens
    /// requested as `api://.../.default` carry it). Call once per audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accepted token versions (default both).
    pub fn versions(mut self, versions: AcceptedVersions) -> Self {
        self.versions = versions;
        self
    }

    /// Scopes of which a token must carry at least one, unless it carries one of the
    /// [`required roles`](Self::require_roles): any-of across both lists. Routes can add
    /// their own requirements with [`RequireLayer`](crate::RequireLayer).
    pub fn require_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.required_scopes
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// App roles that grant access (see [`require_scopes`](Self::require_scopes)).
    pub fn require_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.required_roles
            .extend(roles.into_iter().map(Into::into));
        self
    }

    /// A whole [`Requirement`] every token must meet, all its clauses (for example a
    /// scope *and* a role: `Requirement::scope("Data.Read").and(Requirement::role("Admin"))`),
    /// on top of [`require_scopes`](Self::require_scopes)/[`require_roles`](Self::require_roles).
    /// Repeated calls add clauses.
    pub fn require(mut self, requirement: Requirement) -> Self {
        self.requirement = Some(match self.requirement.take() {
            Some(r) => r.and(requirement),
            None => requirement,
        });
        self
    }

    /// Allowed clock skew for `exp`, `nbf` and `iat` (default 5 minutes, at most 1 hour).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.skew = Some(skew);
        self
    }

    /// The largest token accepted, in bytes (default 16 KiB).
    pub fn max_token_size(mut self, bytes: usize) -> Self {
        self.max_token_size = Some(bytes);
        self
    }

    /// The signature algorithms accepted (default RS256 only; Entra signs with RS256).
    /// Other OIDC issuers may sign with RS384/512, PS256/384/512, ES256/384/512 or
    /// EdDSA (Ed25519); each is checked only with a JWKS key of its type.
    pub fn algorithms<I: IntoIterator<Item = Algorithm>>(mut self, algs: I) -> Self {
        self.algorithms = Some(algs.into_iter().collect());
        self
    }

    /// Only these calling applications (`azp` / `appid`) are accepted.
    pub fn allowed_clients<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        clients: I,
    ) -> Self {
        self.allowed_clients = Some(clients.into_iter().map(Into::into).collect());
        self
    }

    /// A request header (e.g. `X-Tenant-ID`) that must name the token's tenant.
    pub fn tenant_header(mut self, name: impl Into<String>) -> Self {
        self.tenant_header = Some(name.into());
        self
    }

    /// The `realm` in `WWW-Authenticate` challenges.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Fetch keys from this JWKS URL instead of discovering it.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// A fixed JWKS document (never refreshed).
    pub fn static_jwks(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.static_jwks = Some(json.into());
        self
    }

    /// A fixed JWKS read from a file at build time.
    pub fn static_jwks_file(mut self, path: impl AsRef<Path>) -> Self {
        self.static_jwks_file = Some(path.as_ref().to_path_buf());
        self
    }

    /// Key refresh behaviour (unknown-`kid` throttle, background refresh...).
    pub fn jwks_settings(mut self, settings: JwksSettings) -> Self {
        self.jwks = settings;
        self
    }

    /// The HTTP client for discovery and JWKS (default: system roots plus
    /// [`extra_ca_file`](Self::extra_ca_file), 10-second timeouts, no redirects).
    ///
    /// Redirects are refused whatever the client: a discovery or JWKS response that is
    /// a redirect, or that a client following redirects got from another URL than the
    /// one asked for, is an error and its body is not used. A client that follows
    /// redirects still sends the request to the redirect's target before the answer is
    /// refused, so build it with `reqwest::redirect::Policy::none()`.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Also trust the CA certificates in this PEM file (e.g. the emulator's `ca.pem`).
    pub fn extra_ca_file(mut self, path: impl AsRef<Path>) -> Self {
        self.extra_ca = Some(path.as_ref().to_path_buf());
        self
    }

    /// The clock (tests use [`Clock::manual`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Count validations for [`Validator::stats`](crate::Validator::stats). Off by
    /// default: counting is an atomic increment on every request, on a cache line all
    /// cores share; on one core it took a cache hit from 77.6 to 81.5 ns
    /// (`repeat_token_stats` in the validate bench).
    pub fn collect_stats(mut self, on: bool) -> Self {
        self.stats = on;
        self
    }

    /// Which implementation checks RSA signatures (RS256... PS512): [`RsaBackend::Auto`]
    /// (the default: entra-rsa where the CPU has AVX-512 IFMA and the key is 2048 to
    /// 4096 bits, aws-lc otherwise) or [`RsaBackend::AwsLc`] (aws-lc always). The
    /// environment variable `ENTRA_RSA_BACKEND=aws-lc` also switches entra-rsa off; either
    /// switch alone is enough. Overrides [`JwksSettings::rsa_backend`].
    pub fn rsa_backend(mut self, backend: RsaBackend) -> Self {
        self.rsa_backend = Some(backend);
        self
    }

    /// How many validated tokens to remember (default 10,000; 0 turns the cache off).
    pub fn token_cache_capacity(mut self, tokens: usize) -> Self {
        self.cache_capacity = Some(tokens);
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<ValidatorConfig, ConfigError> {
        let guids = |list: Vec<String>, what: &'static str| -> Result<Vec<String>, ConfigError> {
            if list.is_empty() {
                return Err(ConfigError::EmptyList(what));
            }
            list.into_iter()
                .map(|t| {
                    if is_guid(&t) {
                        Ok(t.to_ascii_lowercase())
                    } else {
                        Err(ConfigError::TenantNotGuid(t))
                    }
                })
                .collect()
        };
        let chosen = usize::from(!self.tenant.is_empty())
            + usize::from(self.tenants.is_some())
            + usize::from(self.multi.is_some())
            + usize::from(self.issuer.is_some());
        if chosen == 0 {
            return Err(ConfigError::NoTenant);
        }
        if chosen > 1 || self.tenant.len() > 1 {
            return Err(ConfigError::ConflictingTenancy);
        }
        let tenancy = if let Some(t) = self.tenant.into_iter().next() {
            Tenancy::Tenants(guids(vec![t], "tenant")?)
        } else if let Some(list) = self.tenants {
            Tenancy::Tenants(guids(list, "tenant")?)
        } else if let Some(multi) = self.multi {
            Tenancy::MultiTenant(multi.map(|l| guids(l, "allowed tenant")).transpose()?)
        } else {
            let issuer = self.issuer.unwrap_or_default();
            https(&issuer, self.jwks.danger_allow_http)?;
            Tenancy::Issuer(issuer)
        };
        let authority = self.authority.unwrap_or_default();
        https(authority.base(), self.jwks.danger_allow_http)?;
        for template in [&authority.v1_issuer, &authority.v2_issuer] {
            if !template.contains("{tenantid}") {
                return Err(ConfigError::IssuerTemplate(template.clone()));
            }
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::NoAudience);
        }
        let skew = self.skew.unwrap_or(Duration::from_secs(300));
        if skew > Duration::from_secs(3600) {
            return Err(ConfigError::SkewTooLarge);
        }
        let max_token_size = self.max_token_size.unwrap_or(16 * 1024);
        if max_token_size == 0 || max_token_size > entra_jose::MAX_TOKEN_LEN {
            return Err(ConfigError::BadMaxTokenSize {
                max: entra_jose::MAX_TOKEN_LEN,
            });
        }
        let mut algorithms = self.algorithms.unwrap_or_else(|| vec![Algorithm::RS256]);
        algorithms.dedup();
        if algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithm);
        }
        if self.allowed_clients.as_ref().is_some_and(Vec::is_empty) {
            return Err(ConfigError::EmptyList("allowed client"));
        }
        let tenant_header = self
            .tenant_header
            .map(|h| {
                http::HeaderName::try_from(h.as_str()).map_err(|_| ConfigError::BadHeaderName(h))
            })
            .transpose()?;
        let static_json = match (self.static_jwks, self.static_jwks_file) {
            (Some(json), _) => Some(json),
            (None, Some(path)) => Some(
                std::fs::read(&path)
                    .map_err(|e| ConfigError::Jwks(format!("{}: {e}", path.display())))?,
            ),
            (None, None) => None,
        };
        let mut jwks = self.jwks;
        if let Some(backend) = self.rsa_backend {
            jwks.rsa_backend = backend;
        }
        let keys = match (static_json, self.jwks_uri) {
            (Some(json), _) => KeysFrom::Static(Arc::new(
                parse_jwks_with(&json, jwks.rsa_backend.with_env())
                    .map_err(|e| ConfigError::Jwks(e.to_string()))?,
            )),
            (None, Some(uri)) => {
                https(&uri, jwks.danger_allow_http)?;
                KeysFrom::JwksUri(uri)
            }
            (None, None) => KeysFrom::Discovery,
        };
        let http = match (self.http, &keys) {
            (Some(c), _) => Some(c),
            (None, KeysFrom::Static(_)) => None,
            (None, _) => Some(default_client(self.extra_ca.as_deref())?),
        };
        Ok(ValidatorConfig {
            tenancy,
            authority,
            audiences: self.audiences,
            versions: self.versions,
            required_scopes: self.required_scopes,
            required_roles: self.required_roles,
            requirement: self.requirement,
            skew: skew.as_secs() as i64,
            max_token_size,
            algorithms,
            allowed_clients: self.allowed_clients,
            tenant_header,
            realm: self.realm,
            keys,
            jwks,
            http,
            clock: self.clock.unwrap_or_default(),
            cache_capacity: self.cache_capacity.unwrap_or(10_000),
            stats: self.stats,
        })
    }
}

fn https(url: &str, allow_http: bool) -> Result<(), ConfigError> {
    if url.starts_with("https://") || (allow_http && url.starts_with("http://")) {
        Ok(())
    } else {
        Err(ConfigError::NotHttps(url.to_string()))
    }
}

/// System roots plus `extra_ca`, aws-lc-rs, no redirects (a JWKS URL that redirects
/// elsewhere is not followed), 10-second timeouts.
fn default_client(extra_ca: Option<&Path>) -> Result<reqwest::Client, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path)
            .map_err(|e| ConfigError::Http(format!("CA file {}: {e}", path.display())))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                ConfigError::Http(format!("CA file {}: bad PEM: {e}", path.display()))
            })?;
            roots
                .add(cert)
                .map_err(|e| ConfigError::Http(format!("CA file {}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(ConfigError::Http(format!(
                "CA file {}: no certificate in it",
                path.display()
            )));
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ConfigError::Http(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("entrakit-validate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError::Http(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::{ConfigError, default_client, issuer_matches};

    /// A CA file whose PEM is broken is refused with the file and the PEM error; it
    /// used to be skipped block by block (rustls-pemfile's iterator flattened), which
    /// could leave the file's good certificates trusted and the broken one silently out.
    #[test]
    fn a_ca_file_with_broken_pem_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("entra-ca-pem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let Err(ConfigError::Http(text)) = default_client(Some(&ca)) else {
            panic!("a broken CA file must be refused");
        };
        assert!(
            text.contains("ca.pem") && text.contains("bad PEM"),
            "{text}"
        );
        std::fs::write(&ca, "no PEM here\n").unwrap();
        let Err(ConfigError::Http(text)) = default_client(Some(&ca)) else {
            panic!("a CA file without a certificate must be refused");
        };
        assert!(text.contains("no certificate in it"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn issuer_templates() {
        let t = "c0ffee00-0000-4000-8000-000000000001";
        let v2 = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(issuer_matches(v2, t, &v2.replace("{tenantid}", t)));
        assert!(!issuer_matches(v2, t, &v2.replace("{tenantid}", "other")));
        assert!(!issuer_matches(v2, t, v2));
        assert!(!issuer_matches(
            v2,
            t,
            &format!("{}/", v2.replace("{tenantid}", t))
        ));
        // No template: exact match. A `{` that does not start `{tenantid}` is literal,
        // and only the first `{tenantid}` is replaced.
        assert!(issuer_matches(
            "https://sts.example/",
            t,
            "https://sts.example/"
        ));
        assert!(!issuer_matches(
            "https://sts.example/",
            t,
            "https://sts.example"
        ));
        assert!(issuer_matches(
            "https://x/{a}/{tenantid}/",
            t,
            &format!("https://x/{{a}}/{t}/")
        ));
        assert!(issuer_matches(
            "{tenantid}{tenantid}",
            t,
            &format!("{t}{{tenantid}}")
        ));
        assert!(!issuer_matches("{tenantid", t, t));
    }
}
