//! Tokens sealed at rest: `stamp || nonce || ciphertext || tag`, AES-256-GCM with the
//! Redis key name and the stamp as associated data, opened with the current key or a
//! previous one.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use zeroize::Zeroize;

use super::options::EncryptionKey;
use crate::store::{StoreError, Stored};

/// The length of a stored value's stamp: `fetched_at` in ASCII digits.
const STAMP_LEN: usize = 20;

/// How often, at most, a value that does not open is logged (a replica with the wrong
/// key would otherwise warn on every load).
const UNOPENED_WARN_EVERY_SECS: i64 = 60;

/// Seals and opens stored values; counts those that do not open, to log them sparingly.
pub(super) struct Sealer {
    cipher: RandomizedNonceKey,
    /// The keys of [`RedisOptions::previous_keys`](super::RedisOptions::previous_keys),
    /// tried when `cipher` does not open.
    previous: Vec<RandomizedNonceKey>,
    /// When a value that did not open was last logged, and how many were not since.
    unopened_logged_at: AtomicI64,
    unopened_unlogged: AtomicU64,
}

impl Sealer {
    /// The sealer of `key`, opening with `previous` too.
    pub(super) fn new(key: &EncryptionKey, previous: &[EncryptionKey]) -> Result<Self, StoreError> {
        let cipher = RandomizedNonceKey::new(&AES_256_GCM, &key.0)
            .map_err(|_| StoreError("redis: the encryption key is not usable".into()))?;
        let previous = previous
            .iter()
            .map(|k| RandomizedNonceKey::new(&AES_256_GCM, &k.0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StoreError("redis: a previous encryption key is not usable".into()))?;
        Ok(Self {
            cipher,
            previous,
            unopened_logged_at: AtomicI64::new(i64::MIN),
            unopened_unlogged: AtomicU64::new(0),
        })
    }

    /// `stamp || nonce || ciphertext || tag` of the JSON of `value`, bound to
    /// `redis_key` and the stamp.
    pub(super) fn seal(&self, redis_key: &str, value: &Stored) -> Result<Vec<u8>, StoreError> {
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

    /// The record sealed by [`Sealer::seal`] (with the current key or a previous
    /// one), or `None` when it does not open or parse (logged, at most once a minute).
    pub(super) fn open(&self, redis_key: &str, mut sealed: Vec<u8>) -> Option<Stored> {
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
}

/// `fetched_at` as the 20 digits a stored value starts with (negative clamps to 0).
fn stamp(fetched_at: i64) -> String {
    format!("{:020}", fetched_at.max(0))
}

/// The associated data of a sealed value: its Redis key and its stamp.
fn aad(redis_key: &str, stamp: &str) -> String {
    format!("{redis_key}\n{stamp}")
}

/// Seconds since the epoch.
pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
