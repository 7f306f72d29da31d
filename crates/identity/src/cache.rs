//! The in-memory token cache: one slot per key, single-flight per key, proactive refresh.
//!
//! - **Key:** authority host, tenant, client id, account, sorted scopes, token kind.
//! - **Fresh** (more than 5 minutes left, before `refresh_on`): returned at once.
//! - **Aging** (past `refresh_on`): the first caller refreshes while every other caller
//!   gets the cached token; if the refresh fails, the cached token is kept and returned.
//! - **Missing or expiring:** one request per key; concurrent callers wait for it.
//! - A claims challenge bypasses the cache (the result is stored for later callers).

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use crate::error::Error;
use crate::token::{AccessToken, now};

/// Tokens with less than this left are treated as expired (MSAL's rule).
pub const EXPIRY_BUFFER_SECS: i64 = 300;

/// What kind of token a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// App-only (client credentials, managed identity...).
    App,
    /// Delegated (a user's).
    User,
    /// On-behalf-of, keyed by the assertion's hash in `account`.
    OnBehalfOf,
}

/// A cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// `https://host`.
    pub authority_host: String,
    /// Tenant.
    pub tenant: String,
    /// Client id.
    pub client_id: String,
    /// Account (home account id), or the OBO assertion hash; empty for app tokens.
    pub account: String,
    /// Scopes, lower-cased and sorted.
    pub scopes: Vec<String>,
    /// Kind.
    pub kind: TokenKind,
}

impl CacheKey {
    /// Builds a key; scopes are normalised (lower case, sorted, deduplicated).
    pub fn new(
        authority_host: &str,
        tenant: &str,
        client_id: &str,
        account: &str,
        scopes: &[String],
        kind: TokenKind,
    ) -> Self {
        let mut scopes: Vec<String> = scopes.iter().map(|s| s.to_ascii_lowercase()).collect();
        scopes.sort();
        scopes.dedup();
        Self {
            authority_host: authority_host.to_ascii_lowercase(),
            tenant: tenant.to_ascii_lowercase(),
            client_id: client_id.to_ascii_lowercase(),
            account: account.to_string(),
            scopes,
            kind,
        }
    }
}

/// FxHash (the rustc hasher): a multiply-rotate per 8 bytes. The scopes map is keyed by
/// the caller's own scope strings, not by anything a remote party chooses, so it needs no
/// protection against hash flooding and SipHash's cost on every cache hit buys nothing.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type ScopesMap = HashMap<Vec<String>, Arc<Slot>, BuildHasherDefault<FxHasher>>;

/// Request scopes to slots. A credential asks for a handful of scope sets at most, and
/// comparing a few short slices is cheaper than hashing one: the first [`Self::FEW`] sets
/// are scanned in order, the rest go to a hash map.
#[derive(Default)]
struct ScopesIndex {
    few: Vec<(Vec<String>, Arc<Slot>)>,
    many: ScopesMap,
}

impl ScopesIndex {
    const FEW: usize = 4;

    #[inline]
    fn get(&self, scopes: &[String]) -> Option<&Arc<Slot>> {
        match self.few.iter().find(|(s, _)| s.as_slice() == scopes) {
            Some((_, slot)) => Some(slot),
            None if self.many.is_empty() => None,
            None => self.many.get(scopes),
        }
    }

    fn insert(&mut self, scopes: &[String], slot: Arc<Slot>) {
        if let Some(entry) = self.few.iter_mut().find(|(s, _)| s.as_slice() == scopes) {
            entry.1 = slot;
        } else if self.few.len() < Self::FEW {
            self.few.push((scopes.to_vec(), slot));
        } else {
            self.many.insert(scopes.to_vec(), slot);
        }
    }

    fn clear(&mut self) {
        self.few.clear();
        self.many.clear();
    }
}

#[derive(Default)]
struct Slot {
    token: RwLock<Option<AccessToken>>,
    /// Held while a request for this key is in flight.
    flight: tokio::sync::Mutex<()>,
}

/// The cache.
#[derive(Default)]
pub struct TokenCache {
    slots: RwLock<HashMap<CacheKey, Arc<Slot>>>,
    /// Fast path for credentials with one tenant and no account: the slot for a request's
    /// scopes exactly as the caller wrote them, so a hit builds no key at all.
    by_request_scopes: RwLock<ScopesIndex>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.slots.read().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("TokenCache").field("entries", &n).finish()
    }
}

/// Now, unix seconds, from the kernel's coarse clock where there is one: the time of the
/// last tick (a few milliseconds old at most), read from the vDSO without the TSC read and
/// scaling of the precise clock. Freshness is decided in whole seconds against a 5-minute
/// buffer, so a tick of lag cannot hand out a token that is past its buffer by more than
/// that tick; anything not fresh goes to the async path, which reads the precise clock.
#[inline]
fn coarse_now() -> i64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse).tv_sec
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        now()
    }
}

