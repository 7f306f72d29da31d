//! A token cache file in the MSAL token-cache schema, so that MSAL Python, MSAL Node,
//! MSAL.NET and entrakit can share it; encrypted at rest unless the caller opts out by
//! name; safe with many processes writing at once.
//!
//! ```no_run
//! use entra_identity::persist::{PersistentCache, Protection};
//! # fn demo() -> Result<(), entra_identity::persist::CacheFileError> {
//! let cache = PersistentCache::open("/home/me/.cache/myapp/tokens.bin", Protection::Encrypted)?;
//! let scopes = vec!["https://graph.microsoft.com/.default".to_string()];
//! if let Some(token) = cache.find_access_token(
//!     "d0000000-0000-4000-8000-0000000000d1", // client id
//!     "login.microsoftonline.com",            // environment: the authority host
//!     "c0ffee00-0000-4000-8000-000000000001", // realm: the tenant id
//!     None,                                   // an app's own token, no account
//!     &scopes,
//! )? {
//!     println!("cached until {:?}", token.expires_on);
//! }
//! # Ok(()) }
//! ```
//!
//! ## What is here
//! - [`schema`]: the entries ([`AccessToken`], [`RefreshToken`], [`IdToken`],
//!   [`Account`], [`AppMetadata`]) with MSAL's field names and keys, timestamps as
//!   strings of epoch seconds on disk, and every field this version does not know kept
//!   verbatim (MSAL writes more than the core schema; a shared cache must not lose it).
//! - [`CacheFile`]: load and save with an atomic replace under a cross-process lock,
//!   read-merge-write, and unreadable files refused (with a `.corrupt` copy), never
//!   overwritten. See [`mod@file`] for the details.
//! - [`crypto`]: AES-256-GCM with a fresh nonce per write, a versioned header, and the
//!   [`KeySource`] trait; [`KeyFile`] keeps the key in a 0600 file beside the cache.
//! - [`PersistentCache`]: what credentials use: find an access token, a refresh token,
//!   the accounts; save a token response; remove an account.
//!
//! - Credentials take a cache through
//!   [`ClientOptions::persistent_cache`](crate::ClientOptions::persistent_cache) (or
//!   [`ClientOptions::with_persistent_cache`](crate::ClientOptions::with_persistent_cache)):
//!   public clients keep accounts, refresh, ID and access tokens there, confidential
//!   clients their app tokens; a later process gets them without a request. Errors
//!   reach them as [`crate::Error::Cache`].
//!
//! All calls do blocking file I/O (a few small reads and writes, and possibly a wait for
//! another process's lock): from async code, call them in `spawn_blocking`.
//!
//! ## Protection and its threat model
//! [`Protection::Encrypted`] is the default choice. The cache is sealed with AES-256-GCM
//! under a 32-byte random key ([`DefaultKey`]). Where an OS keyring is reachable (the
//! Secret Service on Linux — GNOME Keyring, KWallet —, the macOS Keychain, the Windows
//! Credential Manager; cargo feature `os-keyring`, on by default) the key lives there,
//! in an entry named for the cache file's absolute path. Otherwise (a server or
//! container with no keyring, or a keyring that is locked and cannot prompt) it lives
//! in `<cache>.key`, created atomically with mode 0600 on first write; a key file that
//! group or others can access, or that another user owns, is refused. An existing key
//! file always wins, so a cache keeps its key when a keyring appears later.
//!
//! What it protects against:
//! - the cache file copied or synced elsewhere without its key file (cloud-synced or
//!   shared folders, a file attached to a bug report, a support bundle);
//! - backups that take the cache but not the key, or keep them apart;
//! - other users on the same machine (the cache, key and lock files are 0600);
//! - tampering: any change to the file fails authentication and is reported, never
//!   used.
//!
//! What it does not protect against:
//! - malware or any process running as the same user: it can read the key file (or ask
//!   the keyring, which on Linux hands an unlocked collection's secrets to any process
//!   of the session) exactly as this process does;
//! - root or an administrator;
//! - a copy of the whole directory, key file included (keep the key elsewhere with a
//!   custom [`KeySource`] if that matters);
//! - tokens in this process's memory ([`crate::Secret`] zeroes them on drop; that is all).
//!
//! [`Protection::DangerPlaintextForMsalInterop`] writes plain MSAL JSON, readable by MSAL
//! Python/Node/.NET `SerializableTokenCache`-style persistence, and by anyone who can
//! read the file: choose it by name, only to share a cache with MSAL. The file is still
//! created with mode 0600. The two formats are told apart by the first bytes, and a file
//! in the other format is refused with an error saying so, never converted silently.
//!
//! ## Sharing with MSAL
//! `environment` is the authority host as MSAL Python and MSAL.NET write it: lower case,
//! without scheme or port ([`environment_of`]). `realm` is the tenant as it appears in
//! the authority (MSAL Python keys tokens by the authority's tenant segment, so use the
//! tenant id there, as MSAL does for tokens it gets itself). An app's own access token
//! has `home_account_id` `null`, as MSAL Python writes it.

