//! The state directory and the private files in it, handled as untrusted ground.
//!
//! The emulator keeps a CA certificate that users trust (`SSL_CERT_FILE`), a TLS key,
//! token-signing keys and secrets in its state directory. Whoever can write there can
//! swap them, so:
//!
//! - the directory must belong to this process's effective user and must not be
//!   writable by group or others; one that does not exist yet is created with mode 0700
//!   (its missing parents too);
//! - private files are written to a fresh file with a random name in the same
//!   directory, created with `O_EXCL` and mode 0600, then renamed into place, so a name
//!   planted in advance (a symlink, a hard link) is never opened for writing;
//! - private files are read with `O_NOFOLLOW` and must be regular files: a symlink where
//!   a key is expected is refused.

use std::io::Write as _;
use std::path::Path;

/// The effective uid of this process (who the `dev` caller of `entra up` is).
#[cfg(unix)]
pub fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Makes sure `dir` is a directory only this user controls: creates it (mode 0700, and
/// missing parents 0700) when it does not exist; refuses one owned by another user or
/// writable by group or others, naming the path, owner and mode and how to fix it.
pub fn ensure_private_dir(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(meta) => check_dir(dir, &meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir)
                .map_err(|e| format!("state directory {}: {e}", dir.display()))?;
            let meta = std::fs::metadata(dir)
                .map_err(|e| format!("state directory {}: {e}", dir.display()))?;
            check_dir(dir, &meta)
        }
        Err(e) => Err(format!("state directory {}: {e}", dir.display())),
    }
}

#[cfg(unix)]
fn check_dir(dir: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    if !meta.is_dir() {
        return Err(format!(
            "state directory {} is not a directory",
            dir.display()
        ));
    }
    let me = effective_uid();
    let mode = meta.mode() & 0o7777;
    if meta.uid() != me {
        return Err(format!(
            "state directory {} is owned by uid {} (mode {mode:04o}), not by this user (uid {me}): \
             whoever owns it could replace the emulator's CA and keys. Use a directory of your own \
             (--state-dir, or ENTRA_EMULATOR_STATE_DIR), or take it over: chown {me} {0} && chmod 700 {0}",
            dir.display(),
            meta.uid(),
        ));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "state directory {} (owner uid {}) has mode {mode:04o}: group or others may write to it \
             and so replace the emulator's CA and keys. Fix: chmod 700 {0}",
            dir.display(),
            meta.uid(),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_dir(dir: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    if meta.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "state directory {} is not a directory",
            dir.display()
        ))
    }
}

/// Writes `bytes` to `path`, private to this user (0600): into a new file with a random
/// name beside it, created exclusively (`O_EXCL`: a planted name or symlink is never
/// followed), synced, then renamed over `path`. Missing parent directories are created
/// 0700.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(parent)?;
    }
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("no file name"))?
        .to_string_lossy();
    let tmp = parent.join(format!(".{name}.{}.tmp", random_suffix()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads a private file without following a symlink (`O_NOFOLLOW`): a symlink, or
/// anything but a regular file, is refused with an error naming the path.
/// `Ok(None)` when it does not exist.
pub(crate) fn read_private(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let file = match open_nofollow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            return Err(if is_link {
                format!(
                    "{} is a symbolic link; the emulator does not follow links for its keys and \
                     certificates. Remove it (the emulator makes a new one) or copy the real file there",
                    path.display()
                )
            } else {
                format!("{}: {e}", path.display())
            });
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let mut out = Vec::with_capacity(meta.len().min(1 << 20) as usize);
    use std::io::Read as _;
    (&file)
        .take(16 << 20)
        .read_to_end(&mut out)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(out))
}

/// Whether `path` exists as a regular file (a symlink there does not count).
pub(crate) fn is_regular_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

#[cfg(unix)]
fn open_nofollow(path: &Path) -> std::io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    Ok(std::fs::File::from(fd))
}

#[cfg(not(unix))]
fn open_nofollow(path: &Path) -> std::io::Result<std::fs::File> {
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(std::io::Error::other("symbolic link"));
    }
    std::fs::File::open(path)
}

