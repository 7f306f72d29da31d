//! The `token cache` check: the cache file parses, is encrypted, and is private.

use super::report::{Check, Status};
use crate::config::Config;
use crate::credential;

pub(super) fn check(config: &Config) -> Check {
    use entra_identity::persist::{CacheFile, CacheKeySource as _, DefaultKey, Protection};
    let Some(path) = credential::cache_path(config) else {
        return Check::new("token cache", Status::Warn, "no place for a cache file")
            .advice("set --token-cache or ENTRA_TOKEN_CACHE (no local data directory here)");
    };
    let source = config
        .token_cache
        .as_ref()
        .map(|s| s.source.to_string())
        .unwrap_or_else(|| "default location".into());
    let shown = format!("{} ({source})", path.display());
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Check::new(
                "token cache",
                Status::Ok,
                format!("{shown} does not exist yet (`entra login` creates it)"),
            );
        }
        Err(e) => {
            return Check::new("token cache", Status::Fail, format!("{shown}: {e}"))
                .advice("make the file readable by this user, or point --token-cache elsewhere");
        }
    };
    let encrypted = entra_identity::persist::is_sealed(&bytes);
    let protection = if encrypted {
        Protection::Encrypted
    } else {
        Protection::DangerPlaintextForMsalInterop
    };
    let mut c = Check::new("token cache", Status::Ok, shown);
    let mut fail = None;
    let mut warn = None;
    match CacheFile::new(&path, protection).load() {
        Ok(data) => {
            c = c.detail(format!(
                "parses: {} account(s), {} access token(s), {} refresh token(s)",
                data.accounts.len(),
                data.access_tokens.len(),
                data.refresh_tokens.len()
            ))
        }
        Err(e) => {
            c = c.detail(format!("unreadable: {e}"));
            fail = Some("restore the key or delete the cache file (and sign in again)".to_string());
        }
    }
    if encrypted {
        c = c.detail(format!(
            "encrypted (AES-256-GCM), key: {}",
            DefaultKey::for_cache(&path).describe()
        ));
    } else {
        c = c.detail("plaintext MSAL JSON: anyone who can read the file can use its tokens");
        warn = Some("keep it only if MSAL shares it; otherwise delete it and let entra write an encrypted one".to_string());
    }
    #[cfg(unix)]
    {
        c = permissions(c, &path, encrypted, &mut warn, &mut fail);
    }
    if let Some(a) = fail {
        c.status = Status::Fail;
        c.advice(a)
    } else if let Some(a) = warn {
        c.status = Status::Warn;
        c.advice(a)
    } else {
        c
    }
}

/// The file's mode and owner: a readable-by-others file is worth a warning when
/// encrypted and a failure when not; another user's file is a failure.
#[cfg(unix)]
fn permissions(
    mut c: Check,
    path: &std::path::Path,
    encrypted: bool,
    warn: &mut Option<String>,
    fail: &mut Option<String>,
) -> Check {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        c = c.detail(format!("mode {mode:04o}, owner uid {}", meta.uid()));
        if mode & 0o077 != 0 {
            let a = format!("chmod 600 {}", path.display());
            if encrypted {
                warn.get_or_insert(a);
            } else {
                fail.get_or_insert(a);
            }
        }
        // /proc/self is owned by this process's user (Linux).
        if let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid())
            && me != meta.uid()
        {
            c = c.detail(format!(
                "owned by uid {}, not by this user (uid {me})",
                meta.uid()
            ));
            fail.get_or_insert(
                "another user owns the cache: use your own (--token-cache), or chown it"
                    .to_string(),
            );
        }
    }
    c
}
