//! [`Protection`]: how the cache file is protected at rest.

use std::sync::Arc;

use super::crypto::CacheKeySource;

/// How the cache file is protected at rest.
#[derive(Clone)]
pub enum Protection {
    /// AES-256-GCM, the key in the OS keyring where one is reachable, else in
    /// `<cache>.key` (mode 0600) ([`DefaultKey`](super::DefaultKey)). The default choice.
    Encrypted,
    /// AES-256-GCM with a key from another source (an OS keyring, the app's own secret
    /// store).
    EncryptedWith(Arc<dyn CacheKeySource>),
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
