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
//! - The entries ([`AccessTokenEntry`], [`RefreshTokenEntry`], [`IdTokenEntry`],
//!   [`AccountEntry`], [`AppMetadata`]) with MSAL's field names and keys, timestamps as
//!   strings of epoch seconds on disk, and every field this version does not know kept
//!   verbatim (MSAL writes more than the core schema; a shared cache must not lose it).
//! - [`CacheFile`]: load and save with an atomic replace under a cross-process lock,
//!   read-merge-write, and unreadable files refused (with a `.corrupt` copy), never
//!   overwritten. See [`CacheFile`] for the details.
//! - Encryption: AES-256-GCM with a fresh nonce per write, a versioned header, and the
//!   [`CacheKeySource`] trait; [`KeyFile`] keeps the key in a 0600 file beside the cache.
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
//!   custom [`CacheKeySource`] if that matters);
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

mod cache;
mod crypto;
mod entries;
pub(crate) mod error;
mod file;
mod fs;
mod protection;
mod response;
mod schema;
pub(crate) mod store;

pub use cache::PersistentCache;
#[cfg(feature = "os-keyring")]
pub use crypto::OsKeyring;
pub use crypto::{
    CacheKeySource, DefaultKey, EncryptionKey, KeyFile, KeyLocation, StaticKey, is_sealed,
};
pub use error::CacheFileError;
pub use file::{CacheFile, DEFAULT_LOCK_TIMEOUT, REFRESH_LOCK_TIMEOUT, RefreshLock};
pub use protection::Protection;
pub use response::{ClientInfo, TokenResponse, environment_of, target_of};
pub use schema::{
    AccessTokenEntry, AccountEntry, AppMetadata, CacheData, IdTokenEntry, RefreshTokenEntry,
};

#[cfg(test)]
mod tests;
