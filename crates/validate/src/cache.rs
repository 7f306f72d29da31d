//! The validated-token cache: a client that sends the same token for an hour costs one
//! RSA verification, not thousands.
//!
//! Bounded and sharded. The key is a keyed hash (SipHash with a per-process random key)
//! of the token's last 64 bytes, which lie in the signature and so differ between
//! tokens; a hit then compares the *whole* token, so a collision can never return
//! another token's principal. The token is kept in the principal's own buffer, after
//! its decoded payload (one allocation per validation for both). An entry answers while `now <= exp + skew` (exactly what a
//! fresh validation would accept) and while its signing key is still in the issuer's
//! JWKS (a retired key flag is one atomic load). When a shard is full, expired entries
//! go first, then an arbitrary one: eviction is O(shard) and only when full.
//!
//! The hit path takes a read lock on one shard, hashes 64 bytes, compares the token and
//! clones an `Arc`: no allocation.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, RwLock};

use crate::jwks::TrustedKey;
use crate::principal::Principal;

const SHARDS: usize = 64;
const HASHED_SUFFIX: usize = 64;

struct Entry {
    /// Holds the token itself (in the buffer of its claims), for the full compare.
    principal: Principal,
    /// Last second the entry answers (exp + skew).
    valid_until: i64,
    key: Arc<TrustedKey>,
}

/// A bounded map from token to the principal its validation produced (tokens this API
/// accepted; entra-identity's `TokenCache` is the other side: tokens a client acquired).
pub struct ValidatedTokenCache {
    shards: Box<[RwLock<HashMap<u64, Entry>>]>,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for ValidatedTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ValidatedTokenCache({} entries max)",
            self.per_shard * SHARDS
        )
    }
}

impl ValidatedTokenCache {
    /// A cache of about `capacity` tokens (0 turns caching off).
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS);
        Self {
            shards: (0..if capacity == 0 { 0 } else { SHARDS })
                .map(|_| RwLock::new(HashMap::new()))
                .collect(),
            per_shard,
            hasher: Default::default(),
        }
    }

    #[inline]
    fn hash(&self, token: &str) -> u64 {
        let bytes = token.as_bytes();
        let mut h = self.hasher.build_hasher();
        h.write(&bytes[bytes.len().saturating_sub(HASHED_SUFFIX)..]);
        h.write_usize(bytes.len());
        h.finish()
    }

    /// The principal of a cached, still valid `token`.
    #[inline]
    pub fn get(&self, token: &str, now: i64) -> Option<Principal> {
        if self.shards.is_empty() {
            return None;
        }
        let hash = self.hash(token);
        let shard = self.shards[(hash as usize) % SHARDS].read().ok()?;
        let entry = shard
            .get(&hash)
            .filter(|e| e.principal.kept_token() == Some(token))?;
        (now <= entry.valid_until && !entry.key.is_retired()).then(|| entry.principal.clone())
    }

    /// Whether the cache keeps anything (capacity above 0).
    #[inline]
    pub fn enabled(&self) -> bool {
        !self.shards.is_empty()
    }

    /// Remembers a validated token. Only a principal that kept its token answers
    /// later (the hit compares the whole token with the kept one).
    pub fn insert(
        &self,
        token: &str,
        principal: &Principal,
        valid_until: i64,
        key: Arc<TrustedKey>,
        now: i64,
    ) {
        // A principal that kept no token could never answer (and one that kept another
        // token would only ever miss: the hit compares whole tokens).
        if self.shards.is_empty() || principal.kept_token().is_none() {
            return;
        }
        let hash = self.hash(token);
        let Ok(mut shard) = self.shards[(hash as usize) % SHARDS].write() else {
            return;
        };
        if shard.len() >= self.per_shard && !shard.contains_key(&hash) {
            shard.retain(|_, e| now <= e.valid_until && !e.key.is_retired());
            if shard.len() >= self.per_shard
                && let Some(victim) = shard.keys().next().copied()
            {
                shard.remove(&victim);
            }
        }
        // Two live tokens with the same 64-bit keyed hash are astronomically unlikely; if
        // it happens the newer one takes the slot and the other just misses.
        shard.insert(
            hash,
            Entry {
                principal: principal.clone(),
                valid_until,
                key,
            },
        );
    }

    /// How many tokens are cached (including ones that no longer answer).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map_or(0, |s| s.len()))
            .sum()
    }

    /// Nothing cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops `token`'s entry, if any.
    pub fn remove(&self, token: &str) {
        if self.shards.is_empty() {
            return;
        }
        let hash = self.hash(token);
        if let Ok(mut shard) = self.shards[(hash as usize) % SHARDS].write()
            && shard
                .get(&hash)
                .is_some_and(|e| e.principal.kept_token() == Some(token))
        {
            shard.remove(&hash);
        }
    }

    /// Drops every entry whose principal matches `drop`.
    pub fn remove_where(&self, drop: impl Fn(&Principal) -> bool) {
        for s in self.shards.iter() {
            if let Ok(mut s) = s.write() {
                s.retain(|_, e| !drop(&e.principal));
            }
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        for s in self.shards.iter() {
            if let Ok(mut s) = s.write() {
                s.clear();
            }
        }
    }
}
