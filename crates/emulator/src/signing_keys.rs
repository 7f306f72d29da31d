//! The token-signing keys and their rollover, as Entra does it: a new key is *announced*
//! (published in the v1 and v2 JWKS) well before it signs, so a validator that fetched
//! the key set at any time after the announcement already knows it when the first token
//! signed with it arrives. The key it replaces stays published for the directory's
//! `key_grace_seconds` after it stops signing, so tokens it signed still verify.
//!
//! Every key carries the time it starts signing (`activates`); which key signs is
//! decided at the moment of signing from the emulator's clock, so moving the clock
//! (`POST /admin/clock`) moves a pending switch too, and a pending switch survives a
//! restart (`signing-keys.json` in the state directory holds `activates`).
//!
//! The immediate switch (`danger_immediate`) exists for tests of what it breaks: a
//! validator that cached the key set refuses the new tokens (`unknown kid`) until its
//! refresh throttle lets it refetch.
//!
//! Source: Microsoft's "Signing key rollover in the Microsoft identity platform"
//! (learn.microsoft.com/entra/identity-platform/signing-key-rollover): the discovery
//! documents always list more than one valid key, keys roll periodically with no set
//! time between rolls, and in an emergency immediately. The lead time Entra gives a new
//! key is not documented; here it is `key_rollover_delay_seconds`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use entra_jose::{RsaSigningKey, b64std, x5t_sha1};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyError, generate_rsa_pkcs8, read_key_file, rsa_keypair, self_signed};
use crate::secure_fs::write_private;

/// A signing key as stored on disk. Files written before rollover existed have no
/// `activates` (the key signed from `created`) and a `retired` field that is now derived
/// (the next key's `activates`) and ignored.
#[derive(Serialize, Deserialize, Clone)]
struct StoredKey {
    kid: String,
    created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activates: Option<i64>,
    pkcs8: String,
    cert: String,
}

/// A token-signing key with its certificate (published as `x5c`).
pub(crate) struct SigningKey {
    /// Key id: the certificate's SHA-1 thumbprint, base64url, as Entra does.
    pub(crate) kid: String,
    /// The parsed key.
    pub(crate) key: RsaSigningKey,
    /// DER certificate.
    pub(crate) cert_der: Vec<u8>,
    /// Created (unix seconds).
    pub(crate) created: i64,
    /// When it starts (or started) signing (unix seconds).
    pub(crate) activates: i64,
    /// Precomputed base64url headers: v2 (`kid`) and v1 (`x5t` + `kid`).
    pub(crate) header_v2: String,
    /// See `header_v2`.
    pub(crate) header_v1: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("activates", &self.activates)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn from_stored(s: &StoredKey) -> Result<Self, KeyError> {
        let pkcs8 = entra_jose::b64std_decode(&s.pkcs8).map_err(|e| e.to_string())?;
        let cert_der = entra_jose::b64std_decode(&s.cert).map_err(|e| e.to_string())?;
        let key = RsaSigningKey::from_pkcs8_der(&pkcs8).map_err(|e| e.to_string())?;
        Ok(Self {
            header_v2: entra_jose::b64url(format!(
                r#"{{"typ":"JWT","alg":"RS256","kid":"{}"}}"#,
                s.kid
            )),
            header_v1: entra_jose::b64url(format!(
                r#"{{"typ":"JWT","alg":"RS256","x5t":"{0}","kid":"{0}"}}"#,
                s.kid
            )),
            kid: s.kid.clone(),
            key,
            cert_der,
            created: s.created,
            activates: s.activates.unwrap_or(s.created),
        })
    }

    fn generate(now: i64, activates: i64) -> Result<(Self, StoredKey), KeyError> {
        let pkcs8 = generate_rsa_pkcs8()?;
        let cert = self_signed(&rsa_keypair(&pkcs8)?, "entrakit emulator token signing", 5)?;
        let cert_der = cert.der().to_vec();
        let stored = StoredKey {
            kid: x5t_sha1(&cert_der),
            created: now,
            activates: Some(activates),
            pkcs8: b64std(&pkcs8),
            cert: b64std(&cert_der),
        };
        Ok((Self::from_stored(&stored)?, stored))
    }

    /// The JWK published for this key.
    pub(crate) fn jwk(&self, issuer: Option<&str>) -> serde_json::Value {
        let mut extra = serde_json::Map::new();
        extra.insert("kid".into(), self.kid.clone().into());
        extra.insert("x5t".into(), self.kid.clone().into());
        extra.insert("x5c".into(), serde_json::json!([b64std(&self.cert_der)]));
        if let Some(iss) = issuer {
            extra.insert("issuer".into(), iss.into());
        }
        self.key.public_key().to_jwk(extra)
    }
}

/// Where a key stands at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KeyPhase {
    /// Published, not signing yet.
    Announced,
    /// Signs tokens now.
    Signing,
    /// Stopped signing; published until the grace period ends.
    Retired,
}

