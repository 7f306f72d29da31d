//! [`JwksCache`]: signing keys per scope, found through OIDC discovery (or a JWKS URL,
//! or a fixed set), fetched single-flight and kept fresh.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use entra_jose::RsaBackend;
use serde::Deserialize;

use super::keys::{JwksError, KeySet, MAX_JWKS_BYTES, TrustedKey, parse_jwks, parse_jwks_with};
use crate::clock::Clock;
use crate::error::ValidationError;

/// The largest discovery document read.
const MAX_DISCOVERY_BYTES: usize = 64 * 1024;
/// How the cache fetches and refreshes.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    /// An unknown `kid` refreshes the set at most this often (default 5 minutes).
    pub unknown_kid_interval: Duration,
    /// While no set was ever fetched, a failed fetch is retried at most this often
    /// (default 10 seconds); until then validations fail fast with `keys_unavailable`.
    pub cold_retry_interval: Duration,
    /// Background refresh period (default 12 hours, each wait drawn within 10% of it);
    /// `None` turns it off. The task starts after a scope's first successful fetch, on
    /// the tokio runtime that made it, and ends when the cache is dropped.
    pub background_interval: Option<Duration>,
    /// Timeout of each HTTP request (default 10 seconds).
    pub request_timeout: Duration,
    /// Accept `http://` discovery and JWKS URLs. Only for tests against a plain-HTTP
    /// issuer: over HTTP anyone on the path can substitute the keys.
    pub danger_allow_http: bool,
    /// The RSA implementation for the keys fetched (default [`RsaBackend::Auto`]:
    /// entra-rsa where the CPU has AVX-512 IFMA); `ENTRA_RSA_BACKEND=aws-lc` overrides
    /// `Auto`. [`ValidatorConfigBuilder::rsa_backend`](crate::ValidatorConfigBuilder::rsa_backend)
    /// sets it.
    pub rsa_backend: RsaBackend,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            unknown_kid_interval: Duration::from_secs(300),
            cold_retry_interval: Duration::from_secs(10),
            background_interval: Some(Duration::from_secs(12 * 3600)),
            request_timeout: Duration::from_secs(10),
            danger_allow_http: false,
            rsa_backend: RsaBackend::Auto,
        }
    }
}

/// Where a [`JwksCache`]'s signing keys come from.
#[derive(Debug, Clone)]
pub enum SigningKeySource {
    /// OIDC discovery per scope: `{base}/{scope}/v2.0/.well-known/openid-configuration`.
    Discovery {
        /// The authority base, e.g. `https://login.microsoftonline.com`.
        base: String,
    },
    /// OIDC discovery at `{issuer}/.well-known/openid-configuration` (any OIDC issuer).
    Issuer(String),
    /// A JWKS URL, fetched directly.
    JwksUri(String),
    /// A fixed set (from a file or JSON); never fetched.
    Static,
}

/// Signing keys per scope, fetched on demand and kept fresh. Cheap to clone.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<CacheInner>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

struct CacheInner {
    source: SigningKeySource,
    /// `None` for a static set, which never fetches.
    http: Option<reqwest::Client>,
    clock: Clock,
    settings: JwksSettings,
    scopes: RwLock<HashMap<String, Arc<Scope>>>,
    fetches: AtomicU64,
}

struct Scope {
    name: String,
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held while fetching: the single flight.
    flight: tokio::sync::Mutex<FlightState>,
    background: AtomicBool,
}

#[derive(Default)]
struct FlightState {
    /// When the last fetch was attempted (clock seconds).
    last_attempt: Option<i64>,
    last_error: Option<String>,
    jwks_uri: Option<String>,
}

impl Scope {
    fn current(&self) -> Option<Arc<KeySet>> {
        self.keys.read().expect("keys lock").clone()
    }
}

impl JwksCache {
    /// A cache that fetches from `source` with `http`.
    pub fn new(
        source: SigningKeySource,
        http: reqwest::Client,
        clock: Clock,
        settings: JwksSettings,
    ) -> Self {
        Self::with_parts(source, Some(http), clock, settings)
    }

