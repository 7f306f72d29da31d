//! The in-memory token cache: one slot per key, single-flight per key, proactive refresh.
//!
//! - **Key:** authority host, tenant, client id, account, sorted scopes, token kind.
//! - **Fresh** (more than 5 minutes left, before `refresh_on`): returned at once.
//! - **Aging** (past `refresh_on`): the first caller refreshes while every other caller
//!   gets the cached token; if the refresh fails, the cached token is kept and returned.
//! - **Missing or expiring:** one request per key; concurrent callers wait for it.
//! - A claims challenge bypasses the cache (the result is stored for later callers).
//! - **Bounded:** at most `DEFAULT_MAX_ENTRIES` (10 000) keys (or
//!   [`TokenCache::with_max_entries`]); when full, the least recently used keys go
//!   first (a key with a request in flight stays). The maps hash with std's
//!   `RandomState` (SipHash with a random key): keys built from a caller's scopes
//!   cannot be chosen to collide.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::error::Error;
use crate::token::AccessToken;
use crate::unix_time::now;

/// How many keys a [`TokenCache`] holds by default.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

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

/// Keyed by scope strings that, behind a broker, its callers choose: std's `RandomState`
/// (SipHash-1-3 with a per-process random key), so nobody can aim keys at one bucket.
type ScopesMap = HashMap<Vec<String>, Arc<Slot>>;

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

    fn len(&self) -> usize {
        self.few.len() + self.many.len()
    }

    /// Drops the entries whose slot is no longer in the cache.
    fn retain_live(&mut self, live: impl Fn(&Arc<Slot>) -> bool) {
        self.few.retain(|(_, s)| live(s));
        self.many.retain(|_, s| live(s));
    }
}

#[derive(Default)]
struct Slot {
    token: RwLock<Option<AccessToken>>,
    /// Held while a request for this key is in flight.
    flight: tokio::sync::Mutex<()>,
    /// The cache's use counter when this key was last used (LRU order).
    last_used: AtomicU64,
}

/// The cache.
pub struct TokenCache {
    slots: RwLock<HashMap<CacheKey, Arc<Slot>>>,
    /// Fast path for credentials with one tenant and no account: the slot for a request's
    /// scopes exactly as the caller wrote them, so a hit builds no key at all.
    by_request_scopes: RwLock<ScopesIndex>,
    /// Keys kept at most.
    max_entries: usize,
    /// Advances when a key is added or another key than the last is used; a use stamps
    /// its slot with the new value, so the smallest stamp is the key used least recently.
    uses: AtomicU64,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::with_max_entries(DEFAULT_MAX_ENTRIES)
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.slots.read().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("TokenCache")
            .field("entries", &n)
            .field("max_entries", &self.max_entries)
            .finish()
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
    /// A new, empty cache of at most `DEFAULT_MAX_ENTRIES` (10 000) keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new, empty cache of at most `max_entries` keys (at least 1): when a new key
    /// arrives and the cache is full, the least recently used keys are dropped.
    pub fn with_max_entries(max_entries: usize) -> Self {
        Self {
            slots: RwLock::default(),
            by_request_scopes: RwLock::default(),
            max_entries: max_entries.max(1),
            uses: AtomicU64::new(0),
        }
    }

