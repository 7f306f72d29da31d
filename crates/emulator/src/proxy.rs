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
//! Connections are bounded ([`MAX_CONNECTIONS`], front and tunnels together), as are the
//! header read (10 s before a `CONNECT`) and the TLS handshake (10 s).

mod ca;
mod front;
pub(crate) mod hosts;
mod tunnel;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub(crate) use ca::InterceptCa;
pub(crate) use tunnel::Proxied;

use crate::state::AppState;

/// Open connections the proxy holds at most (front connections and tunnels).
pub(crate) const MAX_CONNECTIONS: usize = 512;

/// What every proxy connection shares.
pub(crate) struct ProxyCtx {
    pub(crate) state: AppState,
    pub(crate) app: Router,
    pub(crate) ca: InterceptCa,
    pub(crate) bind: IpAddr,
    pub(crate) conns: Arc<Semaphore>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Binds the proxy's listener.
pub(crate) async fn bind(bind: IpAddr, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(bind, port)).await
}

/// Accepts proxy clients until shutdown.
pub(crate) async fn serve(listener: TcpListener, ctx: Arc<ProxyCtx>) {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("proxy accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let Ok(permit) = ctx.conns.clone().try_acquire_owned() else {
            ctx.state.count("proxy", "refused:busy");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let conn_ctx = ctx.clone();
            let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                front::handle(conn_ctx.clone(), remote, req)
            });
            let mut b = hyper::server::conn::http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .keep_alive(true);
            let conn = b
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            tokio::pin!(conn);
            let mut shutdown = ctx.shutdown.clone();
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
            drop(permit);
        });
    }
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
    Ok((ready, tokio::spawn(serve(listener, ctx))))
}
