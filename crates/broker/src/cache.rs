//! The token cache every caller shares.
//!
//! - **Hit**: a read lock, two map lookups by `&str`, an `Arc` clone.
//! - **Single-flight**: one upstream request per (identity, scopes) however many callers
//!   arrive together; the others wait for it. In fleet mode the same holds across
//!   replicas: look in the store, take its lock, look again, ask upstream, save, unlock;
//!   a replica that loses the lock polls the store for the winner's token.
//! - **Background refresh**: a token that had callers since it was fetched is renewed
//!   ahead of expiry ([`crate::config::BrokerSection::refresh_before_secs`]), so callers
//!   never wait on Entra; tokens nobody asks for are left to expire and dropped.
//! - **Stale while failing**: when upstream fails, a cached token is still served until
//!   it expires; failures back off (2 s doubling to 60 s) so an outage is not hammered.
//! - **Store failures** never reach callers: the replica uses its memory and asks
//!   upstream itself.
//! - **Bounded when a slot is made.** At most `max_tokens` (identity, scopes) slots,
//!   however fast callers with a broad policy ask for new scopes: a new slot beyond the
//!   bound evicts the least recently used idle one; when every slot has a request in
//!   flight or waiting, the request is refused ([`FetchError::CacheFull`], a 503) rather
//!   than the bound broken (see `cache/table.rs`).

mod cached;
mod fetch_error;
mod maintenance;
mod table;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use entra_identity::TokenRequest;

use crate::audit;
use crate::metrics::Metrics;
use crate::store::{SharedStore, StoreKey, Stored};
use crate::upstream::Identity;
use table::{Keyed, Table};

pub(crate) use cached::{Cached, Source, json_safe};
pub(crate) use fetch_error::FetchError;

/// How long a replica holds the fleet lock at most while it asks upstream.
const LOCK_TTL_MS: u64 = 30_000;
/// Longest an upstream request may take (the identity pipeline retries inside it).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(25);

struct Failure {
    at: Instant,
    until: Instant,
    error: FetchError,
}

/// One (identity, scopes) slot.
pub(crate) struct Slot {
    identity: Arc<Identity>,
    key: StoreKey,
    scopes: Vec<String>,
    token: RwLock<Option<Arc<Cached>>>,
    flight: Arc<tokio::sync::Mutex<()>>,
    last_used: AtomicI64,
    failure: Mutex<Option<Failure>>,
    failures: AtomicU32,
}

impl Keyed for Slot {
    fn keys(&self) -> (&str, &str) {
        (&self.key.identity, &self.key.scopes)
    }
    fn last_used(&self) -> i64 {
        self.last_used.load(Ordering::Relaxed)
    }
}

impl Slot {
    fn current(&self) -> Option<Arc<Cached>> {
        self.token.read().expect("slot lock").clone()
    }

    fn touch(&self, now: i64) {
        if self.last_used.load(Ordering::Relaxed) != now {
            self.last_used.store(now, Ordering::Relaxed);
        }
    }
}

/// Cache tuning (from `[broker]`; a reload updates it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// A token handed out has at least this long left.
    pub min_remaining: i64,
    /// Renew this long before expiry.
    pub refresh_before: i64,
    /// Most tokens held: (identity, scopes) slots, including those being fetched.
    pub max_tokens: usize,
}

/// The cache.
pub(crate) struct Cache {
    slots: RwLock<Table<Slot>>,
    store: Option<Arc<dyn SharedStore>>,
    min_remaining: AtomicI64,
    refresh_before: AtomicI64,
    max_tokens: AtomicI64,
    metrics: Arc<Metrics>,
    /// When "the cache is full" was last logged (unix seconds): once a minute at most.
    full_logged: AtomicI64,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("tokens", &self.len())
            .field("fleet", &self.store.as_ref().map(|s| s.describe()))
            .finish()
    }
}

/// Now, unix seconds.
pub(crate) fn now() -> i64 {
    entra_identity::unix_time::now()
}

/// A summary of one cached token (admin listing; never the token).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Entry {
    /// Identity name.
    pub identity: String,
    /// Canonical scope key.
    pub scopes: String,
    /// Expiry, unix seconds.
    pub expires_on: i64,
    /// Planned renewal, unix seconds.
    pub refresh_at: i64,
    /// Last request for it, unix seconds.
    pub last_used: i64,
    /// Audit identifier.
    pub token_id: String,
}

impl Cache {
    /// A cache, with a fleet store or without.
    pub(crate) fn new(
        tuning: Tuning,
        store: Option<Arc<dyn SharedStore>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let c = Self {
            slots: RwLock::new(Table::new()),
            store,
            min_remaining: AtomicI64::new(0),
            refresh_before: AtomicI64::new(0),
            max_tokens: AtomicI64::new(0),
            metrics,
            full_logged: AtomicI64::new(0),
        };
        c.set_tuning(tuning);
        c
    }