enum Freshness {
    Fresh,
    Aging,
    Stale,
}

fn freshness(t: &AccessToken, now: i64) -> Freshness {
    if now >= t.expires_on - EXPIRY_BUFFER_SECS {
        Freshness::Stale
    } else if t.refresh_on.is_some_and(|r| now >= r) {
        Freshness::Aging
    } else {
        Freshness::Fresh
    }
}

impl TokenCache {
    /// A new, empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self, key: &CacheKey) -> Arc<Slot> {
        if let Some(s) = self.slots.read().expect("cache lock").get(key) {
            return s.clone();
        }
        self.slots
            .write()
            .expect("cache lock")
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// The cached token for `key` if it is usable now (fresh or aging).
    pub fn peek(&self, key: &CacheKey) -> Option<AccessToken> {
        let slot = self.slots.read().expect("cache lock").get(key)?.clone();
        let t = slot.token.read().expect("slot lock").clone()?;
        (!matches!(freshness(&t, now()), Freshness::Stale)).then_some(t)
    }

    /// Stores a token.
    pub fn put(&self, key: &CacheKey, token: AccessToken) {
        *self.slot(key).token.write().expect("slot lock") = Some(token);
    }

    /// Removes every token.
    pub fn clear(&self) {
        self.slots.write().expect("cache lock").clear();
        self.by_request_scopes.write().expect("cache lock").clear();
    }

    /// The token for `key`: cached when fresh, else from `fetch`, with one `fetch` in
    /// flight per key however many callers arrive together.
    pub async fn get_or_fetch<F, Fut>(
        &self,
        key: &CacheKey,
        bypass: bool,
        fetch: F,
    ) -> Result<AccessToken, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, Error>>,
    {
        Self::use_slot(&self.slot(key), bypass, fetch).await
    }

    /// The cached token for `scopes` (exactly as requested, for a cache that serves one
    /// tenant and no account) when it is fresh: not aging, not inside the expiry buffer.
    /// Synchronous and allocation-free, so a credential can answer a hit without building
    /// its async request machinery; `None` means "take the async path"
    /// ([`TokenCache::get_or_fetch_by_scopes`]), which also handles aging tokens.
    #[inline]
    pub fn fresh_by_scopes(&self, scopes: &[String]) -> Option<AccessToken> {
        let map = self.by_request_scopes.read().ok()?;
        let slot = map.get(scopes)?;
        let token = slot.token.read().ok()?;
        let t = token.as_ref()?;
        matches!(freshness(t, coarse_now()), Freshness::Fresh).then(|| t.clone())
    }

    /// Like [`TokenCache::get_or_fetch`], for a cache that serves one tenant and no
    /// account: `scopes` exactly as requested find the slot without building `key`.
    pub async fn get_or_fetch_by_scopes<K, F, Fut>(
        &self,
        scopes: &[String],
        key: K,
        bypass: bool,
        fetch: F,
    ) -> Result<AccessToken, Error>
    where
        K: FnOnce() -> CacheKey,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, Error>>,
    {
        let known = self
            .by_request_scopes
            .read()
            .expect("cache lock")
            .get(scopes)
            .cloned();
        let slot = match known {
            Some(s) => s,
            None => {
                let s = self.slot(&key());
                self.by_request_scopes
                    .write()
                    .expect("cache lock")
                    .insert(scopes, s.clone());
                s
            }
        };
        Self::use_slot(&slot, bypass, fetch).await
    }

    async fn use_slot<F, Fut>(slot: &Slot, bypass: bool, fetch: F) -> Result<AccessToken, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, Error>>,
    {
        if bypass {
            let _flight = slot.flight.lock().await;
            let t = fetch().await?;
            *slot.token.write().expect("slot lock") = Some(t.clone());
            return Ok(t);
        }
        let cached = slot.token.read().expect("slot lock").clone();
        if let Some(t) = cached {
            match freshness(&t, now()) {
                Freshness::Fresh => return Ok(t),
                Freshness::Aging => {
                    // One caller refreshes; the others keep using the cached token.
                    let Ok(_flight) = slot.flight.try_lock() else {
                        return Ok(t);
                    };
                    return match fetch().await {
                        Ok(new) => {
                            *slot.token.write().expect("slot lock") = Some(new.clone());
                            Ok(new)
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "proactive refresh failed; keeping the cached token");
                            Ok(t)
                        }
                    };
                }
                Freshness::Stale => {}
            }
        }
        let _flight = slot.flight.lock().await;
        // Someone else may have fetched while we waited.
        if let Some(t) = slot.token.read().expect("slot lock").clone()
            && !matches!(freshness(&t, now()), Freshness::Stale)
        {
            return Ok(t);
        }
        let t = fetch().await?;
        *slot.token.write().expect("slot lock") = Some(t.clone());
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn key() -> CacheKey {
        CacheKey::new(
            "https://login.microsoftonline.com",
            "t",
            "c",
            "",
            &["B".into(), "a".into()],
            TokenKind::App,
        )
    }