    /// The most keys this cache keeps.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        self.slots.read().map_or(0, |s| s.len())
    }

    /// Nothing cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stamps `slot` as the most recently used. A key that already is (the usual hit:
    /// one credential, one scope) costs two loads and no write, so hits of one key on
    /// many threads do not fight over a cache line.
    #[inline]
    fn touch(&self, slot: &Slot) {
        if slot.last_used.load(Ordering::Relaxed) != self.uses.load(Ordering::Relaxed) {
            let stamp = self.uses.fetch_add(1, Ordering::Relaxed) + 1;
            slot.last_used.store(stamp, Ordering::Relaxed);
        }
    }

    fn slot(&self, key: &CacheKey) -> Arc<Slot> {
        if let Some(s) = self.slots.read().expect("cache lock").get(key) {
            self.touch(s);
            return s.clone();
        }
        let mut slots = self.slots.write().expect("cache lock");
        if let Some(s) = slots.get(key) {
            self.touch(s);
            return s.clone();
        }
        if slots.len() >= self.max_entries {
            let dropped = self.evict(&mut slots);
            if !dropped.is_empty() {
                // The fast-path index may point at dropped slots: forget those.
                self.by_request_scopes
                    .write()
                    .expect("cache lock")
                    .retain_live(|s| !dropped.contains(&Arc::as_ptr(s)));
            }
        }
        let slot = Arc::new(Slot {
            last_used: AtomicU64::new(self.uses.fetch_add(1, Ordering::Relaxed) + 1),
            ..Slot::default()
        });
        slots.insert(key.clone(), slot.clone());
        slot
    }

    /// Makes room in a full map: drops the least recently used sixteenth (at least one
    /// key), skipping keys with a request in flight. The dropped slots' addresses.
    fn evict(&self, slots: &mut HashMap<CacheKey, Arc<Slot>>) -> HashSet<*const Slot> {
        let mut idle: Vec<(u64, &CacheKey)> = slots
            .iter()
            .filter(|(_, s)| s.flight.try_lock().is_ok())
            .map(|(k, s)| (s.last_used.load(Ordering::Relaxed), k))
            .collect();
        let n = (self.max_entries / 16).max(1).min(idle.len());
        if n == 0 {
            return HashSet::new();
        }
        if n < idle.len() {
            idle.select_nth_unstable_by_key(n - 1, |(used, _)| *used);
        }
        let victims: Vec<CacheKey> = idle[..n].iter().map(|(_, k)| (*k).clone()).collect();
        let dropped = victims
            .iter()
            .filter_map(|k| slots.remove(k))
            .map(|s| Arc::as_ptr(&s))
            .collect();
        tracing::debug!(evicted = n, max = self.max_entries, "token cache full");
        dropped
    }

    /// The cached token for `key` if it is usable now (fresh or aging).
    pub fn peek(&self, key: &CacheKey) -> Option<AccessToken> {
        let slot = self.slots.read().expect("cache lock").get(key)?.clone();
        self.touch(&slot);
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
        self.touch(slot);
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
            Some(s) => {
                self.touch(&s);
                s
            }
            None => {
                let s = self.slot(&key());
                let mut index = self.by_request_scopes.write().expect("cache lock");
                // Spellings of the same scopes share a slot but not an index entry:
                // the index is bounded too (it is only a shortcut; a miss builds the key).
                if index.len() >= self.max_entries {
                    index.clear();
                }
                index.insert(scopes, s.clone());
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

    /// Finding: the cache is bounded, drops the least recently used keys first, and
    /// hashes with a random key; a caller (behind a broker) asking for ever new scopes
    /// cannot grow it, or its fast-path index, without limit.
    #[tokio::test]
    async fn token_cache_is_bounded_lru() {
        let k = |s: &str| CacheKey::new("h", "t", "c", "", &[s.to_string()], TokenKind::App);
        let cache = TokenCache::with_max_entries(3);
        assert_eq!(TokenCache::new().max_entries(), DEFAULT_MAX_ENTRIES);
        for s in ["a", "b", "c"] {
            cache.put(&k(s), token(3600, None));
        }
        // "a" is used, so "b" is now the least recently used.
        assert!(cache.peek(&k("a")).is_some());
        cache.put(&k("d"), token(3600, None));
        assert_eq!(cache.len(), 3);
        assert!(
            cache.peek(&k("b")).is_none(),
            "the least recently used went"
        );
        for s in ["a", "c", "d"] {
            assert!(cache.peek(&k(s)).is_some(), "{s}");
        }
        // Served from the cache counts as a use too (the fast path included).
        let fetched = AtomicU32::new(0);
        let fill = |s: &'static str| {
            let (cache, fetched) = (&cache, &fetched);
            async move {
                cache
                    .get_or_fetch_by_scopes(
                        &[s.to_string()],
                        || k(s),
                        false,
                        || async {
                            fetched.fetch_add(1, Ordering::SeqCst);
                            Ok(token(3600, None))
                        },
                    )
                    .await
                    .unwrap()
            }
        };
        fill("c").await; // "c" is in the cache: no fetch, and now used
        assert_eq!(fetched.load(Ordering::SeqCst), 0);
        assert!(cache.fresh_by_scopes(&["c".to_string()]).is_some());
        fill("e").await; // full: "a" (used before "c", "d" was added after) goes
        assert!(cache.peek(&k("a")).is_none());
        // "d" was last used before "c" and "e": it goes next.
        fill("f").await;
        assert!(cache.peek(&k("d")).is_none());
        assert!(
            cache.fresh_by_scopes(&["c".to_string()]).is_some()
                && cache.fresh_by_scopes(&["e".to_string()]).is_some()
                && cache.fresh_by_scopes(&["f".to_string()]).is_some()
        );
        // Evicted keys leave the fast-path index too: "c" goes after "e" and "f" are used.
        assert!(cache.fresh_by_scopes(&["e".to_string()]).is_some());
        cache.put(&k("g"), token(3600, None));
        assert!(cache.fresh_by_scopes(&["c".to_string()]).is_none());
        assert!(
            cache
                .by_request_scopes
                .read()
                .unwrap()
                .get(&["c".to_string()])
                .is_none()
        );

        // A flood of new scopes stays within the bound, in the map and in the index
        // (different spellings of one scope share a slot, not an index entry).
        let cache = TokenCache::with_max_entries(100);
        for i in 0..1000 {
            let scope = format!("https://api{i}.example/.default");
            cache
                .get_or_fetch_by_scopes(
                    std::slice::from_ref(&scope),
                    || k(&scope),
                    false,
                    || async { Ok(token(3600, None)) },
                )
                .await
                .unwrap();
            let shouted = scope.to_ascii_uppercase();
            cache
                .get_or_fetch_by_scopes(
                    &[shouted],
                    || k(&scope),
                    false,
                    || async { Ok(token(3600, None)) },
                )
                .await
                .unwrap();
            assert!(cache.len() <= 100, "{i}: {}", cache.len());
            assert!(cache.by_request_scopes.read().unwrap().len() <= 100, "{i}");
        }
        // Keyed hashing: the scopes map is std's RandomState (SipHash, random key).
        let index = cache.by_request_scopes.read().unwrap();
        let _: &HashMap<Vec<String>, Arc<Slot>, std::collections::hash_map::RandomState> =
            &index.many;
    }

    /// A key with a request in flight is never evicted: its waiters' result lands in
    /// the cache, and a full cache does not start a second request for it.
    #[tokio::test]
    async fn token_cache_keeps_keys_in_flight() {
        let k = |s: &str| CacheKey::new("h", "t", "c", "", &[s.to_string()], TokenKind::App);
        let cache = Arc::new(TokenCache::with_max_entries(2));
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
        let slow = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_fetch(&k("slow"), false, || async move {
                        started_tx.send(()).unwrap();
                        release_rx.await.unwrap();
                        Ok(token(3600, None))
                    })
                    .await
                    .unwrap()
            })
        };
        started.await.unwrap();
        for s in ["x", "y", "z"] {
            cache.put(&k(s), token(3600, None));
        }
        release.send(()).unwrap();
        slow.await.unwrap();
        assert!(cache.peek(&k("slow")).is_some(), "the key in flight stayed");
        assert_eq!(cache.len(), 2);
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