    /// Applies new tuning (reload).
    pub(crate) fn set_tuning(&self, t: Tuning) {
        self.min_remaining.store(t.min_remaining, Ordering::Relaxed);
        self.refresh_before
            .store(t.refresh_before, Ordering::Relaxed);
        self.max_tokens.store(
            i64::try_from(t.max_tokens).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The fleet store, if any.
    pub(crate) fn store(&self) -> Option<&Arc<dyn SharedStore>> {
        self.store.as_ref()
    }

    /// How many tokens are held.
    pub(crate) fn len(&self) -> usize {
        self.slots
            .read()
            .expect("cache lock")
            .slots()
            .filter(|s| s.current().is_some())
            .count()
    }

    /// How many (identity, scopes) slots are held: tokens, and pairs being fetched or
    /// whose fetch failed. Never more than `max_tokens` (but for the moment after a
    /// reload lowered it, until the next maintenance pass or insert).
    #[cfg(test)]
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.read().expect("cache lock").len()
    }

    fn max_tokens(&self) -> usize {
        usize::try_from(self.max_tokens.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    /// The token for `identity` and `key` (the canonical scope key; `scopes` builds the
    /// scope list on a miss).
    pub(crate) async fn get(
        &self,
        identity: &Arc<Identity>,
        key: &str,
        scopes: impl FnOnce() -> Vec<String>,
    ) -> Result<(Arc<Cached>, Source), FetchError> {
        let now = now();
        let min_remaining = self.min_remaining.load(Ordering::Relaxed);
        // The hot path.
        let slot = {
            let slots = self.slots.read().expect("cache lock");
            slots.get(&identity.name, key).cloned()
        };
        if let Some(slot) = &slot
            && Arc::ptr_eq(&slot.identity, identity)
            && let Some(t) = slot.token.read().expect("slot lock").as_ref()
            && t.expires_on - now > min_remaining
        {
            slot.touch(now);
            self.metrics.hits.inc();
            return Ok((t.clone(), Source::Hit));
        }
        let slot = match slot {
            Some(s) if Arc::ptr_eq(&s.identity, identity) => s,
            _ => self.slot(identity, key, scopes())?,
        };
        slot.touch(now);
        let started = Instant::now();
        let _flight = slot.flight.lock().await;
        let now = crate::cache::now();
        let current = slot.current();
        if let Some(t) = &current
            && t.expires_on - now > min_remaining
        {
            // Someone fetched it while we waited.
            self.metrics.misses.inc();
            return Ok((t.clone(), Source::Miss));
        }
        if let Some(f) = slot.failure.lock().expect("slot lock").as_ref()
            && (f.at >= started || Instant::now() < f.until)
        {
            return self.stale_or(current, f.error.clone(), now);
        }
        match self
            .obtain(&slot, current.as_ref().map_or(0, |c| c.fetched_at))
            .await
        {
            Ok((t, source)) => {
                self.note_success(&slot, source);
                self.metrics.misses.inc();
                Ok((t, source))
            }
            Err(e) => {
                self.note_failure(&slot, &e);
                self.stale_or(current, e, now)
            }
        }
    }

    fn stale_or(
        &self,
        current: Option<Arc<Cached>>,
        e: FetchError,
        now: i64,
    ) -> Result<(Arc<Cached>, Source), FetchError> {
        match current {
            Some(t) if t.expires_on > now + 5 => {
                self.metrics.stale.inc();
                Ok((t, Source::Stale))
            }
            _ => Err(e),
        }
    }

    /// A fetch succeeded: the back-off ends.
    fn note_success(&self, slot: &Slot, source: Source) {
        *slot.failure.lock().expect("slot lock") = None;
        slot.failures.store(0, Ordering::Relaxed);
        if source == Source::Fleet {
            self.metrics.fleet_tokens.inc();
        }
    }

    fn note_failure(&self, slot: &Slot, e: &FetchError) {
        let n = slot.failures.fetch_add(1, Ordering::Relaxed).min(5);
        let backoff = Duration::from_secs(2u64 << n).min(Duration::from_secs(60));
        let at = Instant::now();
        *slot.failure.lock().expect("slot lock") = Some(Failure {
            at,
            until: at + backoff,
            error: e.clone(),
        });
    }

    /// The slot for (`identity`, `key`), made if need be within `max_tokens`.
    fn slot(
        &self,
        identity: &Arc<Identity>,
        key: &str,
        scopes: Vec<String>,
    ) -> Result<Arc<Slot>, FetchError> {
        let mut slots = self.slots.write().expect("cache lock");
        if let Some(s) = slots.get(&identity.name, key)
            && Arc::ptr_eq(&s.identity, identity)
        {
            return Ok(s.clone());
        }
        let s = Arc::new(Slot {
            identity: identity.clone(),
            key: StoreKey {
                identity: identity.name.to_string(),
                scopes: key.to_string(),
            },
            scopes,
            token: RwLock::new(None),
            flight: Arc::new(tokio::sync::Mutex::new(())),
            last_used: AtomicI64::new(now()),
            failure: Mutex::new(None),
            failures: AtomicU32::new(0),
        });
        let max = self.max_tokens();
        match slots.insert(&identity.name, key, s.clone(), max) {
            Ok(evicted) => {
                self.metrics.evictions.inc_by(evicted as u64);
                Ok(s)
            }
            Err(table::Full) => {
                drop(slots);
                self.metrics.cache_full.inc();
                let now = now();
                let last = self.full_logged.load(Ordering::Relaxed);
                if now.saturating_sub(last) >= 60
                    && self
                        .full_logged
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::warn!(
                        max_tokens = max,
                        "the token cache is full and every token in it has a request in flight: requests for new scopes are refused (503) until one finishes; raise [broker] max_tokens if this is normal load"
                    );
                }
                Err(FetchError::CacheFull { max })
            }
        }
    }

    /// A new token for `slot` (whose current one, if any, was fetched at `ours`): from
    /// the fleet when another replica has a newer one, else upstream. The caller holds
    /// the slot's flight lock. Stores the result in the slot.
    async fn obtain(&self, slot: &Slot, ours: i64) -> Result<(Arc<Cached>, Source), FetchError> {
        let Some(store) = &self.store else {
            let t = self.upstream(slot).await?;
            return Ok((self.put(slot, t), Source::Miss));
        };
        let usable = |s: &Stored, now: i64| {
            s.fetched_at > ours
                && s.expires_on - now > self.min_remaining.load(Ordering::Relaxed)
                && now < s.refresh_at
        };
        match self.store_call(store.load(&slot.key)).await {
            Some(Some(s)) if usable(&s, now()) => {
                return Ok((self.put(slot, Cached::from_stored(&s)), Source::Fleet));
            }
            Some(_) => {}
            None => return self.upstream_local(slot).await,
        }
        let deadline = Instant::now() + Duration::from_millis(LOCK_TTL_MS) + Duration::from_secs(5);
        let mut pause = Duration::from_millis(10);
        loop {
            match self.store_call(store.lock(&slot.key, LOCK_TTL_MS)).await {
                None => return self.upstream_local(slot).await,
                Some(Some(lock)) => {
                    // Look again: the previous holder may have just saved one.
                    if let Some(Some(s)) = self.store_call(store.load(&slot.key)).await
                        && usable(&s, now())
                    {
                        let _ = self.store_call(store.unlock(&slot.key, &lock)).await;
                        return Ok((self.put(slot, Cached::from_stored(&s)), Source::Fleet));
                    }
                    let result = self.upstream(slot).await;
                    let out = match result {
                        Ok(t) => {
                            let _ = self.store_call(store.save(&slot.key, &t.to_stored())).await;
                            Ok((self.put(slot, t), Source::Miss))
                        }
                        Err(e) => Err(e),
                    };
                    let _ = self.store_call(store.unlock(&slot.key, &lock)).await;
                    return out;
                }
                Some(None) => {
                    // Another replica is fetching: wait for its token.
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                    match self.store_call(store.load(&slot.key)).await {
                        Some(Some(s)) if usable(&s, now()) => {
                            return Ok((self.put(slot, Cached::from_stored(&s)), Source::Fleet));
                        }
                        Some(_) => {}
                        None => return self.upstream_local(slot).await,
                    }
                    if Instant::now() > deadline {
                        tracing::warn!(identity = %slot.key.identity, "fleet lock held too long; asking upstream directly");
                        return self.upstream_local(slot).await;
                    }
                }
            }
        }
    }

    async fn upstream_local(&self, slot: &Slot) -> Result<(Arc<Cached>, Source), FetchError> {
        let t = self.upstream(slot).await?;
        Ok((self.put(slot, t), Source::Miss))
    }

    /// Runs a store operation: `None` when it failed (counted and logged; the caller
    /// falls back to local behaviour).
    async fn store_call<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, crate::store::StoreError>>,
    ) -> Option<T> {
        match fut.await {
            Ok(v) => {
                self.metrics.store_connected.set(1);
                Some(v)
            }
            Err(e) => {
                self.metrics.store_errors.inc();
                self.metrics.store_connected.set(0);
                tracing::warn!(error = %e, "shared store unavailable; using this replica's own cache");
                None
            }
        }
    }

    async fn upstream(&self, slot: &Slot) -> Result<Cached, FetchError> {
        let request = TokenRequest::new(slot.scopes.iter().cloned()).force_refresh();
        let name = &slot.identity.name;
        let result = tokio::time::timeout(
            UPSTREAM_TIMEOUT,
            slot.identity.credential.get_token(&request),
        )
        .await;
        let token = match result {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                self.metrics.upstream(name, false);
                tracing::warn!(identity = %name, scopes = %slot.key.scopes, error = %e, "upstream token request failed");
                return Err(FetchError::from_identity(&e));
            }
            Err(_) => {
                self.metrics.upstream(name, false);
                tracing::warn!(identity = %name, scopes = %slot.key.scopes, "upstream token request timed out");
                return Err(FetchError::Unavailable(format!(
                    "the upstream token request for identity {name:?} timed out after {} s",
                    UPSTREAM_TIMEOUT.as_secs()
                )));
            }
        };
        self.metrics.upstream(name, true);
        let now = now();
        let lifetime = (token.expires_on - now).max(0);
        let before = self.refresh_before.load(Ordering::Relaxed);
        let mut refresh_at = if lifetime > 2 * before {
            token.expires_on - before
        } else {
            now + lifetime / 2
        };
        if let Some(r) = token.refresh_on
            && r > now
        {
            refresh_at = refresh_at.min(r);
        }
        let raw = token.token.expose();
        let payload = audit::Payload::of(raw);
        let token_id = payload.token_id(raw);
        let client_id = slot
            .identity
            .client_id
            .clone()
            .or_else(|| payload.claim("appid"))
            .or_else(|| payload.claim("azp"));
        let json_safe = json_safe(raw);
        Ok(Cached {
            token_id,
            client_id,
            token: token.token,
            expires_on: token.expires_on,
            refresh_at,
            fetched_at: now,
            json_safe,
        })
    }