    fn token(expires_in: i64, refresh_in: Option<i64>) -> AccessToken {
        AccessToken {
            token: crate::Secret::new("t"),
            expires_on: now() + expires_in,
            refresh_on: refresh_in.map(|r| now() + r),
            token_type: "Bearer".into(),
        }
    }

    #[test]
    fn coarse_clock_agrees_with_the_precise_one() {
        let (coarse, precise) = (coarse_now(), now());
        assert!(
            (precise - coarse).abs() <= 1,
            "coarse {coarse} precise {precise}"
        );
    }

    #[tokio::test]
    async fn fresh_by_scopes_serves_only_fresh_tokens() {
        let cache = TokenCache::new();
        let scopes: Vec<String> = vec!["B".into(), "a".into()];
        assert!(cache.fresh_by_scopes(&scopes).is_none(), "empty cache");
        let fill = |t: AccessToken| {
            let cache = &cache;
            let scopes = &scopes;
            async move {
                cache
                    .get_or_fetch_by_scopes(scopes, key, true, || async { Ok(t) })
                    .await
                    .unwrap()
            }
        };
        fill(token(3600, None)).await;
        assert!(cache.fresh_by_scopes(&scopes).is_some());
        assert!(
            cache.fresh_by_scopes(&["a".into(), "B".into()]).is_none(),
            "exact request scopes only"
        );
        // Aging (past refresh_on): the async path must run, so it can refresh.
        fill(token(3600, Some(-1))).await;
        assert!(cache.fresh_by_scopes(&scopes).is_none());
        // Inside the 5-minute buffer.
        fill(token(299, None)).await;
        assert!(cache.fresh_by_scopes(&scopes).is_none());
        // A token written through the key (not the scopes) is the same slot.
        cache.put(&key(), token(3600, None));
        assert!(cache.fresh_by_scopes(&scopes).is_some());
        // Past the few scanned sets, lookups go through the hash map.
        let mut sets = Vec::new();
        for i in 0..(ScopesIndex::FEW + 3) {
            let set: Vec<String> = vec![format!("s{i}")];
            let k = move || CacheKey::new("h", "t", "c", "", &[format!("s{i}")], TokenKind::App);
            cache
                .get_or_fetch_by_scopes(&set, k, false, || async {
                    Ok(token(3600 + i as i64, None))
                })
                .await
                .unwrap();
            sets.push(set);
        }
        for (i, set) in sets.iter().enumerate() {
            let t = cache.fresh_by_scopes(set).expect("cached");
            assert!(
                (t.expires_on - now() - 3600 - i as i64).abs() <= 2,
                "set {i}"
            );
        }
        assert!(cache.fresh_by_scopes(&scopes).is_some());
        cache.clear();
        assert!(cache.fresh_by_scopes(&scopes).is_none());
    }

    #[test]
    fn keys_normalise_scopes() {
        let k2 = CacheKey::new(
            "https://LOGIN.microsoftonline.com",
            "T",
            "C",
            "",
            &["a".into(), "b".into(), "A".into()],
            TokenKind::App,
        );
        assert_eq!(key(), k2);
    }

    #[tokio::test]
    async fn single_flight_for_concurrent_cold_callers() {
        let cache = Arc::new(TokenCache::new());
        let calls = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let (cache, calls) = (cache.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_fetch(&key(), false, || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        Ok(token(3600, None))
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn aging_token_is_kept_when_refresh_fails_and_stale_is_refetched() {
        let cache = TokenCache::new();
        cache.put(&key(), token(3600, Some(-1)));
        let t = cache
            .get_or_fetch(&key(), false, || async {
                Err(Error::Config("down".into()))
            })
            .await
            .unwrap();
        assert!(t.expires_on > now());
        cache.put(&key(), token(100, None)); // inside the 5-minute buffer: stale
        let err = cache
            .get_or_fetch(&key(), false, || async {
                Err(Error::Config("down".into()))
            })
            .await;
        assert!(err.is_err());
        let fresh = cache
            .get_or_fetch(&key(), false, || async { Ok(token(3600, None)) })
            .await
            .unwrap();
        assert!(fresh.expires_on > now() + 3000);
        let calls = AtomicU32::new(0);
        cache
            .get_or_fetch(&key(), true, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(token(3600, None))
            })
            .await
            .unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "a claims challenge bypasses the cache"
        );
    }
}
