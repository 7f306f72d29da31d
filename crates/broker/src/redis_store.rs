//! Fleet mode over a real Redis: [`RedisStore`] implements [`SharedStore`].
//!
//! What it keeps in Redis:
//!
//! - tokens under `{prefix}:token:{identity}:{h}`, where `h` is the first 32 hex digits
//!   of SHA-256 of the canonical scope key. The value is `stamp || nonce || ciphertext ||
//!   tag`: `stamp` is the token's `fetched_at` as 20 ASCII digits, then the JSON of
//!   [`Stored`] sealed with AES-256-GCM (a random 96-bit nonce per write; the Redis key
//!   name and the stamp as associated data, so a value copied under another key, or
//!   given another stamp, does not open). The Redis TTL is the token's remaining
//!   lifetime. A save is a script that keeps a stored token fetched later than the one
//!   being saved (newer wins), so a replica that fetched slowly cannot replace a
//!   fresher token with an older one.
//! - the encryption key can be rotated: [`RedisOptions::previous_keys`] still open
//!   values sealed before the change; every write uses the current key.
//! - single-flight locks under `{prefix}:lock:{identity}:{h}`: `SET NX PX` (in a script
//!   that makes a retry idempotent) with a random UUID as the value, released by a
//!   compare-and-delete script.
//! - purge notices on the pub/sub channel `{prefix}:purge` (the identity's name, then a
//!   newline and its purge generation), and the generations in the hash
//!   `{prefix}:purge-generations` (identity → count of purges). A replica that was
//!   unsubscribed (Redis restarted, a network cut) compares the hash with what it saw
//!   before when it subscribes again, and drops the tokens of every identity purged
//!   meanwhile, so a purge is not lost to a replica that was away.
//!
//! Every command is bounded by [`RedisOptions::op_timeout`]; the connection is made
//! lazily, retried without waiting (a dead server fails a call at once rather than
//! stalling it), and remade by itself when the server comes back.
//!
//! Single-node Redis (or a primary behind a proxy) only: the keys carry no hash tag and
//! [`SharedStore::purge`] uses `SCAN`, which sees one node; Redis Cluster is not
//! supported. TLS (`rediss://`) goes over rustls, trusting the system's roots or
//! [`RedisOptions::ca_file`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RedisResult, Script};
use tokio::sync::{broadcast, oneshot};
use zeroize::Zeroize;

use crate::store::{BoxFuture, LockToken, SharedStore, StoreError, StoreKey, Stored};

/// The AES-256-GCM key that seals tokens at rest in Redis. Every replica of a fleet must
/// have the same one. Its `Debug` shows nothing of it and it is wiped when dropped.
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// A key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key (for tests and single-replica setups: replicas that must
    /// read each other's tokens need the same configured key).
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| StoreError("redis: no random bytes for an encryption key".into()))?;
        Ok(Self(bytes))
    }
}

impl From<[u8; 32]> for EncryptionKey {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

impl Drop for EncryptionKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// How to reach Redis and how to use it.
#[derive(Clone)]
pub struct RedisOptions {
    /// `redis://[user:password@]host[:port][/db]` or `unix:///path?db=N`.
    pub url: String,
    /// Seals the tokens stored in Redis.
    pub key: EncryptionKey,
    /// Prepended to every key and channel name (default `entra-broker`), so several
    /// fleets can share one Redis.
    pub prefix: String,
    /// The most any one command may take, connecting included (default 250 ms).
    pub op_timeout: Duration,
    /// For `rediss://`: a PEM CA to trust instead of the system's roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Keys that sealed values before a key rotation: values they open are still read
    /// (and rewritten with [`RedisOptions::key`] when next saved). Drop them once the
    /// tokens they sealed have expired (an hour or so).
    pub previous_keys: Vec<EncryptionKey>,
}

impl RedisOptions {
    /// The default prefix.
    pub const DEFAULT_PREFIX: &'static str = "entra-broker";
    /// The default per-command time limit.
    pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_millis(250);

