//! [`CacheFileError`]: everything that can go wrong with a cache file.

use std::path::PathBuf;
use std::time::Duration;

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
