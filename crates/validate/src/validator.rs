//! [`Validator`]: the checks, in order, and the validated-token cache in front of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::cache::ValidatedTokenCache;
use crate::clock::Clock;
use crate::config::{AcceptedVersions, KeysFrom, Tenancy, ValidatorConfig, issuer_matches};
use crate::error::ValidationError;
use crate::jwks::{JwksCache, SigningKeySource, TrustedKey};
use crate::principal::Principal;
use crate::requirement::Requirement;
use crate::token::{Claims, ParsedToken, TokenVersion, is_guid, parse_token_reserving};

/// Client id and App ID URIs of Microsoft Graph, to name the most common wrong audience.
const GRAPH_AUDIENCES: [&str; 3] = [
    "00000003-0000-0000-c000-000000000000",
    "https://graph.microsoft.com",
    "https://graph.microsoft.com/",
];

/// Validates Entra access tokens. Cheap to clone (one `Arc`); share one per API.
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    config: ValidatorConfig,
    jwks: JwksCache,
    cache: ValidatedTokenCache,
    required: Option<Requirement>,
    counters: Counters,
    /// `oid` (lower case) -> tokens issued before this second are refused.
    revoked: RwLock<HashMap<String, i64>>,
    /// Whether `revoked` has anything (one load on the path of every new token).
    any_revoked: AtomicBool,
    /// Tests: called right after a validation put its token in the cache.
    #[cfg(test)]
    after_insert: std::sync::OnceLock<AfterInsert>,
}

#[cfg(test)]
type AfterInsert = Box<dyn Fn(&Validator, &str) + Send + Sync>;

/// The claims challenge for a token issued before its subject's revocation.
fn revoked(cutoff: i64) -> ValidationError {
    let claims = serde_json::json!({
        "access_token": { "nbf": { "essential": true, "value": cutoff.to_string() } }
    });
    ValidationError::InsufficientClaims {
        description: "the token was issued before its account's tokens were revoked".into(),
        claims: claims.to_string(),
    }
}