pub mod crypto;
pub mod file;
pub mod schema;
pub(crate) mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

#[cfg(feature = "os-keyring")]
pub use crypto::OsKeyring;
pub use crypto::{DefaultKey, EncryptionKey, KeyFile, KeySource, StaticKey};
pub use file::{CacheFile, RefreshLock};
pub use schema::{AccessToken, Account, AppMetadata, CacheData, IdToken, RefreshToken};

use crate::cache::EXPIRY_BUFFER_SECS;
use crate::secret::Secret;
use crate::token::{now, refresh_on, seconds};

/// How the cache file is protected at rest.
#[derive(Clone)]
pub enum Protection {
    /// AES-256-GCM, the key in the OS keyring where one is reachable, else in
    /// `<cache>.key` (mode 0600) ([`DefaultKey`]). The default choice.
    Encrypted,
    /// AES-256-GCM with a key from another source (an OS keyring, the app's own secret
    /// store).
    EncryptedWith(Arc<dyn KeySource>),
    /// Plain MSAL JSON, so MSAL Python/Node/.NET can read and write the same file.
    /// Anyone who can read the file can use the tokens in it.
    DangerPlaintextForMsalInterop,
}

/// Encrypted, with the key file beside the cache.
impl Default for Protection {
    fn default() -> Self {
        Protection::Encrypted
    }
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Protection::Encrypted => f.write_str("Encrypted"),
            Protection::EncryptedWith(k) => write!(f, "EncryptedWith({})", k.describe()),
            Protection::DangerPlaintextForMsalInterop => {
                f.write_str("DangerPlaintextForMsalInterop")
            }
        }
    }
}

/// Everything that can go wrong with a cache file. None of them carries a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheFileError {
    /// Reading, writing or locking failed.
    #[error("token cache {}: {op}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is damaged (cut short, altered, not MSAL JSON). It was not changed.
    #[error("token cache {} is unreadable: {reason}. It was left as it is{}; delete it (or call reset()) to start over", .path.display(), .copy.as_ref().map(|c| format!(" and copied to {}", c.display())).unwrap_or_default())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// Where a copy was kept for inspection (`<cache>.corrupt`).
        copy: Option<PathBuf>,
    },
    /// The file was encrypted with another key. It was not changed.
    #[error("token cache {} was encrypted with a different key than the one in the {key}; it was left as it is. Restore the original key, or delete the cache to start over", .path.display())]
    WrongKey {
        /// The file.
        path: PathBuf,
        /// Where the key was read from.
        key: String,
    },
    /// The file is encrypted but its key is gone.
    #[error("token cache {} is encrypted, but the {key} does not exist; it cannot be read without it. Restore the key, or delete the cache to start over", .path.display())]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// Where the key should be.
        key: String,
    },
    /// The OS keyring answered, but with something unusable (not a key, an error
    /// other than "no keyring here").
    #[error("the OS keyring entry for token cache {} {reason}", .cache.display())]
    Keyring {
        /// The cache file the entry belongs to.
        cache: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file is unusable (permissions, size).
    #[error("cache key file {} {reason}", .path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file is in the other format (plaintext vs encrypted) than asked for.
    #[error("token cache {} is {found}: {hint}", .path.display())]
    ProtectionMismatch {
        /// The file.
        path: PathBuf,
        /// What it is.
        found: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// Written by a newer entrakit in a format this one cannot read. It was not changed.
    #[error("token cache {} uses encrypted format version {version}, newer than this entrakit reads (1); it was left as it is", .path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u8,
    },
    /// Another process held the lock for too long.
    #[error("timed out after {waited:?} waiting for the lock {}; another process holds it", .path.display())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// The crypto library failed (not a wrong key: that is [`CacheFileError::WrongKey`]).
    #[error("token cache encryption: {what}")]
    Crypto {
        /// What failed.
        what: &'static str,
    },
}