    fn with_parts(
        source: SigningKeySource,
        http: Option<reqwest::Client>,
        clock: Clock,
        settings: JwksSettings,
    ) -> Self {
        Self {
            inner: Arc::new(CacheInner {
                source,
                http,
                clock,
                settings,
                scopes: RwLock::new(HashMap::new()),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// A cache holding a fixed key set (e.g. for `entra validate --jwks FILE`).
    pub fn from_static(keys: KeySet, clock: Clock) -> Self {
        Self::from_shared(Arc::new(keys), clock)
    }

    /// A cache holding a fixed, shared key set.
    pub fn from_shared(keys: Arc<KeySet>, clock: Clock) -> Self {
        let cache = Self::with_parts(
            SigningKeySource::Static,
            None,
            clock,
            JwksSettings {
                background_interval: None,
                ..JwksSettings::default()
            },
        );
        *cache.scope("").keys.write().expect("keys lock") = Some(keys);
        cache
    }

    /// A cache holding the keys of a JWKS document.
    pub fn from_jwks_json(json: &[u8], clock: Clock) -> Result<Self, JwksError> {
        Ok(Self::from_static(parse_jwks(json)?, clock))
    }

    /// Where the keys come from.
    pub fn source(&self) -> &SigningKeySource {
        &self.inner.source
    }

    /// How many HTTP fetches of a key set were attempted (discovery not counted).
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// The key `kid` of `scope` if its current set has it: the every-token path, which
    /// reads under the two locks without cloning the scope or the set.
    #[inline]
    fn known_key(&self, scope: &str, kid: &str) -> Option<Arc<TrustedKey>> {
        let name = match self.inner.source {
            SigningKeySource::Discovery { .. } => scope,
            _ => "",
        };
        let scopes = self.inner.scopes.read().ok()?;
        let keys = scopes.get(name)?.keys.read().ok()?;
        keys.as_ref()?.get(kid).cloned()
    }

    fn scope(&self, name: &str) -> Arc<Scope> {
        let name = match self.inner.source {
            SigningKeySource::Discovery { .. } => name,
            _ => "",
        };
        if let Some(s) = self.inner.scopes.read().expect("scopes lock").get(name) {
            return s.clone();
        }
        let mut scopes = self.inner.scopes.write().expect("scopes lock");
        if let Some(s) = scopes.get(name) {
            return s.clone();
        }
        let s = Arc::new(Scope {
            name: name.to_string(),
            keys: RwLock::new(None),
            flight: tokio::sync::Mutex::new(FlightState::default()),
            background: AtomicBool::new(false),
        });
        scopes.insert(name.to_string(), s.clone());
        s
    }

    /// The current key set of `scope`, if one was fetched.
    pub fn keys(&self, scope: &str) -> Option<Arc<KeySet>> {
        self.scope(scope).current()
    }

    /// The key `kid` of `scope`, fetching or refreshing the set when the rules allow.
    pub async fn key(&self, scope: &str, kid: &str) -> Result<Arc<TrustedKey>, ValidationError> {
        if let Some(k) = self.known_key(scope, kid) {
            return Ok(k);
        }
        let st = self.scope(scope);
        let before = st.current();
        if let Some(k) = before.as_ref().and_then(|s| s.get(kid)) {
            return Ok(k.clone());
        }
        if matches!(self.inner.source, SigningKeySource::Static) {
            return Err(ValidationError::UnknownKey);
        }
        let mut flight = st.flight.lock().await;
        // Someone else may have fetched while this task waited.
        let current = st.current();
        if let Some(k) = current.as_ref().and_then(|s| s.get(kid)) {
            return Ok(k.clone());
        }
        let now = self.inner.clock.now();
        let since = flight.last_attempt.map(|t| now.saturating_sub(t));
        match (&current, since) {
            (Some(_), Some(s)) if s < self.inner.settings.unknown_kid_interval.as_secs() as i64 => {
                return Err(ValidationError::UnknownKey);
            }
            (None, Some(s)) if s < self.inner.settings.cold_retry_interval.as_secs() as i64 => {
                return Err(ValidationError::KeysUnavailable(
                    flight
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "a fetch just failed".into()),
                ));
            }
            _ => {}
        }
        let refreshed = self.refresh_locked(&st, &mut flight).await;
        drop(flight);
        match refreshed {
            Ok(set) => set.get(kid).cloned().ok_or(ValidationError::UnknownKey),
            Err(e) if current.is_some() => {
                tracing::warn!(scope = %st.name, error = %e, "JWKS refresh failed; keeping the last known good keys");
                Err(ValidationError::UnknownKey)
            }
            Err(e) => Err(ValidationError::KeysUnavailable(e)),
        }
    }

    /// Fetches `scope`'s keys now (waiting for a fetch in flight), whatever the throttle.
    /// On failure the last-known-good set stays.
    pub async fn refresh(&self, scope: &str) -> Result<Arc<KeySet>, String> {
        if matches!(self.inner.source, SigningKeySource::Static) {
            return self.keys(scope).ok_or_else(|| "no keys".to_string());
        }
        let st = self.scope(scope);
        let mut flight = st.flight.lock().await;
        self.refresh_locked(&st, &mut flight).await
    }

    async fn refresh_locked(
        &self,
        st: &Arc<Scope>,
        flight: &mut FlightState,
    ) -> Result<Arc<KeySet>, String> {
        flight.last_attempt = Some(self.inner.clock.now());
        let result = self.fetch(st, flight).await;
        match result {
            Ok(set) => {
                flight.last_error = None;
                let set = self.install(st, set);
                self.start_background(st);
                Ok(set)
            }
            Err(e) => {
                // Discover again next time: the JWKS URL may have moved.
                flight.jwks_uri = None;
                flight.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Swaps in `fresh`, reusing unchanged keys (so cached validations made with them
    /// stay) and retiring keys that left.
    fn install(&self, st: &Scope, mut fresh: KeySet) -> Arc<KeySet> {
        let mut slot = st.keys.write().expect("keys lock");
        if let Some(old) = slot.as_ref() {
            for (kid, key) in &old.keys {
                match fresh.keys.get_mut(kid) {
                    Some(new)
                        if new.public == key.public
                            && new.alg == key.alg
                            && new.issuer == key.issuer =>
                    {
                        *new = key.clone();
                    }
                    _ => key.retired.store(true, Ordering::Relaxed),
                }
            }
        }
        let fresh = Arc::new(fresh);
        *slot = Some(fresh.clone());
        fresh
    }

    async fn fetch(&self, st: &Scope, flight: &mut FlightState) -> Result<KeySet, String> {
        let jwks_uri = match (&self.inner.source, &flight.jwks_uri) {
            (_, Some(uri)) => uri.clone(),
            (SigningKeySource::JwksUri(uri), None) => uri.clone(),
            (SigningKeySource::Discovery { base }, None) => {
                // Entra's documents are not held to OIDC's issuer rule here: for `common`
                // the issuer is a `{tenantid}` template, and the China cloud's issuer
                // host differs from its login host. The tokens' `iss` is checked anyway.
                let url = format!("{base}/{}/v2.0/.well-known/openid-configuration", st.name);
                self.discover(&url, None).await?
            }
            (SigningKeySource::Issuer(issuer), None) => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                self.discover(&url, Some(issuer)).await?
            }
            (SigningKeySource::Static, None) => return Err("static key set".into()),
        };
        self.check_url(&jwks_uri)?;
        flight.jwks_uri = Some(jwks_uri.clone());
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let body = self.get(&jwks_uri, MAX_JWKS_BYTES).await?;
        let set = parse_jwks_with(&body, self.inner.settings.rsa_backend.with_env())
            .map_err(|e| format!("{jwks_uri}: {e}"))?;
        tracing::debug!(scope = %st.name, keys = set.len(), skipped = set.skipped(), "fetched JWKS");
        Ok(set)
    }

    /// The `jwks_uri` of the OpenID configuration at `url`. With `issuer`, the document's
    /// own `issuer` must be that one (OpenID Connect Discovery 1.0 §4.3: a document whose
    /// issuer differs must not be used), up to a trailing slash.
    async fn discover(&self, url: &str, issuer: Option<&str>) -> Result<String, String> {
        #[derive(Deserialize)]
        struct Discovery {
            jwks_uri: String,
            issuer: Option<String>,
        }
        self.check_url(url)?;
        let body = self.get(url, MAX_DISCOVERY_BYTES).await?;
        let doc: Discovery = serde_json::from_slice(&body)
            .map_err(|_| format!("{url}: not an OpenID configuration with a jwks_uri"))?;
        if let Some(expected) = issuer {
            let same = doc
                .issuer
                .as_deref()
                .is_some_and(|got| got.trim_end_matches('/') == expected.trim_end_matches('/'));
            if !same {
                return Err(format!(
                    "{url}: the document's issuer is {}, not the configured {expected:?} \
                     (OpenID Connect Discovery 1.0 section 4.3); its keys are not used",
                    doc.issuer
                        .as_deref()
                        .map_or_else(|| "missing".to_string(), |i| format!("{i:?}"))
                ));
            }
        }
        Ok(doc.jwks_uri)
    }

    fn check_url(&self, url: &str) -> Result<(), String> {
        if url.starts_with("https://")
            || (self.inner.settings.danger_allow_http && url.starts_with("http://"))
        {
            Ok(())
        } else {
            Err(format!("{url}: key URLs must be https"))
        }
    }

    async fn get(&self, url: &str, max: usize) -> Result<Vec<u8>, String> {
        let http = self
            .inner
            .http
            .as_ref()
            .ok_or("a static key set is never fetched")?;
        let request = http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .timeout(self.inner.settings.request_timeout)
            .build()
            .map_err(|e| format!("{url}: {e}"))?;
        let asked = request.url().clone();
        let mut resp = http
            .execute(request)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        // Redirects are refused: the keys come from the URL the configuration or the
        // discovery document names, nowhere else. The crate's own client follows none
        // (a 3xx lands here); an injected client may have followed some, which shows
        // as a final URL other than the one asked for.
        if resp.status().is_redirection() {
            return Err(format!(
                "{url}: HTTP {}: redirects are not followed for key documents",
                resp.status()
            ));
        }
        if resp.url() != &asked {
            return Err(format!(
                "{url}: the HTTP client followed a redirect (to {}); redirects are not \
                 followed for key documents (build the client with \
                 reqwest::redirect::Policy::none())",
                resp.url()
            ));
        }
        if !resp.status().is_success() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        if resp.content_length().is_some_and(|l| l as usize > max) {
            return Err(format!("{url}: response larger than {max} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > max {
                return Err(format!("{url}: response larger than {max} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn start_background(&self, st: &Arc<Scope>) {
        let Some(every) = self.inner.settings.background_interval else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if st.background.swap(true, Ordering::Relaxed) {
            return;
        }
        let cache: Weak<CacheInner> = Arc::downgrade(&self.inner);
        let scope = Arc::downgrade(st);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(jittered(every)).await;
                let (Some(inner), Some(st)) = (cache.upgrade(), scope.upgrade()) else {
                    return;
                };
                let cache = JwksCache { inner };
                let mut flight = st.flight.lock().await;
                if let Err(e) = cache.refresh_locked(&st, &mut flight).await {
                    tracing::warn!(scope = %st.name, error = %e, "background JWKS refresh failed; keeping the last known good keys");
                }
            }
        });
    }
}

/// `every` plus or minus up to 10%, so that replicas of an API started together do not
/// refresh their keys in the same second.
fn jittered(every: Duration) -> Duration {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(0u8);
    let frac = (r % 2001) as f64 / 10_000.0 - 0.1;
    every.mul_f64(1.0 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_refresh_is_jittered_within_ten_percent() {
        let every = Duration::from_secs(12 * 3600);
        let draws: Vec<Duration> = (0..200).map(|_| jittered(every)).collect();
        for d in &draws {
            assert!(
                *d >= every.mul_f64(0.9) && *d <= every.mul_f64(1.1),
                "{d:?}"
            );
        }
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert!(
            distinct.len() > 100,
            "only {} distinct delays",
            distinct.len()
        );
    }
}
