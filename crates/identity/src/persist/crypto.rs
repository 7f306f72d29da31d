//! Encryption at rest: AES-256-GCM (aws-lc-rs), a fresh random 96-bit nonce for every
//! write, and where the key comes from ([`CacheKeySource`]: [`DefaultKey`] — the OS keyring
//! ([`OsKeyring`]) where one is reachable, else a [`KeyFile`] —, or the app's own
//! [`StaticKey`]).
//!
//! An encrypted cache file is a small header followed by the sealed MSAL JSON:
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `\0EKCACHE` (a NUL first: never the start of JSON, so plaintext MSAL files and ours cannot be confused) |
//! | 1 | format version, `1` |
//! | 8 | key id: the first 8 bytes of SHA-256(`entrakit cache key id` ‖ key), to tell "another key" from "damaged" |
//! | 12 | nonce |
//! | rest | ciphertext and the 16-byte GCM tag |
//!
//! The whole header is the AEAD's associated data, so no header byte can be altered
//! without the tag failing.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use super::error::CacheFileError;
use super::fs::{create_dir, parent_dir, sync_dir, write_temp};

/// First bytes of an encrypted cache file.
pub const MAGIC: &[u8; 8] = b"\0EKCACHE";
/// The format version this code writes.
pub const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const HEADER_LEN: usize = MAGIC.len() + 1 + KEY_ID_LEN + NONCE_LEN;
const TAG_LEN: usize = 16;
/// Length of a cache key in bytes.
pub const KEY_LEN: usize = 32;

/// A 256-bit cache encryption key. `Debug` prints `[redacted]`; zeroed on drop.
#[derive(Clone)]
pub struct EncryptionKey(Zeroizing<[u8; KEY_LEN]>);

impl EncryptionKey {
    /// Wraps key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A new random key from the system's CSPRNG.
    pub fn generate() -> Result<Self, CacheFileError> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        aws_lc_rs::rand::fill(&mut k[..]).map_err(|_| CacheFileError::Crypto {
            what: "generating a key: the system random generator failed",
        })?;
        Ok(Self(k))
    }

    /// The key bytes.
    ///
    /// # Security warning
    /// Whoever holds them can decrypt the cache.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A short public fingerprint of the key, written in the file header.
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        let mut input = Zeroizing::new(Vec::with_capacity(32 + KEY_LEN));
        input.extend_from_slice(b"entrakit cache key id");
        input.extend_from_slice(&self.0[..]);
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&d.as_ref()[..KEY_ID_LEN]);
        id
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0[..]).expect("32-byte AES-256 key"))
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

/// Where a cache's encryption key went: the OS keyring or a key file (see
/// [`PersistentCache::key_location`](super::PersistentCache::key_location)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyLocation {
    /// The OS keyring (Secret Service, Keychain, Credential Manager), in an entry named
    /// for the cache file's path.
    OsKeyring,
    /// A key file (mode 0600), here.
    KeyFile(PathBuf),
    /// No key yet: none was found, and none is created before the first write (which
    /// puts it in the OS keyring when one is reachable, else in a key file).
    NotYetCreated,
    /// A key source of the caller's, as it describes itself.
    Custom(String),
    /// No key: the cache is plaintext ([`Protection::DangerPlaintextForMsalInterop`](super::Protection::DangerPlaintextForMsalInterop)).
    Plaintext,
}

/// Where the cache encryption key lives.
pub trait CacheKeySource: Send + Sync {
    /// Where the key is, for error messages, e.g. `key file /home/me/.cache/x.key`.
    fn describe(&self) -> String;

    /// Where the key is, as a value; [`KeyLocation::Custom`] with
    /// [`describe`](CacheKeySource::describe) unless the source says better.
    fn location(&self) -> KeyLocation {
        KeyLocation::Custom(self.describe())
    }

    /// The key, or `None` when none was ever created.
    fn load(&self) -> Result<Option<EncryptionKey>, CacheFileError>;

    /// The key, creating and storing a new random one when none exists. The cache calls
    /// this with its cross-process lock held, only when it is about to write.
    fn load_or_create(&self) -> Result<EncryptionKey, CacheFileError>;
}