/// The authority host as MSAL Python and MSAL.NET record it in `environment`: lower
/// case, without scheme, port or path. `https://login.microsoftonline.com/contoso` and
/// `login.microsoftonline.com` both give `login.microsoftonline.com`.
pub fn environment_of(authority: &str) -> String {
    let rest = authority.split_once("://").map_or(authority, |(_, r)| r);
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split_once(']').map_or(v6, |(h, _)| h)
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.to_ascii_lowercase()
}

/// `client_info` from a token response: the user's object id and home tenant id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Object id in the home tenant.
    pub uid: String,
    /// Home tenant id.
    pub utid: String,
}

impl ClientInfo {
    /// Decodes the response's base64url JSON `{"uid":..,"utid":..}`.
    pub fn decode(encoded: &str) -> Option<Self> {
        let bytes = entra_jose::b64url_decode(encoded.trim().trim_end_matches('=')).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        Some(Self {
            uid: v.get("uid")?.as_str()?.to_string(),
            utid: v.get("utid")?.as_str()?.to_string(),
        })
    }

    /// `uid.utid`, MSAL's `home_account_id`.
    pub fn home_account_id(&self) -> String {
        format!("{}.{}", self.uid, self.utid)
    }
}

/// What a token response gives, and where it came from: the input of
/// [`PersistentCache::save_token_response`].
#[derive(Debug, Clone, Default)]
pub struct TokenResponse {
    /// The client that asked.
    pub client_id: String,
    /// The authority host ([`environment_of`]).
    pub environment: String,
    /// The tenant id.
    pub realm: String,
    /// Granted scopes (the response's `scope`, else the requested ones).
    pub scopes: Vec<String>,
    /// `access_token`.
    pub access_token: Option<Secret>,
    /// `token_type` (Bearer when absent).
    pub token_type: Option<String>,
    /// `expires_in`, seconds.
    pub expires_in: Option<i64>,
    /// `ext_expires_in`, seconds.
    pub ext_expires_in: Option<i64>,
    /// `refresh_in`, seconds.
    pub refresh_in: Option<i64>,
    /// `refresh_token`.
    pub refresh_token: Option<Secret>,
    /// `id_token`.
    pub id_token: Option<Secret>,
    /// `client_info`, raw (base64url JSON); gives the account's `home_account_id`.
    pub client_info: Option<String>,
    /// `foci`: the family id when the app is in a family of client ids.
    pub family_id: Option<String>,
}

impl TokenResponse {
    /// Reads an Entra token endpoint response leniently (`expires_in` as number or
    /// string). The tokens are moved out of `body` into [`Secret`]s.
    pub fn from_json(
        mut body: Value,
        client_id: &str,
        environment: &str,
        realm: &str,
        requested_scopes: &[String],
    ) -> Self {
        let mut take = |k: &str| match body.get_mut(k).map(Value::take) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let access_token = take("access_token").map(Secret::new);
        let refresh_token = take("refresh_token").map(Secret::new);
        let id_token = take("id_token").map(Secret::new);
        let client_info = take("client_info");
        let token_type = take("token_type");
        let family_id = take("foci");
        let scopes = match take("scope") {
            Some(s) if !s.trim().is_empty() => s.split_whitespace().map(str::to_string).collect(),
            _ => requested_scopes.to_vec(),
        };
        Self {
            client_id: client_id.to_string(),
            environment: environment.to_string(),
            realm: realm.to_string(),
            scopes,
            access_token,
            token_type,
            expires_in: seconds(body.get("expires_in")),
            ext_expires_in: seconds(body.get("ext_expires_in")),
            refresh_in: seconds(body.get("refresh_in")),
            refresh_token,
            id_token,
            client_info,
            family_id,
        }
    }
}

