//! The Unix socket listener (`[broker] unix_socket`), made with an explicit mode.
//!
//! The socket's file gets its mode at `bind`, from the socket's own mode less the umask,
//! so the socket is given `[broker] unix_socket_mode` (`fchmod`) before it is bound, and
//! the file is set to exactly that mode right after: it is never, even briefly, more
//! open than configured. Whatever is already at the path is replaced only when it is a
//! socket (a broker's leftover); anything else is refused rather than deleted.

use std::path::Path;

use crate::error::{BrokerError, ConfigError};

/// Binds and listens on `path` with `mode` (e.g. `0o660`).
#[cfg(unix)]
pub(crate) fn bind(
    path: &Path,
    mode: u32,
) -> Result<std::os::unix::net::UnixListener, BrokerError> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};

    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

    let err = |e: std::io::Error| {
        BrokerError::from(crate::error::IoError::UnixSocket {
            path: path.to_path_buf(),
            source: e,
        })
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path).map_err(err)?,
        Ok(_) => {
            return Err(ConfigError::NotASocket(path.to_path_buf()).into());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| err(e.into()))?;
    // Linux creates the file with the socket's mode less the umask; elsewhere this may
    // not apply, and the chmod below sets the mode.
    let _ = rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(mode));
    let addr = SocketAddrUnix::new(path).map_err(|e| err(e.into()))?;
    rustix::net::bind(&fd, &addr).map_err(|e| err(e.into()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(err)?;
    rustix::net::listen(&fd, 1024).map_err(|e| err(e.into()))?;
    let listener = std::os::unix::net::UnixListener::from(fd);
    listener.set_nonblocking(true).map_err(err)?;
    Ok(listener)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn unix_socket_mode_set() {
        let dir = std::env::temp_dir().join(format!("entra-broker-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("b.sock");
        for mode in [0o600, 0o660, 0o666] {
            let l = bind(&path, mode).unwrap();
            let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
            assert_eq!(got, mode, "{mode:o}");
            // It listens: a client connects.
            std::os::unix::net::UnixStream::connect(&path).unwrap();
            drop(l);
        }
        // The mode comes from the configuration, checked up front.
        let mut c = crate::BrokerConfig::default();
        assert_eq!(c.unix_socket_mode().unwrap(), 0o660);
        c.broker.unix_socket_mode = Some("0600".into());
        assert_eq!(c.unix_socket_mode().unwrap(), 0o600);
        for bad in ["660x", "7777", "0066", "u=rw"] {
            c.broker.unix_socket_mode = Some(bad.into());
            let e = c.unix_socket_mode().unwrap_err().to_string();
            assert!(e.contains("unix_socket_mode"), "{e}");
        }
        // The broker started with a unix_socket gets the configured mode, whatever the
        // umask (the old code left it to the umask: 0755 under the usual 022).
        let mut c = crate::BrokerConfig::default();
        c.broker.listen = "127.0.0.1:0".into();
        c.broker.threads = Some(0);
        c.broker.audit_log = Some("off".into());
        c.broker.unix_socket = Some(path.clone());
        c.broker.unix_socket_mode = Some("0600".into());
        c.identities.push(crate::IdentityConfig {
            tenant: Some("contoso.onmicrosoft.com".into()),
            client_id: Some("d0000000-0000-4000-8000-0000000000d1".into()),
            secret: Some("not-used-here".into()),
            danger_allow_secret_in_config: true,
            authority: Some("https://localhost:1".into()),
            ..crate::IdentityConfig::new("sp", crate::IdentityKind::ClientSecret)
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let b = crate::start(c, Default::default()).await.unwrap();
            let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
            assert_eq!(got, 0o600);
            b.shutdown().await;
        });
        // A file that is not a socket is not deleted to make room.
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, "precious").unwrap();
        let e = bind(&path, 0o600).unwrap_err().to_string();
        assert!(e.contains("not a socket"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
        std::fs::remove_dir_all(&dir).ok();
    }
}
