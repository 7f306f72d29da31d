//! The state replicas share in fleet mode: tokens and single-flight locks.
//!
//! [`SharedStore`] is the few primitives the broker's cache needs; the algorithm that
//! makes a fleet ask Entra once per token (look, lock, look again, fetch, save, unlock;
//! replicas that lose the lock poll for the winner's token) lives in
//! [`crate::cache`], so it is the same whatever the store. [`crate::redis_store`] is the
//! implementation over a real Redis.
//!
//! A store error never fails a caller: the cache falls back to its own memory and to
//! asking upstream itself.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use entra_identity::Secret;

/// A boxed future (stores live behind `Arc<dyn SharedStore>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which token: the identity's name and the canonical scope key (the resource for a
/// single `/.default` scope, else the sorted scopes joined by spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreKey {
    /// The upstream identity's name, as configured.
    pub identity: String,
    /// The canonical scope key.
    pub scopes: String,
}

/// A token as replicas share it. The store encrypts it at rest (the token is a secret);
/// everything else is metadata.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stored {
    /// The access token.
    pub token: String,
    /// Expiry, unix seconds.
    pub expires_on: i64,
    /// When replicas should refresh it, unix seconds.
    pub refresh_at: i64,
    /// When it was obtained from upstream, unix seconds (newer wins).
    pub fetched_at: i64,
    /// Its identifier for audit lines (`uti:...` or `sha256:...`), never the token.
    pub token_id: String,
    /// The client (application) id the token was issued to, when known.
    pub client_id: Option<String>,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("token", &"[redacted]")
            .field("expires_on", &self.expires_on)
            .field("refresh_at", &self.refresh_at)
            .field("fetched_at", &self.fetched_at)
            .field("token_id", &self.token_id)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl Drop for Stored {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.token);
    }
}

impl Stored {
    /// The token as a [`Secret`].
    pub fn secret(&self) -> Secret {
        Secret::new(self.token.clone())
    }
}

/// A held distributed lock: release it with [`SharedStore::unlock`] (it also expires by
/// itself, so a replica that dies holding it blocks nobody for long).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockToken(pub String);

/// Why the store could not answer. Never carries a token.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// The primitives fleet mode needs. Every call must finish quickly (implementations
/// bound each with a timeout), since callers may be waiting behind it.
pub trait SharedStore: Send + Sync {
    /// The token stored under `key`, if any (expired ones may be returned; the caller
    /// checks). A record that cannot be decrypted or parsed is `Ok(None)` (and logged).
    fn load<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<Option<Stored>, StoreError>>;

    /// Stores `value` under `key` until it expires.
    fn save<'a>(
        &'a self,
        key: &'a StoreKey,
        value: &'a Stored,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Takes the fleet-wide lock for `key` for at most `ttl_ms`: `Ok(None)` when another
    /// replica holds it.
    fn lock<'a>(
        &'a self,
        key: &'a StoreKey,
        ttl_ms: u64,
    ) -> BoxFuture<'a, Result<Option<LockToken>, StoreError>>;

    /// Releases a lock taken with [`SharedStore::lock`], only if it is still ours.
    fn unlock<'a>(
        &'a self,
        key: &'a StoreKey,
        lock: &'a LockToken,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Removes every token of `identity` and tells the other replicas to drop their
    /// local copies ([`SharedStore::purges`]). Returns how many were removed.
    fn purge<'a>(&'a self, identity: &'a str) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Identity names other replicas purged, as they happen (best effort: a replica
    /// that was disconnected misses them; its copies still expire normally).
    fn purges(&self) -> tokio::sync::broadcast::Receiver<String>;

    /// Whether the last operation reached the store (for `/readyz` and metrics).
    fn connected(&self) -> bool;

    /// A short description for logs and `/readyz` (the address, never a password).
    fn describe(&self) -> String;
}