/// Scopes every sign-in carries; they never decide whether an access token fits.
const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// The space-joined, sorted scope list MSAL writes as `target` (exact duplicates dropped;
/// case is kept, as Entra returned it).
pub fn target_of(scopes: &[String]) -> String {
    let mut v: Vec<&str> = scopes.iter().flat_map(|s| s.split_whitespace()).collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

fn eq(a: &Option<String>, b: &str) -> bool {
    a.as_deref().unwrap_or("").eq_ignore_ascii_case(b)
}

/// A token cache file as credentials use it. Every call reads the file afresh, so
/// what other processes (MSAL included) wrote is seen at once.
#[derive(Debug)]
pub struct PersistentCache {
    file: CacheFile,
}

impl PersistentCache {
    /// Opens (and checks) the cache at `path`; a missing file is an empty cache and is
    /// created on the first write. An unreadable file is an error here already: wrong
    /// key, damaged, or in the other format.
    pub fn open(path: impl AsRef<Path>, protection: Protection) -> Result<Self, CacheFileError> {
        Self::from_file(CacheFile::new(path.as_ref(), protection))
    }

    /// Opens a [`CacheFile`] set up by hand (custom lock timeout).
    pub fn from_file(file: CacheFile) -> Result<Self, CacheFileError> {
        file.load()?;
        Ok(Self { file })
    }

    /// The file underneath.
    pub fn file(&self) -> &CacheFile {
        &self.file
    }

    /// A fitting access token: same client, environment, realm and account
    /// (`home_account_id` `None` for an app's own token), a `target` holding every
    /// requested scope (compared case-insensitively; `openid`, `profile` and
    /// `offline_access` are ignored), Bearer, and more than 5 minutes left. Of several,
    /// the one that lives longest.
    pub fn find_access_token(
        &self,
        client_id: &str,
        environment: &str,
        realm: &str,
        home_account_id: Option<&str>,
        scopes: &[String],
    ) -> Result<Option<AccessToken>, CacheFileError> {
        let wanted: Vec<&str> = scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .filter(|s| !OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)))
            .collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let fresh_after = now() + EXPIRY_BUFFER_SECS;
        let data = self.file.load()?;
        let best = data
            .access_tokens
            .into_values()
            .filter(|at| {
                eq(&at.client_id, client_id)
                    && eq(&at.environment, environment)
                    && eq(&at.realm, realm)
                    && eq(&at.home_account_id, home_account_id.unwrap_or(""))
                    && at.secret.as_ref().is_some_and(|s| !s.is_empty())
                    && at.expires_on.is_some_and(|t| t > fresh_after)
                    && at
                        .token_type
                        .as_deref()
                        .is_none_or(|t| t.eq_ignore_ascii_case("bearer"))
                    // Tokens bound to a key (PoP, SSH certificates) or to extra request
                    // parameters are not plain bearer tokens for this request.
                    && !at.extra.contains_key("key_id")
                    && !at.extra.contains_key("ext_cache_key")
                    && {
                        let target = at.target.as_deref().unwrap_or("");
                        wanted.iter().all(|w| {
                            target
                                .split_whitespace()
                                .any(|t| t.eq_ignore_ascii_case(w))
                        })
                    }
            })
            .max_by_key(|at| at.expires_on);
        Ok(best)
    }

    /// The refresh token of this client for this account.
    pub fn find_refresh_token(
        &self,
        client_id: &str,
        environment: &str,
        home_account_id: &str,
    ) -> Result<Option<RefreshToken>, CacheFileError> {
        let data = self.file.load()?;
        Ok(data
            .refresh_tokens
            .into_values()
            .filter(|rt| {
                eq(&rt.client_id, client_id)
                    && eq(&rt.environment, environment)
                    && eq(&rt.home_account_id, home_account_id)
                    && rt.secret.as_ref().is_some_and(|s| !s.is_empty())
            })
            .max_by_key(|rt| rt.last_modification_time))
    }

    /// The ID token of this client for this account in `realm`.
    pub fn find_id_token(
        &self,
        client_id: &str,
        environment: &str,
        realm: &str,
        home_account_id: &str,
    ) -> Result<Option<IdToken>, CacheFileError> {
        let data = self.file.load()?;
        Ok(data.id_tokens.into_values().find(|id| {
            eq(&id.client_id, client_id)
                && eq(&id.environment, environment)
                && eq(&id.realm, realm)
                && eq(&id.home_account_id, home_account_id)
        }))
    }

    /// The accounts signed in at `environment` (one entry per tenant an account signed
    /// in to).
    pub fn accounts(&self, environment: &str) -> Result<Vec<Account>, CacheFileError> {
        let data = self.file.load()?;
        Ok(data
            .accounts
            .into_values()
            .filter(|a| eq(&a.environment, environment))
            .collect())
    }

    /// Writes every entry a token response gives: the access token, refresh token, ID
    /// token, the account (when `client_info` or an ID token says who signed in) and
    /// the app metadata, in one locked read-merge-write. Returns the account's
    /// `home_account_id` (`uid.utid` from `client_info`), `None` for an app's own token.
    pub fn save_token_response(
        &self,
        response: &TokenResponse,
    ) -> Result<Option<String>, CacheFileError> {
        let entries = Entries::from_response(response, now());
        let home = entries.home_account_id.clone();
        self.file.update(move |data| entries.store(data))?;
        Ok(home)
    }

    /// Signs an account out: removes its access, refresh and ID tokens (of every
    /// client) and its account entries at `environment`. Returns how many entries went.
    pub fn remove_account(
        &self,
        environment: &str,
        home_account_id: &str,
    ) -> Result<usize, CacheFileError> {
        self.file.update(|data| {
            let before = data.access_tokens.len()
                + data.refresh_tokens.len()
                + data.id_tokens.len()
                + data.accounts.len();
            data.access_tokens.retain(|_, e| {
                !(eq(&e.environment, environment) && eq(&e.home_account_id, home_account_id))
            });
            data.refresh_tokens.retain(|_, e| {
                !(eq(&e.environment, environment) && eq(&e.home_account_id, home_account_id))
            });
            data.id_tokens.retain(|_, e| {
                !(eq(&e.environment, environment) && eq(&e.home_account_id, home_account_id))
            });
            data.accounts.retain(|_, e| {
                !(eq(&e.environment, environment) && eq(&e.home_account_id, home_account_id))
            });
            before
                - (data.access_tokens.len()
                    + data.refresh_tokens.len()
                    + data.id_tokens.len()
                    + data.accounts.len())
        })
    }
}

