//! [`CacheFile`]: the cache on disk. Every write is read-merge-write under a
//! cross-process lock and lands as an atomic replace; reads never see half a file.
//!
//! - **Lock:** `<cache>.lock` beside the cache, locked with the OS's advisory file lock
//!   (`flock` on Unix, `LockFileEx` on Windows, through `std::fs::File::lock`). The
//!   kernel releases it when a process dies, so a crash never leaves a stale lock. The
//!   lock file itself is never deleted (deleting it would let two processes hold locks
//!   on two different files). Waiting is bounded ([`CacheFile::with_lock_timeout`]).
//! - **Atomic replace:** the new content goes to a temporary file in the same
//!   directory (mode 0600), which is synced, renamed over the cache, and the directory
//!   synced. A reader sees the old file or the new one, never a mix.
//! - **Read-merge-write:** a write reads what is on disk under the lock and applies its
//!   change to that, so concurrent writers never lose each other's entries.
//! - **Refresh lock:** `<cache>.refresh.lock`, held (by [`CacheFile::lock_for_refresh`])
//!   while a process redeems a refresh token and stores the answer, so that two
//!   processes sharing the file never redeem the same rotating refresh token at once
//!   (Entra may treat the second redemption as a replay and revoke the whole family).
//!   The second process waits, then finds the first one's fresh token in the file.
//!   It is separate from the write lock so readers and writers never wait on the network.
//! - **Never overwrite blindly:** a file that cannot be read (damaged, another key,
//!   another format, a newer version) stops every write with an error. A damaged one is
//!   copied to `<cache>.corrupt` for inspection; [`CacheFile::reset`] discards it when
//!   the caller decides to.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::crypto::{self, CacheKeySource, DefaultKey, KeyLocation, OpenError};
use super::error::CacheFileError;
use super::fs::{create_dir, parent_dir, write_atomically};
use super::protection::Protection;
use super::schema::CacheData;

/// How long a writer waits for another process's lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a refresh waits for another process's refresh (which includes its network
/// round trip and retries) before giving up.
pub const REFRESH_LOCK_TIMEOUT: Duration = Duration::from_secs(120);

enum Codec {
    Plaintext,
    Sealed(Arc<dyn CacheKeySource>),
}

/// A token cache file in the MSAL schema, plaintext or encrypted.
pub struct CacheFile {
    path: PathBuf,
    lock_path: PathBuf,
    codec: Codec,
    lock_timeout: Duration,
}

impl std::fmt::Debug for CacheFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheFile")
            .field("path", &self.path)
            .field(
                "protection",
                &match &self.codec {
                    Codec::Plaintext => "plaintext".to_string(),
                    Codec::Sealed(k) => format!("encrypted ({})", k.describe()),
                },
            )
            .finish()
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

impl CacheFile {
    /// A cache file at `path` (nothing is read or created yet). With
    /// [`Protection::Encrypted`] the key is in `<path>.key`.
    pub fn new(path: impl Into<PathBuf>, protection: Protection) -> Self {
        let path = path.into();
        let codec = match protection {
            Protection::Encrypted => Codec::Sealed(Arc::new(DefaultKey::for_cache(&path))),
            Protection::EncryptedWith(source) => Codec::Sealed(source),
            Protection::DangerPlaintextForMsalInterop => Codec::Plaintext,
        };
        Self {
            lock_path: sibling(&path, ".lock"),
            path,
            codec,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// Where this file's key is: the OS keyring, a key file, none yet, or none at all
    /// (plaintext). May ask the OS keyring (a D-Bus round trip on Linux).
    pub fn key_location(&self) -> KeyLocation {
        match &self.codec {
            Codec::Plaintext => KeyLocation::Plaintext,
            Codec::Sealed(k) => k.location(),
        }
    }

    /// Waits at most `timeout` for another process's lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file beside it.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Takes the refresh lock (`<cache>.refresh.lock`; see the module docs), waiting at
    /// most [`REFRESH_LOCK_TIMEOUT`]. Blocks: call it off the async workers.
    pub fn lock_for_refresh(&self) -> Result<RefreshLock, CacheFileError> {
        let path = sibling(&self.path, ".refresh.lock");
        lock_file(&path, true, REFRESH_LOCK_TIMEOUT).map(RefreshLock)
    }

    /// Where an unreadable cache is copied: `<cache>.corrupt`.
    pub fn corrupt_copy_path(&self) -> PathBuf {
        sibling(&self.path, ".corrupt")
    }

    /// Is this file encrypted at rest?
    pub fn is_encrypted(&self) -> bool {
        matches!(self.codec, Codec::Sealed(_))
    }

    /// Reads the cache; a missing file is an empty cache.
    pub fn load(&self) -> Result<CacheData, CacheFileError> {
        if !parent_dir(&self.path).exists() {
            return Ok(CacheData::default());
        }
        // Writers replace the file atomically, so the shared lock only orders this read
        // after a write in progress; where no lock file can be created (a read-only
        // directory) the read goes ahead without it.
        let _lock = match self.lock(false) {
            Ok(l) => Some(l),
            Err(CacheFileError::Io { source, .. })
                if matches!(
                    source.kind(),
                    io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        self.read_locked()
    }

    /// Reads the cache under the lock, lets `change` modify it, and writes the result.
    /// Nothing is written if the file on disk cannot be read.
    pub fn update<R>(&self, change: impl FnOnce(&mut CacheData) -> R) -> Result<R, CacheFileError> {
        create_dir(parent_dir(&self.path)).map_err(|e| self.io("creating its directory", e))?;
        let _lock = self.lock(true)?;
        let mut data = self.read_locked()?;
        let result = change(&mut data);
        self.write_locked(&data)?;
        Ok(result)
    }

    /// Merges `data` into what is on disk ([`CacheData::merge`]: the union, the newer
    /// entry per key) and writes the result.
    pub fn save(&self, data: &CacheData) -> Result<(), CacheFileError> {
        self.update(|disk| disk.merge(data.clone()))
    }

    /// Deletes the cache file (under the lock), whatever it holds: the way out after an
    /// unreadable cache was reported. The key file and lock file stay.
    pub fn reset(&self) -> Result<(), CacheFileError> {
        if !parent_dir(&self.path).exists() {
            return Ok(());
        }
        let _lock = self.lock(true)?;
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io("deleting", e)),
        }
    }

    fn io(&self, op: &'static str, source: io::Error) -> CacheFileError {
        CacheFileError::Io {
            path: self.path.clone(),
            op,
            source,
        }
    }

    fn lock(&self, exclusive: bool) -> Result<LockGuard, CacheFileError> {
        lock_file(&self.lock_path, exclusive, self.lock_timeout)
    }

    fn read_locked(&self) -> Result<CacheData, CacheFileError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(CacheData::default()),
            Err(e) => return Err(self.io("reading", e)),
        };
        self.decode(&bytes)
    }

