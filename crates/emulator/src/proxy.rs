//! The in-process HTTPS proxy (`Options::proxy_port`, `entra up`): clients keep their
//! real URLs (`https://login.microsoftonline.com/...`,
//! `https://api.fabric.microsoft.com/...`) and only set `HTTPS_PROXY` and trust one more
//! CA; the proxy answers for Microsoft's login and API hosts from the emulator itself and
//! refuses everything else. It never dials out.
//!
//! - [`hosts`]: the one table of served hosts and their router paths.
//! - `ca`: the intercept CA, name-constrained to those hosts, and its leaves.
//! - `front`: the plain-HTTP side (`CONNECT`, refusals).
//! - `tunnel`: TLS termination and the router on the decrypted stream ([`Proxied`]).
//!
//! Connections are bounded (512, front and tunnels together), as are the
//! header read (10 s before a `CONNECT`) and the TLS handshake (10 s).

mod ca;
mod ctx;
mod front;
pub(crate) mod hosts;
mod tunnel;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub(crate) use ca::InterceptCa;
use ctx::{MAX_CONNECTIONS, ProxyCtx};
pub(crate) use tunnel::Proxied;

use crate::state::AppState;

/// Binds the proxy's listener.
pub(crate) async fn bind(bind: IpAddr, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(bind, port)).await
}

/// The trust bundle's file name in the state directory (emulator CA + intercept CA).
pub(crate) const BUNDLE_FILE: &str = "ca-bundle.pem";

/// Loads (or makes) the intercept CA, writes the bundle, binds and starts serving.
pub(crate) async fn start(
    state: AppState,
    app: Router,
    bind: IpAddr,
    port: u16,
    emulator_ca: Option<std::path::PathBuf>,
    shutdown: watch::Receiver<bool>,
) -> Result<(crate::ProxyReady, tokio::task::JoinHandle<()>), crate::StartError> {
    use crate::StartError;
    let state_dir = state.state_dir.clone();
    let (ca, bundle) = tokio::task::spawn_blocking(move || {
        let ca = InterceptCa::load_or_create(&state_dir)?;
        let mut pem = match &emulator_ca {
            Some(f) => crate::secure_fs::read_private(f)
                .map_err(StartError::StateDir)?
                .unwrap_or_default(),
            None => Vec::new(),
        };
        pem.extend_from_slice(ca.ca_pem.as_bytes());
        let bundle = state_dir.join(BUNDLE_FILE);
        crate::secure_fs::write_private(&bundle, &pem)
            .map_err(|e| StartError::StateDir(format!("{}: {e}", bundle.display())))?;
        Ok::<_, StartError>((ca, bundle))
    })
    .await
    .map_err(|e| StartError::Internal(e.to_string()))??;
    let listener = self::bind(bind, port)
        .await
        .map_err(|source| StartError::Bind { bind, port, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { bind, port, source })?;
    let ready = crate::ProxyReady {
        url: format!("http://{addr}"),
        ca_file: ca.ca_file.display().to_string(),
        ca_bundle: bundle.display().to_string(),
    };
    let ctx = Arc::new(ProxyCtx {
        state,
        app,
        ca,
        bind,
        conns: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        shutdown,
    });
    Ok((ready, tokio::spawn(front::serve(listener, ctx))))
}