/// The key in a file of 32 random bytes, readable by its owner only (mode 0600).
///
/// A key file with any group or other permission bit, or owned by another user, is
/// refused; it is created
/// atomically (written to a temporary file, synced, then hard-linked into place, which
/// fails rather than replaces when another process got there first).
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    /// A key file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The default key file for a cache: `<cache file>.key`, beside it.
    pub fn beside(cache: &Path) -> Self {
        let mut name = cache.file_name().unwrap_or_default().to_os_string();
        name.push(".key");
        Self::new(cache.with_file_name(name))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, reason: impl Into<String>) -> CacheFileError {
        CacheFileError::KeyFile {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn read(&self, mut file: File) -> Result<EncryptionKey, CacheFileError> {
        let meta = file
            .metadata()
            .map_err(|e| self.error(format!("cannot stat: {e}")))?;
        if !meta.is_file() {
            return Err(self.error("is not a regular file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            use std::os::unix::fs::MetadataExt;
            if mode & 0o077 != 0 {
                return Err(self.error(format!(
                    "is accessible to group or others (mode {mode:04o}); anyone who can read it can decrypt the cache. Run `chmod 600 {}` if the file is yours, or delete it and the cache",
                    self.path.display()
                )));
            }
            // A key planted by another user (in a shared or world-writable directory)
            // would let them read everything we encrypt with it.
            let me = rustix::process::geteuid().as_raw();
            if meta.uid() != me {
                return Err(self.error(format!(
                    "belongs to user id {}, not to this process's user ({me}); a key someone else controls protects nothing. Delete it and the cache if you do not know why",
                    meta.uid()
                )));
            }
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
        (&mut file)
            .take(KEY_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.error(format!("cannot read: {e}")))?;
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            self.error(format!(
                "holds {}{} bytes, not a {KEY_LEN}-byte key",
                bytes.len().min(KEY_LEN),
                if bytes.len() > KEY_LEN { "+" } else { "" }
            ))
        })?;
        Ok(EncryptionKey::from_bytes(key))
    }
}

impl CacheKeySource for KeyFile {
    fn describe(&self) -> String {
        format!("key file {}", self.path.display())
    }

    fn location(&self) -> KeyLocation {
        KeyLocation::KeyFile(self.path.clone())
    }

    fn load(&self) -> Result<Option<EncryptionKey>, CacheFileError> {
        match File::open(&self.path) {
            Ok(f) => self.read(f).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error(format!("cannot open: {e}"))),
        }
    }

    fn load_or_create(&self) -> Result<EncryptionKey, CacheFileError> {
        if let Some(key) = self.load()? {
            return Ok(key);
        }
        let key = EncryptionKey::generate()?;
        let dir = parent_dir(&self.path);
        create_dir(dir).map_err(|e| self.error(format!("cannot create its directory: {e}")))?;
        let tmp = write_temp(&self.path, key.expose())
            .map_err(|e| self.error(format!("cannot write: {e}")))?;
        // A hard link never replaces an existing file: if another process created the
        // key meanwhile, theirs stays and we use it.
        let linked = match fs::hard_link(&tmp, &self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            // File systems without hard links: the caller holds the cache lock, so
            // checking then renaming cannot race with another entrakit writer.
            Err(_) if !self.path.exists() => fs::rename(&tmp, &self.path).map(|()| true),
            Err(e) => Err(e),
        };
        let _ = fs::remove_file(&tmp);
        match linked.map_err(|e| self.error(format!("cannot create: {e}")))? {
            true => {
                sync_dir(dir);
                Ok(key)
            }
            false => self
                .load()?
                .ok_or_else(|| self.error("vanished right after another process created it")),
        }
    }
}

/// The key source behind [`Protection::Encrypted`](super::Protection::Encrypted): an
/// existing key file beside the cache, else the OS keyring when one is reachable, else a
/// new key file. See the [module docs](super) for the threat model.
pub struct DefaultKey {
    file: KeyFile,
    #[cfg(feature = "os-keyring")]
    keyring: OsKeyring,
    /// A key found in (or put in) the keyring, kept so that every read of the cache is
    /// not a D-Bus round trip.
    #[cfg(feature = "os-keyring")]
    remembered: std::sync::Mutex<Option<EncryptionKey>>,
}

impl DefaultKey {
    /// The key source for the cache file at `cache`.
    pub fn for_cache(cache: &Path) -> Self {
        Self {
            file: KeyFile::beside(cache),
            #[cfg(feature = "os-keyring")]
            keyring: OsKeyring::for_cache(cache),
            #[cfg(feature = "os-keyring")]
            remembered: std::sync::Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for DefaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl CacheKeySource for DefaultKey {
    fn describe(&self) -> String {
        #[cfg(feature = "os-keyring")]
        if !self.file.path().exists() {
            return format!("{} (or {})", self.keyring.describe(), self.file.describe());
        }
        self.file.describe()
    }

    fn location(&self) -> KeyLocation {
        if self.file.path().exists() {
            return KeyLocation::KeyFile(self.file.path().to_path_buf());
        }
        #[cfg(feature = "os-keyring")]
        if self.remembered.lock().expect("key lock").is_some()
            || matches!(self.keyring.try_load(), Ok(Reach::Found(_)))
        {
            return KeyLocation::OsKeyring;
        }
        KeyLocation::NotYetCreated
    }

    fn load(&self) -> Result<Option<EncryptionKey>, CacheFileError> {
        if let Some(key) = self.file.load()? {
            return Ok(Some(key));
        }
        #[cfg(feature = "os-keyring")]
        if let Some(key) = self.remembered.lock().expect("key lock").clone() {
            return Ok(Some(key));
        }
        #[cfg(feature = "os-keyring")]
        match self.keyring.try_load()? {
            Reach::Found(key) => {
                *self.remembered.lock().expect("key lock") = Some(key.clone());
                return Ok(Some(key));
            }
            Reach::Empty => return Ok(None),
            Reach::Unreachable(why) => {
                tracing::debug!(%why, "no OS keyring; the cache key is in a key file")
            }
        }
        Ok(None)
    }

    fn load_or_create(&self) -> Result<EncryptionKey, CacheFileError> {
        if let Some(key) = self.load()? {
            return Ok(key);
        }
        #[cfg(feature = "os-keyring")]
        {
            let key = EncryptionKey::generate()?;
            match self.keyring.try_store(&key)? {
                true => {
                    *self.remembered.lock().expect("key lock") = Some(key.clone());
                    tracing::info!(entry = %self.keyring.describe(), "the token cache's new key went to the OS keyring");
                    return Ok(key);
                }
                false => tracing::debug!("no OS keyring; creating a key file"),
            }
        }
        let key = self.file.load_or_create()?;
        tracing::info!(key_file = %self.file.path().display(), "the token cache's new key went to a key file (mode 0600; no OS keyring was reachable)");
        Ok(key)
    }
}

/// What a keyring lookup found.
#[cfg(feature = "os-keyring")]
enum Reach {
    Found(EncryptionKey),
    Empty,
    Unreachable(String),
}

/// The key in the OS keyring, in an entry of service `entrakit token cache` whose
/// account is the cache file's absolute path.
#[cfg(feature = "os-keyring")]
pub struct OsKeyring {
    cache: PathBuf,
    account: String,
}

#[cfg(feature = "os-keyring")]
impl OsKeyring {
    /// The keyring service name of every entrakit cache key.
    pub const SERVICE: &'static str = "entrakit token cache";

    /// The entry for the cache file at `cache`.
    pub fn for_cache(cache: &Path) -> Self {
        let absolute = std::path::absolute(cache).unwrap_or_else(|_| cache.to_path_buf());
        Self {
            account: absolute.to_string_lossy().into_owned(),
            cache: cache.to_path_buf(),
        }
    }

    fn error(&self, reason: impl Into<String>) -> CacheFileError {
        CacheFileError::Keyring {
            cache: self.cache.clone(),
            reason: reason.into(),
        }
    }

    fn entry(&self) -> Result<keyring::Entry, keyring::Error> {
        keyring::Entry::new(Self::SERVICE, &self.account)
    }

    /// Looks the key up; "no keyring here" is an answer, not an error.
    fn try_load(&self) -> Result<Reach, CacheFileError> {
        let found = self.entry().and_then(|e| e.get_secret());
        match found {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                    self.error(format!(
                        "holds {} bytes, not a {KEY_LEN}-byte key; delete the entry ({}, {}) and the cache to start over",
                        bytes.len(),
                        Self::SERVICE,
                        self.account
                    ))
                })?;
                Ok(Reach::Found(EncryptionKey::from_bytes(key)))
            }
            Err(keyring::Error::NoEntry) => Ok(Reach::Empty),
            Err(e @ (keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_))) => {
                Ok(Reach::Unreachable(e.to_string()))
            }
            Err(e) => Err(self.error(format!("cannot be read: {e}"))),
        }
    }

    /// Stores a new key; `false` when there is no usable keyring.
    fn try_store(&self, key: &EncryptionKey) -> Result<bool, CacheFileError> {
        match self.entry().and_then(|e| e.set_secret(key.expose())) {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_)) => {
                Ok(false)
            }
            Err(e) => Err(self.error(format!("cannot be written: {e}"))),
        }
    }

    /// Deletes the entry (when the cache is deleted for good); a missing one is fine.
    pub fn delete(&self) -> Result<(), CacheFileError> {
        match self.entry().and_then(|e| e.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.error(format!("cannot be deleted: {e}"))),
        }
    }
}