    /// Options with the default prefix and time limit.
    pub fn new(url: impl Into<String>, key: EncryptionKey) -> Self {
        Self {
            url: url.into(),
            key,
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            op_timeout: Self::DEFAULT_OP_TIMEOUT,
            ca_file: None,
            previous_keys: Vec::new(),
        }
    }
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &redact_url(&self.url))
            .field("key", &self.key)
            .field("prefix", &self.prefix)
            .field("op_timeout", &self.op_timeout)
            .field("previous_keys", &self.previous_keys.len())
            .finish()
    }
}

/// The URL with any password replaced.
fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:[redacted]@{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at + 1..]
        ),
        // A user name alone.
        None => url.to_owned(),
    }
}

/// `SET NX PX`, except that a lock already holding our value counts as taken: a retry
/// after a lost reply then finds the lock it took rather than "held by someone else".
const LOCK_SCRIPT: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return 1
end
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
    return 1
end
return 0
"#;

/// Newer wins: `SET key value EX ttl` unless the value there carries a later stamp
/// (`fetched_at`, the first 20 bytes as digits). A value without a stamp is replaced.
/// Idempotent, so a retry after a lost reply is safe.
const SAVE_SCRIPT: &str = r#"
local current = redis.call("GET", KEYS[1])
if current then
    local stamp = tonumber(string.sub(current, 1, 20))
    if stamp and stamp > tonumber(ARGV[1]) then
        return 0
    end
end
redis.call("SET", KEYS[1], ARGV[2], "EX", ARGV[3])
return 1
"#;

/// The length of a stored value's stamp: `fetched_at` in ASCII digits.
const STAMP_LEN: usize = 20;

/// How often, at most, a value that does not open is logged (a replica with the wrong
/// key would otherwise warn on every load).
const UNOPENED_WARN_EVERY_SECS: i64 = 60;

/// Compare-and-delete: releases a lock only if it still holds our value.
const UNLOCK_SCRIPT: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
end
return 0
"#;

