//! The cache's slot table: identity name → canonical scope key → slot, bounded when a
//! slot is inserted, not only by the maintenance pass.
//!
//! - **Keyed hashing.** Both levels are std `HashMap`s with [`RandomState`] (SipHash-1-3
//!   under a per-process random key): callers choose the scope keys, so they must not be
//!   able to aim keys at one bucket.
//! - **Busy slots are never evicted.** A slot is idle when the table holds the only strong
//!   reference to it ([`Arc::strong_count`] is 1), checked under the write lock: a request
//!   in flight, a caller waiting on its single-flight lock and a background refresh each
//!   hold a clone, and no new clone can be taken from the table while its write lock is
//!   held.
//! - **Least recently used first, amortised O(1).** Eviction takes victims, oldest
//!   `last_used` first, from a queue of candidates; when the queue runs dry one O(n) pass
//!   picks the oldest idle slots (a selection, then a sort of that batch only). A
//!   candidate used since it was picked, now busy, or no longer in the table is skipped,
//!   so what goes is always idle and, to the second, the least recently used of the
//!   candidates; a slot that was busy when the batch was picked waits for the next one.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};

/// What the table needs to know of a slot.
pub(super) trait Keyed {
    /// The identity name and scope key it is filed under.
    fn keys(&self) -> (&str, &str);
    /// Its last request, unix seconds.
    fn last_used(&self) -> i64;
}

type Inner<S> = HashMap<Box<str>, Arc<S>, RandomState>;

/// Largest batch of eviction candidates one pass picks (unless more must go at once).
const MAX_BATCH: usize = 1024;

/// The slot table. The cache keeps it behind its `RwLock`.
pub(super) struct Table<S> {
    map: HashMap<Arc<str>, Inner<S>, RandomState>,
    len: usize,
    /// Eviction candidates, oldest first, with the `last_used` they had when picked.
    victims: VecDeque<(Weak<S>, i64)>,
}

impl<S: Keyed> Table<S> {
    pub(super) fn new() -> Self {
        Self {
            map: HashMap::with_hasher(RandomState::new()),
            len: 0,
            victims: VecDeque::new(),
        }
    }

    /// How many slots are held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The slot for (`identity`, `key`).
    #[inline]
    pub(super) fn get(&self, identity: &str, key: &str) -> Option<&Arc<S>> {
        self.map.get(identity).and_then(|m| m.get(key))
    }

    /// Every slot.
    pub(super) fn slots(&self) -> impl Iterator<Item = &Arc<S>> {
        self.map.values().flat_map(|m| m.values())
    }

    /// Files `slot` under (`identity`, `key`), replacing the slot there if any. A new
    /// entry that would take the table beyond `max` first evicts idle slots, least
    /// recently used first (how many went is the answer); when too few are idle, the
    /// new slot is not filed and `Err` says so.
    pub(super) fn insert(
        &mut self,
        identity: &Arc<str>,
        key: &str,
        slot: Arc<S>,
        max: usize,
    ) -> Result<usize, Full> {
        if let Some(old) = self.map.get_mut(&**identity).and_then(|m| m.get_mut(key)) {
            *old = slot;
            return Ok(0);
        }
        let need = (self.len + 1).saturating_sub(max);
        let evicted = if need > 0 { self.evict(need) } else { 0 };
        if evicted < need {
            return Err(Full);
        }
        self.map
            .entry(identity.clone())
            .or_insert_with(|| HashMap::with_hasher(RandomState::new()))
            .insert(key.into(), slot);
        self.len += 1;
        Ok(evicted)
    }

    /// Removes `slot` if it is still the one filed under its keys and nobody else holds
    /// it besides `extra` references the caller knows of. Whether it went.
    pub(super) fn remove_idle(&mut self, slot: &Arc<S>, extra: usize) -> bool {
        if Arc::strong_count(slot) != 1 + extra {
            return false;
        }
        let (identity, key) = slot.keys();
        let Some(m) = self.map.get_mut(identity) else {
            return false;
        };
        if !m.get(key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            return false;
        }
        m.remove(key);
        if m.is_empty() {
            self.map.remove(identity);
        }
        self.len -= 1;
        true
    }

    /// Evicts up to `need` idle slots, least recently used first. How many went.
    pub(super) fn evict(&mut self, need: usize) -> usize {
        let mut gone = self.evict_queued(need);
        if gone < need {
            self.pick_victims(need - gone);
            gone += self.evict_queued(need - gone);
        }
        gone
    }

    fn evict_queued(&mut self, need: usize) -> usize {
        let mut gone = 0;
        while gone < need {
            let Some((weak, last_used)) = self.victims.pop_front() else {
                break;
            };
            // 0: dropped already; more than 1: busy. Either way not a victim now.
            if Weak::strong_count(&weak) != 1 {
                continue;
            }
            let Some(slot) = weak.upgrade() else {
                continue;
            };
            if slot.last_used() != last_used {
                // Used since it was picked: no longer among the least recent.
                continue;
            }
            // `slot` is one more reference, ours.
            if self.remove_idle(&slot, 1) {
                gone += 1;
            }
        }
        gone
    }

    /// One pass over the table: queues the oldest idle slots, at least `need` of them
    /// when there are that many, and a batch beyond so the next inserts need no pass.
    /// When none is idle, each refused insert makes this pass again: O(n) for a table
    /// whose n slots all have a request of their own in flight, each of which costs far
    /// more (an upstream request) than a visit.
    fn pick_victims(&mut self, need: usize) {
        let mut idle: Vec<(i64, &Arc<S>)> = self
            .slots()
            .filter(|s| Arc::strong_count(s) == 1)
            .map(|s| (s.last_used(), s))
            .collect();
        let batch = need.max((self.len / 16).clamp(1, MAX_BATCH));
        if idle.len() > batch {
            idle.select_nth_unstable_by_key(batch - 1, |(t, _)| *t);
            idle.truncate(batch);
        }
        idle.sort_unstable_by_key(|(t, _)| *t);
        let picked: Vec<(Weak<S>, i64)> = idle
            .into_iter()
            .map(|(t, s)| (Arc::downgrade(s), t))
            .collect();
        self.victims.clear();
        self.victims.extend(picked);
    }

    /// Removes every slot of `identity`; returns them.
    pub(super) fn remove_identity(&mut self, identity: &str) -> Option<Inner<S>> {
        let removed = self.map.remove(identity)?;
        self.len -= removed.len();
        self.victims.clear();
        Some(removed)
    }

    /// Keeps only the identities (with all their slots) for which `keep` is true.
    pub(super) fn retain_identities(&mut self, mut keep: impl FnMut(&str, &Inner<S>) -> bool) {
        self.map.retain(|name, m| keep(name, m));
        self.victims.clear();
        self.len = self.map.values().map(HashMap::len).sum();
    }

    /// Drops everything.
    pub(super) fn clear(&mut self) {
        self.map.clear();
        self.victims.clear();
        self.len = 0;
    }
}

/// Every slot is busy: the table is at its bound and nothing may be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full;
