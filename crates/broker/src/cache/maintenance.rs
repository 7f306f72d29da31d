//! Housekeeping: background refreshes ahead of expiry, expired and idle slots dropped,
//! the bound kept after a reload, the gauges, and other replicas' purges applied.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{Cache, Slot, now};

impl Cache {
    /// One pass of housekeeping: starts background refreshes of tokens that are due and
    /// had callers, drops expired and unused slots, evicts down to `max_tokens` (after a
    /// reload lowered it; inserts keep the bound otherwise), updates the gauges. Called
    /// every second by [`Cache::spawn_maintenance`]. O(n) in the slots held.
    pub(crate) fn maintain(self: &Arc<Self>) {
        let now = now();
        // Weak references: the pass holds each slot only while it looks at it, so an
        // insert meanwhile still sees which slots are idle (and may evict them).
        let all: Vec<Weak<Slot>> = self
            .slots
            .read()
            .expect("cache lock")
            .slots()
            .map(Arc::downgrade)
            .collect();
        let mut dead: Vec<Weak<Slot>> = Vec::new();
        for w in &all {
            let Some(s) = w.upgrade() else { continue };
            let Some(t) = s.current() else {
                let idle = now - s.last_used.load(Ordering::Relaxed) > 120;
                if idle && s.flight.try_lock().is_ok() {
                    dead.push(w.clone());
                }
                continue;
            };
            if t.expires_on <= now {
                if s.flight.try_lock().is_ok() {
                    dead.push(w.clone());
                }
                continue;
            }
            let last_used = s.last_used.load(Ordering::Relaxed);
            let used_since = last_used > t.fetched_at || last_used >= t.refresh_at - 1;
            let backing_off = s
                .failure
                .lock()
                .expect("slot lock")
                .as_ref()
                .is_some_and(|f| Instant::now() < f.until);
            if now >= t.refresh_at
                && used_since
                && !backing_off
                && let Ok(guard) = s.flight.clone().try_lock_owned()
            {
                self.spawn_refresh(s, guard);
            }
        }
        drop(all);
        let max = self.max_tokens();
        let over = { self.slots.read().expect("cache lock").len() > max };
        if !dead.is_empty() || over {
            let mut slots = self.slots.write().expect("cache lock");
            for w in &dead {
                // A dead slot a request has taken up since is left to it.
                if let Some(s) = w.upgrade() {
                    slots.remove_idle(&s, 1);
                }
            }
            let excess = slots.len().saturating_sub(max);
            if excess > 0 {
                let evicted = slots.evict(excess);
                self.metrics.evictions.inc_by(evicted as u64);
            }
        }
        self.maintain_gauges();
    }

    /// Updates the `cached_tokens` and `soonest_expiry_seconds` gauges (at scrape time).
    pub(crate) fn maintain_gauges(&self) {
        let now = now();
        let slots = self.slots.read().expect("cache lock");
        let mut held = 0i64;
        let mut soonest = i64::MAX;
        for t in slots.slots().filter_map(|s| s.current()) {
            if t.expires_on > now {
                held += 1;
                soonest = soonest.min(t.expires_on);
            }
        }
        self.metrics.cached_tokens.set(held);
        self.metrics.soonest_expiry.set(if soonest == i64::MAX {
            -1
        } else {
            soonest - now
        });
    }

    /// Runs [`Cache::maintain`] every second until the cache is dropped; in fleet mode
    /// also applies other replicas' purges.
    pub(crate) fn spawn_maintenance(self: &Arc<Self>) {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(me) = weak.upgrade() else { break };
                me.maintain();
            }
        });
        if let Some(store) = &self.store {
            let mut rx = store.purges();
            let weak: Weak<Self> = Arc::downgrade(self);
            tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(identity) => {
                            let Some(me) = weak.upgrade() else { break };
                            me.purge_local(&identity);
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            // Purges were missed: drop everything (the safe choice).
                            let Some(me) = weak.upgrade() else { break };
                            me.slots.write().expect("cache lock").clear();
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    }
                }
            });
        }
    }

    /// Renews `slot`'s token in the background, holding its single-flight `guard`.
    fn spawn_refresh(self: &Arc<Self>, slot: Arc<Slot>, guard: tokio::sync::OwnedMutexGuard<()>) {
        let me = self.clone();
        tokio::spawn(async move {
            let _guard = guard;
            let ours = slot.current().map_or(0, |c| c.fetched_at);
            match me.obtain(&slot, ours).await {
                Ok((_, source)) => {
                    me.note_success(&slot, source);
                    tracing::debug!(identity = %slot.key.identity, scopes = %slot.key.scopes, source = source.as_str(), "refreshed ahead of expiry");
                }
                Err(e) => {
                    me.note_failure(&slot, &e);
                    tracing::warn!(identity = %slot.key.identity, scopes = %slot.key.scopes, error = %e.summary(), "background refresh failed; the cached token is served until it expires");
                }
            }
        });
    }
}