/// One key's status (`GET /admin/keys`, the dashboard).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct KeyStatus {
    /// Key id.
    pub(crate) kid: String,
    /// Where it stands.
    pub(crate) phase: KeyPhase,
    /// Created (unix seconds).
    pub(crate) created: i64,
    /// Starts (or started) signing.
    pub(crate) activates: i64,
    /// Stops (or stopped) signing, when a newer key is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retires: Option<i64>,
}

/// Why a rotation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RotateError {
    /// A key is already announced and not signing yet.
    #[error(
        "key {kid} is already announced and starts signing at {activates} (unix seconds); wait for it, or switch at once with ?danger_immediate=true"
    )]
    AlreadyAnnounced {
        /// The pending key.
        kid: String,
        /// When it starts signing.
        activates: i64,
    },
    /// Making or writing the key failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The signing keys, newest first. Their `activates` times do not increase down the
/// list: a key stops signing when the key before it (newer) activates.
pub(crate) struct KeyStore {
    path: PathBuf,
    stored: Vec<StoredKey>,
    keys: Vec<Arc<SigningKey>>,
}

impl KeyStore {
    /// Loads `signing-keys.json` from the state directory, creating a first key if needed.
    pub(crate) fn load_or_create(state_dir: &Path, now: i64) -> Result<Self, KeyError> {
        let path = state_dir.join("signing-keys.json");
        let stored: Vec<StoredKey> = match read_key_file(&path)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| KeyError::file(&path, e))?,
            None => Vec::new(),
        };
        let keys = stored
            .iter()
            .map(|s| SigningKey::from_stored(s).map(Arc::new))
            .collect::<Result<_, _>>()?;
        let mut store = Self { path, stored, keys };
        if store.keys.is_empty() {
            store.add(now, now, 0)?;
        }
        Ok(store)
    }

    /// When the key at `index` stops signing: when the next newer key activates.
    fn retires(&self, index: usize) -> Option<i64> {
        index.checked_sub(1).map(|newer| self.keys[newer].activates)
    }

    /// The key that signs at `now`: the newest that has activated.
    pub(crate) fn active_at(&self, now: i64) -> Arc<SigningKey> {
        self.keys
            .iter()
            .find(|k| k.activates <= now)
            // Only when the clock was moved back before the first key: the oldest signs.
            .or(self.keys.last())
            .expect("the store always holds a key")
            .clone()
    }

    /// Keys to publish at `now`: announced, signing, and retired within `grace`.
    pub(crate) fn published(&self, now: i64, grace: i64) -> impl Iterator<Item = &Arc<SigningKey>> {
        self.keys
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.retires(*i).is_none_or(|r| now - r <= grace))
            .map(|(_, k)| k)
    }

    /// Every published key's status at `now`.
    pub(crate) fn status(&self, now: i64, grace: i64) -> Vec<KeyStatus> {
        let signing = self.active_at(now);
        self.keys
            .iter()
            .enumerate()
            .filter(|(i, _)| self.retires(*i).is_none_or(|r| now - r <= grace))
            .map(|(i, k)| KeyStatus {
                kid: k.kid.clone(),
                phase: if k.kid == signing.kid {
                    KeyPhase::Signing
                } else if k.activates > now {
                    KeyPhase::Announced
                } else {
                    KeyPhase::Retired
                },
                created: k.created,
                activates: k.activates,
                retires: self.retires(i),
            })
            .collect()
    }

    /// Announces a new key that starts signing at `now + delay`; the signing key keeps
    /// signing until then. Refused while another announced key is pending.
    pub(crate) fn announce(
        &mut self,
        now: i64,
        delay: i64,
        grace: i64,
    ) -> Result<Arc<SigningKey>, RotateError> {
        if let Some(pending) = self.keys.iter().find(|k| k.activates > now) {
            return Err(RotateError::AlreadyAnnounced {
                kid: pending.kid.clone(),
                activates: pending.activates,
            });
        }
        Ok(self.add(now, now + delay.max(0), grace)?)
    }

    /// Makes a new key that signs from `now` on (the danger switch). A key announced
    /// and not yet signing is withdrawn: it never signed anything.
    pub(crate) fn rotate_now(&mut self, now: i64, grace: i64) -> Result<Arc<SigningKey>, KeyError> {
        let pending: Vec<bool> = self.keys.iter().map(|k| k.activates > now).collect();
        let mut i = 0;
        self.stored.retain(|_| {
            i += 1;
            !pending[i - 1]
        });
        self.keys.retain(|k| k.activates <= now);
        self.add(now, now, grace)
    }

    /// Adds a key activating at `activates`, drops keys retired longer ago than
    /// `grace`, and writes the file (atomically, 0600) before changing memory.
    fn add(&mut self, now: i64, activates: i64, grace: i64) -> Result<Arc<SigningKey>, KeyError> {
        let (key, stored) = SigningKey::generate(now, activates)?;
        let key = Arc::new(key);
        let mut keys = vec![key.clone()];
        keys.extend(self.keys.iter().cloned());
        let mut next = vec![stored];
        next.extend(self.stored.iter().cloned());
        // A key stops signing when the one before it (newer) activates; past the grace
        // period after that it leaves. `activates` does not increase down the list, so
        // what is dropped is a tail.
        let keep = (1..keys.len())
            .find(|&i| {
                let retired = keys[i - 1].activates;
                retired <= now && now - retired > grace
            })
            .unwrap_or(keys.len());
        keys.truncate(keep);
        next.truncate(keep);
        let json = serde_json::to_vec_pretty(&next).map_err(|e| e.to_string())?;
        write_private(&self.path, &json).map_err(|e| KeyError::file(&self.path, e))?;
        self.keys = keys;
        self.stored = next;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kids(store: &KeyStore, now: i64, grace: i64) -> Vec<String> {
        store.published(now, grace).map(|k| k.kid.clone()).collect()
    }

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("entra-keys-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn immediate_rotation_keeps_old_key_for_grace() {
        let dir = temp_dir();
        let mut store = KeyStore::load_or_create(&dir, 1000).unwrap();
        let first = store.active_at(1000).kid.clone();
        let second = store.rotate_now(2000, 500).unwrap().kid.clone();
        assert_ne!(first, second);
        assert_eq!(store.active_at(2000).kid, second);
        assert_eq!(kids(&store, 2100, 500), vec![second.clone(), first.clone()]);
        assert_eq!(kids(&store, 2600, 500), vec![second.clone()]);
        let reloaded = KeyStore::load_or_create(&dir, 3000).unwrap();
        assert_eq!(reloaded.active_at(3000).kid, second);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn announced_key_is_published_before_it_signs_and_survives_a_restart() {
        let dir = temp_dir();
        let mut store = KeyStore::load_or_create(&dir, 1000).unwrap();
        let old = store.active_at(1000).kid.clone();
        let new = store.announce(2000, 600, 500).unwrap().kid.clone();
        // Published at once, next to the key that still signs.
        assert_eq!(kids(&store, 2000, 500), vec![new.clone(), old.clone()]);
        assert_eq!(store.active_at(2599).kid, old);
        let phases: Vec<_> = store.status(2000, 500).iter().map(|s| s.phase).collect();
        assert_eq!(phases, [KeyPhase::Announced, KeyPhase::Signing]);
        // A second announcement while one is pending is refused.
        assert!(matches!(
            store.announce(2100, 600, 500),
            Err(RotateError::AlreadyAnnounced {
                activates: 2600,
                ..
            })
        ));
        // The pending switch is on disk.
        let reloaded = KeyStore::load_or_create(&dir, 2100).unwrap();
        assert_eq!(reloaded.active_at(2100).kid, old);
        assert_eq!(reloaded.active_at(2600).kid, new);
        // The old key leaves `grace` after it stopped signing, not after the announcement.
        assert_eq!(kids(&reloaded, 3100, 500), vec![new.clone(), old.clone()]);
        assert_eq!(kids(&reloaded, 3101, 500), vec![new.clone()]);
        let phases: Vec<_> = reloaded.status(2700, 500).iter().map(|s| s.phase).collect();
        assert_eq!(phases, [KeyPhase::Signing, KeyPhase::Retired]);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn immediate_switch_withdraws_a_pending_announcement() {
        let dir = temp_dir();
        let mut store = KeyStore::load_or_create(&dir, 1000).unwrap();
        let old = store.active_at(1000).kid.clone();
        let announced = store.announce(1000, 600, 500).unwrap().kid.clone();
        let now = store.rotate_now(1100, 500).unwrap().kid.clone();
        assert_eq!(store.active_at(1100).kid, now);
        assert_eq!(
            store.active_at(5000).kid,
            now,
            "the withdrawn key never signs"
        );
        assert_eq!(kids(&store, 1100, 500), vec![now.clone(), old.clone()]);
        assert!(!kids(&store, 1100, 500).contains(&announced));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn files_from_before_rollover_load() {
        let dir = temp_dir();
        crate::secure_fs::ensure_private_dir(&dir).unwrap();
        let mut store = KeyStore::load_or_create(&dir, 1000).unwrap();
        store.rotate_now(2000, 86400).unwrap();
        // Rewrite the file the way older versions did: no `activates`, a `retired`.
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("signing-keys.json")).unwrap()).unwrap();
        for (i, k) in json.as_array_mut().unwrap().iter_mut().enumerate() {
            let k = k.as_object_mut().unwrap();
            k.remove("activates");
            if i == 1 {
                k.insert("retired".into(), 2000.into());
            }
        }
        std::fs::remove_file(dir.join("signing-keys.json")).unwrap();
        write_private(
            &dir.join("signing-keys.json"),
            &serde_json::to_vec(&json).unwrap(),
        )
        .unwrap();
        let old = KeyStore::load_or_create(&dir, 2500).unwrap();
        assert_eq!(old.active_at(2500).kid, store.active_at(2500).kid);
        assert_eq!(old.published(2500, 86400).count(), 2);
        std::fs::remove_dir_all(dir).ok();
    }
}