    fn put(&self, slot: &Slot, t: Cached) -> Arc<Cached> {
        let t = Arc::new(t);
        *slot.token.write().expect("slot lock") = Some(t.clone());
        t
    }

    /// Drops every token of `identity` here and, in fleet mode, in the store (other
    /// replicas drop their copies when the store tells them). Returns how many went.
    pub(crate) async fn purge(&self, identity: &str) -> (usize, Option<Result<u64, String>>) {
        let local = self.purge_local(identity);
        let fleet = match &self.store {
            Some(s) => Some(s.purge(identity).await.map_err(|e| e.to_string())),
            None => None,
        };
        (local, fleet)
    }

    /// Drops every token of `identity` from this replica's memory.
    pub(crate) fn purge_local(&self, identity: &str) -> usize {
        let removed = self
            .slots
            .write()
            .expect("cache lock")
            .remove_identity(identity);
        let n = removed.map_or(0, |m| m.values().filter(|s| s.current().is_some()).count());
        if n > 0 {
            tracing::info!(identity, tokens = n, "purged cached tokens");
        }
        n
    }

    /// A listing for the admin API.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        let slots = self.slots.read().expect("cache lock");
        let mut out: Vec<Entry> = slots
            .slots()
            .filter_map(|s| {
                let t = s.current()?;
                Some(Entry {
                    identity: s.key.identity.clone(),
                    scopes: s.key.scopes.clone(),
                    expires_on: t.expires_on,
                    refresh_at: t.refresh_at,
                    last_used: s.last_used.load(Ordering::Relaxed),
                    token_id: t.token_id.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.identity, &a.scopes).cmp(&(&b.identity, &b.scopes)));
        out
    }

    /// Keeps only the slots of identities in `keep` that are still the same object
    /// (a reload replaced or removed the others).
    pub(crate) fn retain_identities(&self, keep: &HashMap<String, Arc<Identity>>) {
        let mut slots = self.slots.write().expect("cache lock");
        slots.retain_identities(|name, m| {
            keep.get(name)
                .is_some_and(|i| m.values().all(|s| Arc::ptr_eq(&s.identity, i)))
        });
    }
}

/// The canonical scope key: the resource for a single `/.default` scope (so IMDS's
/// `resource=R` and the native API's `R/.default` share a token), else the scopes
/// sorted and space-joined.
pub(crate) fn scope_key(scopes: &[String]) -> String {
    if let [one] = scopes
        && let Some(r) = one.strip_suffix("/.default")
    {
        return r.to_string();
    }
    let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
    s.sort_unstable();
    s.dedup();
    s.join(" ")
}