/// How many keys one `SCAN` step asks for during a purge.
const PURGE_SCAN_COUNT: usize = 500;
/// A purge walks the whole keyspace; it may take this many `op_timeout`s in all.
const PURGE_BUDGET_OPS: u32 = 40;
/// Reconnect delays of the purge listener.
const PUBSUB_MIN_BACKOFF: Duration = Duration::from_millis(100);
const PUBSUB_MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often the purge listener checks that its connection is alive (a connection that
/// silently died, say behind a dropped NAT entry, would otherwise wait forever).
const PUBSUB_PING_EVERY: Duration = Duration::from_secs(15);
/// Pending purge notices a slow receiver may fall behind by before it sees `Lagged`.
const PURGES_CAPACITY: usize = 256;

/// A [`SharedStore`] over one Redis server. See the module documentation.
///
/// Dropping it stops its background purge listener.
pub struct RedisStore {
    manager: ConnectionManager,
    cipher: RandomizedNonceKey,
    /// The keys of [`RedisOptions::previous_keys`], tried when `cipher` does not open.
    previous: Vec<RandomizedNonceKey>,
    lock: Script,
    unlock: Script,
    save: Script,
    /// When a value that did not open was last logged, and how many were not since.
    unopened_logged_at: AtomicI64,
    unopened_unlogged: AtomicU64,
    prefix: String,
    op_timeout: Duration,
    /// `host:port` (or the socket path), for errors.
    addr: String,
    db: i64,
    connected: Arc<AtomicBool>,
    purges: broadcast::Sender<String>,
    /// Dropped with the store, which ends the purge listener.
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("redis", &self.describe())
            .field("prefix", &self.prefix)
            .field("op_timeout", &self.op_timeout)
            .field("connected", &self.connected())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Sets up the store. It does not wait for Redis: an unreachable server is not an
    /// error here (calls fail until it is reachable, and the connection is made in the
    /// background); only an unusable URL is. Must be called within a Tokio runtime (it
    /// starts the purge listener).
    pub fn new(options: RedisOptions) -> Result<RedisStore, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError(
                "redis: the store must be created inside a Tokio runtime".into(),
            ));
        }
        if options.url.starts_with("rediss://") {
            // rustls needs a process-wide provider when more than one is compiled in.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let client = match &options.ca_file {
            Some(path) => {
                if !options.url.starts_with("rediss://") {
                    return Err(StoreError(
                        "redis: a CA file is for rediss:// (TLS) URLs only".into(),
                    ));
                }
                let pem = std::fs::read(path)
                    .map_err(|e| StoreError(format!("redis CA file {}: {e}", path.display())))?;
                redis::Client::build_with_tls(
                    options.url.as_str(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem),
                    },
                )
            }
            None => redis::Client::open(options.url.as_str()),
        }
        .map_err(|e| StoreError(format!("redis url is not usable: {e}")))?;
        let info = client.get_connection_info();
        let addr = info.addr().to_string();
        let db = info.redis_settings().db();

        let op_timeout = options.op_timeout.max(Duration::from_millis(1));
        // No connection retries inside a call: a refused connection fails the call at
        // once (the next call tries again) instead of sleeping through a backoff that
        // would outlast `op_timeout`. Both library timeouts match ours.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(op_timeout))
            .set_response_timeout(Some(op_timeout));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| StoreError(format!("redis at {addr}: {}", error_text(&e))))?;
        let cipher = RandomizedNonceKey::new(&AES_256_GCM, &options.key.0)
            .map_err(|_| StoreError("redis: the encryption key is not usable".into()))?;
        let previous = options
            .previous_keys
            .iter()
            .map(|k| RandomizedNonceKey::new(&AES_256_GCM, &k.0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StoreError("redis: a previous encryption key is not usable".into()))?;

        let connected = Arc::new(AtomicBool::new(false));
        let (purges, _) = broadcast::channel(PURGES_CAPACITY);
        let (stop_tx, stop_rx) = oneshot::channel();
        tokio::spawn(purge_listener(
            client,
            options.prefix.clone(),
            purges.clone(),
            stop_rx,
            op_timeout,
            addr.clone(),
        ));
        // Connect now, in the background, so the first real call finds a connection
        // (and `connected()` is meaningful early).
        let mut warm = manager.clone();
        let warm_flag = connected.clone();
        tokio::spawn(async move {
            let ping = redis::cmd("PING");
            let pong = tokio::time::timeout(op_timeout, ping.query_async::<()>(&mut warm)).await;
            // Only good news: a late failure must not hide a later call's success.
            if matches!(pong, Ok(Ok(()))) {
                warm_flag.store(true, Ordering::Relaxed);
            }
        });

        Ok(RedisStore {
            manager,
            cipher,
            previous,
            lock: Script::new(LOCK_SCRIPT),
            unlock: Script::new(UNLOCK_SCRIPT),
            save: Script::new(SAVE_SCRIPT),
            unopened_logged_at: AtomicI64::new(i64::MIN),
            unopened_unlogged: AtomicU64::new(0),
            prefix: options.prefix.clone(),
            op_timeout,
            addr,
            db,
            connected,
            purges,
            _stop: stop_tx,
        })
    }

    /// The Redis key of `key`'s token.
    pub fn token_key(&self, key: &StoreKey) -> String {
        format!(
            "{}:token:{}:{}",
            self.prefix,
            key.identity,
            scope_hash(&key.scopes)
        )
    }

    /// The Redis key of `key`'s single-flight lock.
    pub fn lock_key(&self, key: &StoreKey) -> String {
        format!(
            "{}:lock:{}:{}",
            self.prefix,
            key.identity,
            scope_hash(&key.scopes)
        )
    }

    /// Runs one command (made by `op` on a handle to the connection) within
    /// `op_timeout`, and records whether it reached Redis.
    ///
    /// A call that finds the connection gone is tried once more, on the fresh connection
    /// the manager has just started: the failure may be the stale outcome of an attempt
    /// made while the server was down, or a connection that died while this replica was
    /// idle. Every command here is idempotent (the lock too: see [`LOCK_SCRIPT`]), so a
    /// second try is safe even if the first one was carried out.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let attempt = async {
            match op(self.manager.clone()).await {
                Err(e) if e.is_connection_dropped() => op(self.manager.clone()).await,
                other => other,
            }
        };
        let result = match tokio::time::timeout(self.op_timeout, attempt).await {
            Ok(Ok(value)) => Ok(value),
            // The library's own limits are ours too.
            Ok(Err(e)) if e.is_timeout() => Err(self.timed_out()),
            Ok(Err(e)) => Err(StoreError(format!(
                "redis at {}: {}",
                self.addr,
                error_text(&e)
            ))),
            Err(_) => Err(self.timed_out()),
        };
        self.connected.store(result.is_ok(), Ordering::Relaxed);
        result
    }

    /// [`RedisStore::run`] for a plain command.
    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, StoreError> {
        self.run(|mut c| async move { command.query_async::<T>(&mut c).await })
            .await
    }

    /// [`RedisStore::run`] for a script on one key.
    async fn invoke<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        args: &[&[u8]],
    ) -> Result<T, StoreError> {
        self.run(|mut c| {
            let mut invocation = script.key(key);
            for arg in args {
                invocation.arg(*arg);
            }
            async move { invocation.invoke_async::<T>(&mut c).await }
        })
        .await
    }

    fn timed_out(&self) -> StoreError {
        StoreError(format!(
            "redis at {}: timed out after {} ms",
            self.addr,
            self.op_timeout.as_millis()
        ))
    }

    /// `stamp || nonce || ciphertext || tag` of the JSON of `value`, bound to
    /// `redis_key` and the stamp.
    fn seal(&self, redis_key: &str, value: &Stored) -> Result<Vec<u8>, StoreError> {
        let stamp = stamp(value.fetched_at);
        // One buffer, sized up front (the field names and numbers take well under 256
        // bytes), so no copy of the plaintext is left behind by a reallocation.
        let room = value.token.len()
            + value.token_id.len()
            + value.client_id.as_ref().map_or(0, String::len)
            + 256;
        let mut sealed = Vec::with_capacity(STAMP_LEN + NONCE_LEN + room + AES_256_GCM.tag_len());
        sealed.extend_from_slice(stamp.as_bytes());
        sealed.extend_from_slice(&[0u8; NONCE_LEN]);
        if let Err(e) = serde_json::to_writer(&mut sealed, value) {
            sealed.zeroize();
            return Err(StoreError(format!(
                "redis: cannot encode a token record: {e}"
            )));
        }
        let aad = aad(redis_key, &stamp);
        let outcome = self.cipher.seal_in_place_separate_tag(
            Aad::from(aad.as_bytes()),
            &mut sealed[STAMP_LEN + NONCE_LEN..],
        );
        match outcome {
            Ok((nonce, tag)) => {
                sealed[STAMP_LEN..STAMP_LEN + NONCE_LEN].copy_from_slice(nonce.as_ref());
                sealed.extend_from_slice(tag.as_ref());
                Ok(sealed)
            }
            Err(_) => {
                sealed.zeroize();
                Err(StoreError("redis: sealing a token record failed".into()))
            }
        }
    }

    /// The record sealed by [`RedisStore::seal`] (with the current key or a previous
    /// one), or `None` when it does not open or parse (logged, at most once a minute).
    fn open(&self, redis_key: &str, mut sealed: Vec<u8>) -> Option<Stored> {
        let parsed = if sealed.len() < STAMP_LEN + NONCE_LEN + AES_256_GCM.tag_len() {
            Err("too short")
        } else {
            let (stamp, rest) = sealed.split_at_mut(STAMP_LEN);
            let (nonce, body) = rest.split_at_mut(NONCE_LEN);
            match (
                std::str::from_utf8(stamp)
                    .ok()
                    .filter(|t| t.bytes().all(|b| b.is_ascii_digit())),
                <[u8; NONCE_LEN]>::try_from(&*nonce),
            ) {
                (None, _) => Err("has no stamp (written by an older broker?)"),
                (_, Err(_)) => Err("bad nonce"),
                (Some(stamp), Ok(nonce)) => {
                    let aad = aad(redis_key, stamp);
                    // A failed open leaves the buffer as it was, so the next key can try.
                    let opened = std::iter::once(&self.cipher)
                        .chain(&self.previous)
                        .find_map(|cipher| {
                            let mut body = body.to_vec();
                            let plain = cipher
                                .open_in_place(
                                    Nonce::assume_unique_for_key(nonce),
                                    Aad::from(aad.as_bytes()),
                                    &mut body,
                                )
                                .ok()
                                .map(|plain| serde_json::from_slice::<Stored>(plain));
                            body.zeroize();
                            plain
                        });
                    match opened {
                        None => Err("does not decrypt (another encryption key, or altered)"),
                        Some(Err(_)) => Err("decrypts but is not a token record"),
                        Some(Ok(stored)) => Ok(stored),
                    }
                }
            }
        };
        sealed.zeroize();
        match parsed {
            Ok(stored) => Some(stored),
            Err(why) => {
                self.log_unopened(redis_key, why);
                None
            }
        }
    }

    /// Warns about a value that does not open, at most once per
    /// [`UNOPENED_WARN_EVERY_SECS`], with the count of those not logged since.
    fn log_unopened(&self, redis_key: &str, why: &str) {
        let now = unix_now();
        let last = self.unopened_logged_at.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= UNOPENED_WARN_EVERY_SECS
            && self
                .unopened_logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if due {
            let unlogged = self.unopened_unlogged.swap(0, Ordering::Relaxed);
            tracing::warn!(
                redis_key,
                not_logged_since = unlogged,
                "ignoring a token stored in redis: the value {why}; each replica reads it \
                 as missing and asks Entra itself (is every replica given the same key?)"
            );
        } else {
            self.unopened_unlogged.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn purge_keys(&self, identity: &str) -> Result<u64, StoreError> {
        let pattern = format!(
            "{}:token:{}:{}",
            glob_escape(&self.prefix),
            glob_escape(identity),
            "[0-9a-f]".repeat(32)
        );
        let mut cursor: u64 = 0;
        let mut removed = 0u64;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(PURGE_SCAN_COUNT);
            let (next, keys): (u64, Vec<Vec<u8>>) = self.query(&scan).await?;
            if !keys.is_empty() {
                let removed_now: u64 = self.query(redis::cmd("DEL").arg(keys)).await?;
                removed += removed_now;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }
}

impl SharedStore for RedisStore {
    fn load<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<Option<Stored>, StoreError>> {
        Box::pin(async move {
            let redis_key = self.token_key(key);
            let raw: Option<Vec<u8>> = self.query(redis::cmd("GET").arg(&redis_key)).await?;
            Ok(raw.and_then(|sealed| self.open(&redis_key, sealed)))
        })
    }

    fn save<'a>(
        &'a self,
        key: &'a StoreKey,
        value: &'a Stored,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let ttl = value.expires_on.saturating_sub(unix_now());
            if ttl <= 0 {
                tracing::debug!(
                    identity = %key.identity,
                    "not storing an expired token in redis"
                );
                return Ok(());
            }
            let redis_key = self.token_key(key);
            let mut sealed = self.seal(&redis_key, value)?;
            let fetched_at = value.fetched_at.max(0).to_string();
            let ttl = ttl.to_string();
            let written = self
                .invoke::<i64>(
                    &self.save,
                    &redis_key,
                    &[fetched_at.as_bytes(), &sealed, ttl.as_bytes()],
                )
                .await;
            sealed.zeroize();
            if written? == 0 {
                tracing::debug!(
                    identity = %key.identity,
                    "redis already holds a token fetched later; kept it"
                );
            }
            Ok(())
        })
    }

    fn lock<'a>(
        &'a self,
        key: &'a StoreKey,
        ttl_ms: u64,
    ) -> BoxFuture<'a, Result<Option<LockToken>, StoreError>> {
        Box::pin(async move {
            let lock_key = self.lock_key(key);
            let value = uuid::Uuid::new_v4().to_string();
            let ttl_ms = ttl_ms.max(1).to_string();
            let taken: i64 = self
                .invoke(
                    &self.lock,
                    &lock_key,
                    &[value.as_bytes(), ttl_ms.as_bytes()],
                )
                .await?;
            Ok((taken == 1).then_some(LockToken(value)))
        })
    }

    fn unlock<'a>(
        &'a self,
        key: &'a StoreKey,
        lock: &'a LockToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let lock_key = self.lock_key(key);
            let _released: i64 = self
                .invoke(&self.unlock, &lock_key, &[lock.0.as_bytes()])
                .await?;
            Ok(())
        })
    }

    fn purge<'a>(&'a self, identity: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let budget = self.op_timeout * PURGE_BUDGET_OPS;
            let removed = match tokio::time::timeout(budget, self.purge_keys(identity)).await {
                Ok(result) => result?,
                Err(_) => {
                    return Err(StoreError(format!(
                        "redis at {}: purge timed out after {} ms",
                        self.addr,
                        budget.as_millis()
                    )));
                }
            };
            let generation: i64 = self
                .query(
                    redis::cmd("HINCRBY")
                        .arg(generations_key(&self.prefix))
                        .arg(identity)
                        .arg(1),
                )
                .await?;
            let channel = format!("{}:purge", self.prefix);
            let _listeners: u64 = self
                .query(
                    redis::cmd("PUBLISH")
                        .arg(&channel)
                        .arg(format!("{identity}\n{generation}")),
                )
                .await?;
            Ok(removed)
        })
    }

    fn purges(&self) -> broadcast::Receiver<String> {
        self.purges.subscribe()
    }

    fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn describe(&self) -> String {
        format!("{}/{}", self.addr, self.db)
    }
}

