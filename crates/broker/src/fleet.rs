//! Fleet mode from `[redis]`: reads the encryption key and connects the Redis store.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;

use crate::config::{RedisSection, read_secret};
use crate::error::{BrokerError, ConfigError};
use crate::redis_store::{EncryptionKey, RedisOptions, RedisStore};
use crate::store::SharedStore;

/// The store `[redis]` describes. Redis being down is not an error here (the broker
/// starts and serves from memory; the store reconnects by itself); a bad URL or key is.
pub(crate) fn connect(r: &RedisSection) -> Result<Arc<dyn SharedStore>, BrokerError> {
    let key = read_key("[redis] key", &r.key_env, &r.key_file)?.ok_or_else(|| {
        BrokerError::from(ConfigError::Missing {
            what: "[redis]".into(),
            needs: "key_env or key_file",
        })
    })?;
    let previous_keys = read_key(
        "[redis] previous key",
        &r.previous_key_env,
        &r.previous_key_file,
    )?
    .into_iter()
    .collect();
    let mut url = r.url.clone();
    if let Some(password) =
        read_secret("[redis] password", &r.password_env, &r.password_file, &None)?
    {
        url = with_password(&url, password.expose());
    }
    let store = RedisStore::new(RedisOptions {
        url,
        key,
        prefix: r.prefix.clone().unwrap_or_else(|| "entra-broker".into()),
        op_timeout: Duration::from_millis(r.timeout_ms.unwrap_or(250)),
        ca_file: r.ca_file.clone(),
        previous_keys,
    })?;
    Ok(Arc::new(store))
}

/// A 32-byte encryption key, base64, from a variable or a file (`None` if neither is set).
fn read_key(
    what: &str,
    env: &Option<String>,
    file: &Option<std::path::PathBuf>,
) -> Result<Option<EncryptionKey>, BrokerError> {
    let Some(secret) = read_secret(what, env, file, &None)? else {
        return Ok(None);
    };
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(secret.expose().trim())
        .map_err(|_| {
            BrokerError::from(ConfigError::KeyNotBase64 {
                what: what.to_string(),
            })
        })?;
    let key: Result<[u8; 32], _> = raw.as_slice().try_into();
    let len = raw.len();
    zeroize::Zeroize::zeroize(&mut raw);
    let key = key.map_err(|_| {
        BrokerError::from(ConfigError::KeyLength {
            what: what.to_string(),
            len,
        })
    })?;
    Ok(Some(EncryptionKey::new(key)))
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
    fn keys_are_read_from_files_and_bad_ones_named() {
        let dir = std::env::temp_dir().join(format!("entra-fleet-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.key");
        std::fs::write(&good, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=\n").unwrap();
        let short = dir.join("short.key");
        std::fs::write(&short, "QUJD").unwrap();
        let junk = dir.join("junk.key");
        std::fs::write(&junk, "not base64!").unwrap();
        let read = |path: &std::path::Path| {
            super::read_key("[redis] previous key", &None, &Some(path.to_path_buf()))
        };
        assert!(read(&good).unwrap().is_some());
        let e = read(&short).unwrap_err().to_string();
        assert!(
            e.contains("[redis] previous key is 3 bytes; it must be 32"),
            "{e}"
        );
        let e = read(&junk).unwrap_err().to_string();
        assert!(e.contains("[redis] previous key is not base64"), "{e}");
        assert!(
            super::read_key("[redis] previous key", &None, &None)
                .unwrap()
                .is_none()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn passwords_are_encoded_into_the_url() {
        assert_eq!(
            super::with_password("redis://10.0.0.5:6379/0", "p@ss:w/rd"),
            "redis://:p%40ss%3Aw%2Frd@10.0.0.5:6379/0"
        );
    }
}
