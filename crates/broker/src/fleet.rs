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
    let mut url = r.url.clone();
    if let Some(password) =
        read_secret("[redis] password", &r.password_env, &r.password_file, &None)?
    {
        url = with_password(&url, password.expose());
    }
    let store = RedisStore::new(RedisOptions {
        url,
        key: key.into(),
        prefix: r.prefix.clone().unwrap_or_else(|| "entra-broker".into()),
        op_timeout: Duration::from_millis(r.timeout_ms.unwrap_or(250)),
        ca_file: r.ca_file.clone(),
    })?;
    Ok(Arc::new(store))
}

/// `scheme://host...` with `:password@` (percent-encoded) inserted before the host.
fn with_password(url: &str, password: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let mut encoded = String::with_capacity(password.len() * 3);
    for b in password.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{scheme}://:{encoded}@{rest}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_encoded_into_the_url() {
        assert_eq!(
            super::with_password("redis://10.0.0.5:6379/0", "p@ss:w/rd"),
            "redis://:p%40ss%3Aw%2Frd@10.0.0.5:6379/0"
        );
    }
}