/// Listens on `channel` with a connection of its own and forwards each identity name to
/// `purges`, reconnecting (with a bounded backoff) whenever the connection is lost, until
/// `stop` fires or its sender is dropped.
async fn purge_listener(
    client: redis::Client,
    prefix: String,
    purges: broadcast::Sender<String>,
    mut stop: oneshot::Receiver<()>,
    op_timeout: Duration,
    addr: String,
) {
    let channel = format!("{prefix}:purge");
    let connect_timeout = op_timeout.max(Duration::from_secs(1));
    let mut backoff = PUBSUB_MIN_BACKOFF;
    let mut lost = false;
    // The purge generations as of the last subscription, kept up to date by the notices:
    // what a new subscription's snapshot is compared with.
    let mut known: Option<HashMap<String, i64>> = None;
    loop {
        let subscribe = async {
            let mut pubsub = tokio::time::timeout(connect_timeout, client.get_async_pubsub())
                .await
                .map_err(|_| "timed out".to_owned())?
                .map_err(|e| error_text(&e))?;
            tokio::time::timeout(connect_timeout, pubsub.subscribe(&channel))
                .await
                .map_err(|_| "timed out".to_owned())?
                .map_err(|e| error_text(&e))?;
            // Read after subscribing: a purge from now on is also a notice.
            let generations = tokio::time::timeout(connect_timeout, async {
                let mut c = client.get_multiplexed_async_connection().await?;
                redis::cmd("HGETALL")
                    .arg(generations_key(&prefix))
                    .query_async::<HashMap<String, i64>>(&mut c)
                    .await
            })
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|e| error_text(&e))?;
            Ok::<_, String>((pubsub, generations))
        };
        let subscribed = tokio::select! {
            _ = &mut stop => return,
            subscribed = subscribe => subscribed,
        };
        match subscribed {
            Ok((pubsub, generations)) => {
                if lost {
                    tracing::info!(redis = %addr, "redis purge notices: subscribed again");
                }
                if let Some(before) = &known {
                    for (identity, generation) in &generations {
                        if before.get(identity) != Some(generation) {
                            tracing::info!(
                                redis = %addr,
                                identity = %identity,
                                "purged while this replica was not subscribed; dropping its tokens"
                            );
                            drop(purges.send(identity.clone()));
                        }
                    }
                }
                known = Some(generations);
                backoff = PUBSUB_MIN_BACKOFF;
                let (mut sink, mut messages) = pubsub.split();
                let mut ping = tokio::time::interval_at(
                    tokio::time::Instant::now() + PUBSUB_PING_EVERY,
                    PUBSUB_PING_EVERY,
                );
                loop {
                    tokio::select! {
                        _ = &mut stop => return,
                        message = messages.next() => match message {
                            Some(message) => match message.get_payload::<String>() {
                                Ok(payload) => {
                                    // `identity\ngeneration`; a bare identity from an
                                    // older broker is a purge too.
                                    let (identity, generation) = match payload.rsplit_once('\n') {
                                        Some((i, g)) => (i.to_owned(), g.parse::<i64>().ok()),
                                        None => (payload, None),
                                    };
                                    if let (Some(known), Some(g)) = (known.as_mut(), generation) {
                                        known.insert(identity.clone(), g);
                                    }
                                    // No receivers is fine: nobody is listening yet.
                                    drop(purges.send(identity));
                                }
                                Err(_) => tracing::debug!("redis purge notice that is not text"),
                            },
                            None => break,
                        },
                        _ = ping.tick() => {
                            let pong = tokio::time::timeout(
                                connect_timeout,
                                sink.ping::<redis::Value>(),
                            )
                            .await;
                            if !matches!(pong, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
                tracing::warn!(
                    redis = %addr,
                    "redis purge notices: connection lost, resubscribing"
                );
                lost = true;
            }
            Err(why) => {
                if !lost {
                    tracing::warn!(
                        redis = %addr,
                        "redis purge notices: cannot subscribe ({why}); retrying"
                    );
                } else {
                    tracing::debug!(redis = %addr, "redis purge notices: cannot subscribe ({why})");
                }
                lost = true;
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(PUBSUB_MAX_BACKOFF);
    }
}

/// The hash of purge generations (identity → number of purges so far).
fn generations_key(prefix: &str) -> String {
    format!("{prefix}:purge-generations")
}

/// What went wrong, without anything from the command (so never a token or password).
fn error_text(e: &RedisError) -> String {
    if e.is_connection_refusal() {
        "connection refused".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else if matches!(e.kind(), ErrorKind::Parse | ErrorKind::UnexpectedReturnType) {
        // Conversion errors may quote the reply.
        format!("unexpected reply ({})", e.category())
    } else {
        e.to_string()
    }
}

/// The first 32 hex digits of SHA-256 of `scopes`.
fn scope_hash(scopes: &str) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, scopes.as_bytes());
    let mut hex = String::with_capacity(32);
    for byte in &digest.as_ref()[..16] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// `text` with Redis glob's special characters escaped, for a `MATCH` pattern.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `fetched_at` as the 20 digits a stored value starts with (negative clamps to 0).
fn stamp(fetched_at: i64) -> String {
    format!("{:020}", fetched_at.max(0))
}

/// The associated data of a sealed value: its Redis key and its stamp.
fn aad(redis_key: &str, stamp: &str) -> String {
    format!("{redis_key}\n{stamp}")
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("redis://user:hunter2@cache:6379/1"),
            "redis://user:[redacted]@cache:6379/1"
        );
        assert_eq!(
            redact_url("redis://:hunter2@cache"),
            "redis://:[redacted]@cache"
        );
        assert_eq!(redact_url("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(redact_url("redis://cache/0?x=a@b"), "redis://cache/0?x=a@b");
    }

    #[test]
    fn debug_shows_no_key_or_password() {
        let options = RedisOptions::new("redis://u:hunter2@h", EncryptionKey::new([7; 32]));
        let shown = format!("{options:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("7, 7"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape(r"a*b?c[d]e\f"), r"a\*b\?c\[d\]e\\f");
    }

    #[test]
    fn scope_hash_is_32_hex_digits() {
        let h = scope_hash("https://vault.azure.net");
        assert_eq!(h.len(), 32);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(h, scope_hash("https://storage.azure.com"));
    }
}
