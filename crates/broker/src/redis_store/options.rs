//! [`RedisOptions`]: how to reach Redis and how to use it, and the
//! [`EncryptionKey`] that seals tokens at rest.

use std::time::Duration;

use zeroize::Zeroize;

use super::redact::redact_url;
use crate::store::StoreError;

/// The AES-256-GCM key that seals tokens at rest in Redis. Every replica of a fleet must
/// have the same one. Its `Debug` shows nothing of it and it is wiped when dropped.
#[derive(Clone)]
pub struct EncryptionKey(pub(super) [u8; 32]);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_key_or_password() {
        let options = RedisOptions::new("redis://u:hunter2@h", EncryptionKey::new([7; 32]));
        let shown = format!("{options:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("7, 7"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
