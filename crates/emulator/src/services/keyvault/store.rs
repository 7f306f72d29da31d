//! The local vaults' secrets, in memory: each vault seeded from the directory the first
//! time it is used. Values never appear in `Debug`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::directory::Vault;

/// Days a deleted secret stays recoverable (Key Vault's default `recoverableDays`).
pub(super) const RECOVERABLE_DAYS: i64 = 90;

/// Every vault's secrets.
#[derive(Default)]
pub(crate) struct KeyVaults {
    vaults: Mutex<HashMap<String, VaultData>>,
}

impl std::fmt::Debug for KeyVaults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVaults").finish_non_exhaustive()
    }
}

/// One vault's secrets: live by name (lower case) and soft-deleted by name.
#[derive(Default)]
pub(super) struct VaultData {
    pub(super) live: BTreeMap<String, Secret>,
    pub(super) deleted: BTreeMap<String, (Secret, i64)>,
    /// Imported certificates by name (lower case); each version's PEM bundle is also the
    /// managed secret of the same name and version.
    pub(super) certs: BTreeMap<String, Cert>,
}

/// An imported certificate and its versions, oldest first.
pub(super) struct Cert {
    pub(super) name: String,
    pub(super) versions: Vec<CertVersion>,
}

/// One imported version: the certificate (DER) and its attributes.
pub(super) struct CertVersion {
    pub(super) id: String,
    pub(super) der: Vec<u8>,
    pub(super) nbf: i64,
    pub(super) exp: i64,
    pub(super) created: i64,
    pub(super) updated: i64,
    pub(super) enabled: bool,
    pub(super) tags: Option<Value>,
}

impl VaultData {
    /// Adds a version of certificate `name` from a PEM bundle (checked by the caller or
    /// when the directory was built) and the managed secret that holds the bundle: the
    /// new version, or `None` when the PEM does not parse.
    pub(super) fn add_certificate(
        &mut self,
        name: &str,
        pem: String,
        tags: Option<Value>,
        now: i64,
    ) -> Option<&CertVersion> {
        let (der, nbf, exp) = crate::directory::parse_cert_pem(&pem).ok()?;
        let key = name.to_ascii_lowercase();
        let mut sv = Version::new(pem, Some(PEM_CONTENT_TYPE.into()), now);
        sv.managed = true;
        sv.nbf = Some(nbf);
        sv.exp = Some(exp);
        let cv = CertVersion {
            id: sv.id.clone(),
            der,
            nbf,
            exp,
            created: now,
            updated: now,
            enabled: true,
            tags,
        };
        let s = self.live.entry(key.clone()).or_insert_with(|| Secret {
            name: name.to_string(),
            versions: Vec::new(),
        });
        s.versions.push(sv);
        let c = self.certs.entry(key).or_insert_with(|| Cert {
            name: name.to_string(),
            versions: Vec::new(),
        });
        c.versions.push(cv);
        c.versions.last()
    }
}

/// The content type of a PEM bundle (Key Vault's `secret_props.contentType`).
pub(super) const PEM_CONTENT_TYPE: &str = "application/x-pem-file";

/// A secret: its name as first set, and its versions, oldest first.
#[derive(Clone)]
pub(super) struct Secret {
    pub(super) name: String,
    pub(super) versions: Vec<Version>,
}

/// One version of a secret.
#[derive(Clone)]
pub(super) struct Version {
    pub(super) id: String,
    pub(super) value: String,
    pub(super) content_type: Option<String>,
    pub(super) tags: Option<Value>,
    pub(super) enabled: bool,
    pub(super) nbf: Option<i64>,
    pub(super) exp: Option<i64>,
    pub(super) created: i64,
    pub(super) updated: i64,
    /// The secret of a certificate (its PEM bundle): `managed` and `kid` in answers.
    pub(super) managed: bool,
}