#[cfg(feature = "os-keyring")]
impl CacheKeySource for OsKeyring {
    fn describe(&self) -> String {
        format!("OS keyring entry ({}, {})", Self::SERVICE, self.account)
    }

    fn location(&self) -> KeyLocation {
        KeyLocation::OsKeyring
    }

    fn load(&self) -> Result<Option<EncryptionKey>, CacheFileError> {
        match self.try_load()? {
            Reach::Found(key) => Ok(Some(key)),
            Reach::Empty => Ok(None),
            Reach::Unreachable(why) => Err(self.error(format!("is out of reach: {why}"))),
        }
    }

    fn load_or_create(&self) -> Result<EncryptionKey, CacheFileError> {
        if let Some(key) = self.load()? {
            return Ok(key);
        }
        let key = EncryptionKey::generate()?;
        match self.try_store(&key)? {
            true => Ok(key),
            false => Err(self.error("cannot be created: no OS keyring is reachable")),
        }
    }
}

#[cfg(feature = "os-keyring")]
impl std::fmt::Debug for OsKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A key supplied by the application (from its own secret store), never written anywhere.
pub struct StaticKey {
    key: EncryptionKey,
    name: String,
}

impl StaticKey {
    /// `name` says where the key came from, for error messages.
    pub fn new(key: EncryptionKey, name: impl Into<String>) -> Self {
        Self {
            key,
            name: name.into(),
        }
    }
}

