//! [`ValidatorConfigBuilder`]: every setting, checked together by
//! [`build`](ValidatorConfigBuilder::build).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use entra_jose::{Algorithm, RsaBackend};

use super::authority::Authority;
use super::error::ConfigError;
use super::http_client::{default_client, https};
use super::validator_config::{AcceptedVersions, KeysFrom, Tenancy, ValidatorConfig};
use crate::clock::Clock;
use crate::jwks::{JwksSettings, parse_jwks_with};
use crate::requirement::Requirement;
use crate::token::is_guid;

impl ValidatorConfig {
    /// A builder with the defaults: public cloud, v1 and v2, RS256 only, 5 minutes of
    /// clock skew, 16 KiB tokens, a 10,000-token validated cache.
    pub fn builder() -> ValidatorConfigBuilder {
        ValidatorConfigBuilder::default()
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
    pub fn build(mut self) -> Result<ValidatorConfig, ConfigError> {
        let tenancy = self.take_tenancy()?;
        let authority = self.authority.take().unwrap_or_default();
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
        let mut algorithms = self
            .algorithms
            .take()
            .unwrap_or_else(|| vec![Algorithm::RS256]);
        algorithms.dedup();
        if algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithm);
        }
        if self.allowed_clients.as_ref().is_some_and(Vec::is_empty) {
            return Err(ConfigError::EmptyList("allowed client"));
        }
        let tenant_header = self
            .tenant_header
            .take()
            .map(|h| {
                http::HeaderName::try_from(h.as_str()).map_err(|_| ConfigError::BadHeaderName(h))
            })
            .transpose()?;
        let (keys, jwks) = self.take_keys()?;
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

    /// Exactly one of `tenant`, `tenants`, `multi_tenant`/`any_tenant` and `issuer`,
    /// checked.
    fn take_tenancy(&mut self) -> Result<Tenancy, ConfigError> {
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
        Ok(
            if let Some(t) = std::mem::take(&mut self.tenant).into_iter().next() {
                Tenancy::Tenants(guids(vec![t], "tenant")?)
            } else if let Some(list) = self.tenants.take() {
                Tenancy::Tenants(guids(list, "tenant")?)
            } else if let Some(multi) = self.multi.take() {
                Tenancy::MultiTenant(multi.map(|l| guids(l, "allowed tenant")).transpose()?)
            } else {
                let issuer = self.issuer.take().unwrap_or_default();
                https(&issuer, self.jwks.danger_allow_http)?;
                Tenancy::Issuer(issuer)
            },
        )
    }

    /// Where the keys come from (a static set is read and parsed here), and the JWKS
    /// settings with the RSA backend chosen.
    fn take_keys(&mut self) -> Result<(KeysFrom, JwksSettings), ConfigError> {
        let static_json = match (self.static_jwks.take(), self.static_jwks_file.take()) {
            (Some(json), _) => Some(json),
            (None, Some(path)) => Some(
                std::fs::read(&path)
                    .map_err(|e| ConfigError::Jwks(format!("{}: {e}", path.display())))?,
            ),
            (None, None) => None,
        };
        let mut jwks = std::mem::take(&mut self.jwks);
        if let Some(backend) = self.rsa_backend {
            jwks.rsa_backend = backend;
        }
        let keys = match (static_json, self.jwks_uri.take()) {
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
        Ok((keys, jwks))
    }
}

/// Tenant ids: at least one, each a GUID, lower-cased.
fn guids(list: Vec<String>, what: &'static str) -> Result<Vec<String>, ConfigError> {
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
}