/// What [`Validator::stats`] reads: relaxed atomics on the paths that succeed, a map
/// behind a lock for refusals (by code). Every count is a no-op unless `on`.
#[derive(Default)]
struct Counters {
    on: bool,
    accepted: AtomicU64,
    cache_hits: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counters {
    fn hit(&self) {
        if self.on {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn verdict<T>(&self, verdict: &Result<T, ValidationError>) {
        match verdict {
            Ok(_) if self.on => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => self.refuse(e),
        }
    }

    fn refuse(&self, e: &ValidationError) {
        if self.on {
            let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            *refused.entry(e.code()).or_default() += 1;
        }
    }
}

/// Counts since a [`Validator`] was made (a snapshot; its clones share them), for an
/// API's metrics: how many bearers were accepted, how many answered from the
/// validated-token cache, and the refusals by [`ValidationError::code`] (an operator
/// seeing `expired` or `wrong_audience` climb knows which clients to call). Refusals
/// made after validation by a route's [`RequireLayer`](crate::RequireLayer) are not
/// counted here; a request whose token was accepted but whose tenant header is wrong
/// counts in both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidationStats {
    /// Tokens validated in full and accepted (each one signature check).
    pub accepted: u64,
    /// Tokens accepted from the validated-token cache, with no check repeated.
    pub cache_hits: u64,
    /// Refusals by code, codes with none left out.
    pub refused: BTreeMap<&'static str, u64>,
    /// Key set documents fetched (successfully or not).
    pub jwks_fetches: u64,
}

impl ValidationStats {
    /// All refusals.
    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("tenancy", &self.inner.config.tenancy)
            .field("audiences", &self.inner.config.audiences)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// A validator for `config`. Keys are fetched on first use (call
    /// [`Validator::warm_up`] to fetch them at start-up).
    pub fn new(config: ValidatorConfig) -> Self {
        let clock = config.clock.clone();
        let jwks = match &config.keys {
            KeysFrom::Static(set) => JwksCache::from_shared(set.clone(), clock),
            KeysFrom::JwksUri(uri) => JwksCache::new(
                SigningKeySource::JwksUri(uri.clone()),
                config.http.clone().expect("built with the config"),
                clock,
                config.jwks.clone(),
            ),
            KeysFrom::Discovery => JwksCache::new(
                match &config.tenancy {
                    Tenancy::Issuer(iss) => SigningKeySource::Issuer(iss.clone()),
                    _ => SigningKeySource::Discovery {
                        base: config.authority.base().to_string(),
                    },
                },
                config.http.clone().expect("built with the config"),
                clock,
                config.jwks.clone(),
            ),
        };
        let any_of = (!config.required_scopes.is_empty() || !config.required_roles.is_empty())
            .then(|| {
                Requirement::any_of(
                    config.required_scopes.iter().cloned(),
                    config.required_roles.iter().cloned(),
                )
            });
        let required = match (any_of, config.requirement.clone()) {
            (Some(a), Some(r)) => Some(a.and(r)),
            (a, r) => a.or(r),
        };
        Self {
            inner: Arc::new(Inner {
                cache: ValidatedTokenCache::new(config.cache_capacity),
                counters: Counters {
                    on: config.stats,
                    ..Counters::default()
                },
                config,
                jwks,
                required,
                revoked: RwLock::default(),
                any_revoked: AtomicBool::new(false),
                #[cfg(test)]
                after_insert: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The counts since this validator was made (see [`ValidationStats`]); all zero
    /// unless the configuration turned them on
    /// ([`collect_stats`](crate::ValidatorConfigBuilder::collect_stats)).
    pub fn stats(&self) -> ValidationStats {
        let c = &self.inner.counters;
        ValidationStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            refused: c.refused.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            jwks_fetches: self.inner.jwks.fetch_count(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ValidatorConfig {
        &self.inner.config
    }

    /// The key cache.
    pub fn jwks(&self) -> &JwksCache {
        &self.inner.jwks
    }

    /// The validated-token cache.
    pub fn token_cache(&self) -> &ValidatedTokenCache {
        &self.inner.cache
    }

    fn clock(&self) -> &Clock {
        &self.inner.config.clock
    }

    /// Fetches the keys of every configured tenant now, so the first request does not wait.
    pub async fn warm_up(&self) -> Result<(), String> {
        for scope in self.scopes() {
            self.inner.jwks.refresh(&scope).await?;
        }
        Ok(())
    }

    fn scopes(&self) -> Vec<String> {
        match &self.inner.config.tenancy {
            Tenancy::Tenants(list) => list.clone(),
            Tenancy::MultiTenant(_) => vec!["common".into()],
            Tenancy::Issuer(_) => vec![String::new()],
        }
    }

    /// The fast path: the principal of a token validated before and still valid, without
    /// parsing or verifying anything. `None` means "not cached": call [`validate`](Self::validate).
    #[inline]
    pub fn validate_cached(&self, token: &str) -> Option<Principal> {
        let hit = self.inner.cache.get(token, self.clock().now());
        if hit.is_some() {
            self.inner.counters.hit();
        }
        hit
    }

    /// Validates `token` (the bearer, without `Bearer `), fetching keys as needed.
    pub async fn validate(&self, token: &str) -> Result<Principal, ValidationError> {
        if let Some(p) = self.validate_cached(token) {
            return Ok(p);
        }
        let verdict = self.validate_fresh(token, self.clock().now()).await;
        self.inner.counters.verdict(&verdict);
        verdict
    }

    /// Every check of a token that is not in the cache.
    async fn validate_fresh(&self, token: &str, now: i64) -> Result<Principal, ValidationError> {
        let config = &self.inner.config;
        // With a cache, the claims' buffer gets room for the token, which the cache
        // entry compares a later bearer with (one allocation for both).
        let keep = self.inner.cache.enabled();
        let mut parsed = parse_token_reserving(
            token,
            config.max_token_size,
            if keep { token.len() } else { 0 },
        )?;
        if !config.algorithms.contains(&parsed.header.alg) {
            return Err(ValidationError::AlgNotAllowed);
        }
        // Decide the key scope from the (unverified) tenant, refusing tenants the API does
        // not accept before any key is fetched for them.
        let (scope, has_tid) = self.key_scope(&parsed.claims)?;
        let key = self.inner.jwks.key(scope, parsed.kid()).await?;
        if let Err(e) = key.verify(parsed.header.alg, parsed.signing_input, parsed.signature()) {
            // Graph access tokens carry a header nonce that makes their signature
            // unverifiable by anyone but Graph: name the real mistake instead.
            return Err(if audience_is_graph(&parsed.claims) {
                tracing::debug!(aud = ?parsed.claims.aud().map(|a| a.collect::<Vec<_>>()), accepted = ?config.audiences, "token refused: it is for Microsoft Graph");
                ValidationError::WrongAudience {
                    for_graph: true,
                    accepted: config.audiences.clone(),
                }
            } else {
                e
            });
        }
        let (exp, iat) = self.check_claims(&parsed, has_tid, &key, now)?;
        if keep {
            parsed.claims.keep_token(token);
        }
        let principal = Principal::from_claims(parsed.claims, exp);
        if let Some(required) = &self.inner.required {
            required.check(&principal)?;
        }
        // The revocation check and the insert happen under the revocations' read lock:
        // a revocation recorded before it is seen here and nothing is inserted; one
        // recorded after waits for the insert and then clears the entry (it records the
        // cut-off, then clears). A revoked token is never in the cache where a
        // concurrent `validate_cached` could find it.
        let revocations = self.inner.revoked.read().unwrap_or_else(|p| p.into_inner());
        if let Some(cutoff) = self.revoked_before(&revocations, &principal)
            && iat.is_none_or(|iat| iat < cutoff)
        {
            return Err(revoked(cutoff));
        }
        self.inner
            .cache
            .insert(token, &principal, exp.saturating_add(config.skew), key, now);
        drop(revocations);
        #[cfg(test)]
        if let Some(hook) = self.inner.after_insert.get() {
            hook(self, token);
        }
        Ok(principal)
    }

    /// Refuses every token of the user or service principal `object_id` (its `oid`)
    /// issued before `issued_before` (seconds since the epoch), and drops its tokens from
    /// the validated-token cache: for an account the API knows to be compromised, or a
    /// user who signed out everywhere, without waiting up to an hour for their tokens to
    /// expire. A refused token gets a claims challenge asking for a token issued since
    /// (`{"access_token":{"nbf":{"essential":true,"value":"<time>"}}}`), as resources
    /// with continuous access evaluation answer, which MSAL and `entra call` act on. A
    /// later call for the same object replaces its cut-off. Revocations live in this
    /// validator (and its clones) only.
    pub fn revoke_tokens_issued_before(&self, object_id: &str, issued_before: i64) {
        let mut revoked = self
            .inner
            .revoked
            .write()
            .unwrap_or_else(|p| p.into_inner());
        revoked.insert(object_id.to_ascii_lowercase(), issued_before);
        // Under the write lock: a validation that takes the read lock next sees both.
        self.inner.any_revoked.store(true, Ordering::Release);
        drop(revoked);
        self.inner.cache.remove_where(|p| {
            p.object_id()
                .is_some_and(|oid| oid.eq_ignore_ascii_case(object_id))
        });
    }

    /// The revocation cut-off for `principal`'s object in `revoked` (the map, read
    /// locked by the caller), if any.
    fn revoked_before(&self, revoked: &HashMap<String, i64>, principal: &Principal) -> Option<i64> {
        if !self.inner.any_revoked.load(Ordering::Acquire) {
            return None;
        }
        let oid = principal.object_id()?.to_ascii_lowercase();
        revoked.get(&oid).copied()
    }

    /// Validates the bearer in `headers` (and the tenant header, when configured): what
    /// the middleware calls.
    pub async fn validate_request(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<Principal, ValidationError> {
        let count = |e: &ValidationError| self.inner.counters.refuse(e);
        let token = bearer(headers).inspect_err(count)?;
        let principal = self.validate(token).await?;
        self.check_tenant_header(&principal, headers)
            .inspect_err(count)?;
        Ok(principal)
    }

    /// Checks the configured tenant header against the principal's tenant.
    pub fn check_tenant_header(
        &self,
        principal: &Principal,
        headers: &http::HeaderMap,
    ) -> Result<(), ValidationError> {
        let Some(name) = &self.inner.config.tenant_header else {
            return Ok(());
        };
        let mut values = headers.get_all(name).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(ValidationError::TenantHeaderMissing(name.to_string()));
        };
        // An empty value never matches, not even the empty tenant of a token without
        // `tid` (possible in exact-issuer mode).
        let tenant = principal.tenant_id();
        let matches = !tenant.is_empty()
            && value
                .to_str()
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case(tenant));
        if matches {
            Ok(())
        } else {
            Err(ValidationError::TenantHeaderMismatch(name.to_string()))
        }
    }

    /// The key scope for the token's tenant (a configured tenant, `common`, or the one
    /// issuer's), and whether the token carries a tenant id that passed the checks.
    /// Only configured tenants ever get a key scope: no attacker-chosen fetches.
    fn key_scope(&self, claims: &Claims) -> Result<(&str, bool), ValidationError> {
        let tid = || match claims.tid() {
            Some(t) if is_guid(t) => Ok(t),
            _ => Err(ValidationError::BadTenantId),
        };
        let listed = |list: &[String], t: &str| list.iter().any(|x| x.eq_ignore_ascii_case(t));
        match &self.inner.config.tenancy {
            Tenancy::Tenants(list) => {
                let t = tid()?;
                let scope = list
                    .iter()
                    .find(|x| x.eq_ignore_ascii_case(t))
                    .ok_or(ValidationError::TenantNotAllowed)?;
                Ok((scope, true))
            }
            Tenancy::MultiTenant(allow) => {
                let t = tid()?;
                if allow.as_ref().is_some_and(|l| !listed(l, t)) {
                    return Err(ValidationError::TenantNotAllowed);
                }
                Ok(("common", true))
            }
            Tenancy::Issuer(_) => Ok(("", claims.tid().is_some())),
        }
    }

    /// The issuer: the configured one, or (Entra) the authority's template for the
    /// token's tenant and version; and the key's own issuer, when it names one.
    fn check_issuer(
        &self,
        c: &Claims,
        iss: &str,
        has_tid: bool,
        key: &TrustedKey,
        wrong_version: impl Fn() -> ValidationError,
    ) -> Result<(), ValidationError> {
        let config = &self.inner.config;
        let version = c.version();
        match (&config.tenancy, has_tid) {
            (Tenancy::Issuer(expected), _) => {
                if iss != expected || key.issuer().is_some_and(|k| k != iss) {
                    return Err(ValidationError::WrongIssuer);
                }
                // An Entra-shaped issuer names its tenant: a `tid` naming another one is
                // a token of that other tenant, whatever `iss` says.
                if let (Some(named), Some(tid)) = (entra_issuer_tenant(iss), c.tid())
                    && !named.eq_ignore_ascii_case(tid)
                {
                    return Err(ValidationError::IssuerTenantMismatch);
                }
            }
            (_, true) => {
                // Compare with the tenant id as the token spells it (it was checked to be
                // a GUID, and lower-cased only to match the allow-list).
                let tid = c.tid().unwrap_or_default();
                let version = version.ok_or_else(wrong_version)?;
                let authority = &config.authority;
                if !issuer_matches(authority.issuer_template(version), tid, iss) {
                    return Err(ValidationError::WrongIssuer);
                }
                if let Some(k) = key.issuer() {
                    // A key bound to an issuer signs only for it. Entra's v2 JWKS names the
                    // v2 issuer; a v1 token of the same tenant signed by that key is fine.
                    let v2 = authority.issuer(TokenVersion::V2, tid);
                    if !issuer_matches(k, tid, iss)
                        && !issuer_matches(k, tid, &v2)
                        && !issuer_matches(k, tid, &authority.issuer(TokenVersion::V1, tid))
                    {
                        return Err(ValidationError::WrongIssuer);
                    }
                }
            }
            (_, false) => return Err(ValidationError::BadTenantId),
        }
        Ok(())
    }

    /// Every claim check after the signature; returns `exp` and `iat`.
    fn check_claims(
        &self,
        parsed: &ParsedToken<'_>,
        has_tid: bool,
        key: &TrustedKey,
        now: i64,
    ) -> Result<(i64, Option<i64>), ValidationError> {
        let config = &self.inner.config;
        let c = &parsed.claims;
        let version = c.version();
        let iss = c.iss().ok_or(ValidationError::WrongIssuer)?;
        let wrong_version = || ValidationError::WrongVersion {
            found: version,
            accepted: config.versions.label(),
        };
        // Issuer (with the `{tenantid}` template for Entra) and the key's own issuer.
        self.check_issuer(c, iss, has_tid, key, wrong_version)?;
        // An ID token (checked before the audience, which for an ID token is the client's
        // id: "this is an ID token" is the useful answer): it carries nonce/at_hash/c_hash, or (Entra) names no client, which
        // every Entra access token does (azp in v2, appid in v1).
        let entra = !matches!(config.tenancy, Tenancy::Issuer(_));
        if c.has_id_token_member() || (entra && c.azp().is_none() && c.appid().is_none()) {
            return Err(ValidationError::IdToken);
        }
        // Audience.
        let aud_ok = c
            .aud()
            .is_some_and(|mut a| a.any(|a| config.audiences.iter().any(|x| x == a)));
        if !aud_ok {
            // The token's `aud` (not a secret) for the server's log: the answer names only
            // what this API accepts.
            tracing::debug!(
                aud = ?c.aud().map(|a| a.collect::<Vec<_>>()),
                accepted = ?config.audiences,
                "token refused: wrong audience"
            );
            return Err(ValidationError::WrongAudience {
                for_graph: audience_is_graph(c),
                accepted: config.audiences.clone(),
            });
        }
        // Version.
        match version {
            Some(v) if config.versions.accepts(v) => {}
            None if !entra && config.versions == AcceptedVersions::Both => {}
            _ => return Err(wrong_version()),
        }
        // Times.
        let exp = time_claim(c.exp())?.ok_or(ValidationError::Malformed("the token has no exp"))?;
        if now > exp.saturating_add(config.skew) {
            return Err(ValidationError::Expired);
        }
        if time_claim(c.nbf())?.is_some_and(|nbf| nbf > now.saturating_add(config.skew)) {
            return Err(ValidationError::NotYetValid);
        }
        let iat = time_claim(c.iat())?;
        if iat.is_some_and(|iat| iat > now.saturating_add(config.skew)) {
            return Err(ValidationError::IssuedInFuture);
        }
        // Calling application.
        if let Some(allowed) = &config.allowed_clients {
            let client = c.azp().or_else(|| c.appid());
            if !client.is_some_and(|id| allowed.iter().any(|a| a.eq_ignore_ascii_case(id))) {
                return Err(ValidationError::ClientNotAllowed);
            }
        }
        Ok((exp, iat))
    }
}

/// The tenant an Entra-shaped issuer names: `https://{host}/{tenant id}/v2.0` (v2) or
/// `https://{host}/{tenant id}/` (v1, e.g. `https://sts.windows.net/{tid}/`), with a
/// GUID as the first path segment and nothing after but `v2.0`. `None` for any other
/// shape of issuer.
fn entra_issuer_tenant(iss: &str) -> Option<&str> {
    let rest = iss.strip_prefix("https://")?;
    let (_host, path) = rest.split_once('/')?;
    let (tenant, after) = path.split_once('/').unwrap_or((path, ""));
    (is_guid(tenant) && matches!(after, "" | "v2.0" | "v2.0/")).then_some(tenant)
}

fn audience_is_graph(c: &Claims) -> bool {
    c.aud()
        .is_some_and(|mut a| a.any(|a| GRAPH_AUDIENCES.contains(&a)))
}

fn time_claim(v: Option<f64>) -> Result<Option<i64>, ValidationError> {
    match v {
        None => Ok(None),
        Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f as i64)),
        Some(_) => Err(ValidationError::Malformed("a time claim is out of range")),
    }
}

/// The bearer token of an `Authorization` header: exactly one header, scheme `Bearer`
/// (any casing), a non-empty token. Another scheme counts as no token (RFC 6750 §3.1).
pub fn bearer(headers: &http::HeaderMap) -> Result<&str, ValidationError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(ValidationError::Missing),
        (Some(v), None) => v,
        (Some(_), Some(_)) => {
            return Err(ValidationError::Malformed(
                "more than one Authorization header",
            ));
        }
    };
    let value = value
        .to_str()
        .map_err(|_| ValidationError::Malformed("the Authorization header is not ASCII"))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ValidationError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ValidationError::Missing);
    }
    Ok(token)
}

#[cfg(test)]
mod tests;
