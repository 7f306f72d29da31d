//! [`RedisStore`]: the connection, bounded commands, the key names, and the
//! [`SharedStore`] operations over them.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};
use tokio::sync::{broadcast, oneshot};
use zeroize::Zeroize;

use super::lock::{LockScripts, lock_value};
use super::options::RedisOptions;
use super::pubsub::{PURGES_CAPACITY, generations_key, purge_listener};
use super::redact::error_text;
use super::seal::{Sealer, unix_now};
use crate::store::{BoxFuture, LockToken, SharedStore, StoreError, StoreKey, Stored};

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

/// How many keys one `SCAN` step asks for during a purge.
const PURGE_SCAN_COUNT: usize = 500;
/// A purge walks the whole keyspace; it may take this many `op_timeout`s in all.
const PURGE_BUDGET_OPS: u32 = 40;

/// A [`SharedStore`] over one Redis server: the store `[redis]` builds. It is public for
/// tests, and for embedders that build one themselves and pass it as
/// [`StartOptions::store`](crate::StartOptions::store).
///
/// Dropping it stops its background purge listener.
///
/// What it keeps in Redis:
///
/// - tokens under `{prefix}:token:{identity}:{h}`, where `h` is the first 32 hex digits
///   of SHA-256 of the canonical scope key. The value is `stamp || nonce || ciphertext ||
///   tag`: `stamp` is the token's `fetched_at` as 20 ASCII digits, then the JSON of
///   [`Stored`] sealed with AES-256-GCM (a random 96-bit nonce per write; the Redis
///   key name and the stamp as associated data, so a value copied under another key,
///   or given another stamp, does not open). The Redis TTL is the token's remaining
///   lifetime. A save is a script that keeps a stored token fetched later than the one
///   being saved (newer wins), so a replica that fetched slowly cannot replace a
///   fresher token with an older one.
/// - the encryption key can be rotated: [`RedisOptions::previous_keys`] still open
///   values sealed before the change; every write uses the current key.
/// - single-flight locks under `{prefix}:lock:{identity}:{h}`: `SET NX PX` (in a script
///   that makes a retry idempotent) with a random UUID as the value, released by a
///   compare-and-delete script.
/// - purge notices on the pub/sub channel `{prefix}:purge` (the identity's name, then a
///   newline and its purge generation), and the generations in the hash
///   `{prefix}:purge-generations` (identity → count of purges). A replica that was
///   unsubscribed (Redis restarted, a network cut) compares the hash with what it saw
///   before when it subscribes again, and drops the tokens of every identity purged
///   meanwhile, so a purge is not lost to a replica that was away.
///
/// Every command is bounded by [`RedisOptions::op_timeout`]; the connection is made
/// lazily, retried without waiting (a dead server fails a call at once rather than
/// stalling it), and remade by itself when the server comes back.
///
/// Single-node Redis (or a primary behind a proxy) only: the keys carry no hash tag and
/// [`SharedStore::purge`] uses `SCAN`, which sees one node; Redis Cluster is not
/// supported. TLS (`rediss://`) goes over rustls, trusting the system's roots or
/// [`RedisOptions::ca_file`].
pub struct RedisStore {
    manager: ConnectionManager,
    sealer: Sealer,
    locks: LockScripts,
    save: Script,
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
        let client = redis_client(&options)?;
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
        let sealer = Sealer::new(&options.key, &options.previous_keys)?;

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
            sealer,
            locks: LockScripts::new(),
            save: Script::new(SAVE_SCRIPT),
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
    /// idle. Every command here is idempotent (the lock too: see [`LOCK_SCRIPT`](super::lock::LOCK_SCRIPT)), so a
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
            Ok(raw.and_then(|sealed| self.sealer.open(&redis_key, sealed)))
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
            let mut sealed = self.sealer.seal(&redis_key, value)?;
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
            let value = lock_value();
            let ttl_ms = ttl_ms.max(1).to_string();
            let taken: i64 = self
                .invoke(
                    &self.locks.lock,
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
                .invoke(&self.locks.unlock, &lock_key, &[lock.0.as_bytes()])
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

/// The Redis client for `options.url` (TLS with `options.ca_file` when given).
fn redis_client(options: &RedisOptions) -> Result<redis::Client, StoreError> {
    if options.url.starts_with("rediss://") {
        // rustls needs a process-wide provider when more than one is compiled in.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    match &options.ca_file {
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
    .map_err(|e| StoreError(format!("redis url is not usable: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;

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