/// The entries one token response becomes.
struct Entries {
    home_account_id: Option<String>,
    access_token: Option<AccessToken>,
    refresh_token: Option<RefreshToken>,
    id_token: Option<IdToken>,
    account: Option<Account>,
    app_metadata: AppMetadata,
}

impl Entries {
    fn from_response(r: &TokenResponse, now: i64) -> Self {
        let claims = r
            .id_token
            .as_ref()
            .and_then(|t| entra_jose::decode_unverified(t.expose()).ok())
            .map(|t| t.claims)
            .unwrap_or_default();
        let claim = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
        let client_info = r.client_info.as_deref().and_then(ClientInfo::decode);
        // As MSAL: `uid.utid` from client_info; without it, a user's `sub` (ADFS);
        // an app's own token has none.
        let home_account_id = client_info
            .as_ref()
            .map(ClientInfo::home_account_id)
            .or_else(|| claim("sub"));
        let environment = Some(r.environment.to_ascii_lowercase());
        let client_id = Some(r.client_id.clone());
        let realm = Some(r.realm.clone());
        let target = Some(target_of(&r.scopes));

        let access_token = r.access_token.as_ref().map(|secret| {
            let expires_in = r.expires_in.unwrap_or(3600);
            AccessToken {
                credential_type: Some(schema::ACCESS_TOKEN.into()),
                secret: Some(secret.clone()),
                home_account_id: home_account_id.clone(),
                environment: environment.clone(),
                client_id: client_id.clone(),
                realm: realm.clone(),
                target: target.clone(),
                token_type: Some(r.token_type.clone().unwrap_or_else(|| "Bearer".into())),
                cached_at: Some(now),
                expires_on: Some(now + expires_in),
                extended_expires_on: Some(now + r.ext_expires_in.unwrap_or(expires_in)),
                refresh_on: refresh_on(now, expires_in, r.refresh_in),
                extra: Default::default(),
            }
        });
        let refresh_token = r.refresh_token.as_ref().map(|secret| RefreshToken {
            credential_type: Some(schema::REFRESH_TOKEN.into()),
            secret: Some(secret.clone()),
            home_account_id: home_account_id.clone(),
            environment: environment.clone(),
            client_id: client_id.clone(),
            target: target.clone(),
            last_modification_time: Some(now),
            family_id: r.family_id.clone(),
            extra: Default::default(),
        });
        let id_token = r.id_token.as_ref().map(|secret| IdToken {
            credential_type: Some(schema::ID_TOKEN.into()),
            secret: Some(secret.clone()),
            home_account_id: home_account_id.clone(),
            environment: environment.clone(),
            realm: realm.clone(),
            client_id: client_id.clone(),
            extra: Default::default(),
        });
        let account = match (
            &home_account_id,
            client_info.is_some() || !claims.is_empty(),
        ) {
            (Some(home), true) => Some(Account {
                home_account_id: Some(home.clone()),
                environment: environment.clone(),
                realm: realm.clone(),
                local_account_id: claim("oid")
                    .or_else(|| claim("sub"))
                    .or_else(|| client_info.as_ref().map(|c| c.uid.clone())),
                username: Some(
                    claim("preferred_username")
                        .or_else(|| claim("upn"))
                        .unwrap_or_default(),
                ),
                authority_type: Some(schema::AUTHORITY_TYPE_MSSTS.into()),
                client_info: r.client_info.clone(),
                extra: Default::default(),
            }),
            _ => None,
        };
        let app_metadata = AppMetadata {
            client_id,
            environment,
            family_id: r.family_id.clone(),
            extra: Default::default(),
        };
        Self {
            home_account_id,
            access_token,
            refresh_token,
            id_token,
            account,
            app_metadata,
        }
    }