impl Version {
    /// A new version created at `now`.
    pub(super) fn new(value: String, content_type: Option<String>, now: i64) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            value,
            content_type,
            tags: None,
            enabled: true,
            nbf: None,
            exp: None,
            created: now,
            updated: now,
            managed: false,
        }
    }

    /// The `attributes` object of a bundle or item.
    fn attributes(&self) -> Value {
        let mut a = json!({
            "enabled": self.enabled,
            "created": self.created,
            "updated": self.updated,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": RECOVERABLE_DAYS,
        });
        if let Some(n) = self.nbf {
            a["nbf"] = json!(n);
        }
        if let Some(e) = self.exp {
            a["exp"] = json!(e);
        }
        a
    }

    /// A `SecretItem` (no value) for `name` under `base`; `id` without the version when
    /// `versioned` is false (a list of secrets names each secret, not a version).
    pub(super) fn item(&self, base: &str, name: &str, versioned: bool) -> Value {
        let id = if versioned {
            format!("{base}/secrets/{name}/{}", self.id)
        } else {
            format!("{base}/secrets/{name}")
        };
        let mut v = json!({ "id": id, "attributes": self.attributes() });
        if let Some(ct) = &self.content_type {
            v["contentType"] = json!(ct);
        }
        if let Some(t) = &self.tags {
            v["tags"] = t.clone();
        }
        if self.managed {
            v["managed"] = json!(true);
            if versioned {
                v["kid"] = json!(format!("{base}/keys/{name}/{}", self.id));
            }
        }
        v
    }

    /// A `SecretBundle`, with the value when `with_value`.
    pub(super) fn bundle(&self, base: &str, name: &str, with_value: bool) -> Value {
        let mut v = self.item(base, name, true);
        if with_value {
            v["value"] = json!(self.value);
        }
        v
    }
}

impl Secret {
    /// The current (newest) version.
    pub(super) fn latest(&self) -> &Version {
        self.versions.last().expect("a secret has a version")
    }
}

impl KeyVaults {
    /// Runs `f` on vault `v`'s data, seeding it from the directory on first use.
    pub(super) fn with<R>(&self, v: &Vault, now: i64, f: impl FnOnce(&mut VaultData) -> R) -> R {
        let mut all = self.vaults.lock().expect("key vaults lock");
        let data = all.entry(v.name.clone()).or_insert_with(|| {
            let mut d = VaultData::default();
            for (name, value, ct) in &v.secrets {
                d.live.insert(
                    name.to_ascii_lowercase(),
                    Secret {
                        name: name.clone(),
                        versions: vec![Version::new(value.clone(), ct.clone(), now)],
                    },
                );
            }
            for (name, pem) in &v.certificates {
                d.add_certificate(name, pem.clone(), None, now);
            }
            d
        });
        f(data)
    }
}

/// Why an admin rotation did not happen.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RotateError {
    /// No live secret of that name.
    NotFound,
    /// The secret is soft-deleted.
    Deleted,
    /// The secret is a certificate's (import a new certificate version instead).
    Managed,
}

impl KeyVaults {
    /// Adds a new version with `value` to live secret `name` of vault `v` (the admin API's
    /// rotation): the new version id.
    pub(crate) fn rotate(
        &self,
        v: &Vault,
        now: i64,
        name: &str,
        value: String,
    ) -> Result<String, RotateError> {
        let key = name.to_ascii_lowercase();
        self.with(v, now, |d| {
            if d.deleted.contains_key(&key) {
                return Err(RotateError::Deleted);
            }
            let s = d.live.get_mut(&key).ok_or(RotateError::NotFound)?;
            let latest = s.latest();
            if latest.managed {
                return Err(RotateError::Managed);
            }
            let mut ver = Version::new(value, latest.content_type.clone(), now);
            ver.tags = latest.tags.clone();
            let id = ver.id.clone();
            s.versions.push(ver);
            Ok(id)
        })
    }
}