    fn decode(&self, bytes: &[u8]) -> Result<CacheData, CacheFileError> {
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = text.trim_ascii_start();
        if text.is_empty() {
            // An empty file is an empty cache (msal-extensions creates them).
            return Ok(CacheData::default());
        }
        if crypto::is_sealed(bytes) {
            let Codec::Sealed(source) = &self.codec else {
                return Err(CacheFileError::ProtectionMismatch {
                    path: self.path.clone(),
                    found: "encrypted by entrakit",
                    hint: "open it with Protection::Encrypted (MSAL cannot read it)",
                });
            };
            let key = source.load()?.ok_or_else(|| CacheFileError::MissingKey {
                path: self.path.clone(),
                key: source.describe(),
            })?;
            let plain = match crypto::open(&key, bytes) {
                Ok(p) => p,
                Err(OpenError::WrongKey) => {
                    return Err(CacheFileError::WrongKey {
                        path: self.path.clone(),
                        key: source.describe(),
                    });
                }
                Err(OpenError::Version(version)) => {
                    return Err(CacheFileError::UnsupportedVersion {
                        path: self.path.clone(),
                        version,
                    });
                }
                Err(OpenError::Damaged(why)) => return Err(self.corrupt(bytes, why.to_string())),
            };
            return CacheData::from_json(&plain).map_err(|e| {
                self.corrupt(bytes, format!("decrypted, but not MSAL cache JSON: {e}"))
            });
        }
        if text[0] != b'{' {
            return Err(self.corrupt(
                bytes,
                "neither MSAL cache JSON nor an entrakit encrypted cache".into(),
            ));
        }
        if let Codec::Sealed(_) = self.codec {
            return Err(CacheFileError::ProtectionMismatch {
                path: self.path.clone(),
                found: "plaintext MSAL JSON",
                hint: "open it with Protection::DangerPlaintextForMsalInterop to share it with MSAL, or delete it to start an encrypted cache",
            });
        }
        CacheData::from_json(text)
            .map_err(|e| self.corrupt(bytes, format!("not valid MSAL cache JSON: {e}")))
    }

    /// Keeps a copy of an unreadable file and reports it.
    fn corrupt(&self, bytes: &[u8], reason: String) -> CacheFileError {
        let copy = self.corrupt_copy_path();
        let saved = write_atomically(&copy, bytes).is_ok();
        CacheFileError::Corrupt {
            path: self.path.clone(),
            reason,
            copy: saved.then_some(copy),
        }
    }

    fn write_locked(&self, data: &CacheData) -> Result<(), CacheFileError> {
        let plain = Zeroizing::new(data.to_json());
        let result = match &self.codec {
            Codec::Plaintext => write_atomically(&self.path, &plain),
            Codec::Sealed(source) => {
                let key = source.load_or_create()?;
                write_atomically(&self.path, &crypto::seal(&key, &plain)?)
            }
        };
        result.map_err(|e| self.io("writing", e))
    }
}

/// Holds an advisory lock until dropped (closing the file releases it).
struct LockGuard(#[expect(dead_code, reason = "held for its Drop")] File);

/// The cross-process refresh lock of a cache file, released when dropped.
pub struct RefreshLock(#[expect(dead_code, reason = "held for its Drop")] LockGuard);

impl std::fmt::Debug for RefreshLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshLock")
    }
}

/// Locks `path` (created 0600 when missing; a symbolic link there is refused), polling with a growing pause for at most
/// `timeout`. The OS releases the lock if the process dies.
fn lock_file(path: &Path, exclusive: bool, timeout: Duration) -> Result<LockGuard, CacheFileError> {
    let lock_err = |op, source| CacheFileError::Io {
        path: path.to_path_buf(),
        op,
        source,
    };
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOFOLLOW: a symbolic link planted where the lock file goes would make this
        // process create or lock (and keep open) a file of someone else's choosing.
        options
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            return lock_err(
                "opening the lock file",
                io::Error::new(
                    e.kind(),
                    "it is a symbolic link, which is refused (remove it)",
                ),
            );
        }
        lock_err("opening the lock file", e)
    })?;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        let attempt = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match attempt {
            Ok(()) => return Ok(LockGuard(file)),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => return Err(lock_err("locking", e)),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(CacheFileError::LockTimeout {
                path: path.to_path_buf(),
                waited: timeout,
            });
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