impl CacheKeySource for StaticKey {
    fn describe(&self) -> String {
        self.name.clone()
    }
    fn load(&self) -> Result<Option<EncryptionKey>, CacheFileError> {
        Ok(Some(self.key.clone()))
    }
    fn load_or_create(&self) -> Result<EncryptionKey, CacheFileError> {
        Ok(self.key.clone())
    }
}

/// Does this file start like one of ours?
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Why an encrypted file could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Written by a newer format version.
    Version(u8),
    /// Encrypted with another key.
    WrongKey,
    /// Truncated, or altered after it was written.
    Damaged(&'static str),
}

/// Encrypts `plaintext` with a fresh random nonce.
pub fn seal(key: &EncryptionKey, plaintext: &[u8]) -> Result<Vec<u8>, CacheFileError> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CacheFileError::Crypto {
        what: "generating a nonce: the system random generator failed",
    })?;
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&key.id());
    out.extend_from_slice(&nonce);
    let mut body = out.split_off(HEADER_LEN);
    body.extend_from_slice(plaintext);
    key.aead()
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&out[..]),
            &mut body,
        )
        .map_err(|_| CacheFileError::Crypto {
            what: "encrypting the cache",
        })?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decrypts a file written by [`seal`]; the plaintext is zeroed when dropped.
pub fn open(key: &EncryptionKey, bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    if bytes.len() < MAGIC.len() + 1 {
        return Err(OpenError::Damaged("the header is cut short"));
    }
    let version = bytes[MAGIC.len()];
    if version != VERSION {
        return Err(OpenError::Version(version));
    }
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return Err(OpenError::Damaged("the file is cut short"));
    }
    let (header, sealed) = bytes.split_at(HEADER_LEN);
    let key_id = &header[MAGIC.len() + 1..MAGIC.len() + 1 + KEY_ID_LEN];
    if key_id != key.id() {
        return Err(OpenError::WrongKey);
    }
    let nonce: [u8; NONCE_LEN] = header[HEADER_LEN - NONCE_LEN..]
        .try_into()
        .expect("nonce length");
    let mut buf = Zeroizing::new(sealed.to_vec());
    let len = key
        .aead()
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(header),
            &mut buf[..],
        )
        .map_err(|_| {
            OpenError::Damaged("authentication failed: the file was truncated or altered")
        })?
        .len();
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open() {
        let key = EncryptionKey::generate().unwrap();
        let a = seal(&key, b"{\"AccessToken\":{}}").unwrap();
        let b = seal(&key, b"{\"AccessToken\":{}}").unwrap();
        assert!(is_sealed(&a));
        assert_ne!(a, b, "a fresh nonce per write");
        assert_eq!(&open(&key, &a).unwrap()[..], b"{\"AccessToken\":{}}");

        let other = EncryptionKey::generate().unwrap();
        assert_eq!(open(&other, &a).unwrap_err(), OpenError::WrongKey);
        assert!(matches!(
            open(&key, &a[..a.len() - 1]),
            Err(OpenError::Damaged(_))
        ));
        let mut flipped = a.clone();
        flipped[HEADER_LEN + 2] ^= 1;
        assert!(matches!(open(&key, &flipped), Err(OpenError::Damaged(_))));
        let mut nonce_flipped = a.clone();
        nonce_flipped[HEADER_LEN - 1] ^= 1;
        assert!(matches!(
            open(&key, &nonce_flipped),
            Err(OpenError::Damaged(_))
        ));
        let mut v2 = a;
        v2[MAGIC.len()] = 2;
        assert_eq!(open(&key, &v2).unwrap_err(), OpenError::Version(2));
        assert_eq!(format!("{key:?}"), "EncryptionKey([redacted])");
    }
}