fn random_suffix() -> String {
    let mut b = [0u8; 12];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut b)
        .expect("system RNG");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(unix)]
#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    fn fresh(tag: &str) -> std::path::PathBuf {
        let base = std::env::temp_dir().join(format!("entra-sfs-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700)).unwrap();
        base
    }

    #[test]
    fn state_dir_owned_by_other_user_refused() {
        let base = fresh("owner");
        let dir = base.join("state");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        if effective_uid() == 0 {
            std::process::Command::new("chown")
                .arg("65534")
                .arg(&dir)
                .status()
                .unwrap();
            assert_eq!(std::fs::metadata(&dir).unwrap().uid(), 65534);
            let e = ensure_private_dir(&dir).unwrap_err();
            assert!(e.contains(&dir.display().to_string()), "{e}");
            assert!(e.contains("owned by uid 65534"), "{e}");
            assert!(e.contains("mode 0700"), "{e}");
            assert!(e.contains("chown 0"), "{e}");
            // And the emulator refuses to start there (no key is written into it).
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let started = rt.block_on(crate::Emulator::start(crate::Options {
                state_dir: dir.clone(),
                port: 0,
                ..Default::default()
            }));
            let e = started.err().expect("refused").to_string();
            assert!(e.contains("owned by uid 65534"), "{e}");
            assert!(std::fs::read_dir(&dir).unwrap().next().is_none());
        } else {
            // Not root: no other owner to give it to; a group-writable one stands in.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
            let e = ensure_private_dir(&dir).unwrap_err();
            assert!(e.contains("mode 0770"), "{e}");
        }
        std::fs::remove_dir_all(&base).ok();
    }

    #[test]
    fn state_dir_group_writable_refused() {
        let base = fresh("mode");
        for mode in [0o770, 0o707, 0o777] {
            let dir = base.join(format!("state-{mode:o}"));
            std::fs::create_dir(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = ensure_private_dir(&dir).unwrap_err();
            assert!(e.contains(&dir.display().to_string()), "{e}");
            assert!(e.contains(&format!("mode {mode:04o}")), "{e}");
            assert!(e.contains(&format!("chmod 700 {}", dir.display())), "{e}");
        }
        // Readable by others is not a way in: 0755 is accepted.
        let ok = base.join("state-755");
        std::fs::create_dir(&ok).unwrap();
        std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&ok).unwrap();
        std::fs::remove_dir_all(&base).ok();
    }

    #[test]
    fn state_dir_created_0700() {
        let base = fresh("create");
        let dir = base.join("a").join("b");
        ensure_private_dir(&dir).unwrap();
        for d in [base.join("a"), dir.clone()] {
            let meta = std::fs::metadata(&d).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{}", d.display());
            assert_eq!(meta.uid(), effective_uid());
        }
        // Files in it: 0600, no temporary left behind.
        write_private(&dir.join("k.pem"), b"secret").unwrap();
        let meta = std::fs::metadata(dir.join("k.pem")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("k.pem")]);
        std::fs::remove_dir_all(&base).ok();
    }

    #[test]
    fn key_file_symlink_refused() {
        let base = fresh("link");
        let target = base.join("elsewhere.pem");
        std::fs::write(&target, "-----BEGIN PRIVATE KEY-----\n").unwrap();
        let dir = base.join("state");
        ensure_private_dir(&dir).unwrap();
        let key = dir.join("federation-key.pk8");
        std::os::unix::fs::symlink(&target, &key).unwrap();
        let e = read_private(&key).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        // Where the emulator loads its keys, the link is refused, not followed.
        let e = crate::keys::federation_key(&dir).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        // Writing over a link replaces the link, never the file it points to.
        write_private(&key, b"new").unwrap();
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "-----BEGIN PRIVATE KEY-----\n"
        );
        assert!(is_regular_file(&key));
        // A planted dangling link at any name is never opened for writing either: the
        // temporary name is random and created with O_EXCL.
        std::fs::remove_dir_all(&base).ok();
    }
}
