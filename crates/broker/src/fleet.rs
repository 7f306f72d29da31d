//! Fleet mode from `[redis]`: reads the encryption key and connects the Redis store.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;

use crate::config::{RedisSection, read_secret};
use crate::error::BrokerError;
use crate::redis_store::{RedisOptions, RedisStore};
use crate::store::SharedStore;

/// The store `[redis]` describes. Redis being down is not an error here (the broker
/// starts and serves from memory; the store reconnects by itself); a bad URL or key is.
pub fn connect(r: &RedisSection) -> Result<Arc<dyn SharedStore>, BrokerError> {
    let secret = read_secret("[redis] key", &r.key_env, &r.key_file, &None)?
        .ok_or_else(|| BrokerError::Config("[redis] needs key_env or key_file".into()))?;
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(secret.expose().trim())
        .map_err(|_| {
            BrokerError::Config(
                "[redis] key is not base64 (make one with `openssl rand -base64 32`)".into(),
            )
        })?;
    let key: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
        BrokerError::Config(format!(
            "[redis] key is {} bytes; it must be 32 (`openssl rand -base64 32`)",
            raw.len()
        ))
    })?;
    zeroize::Zeroize::zeroize(&mut raw);
    let store = RedisStore::new(RedisOptions {
        url: r.url.clone(),
        key: key.into(),
        prefix: r.prefix.clone().unwrap_or_else(|| "entra-broker".into()),
        op_timeout: Duration::from_millis(r.timeout_ms.unwrap_or(250)),
    })?;
    Ok(Arc::new(store))
}