    fn store(self, data: &mut CacheData) {
        if let Some(e) = self.access_token {
            data.insert_access_token(e);
        }
        if let Some(e) = self.refresh_token {
            data.insert_refresh_token(e);
        }
        if let Some(e) = self.id_token {
            data.insert_id_token(e);
        }
        if let Some(e) = self.account {
            data.insert_account(e);
        }
        data.insert_app_metadata(self.app_metadata);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_is_the_bare_host() {
        assert_eq!(
            environment_of("https://Login.MicrosoftOnline.com/contoso"),
            "login.microsoftonline.com"
        );
        assert_eq!(environment_of("https://localhost:8443"), "localhost");
        assert_eq!(
            environment_of("login.microsoftonline.us"),
            "login.microsoftonline.us"
        );
        assert_eq!(environment_of("https://[::1]:8443/t"), "::1");
    }

    #[test]
    fn client_info_gives_home_account_id() {
        let encoded = entra_jose::b64url(r#"{"uid":"u1","utid":"t1"}"#);
        let ci = ClientInfo::decode(&encoded).unwrap();
        assert_eq!(ci.home_account_id(), "u1.t1");
        assert!(ClientInfo::decode("not base64 json").is_none());
    }

    #[test]
    fn target_is_sorted_and_deduplicated() {
        let scopes = vec![
            "b".to_string(),
            "a c".to_string(),
            "B".to_string(),
            "a".into(),
        ];
        assert_eq!(target_of(&scopes), "B a b c");
    }

    #[test]
    fn a_response_becomes_entries() {
        let id = format!(
            "{}.{}.sig",
            entra_jose::b64url(r#"{"alg":"RS256"}"#),
            entra_jose::b64url(
                r#"{"oid":"o1","sub":"s1","preferred_username":"alice@contoso.com"}"#
            )
        );
        let body = serde_json::json!({
            "token_type": "Bearer",
            "scope": "api://x/Read openid",
            "expires_in": "7200",
            "access_token": "at",
            "refresh_token": "rt",
            "id_token": id,
            "client_info": entra_jose::b64url(r#"{"uid":"o1","utid":"t1"}"#),
        });
        let r = TokenResponse::from_json(body, "C1", "login.microsoftonline.com", "t1", &[]);
        let e = Entries::from_response(&r, 1000);
        assert_eq!(e.home_account_id.as_deref(), Some("o1.t1"));
        let at = e.access_token.unwrap();
        assert_eq!(at.target.as_deref(), Some("api://x/Read openid"));
        assert_eq!(at.expires_on, Some(8200));
        assert_eq!(
            at.refresh_on,
            Some(4600),
            "half-life for tokens of 2 h or more"
        );
        assert_eq!(
            at.key(),
            "o1.t1-login.microsoftonline.com-accesstoken-c1-t1-api://x/read openid"
        );
        let acct = e.account.unwrap();
        assert_eq!(acct.username.as_deref(), Some("alice@contoso.com"));
        assert_eq!(acct.local_account_id.as_deref(), Some("o1"));
        assert_eq!(
            e.refresh_token.unwrap().key(),
            "o1.t1-login.microsoftonline.com-refreshtoken-c1--api://x/read openid"
        );

        let app = TokenResponse::from_json(
            serde_json::json!({"access_token": "x", "expires_in": 3599}),
            "c1",
            "h",
            "t",
            &["s/.default".to_string()],
        );
        let e = Entries::from_response(&app, 1000);
        assert!(e.home_account_id.is_none() && e.account.is_none());
        let at = e.access_token.unwrap();
        assert_eq!(at.target.as_deref(), Some("s/.default"));
        assert_eq!(at.refresh_on, None);
        let json = serde_json::to_value(&at).unwrap();
        assert!(json["home_account_id"].is_null(), "{json}");
        assert_eq!(json["expires_on"], "4599");
    }
}
