//! Starting, reloading and stopping the broker; the HTTP routes besides the token
//! protocols (`/healthz`, `/readyz`, `/metrics`, `/admin/*`).
//!
//! Every route sits behind [`crate::browser_guard`]. `/metrics` is served on `listen`
//! unless `[broker] metrics_listen` gives it a listener of its own (then only there), and
//! needs a bearer when `metrics_token_env`/`metrics_token_file` is set.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use axum::routing::{get, post};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::watch;
use tower::Service;

use crate::audit::AuditLog;
use crate::browser_guard::hosts::HostPolicy;
use crate::cache::Cache;
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::metrics::Metrics;
use crate::protocol::{self, Conn};
use crate::state::{Shared, build_generation, reload, reload_from_file, tuning};

mod admin;
mod probes;

use crate::store::SharedStore;
use admin::{admin_reload, admin_tokens, identities, purge};
use probes::{healthz, metrics, metrics_elsewhere, not_found, readyz};

/// Checks a configuration completely (structure, every secret and certificate it
/// names) without listening: `(identities, callers)`.
pub fn check(config: &BrokerConfig) -> Result<(usize, usize), BrokerError> {
    let g = build_generation(config, None, &Metrics::new())?;
    Ok((g.identities.len(), g.callers.all.len()))
}

/// How to start.
#[derive(Default)]
pub struct StartOptions {
    /// Listen here instead of `[broker] listen` (e.g. `127.0.0.1:0` in tests).
    pub listen: Option<SocketAddr>,
    /// The file the configuration came from: `POST /admin/reload` and
    /// [`RunningBroker::reload_from_file`] re-read it.
    pub config_path: Option<PathBuf>,
    /// The fleet store to use instead of the one `[redis]` describes (tests, embedders).
    pub store: Option<Arc<dyn SharedStore>>,
}

impl std::fmt::Debug for StartOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartOptions")
            .field("listen", &self.listen)
            .field("config_path", &self.config_path)
            .field("store", &self.store.as_ref().map(|s| s.describe()))
            .finish()
    }
}

/// A running broker.
#[derive(Debug)]
pub struct RunningBroker {
    shared: Arc<Shared>,
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    unix_socket: Option<PathBuf>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    server_threads: Vec<tokio::sync::oneshot::Receiver<()>>,
}

/// Starts a broker.
pub async fn start(
    config: BrokerConfig,
    options: StartOptions,
) -> Result<RunningBroker, BrokerError> {
    let metrics = Arc::new(Metrics::new());
    let generation = build_generation(&config, None, &metrics)?;
    let cache = open_cache(&config, options.store, &metrics)?;
    let audit = AuditLog::open(config.broker.audit_log.as_deref())?;
    let listen = match options.listen {
        Some(a) => a,
        None => config.listen_addr()?,
    };
    if !listen.ip().is_loopback() {
        tracing::warn!(%listen, "listening beyond loopback: caller secrets travel in plain HTTP; put TLS in front, and IMDS/Cloud Shell answer loopback peers only");
    }
    // One listener per server thread on the same port (SO_REUSEPORT): the kernel spreads
    // connections over them, and each thread runs its own single-threaded runtime, as
    // nginx runs its workers, so a request never hops threads. `threads = 0` serves on
    // the caller's runtime instead.
    let threads = config.broker.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8)
    });
    let (mut listeners, addr) = bind_listeners(listen, threads)?;
    let (metrics_listener, metrics_addr) = bind_metrics(&config)?;
    let unix_socket = config.broker.unix_socket.clone();
    let host_policy = HostPolicy::new(
        &[Some(addr), metrics_addr]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
    );
    let unix_socket_mode = config.unix_socket_mode()?;
    let shared = Arc::new(Shared {
        generation: RwLock::new(Arc::new(generation)),
        cache,
        metrics,
        audit,
        config: RwLock::new(config),
        reload_from: options.config_path,
        host_policy,
    });
    let router = router(shared.clone(), metrics_addr.is_none());
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut server_threads = Vec::new();
    if let Some(l) = metrics_listener {
        let l = tokio::net::TcpListener::from_std(l)
            .map_err(|e| BrokerError::from(crate::error::IoError::MetricsListen(e)))?;
        tasks.push(tokio::spawn(serve_tcp(
            l,
            metrics_router(shared.clone()),
            stop_rx.clone(),
        )));
    }
    if threads == 0 {
        let l = tokio::net::TcpListener::from_std(listeners.remove(0))
            .map_err(|e| BrokerError::from(crate::error::IoError::Listen { addr, source: e }))?;
        tasks.push(tokio::spawn(serve_tcp(l, router.clone(), stop_rx.clone())));
    }
    for (i, l) in listeners.into_iter().enumerate() {
        server_threads.push(spawn_server_thread(i, l, router.clone(), stop_rx.clone())?);
    }
    #[cfg(unix)]
    if let Some(path) = &unix_socket {
        tasks.push(spawn_unix(path, unix_socket_mode, router, stop_rx)?);
    }
    tracing::info!(%addr, metrics = ?metrics_addr, "entra-broker listening");
    Ok(RunningBroker {
        shared,
        addr,
        metrics_addr,
        unix_socket,
        stop,
        tasks,
        server_threads,
    })
}

/// Serves `router` on the Unix socket at `path` (made with `mode`).
#[cfg(unix)]
fn spawn_unix(
    path: &std::path::Path,
    mode: u32,
    router: Router,
    stop_rx: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, BrokerError> {
    let l = crate::unix_socket::bind(path, mode).and_then(|l| {
        tokio::net::UnixListener::from_std(l).map_err(|e| {
            BrokerError::from(crate::error::IoError::UnixSocket {
                path: path.to_path_buf(),
                source: e,
            })
        })
    })?;
    Ok(tokio::spawn(serve_unix(l, router, stop_rx)))
}

/// The token cache, over the fleet store `store` (or the one `[redis]` describes), with
/// its maintenance running.
fn open_cache(
    config: &BrokerConfig,
    store: Option<Arc<dyn SharedStore>>,
    metrics: &Arc<Metrics>,
) -> Result<Arc<Cache>, BrokerError> {
    let store: Option<Arc<dyn SharedStore>> = match (store, &config.redis) {
        (Some(s), _) => Some(s),
        (None, Some(r)) => Some(crate::fleet::connect(r)?),
        (None, None) => None,
    };
    let cache = Arc::new(Cache::new(tuning(config), store, metrics.clone()));
    cache.spawn_maintenance();
    Ok(cache)
}

/// The metrics listener and its address, when `/metrics` has one of its own.
fn bind_metrics(
    config: &BrokerConfig,
) -> Result<(Option<std::net::TcpListener>, Option<SocketAddr>), BrokerError> {
    let metrics_listener = match config.metrics_listen_addr()? {
        Some(a) => Some(bind(a, false)?),
        None => None,
    };
    let metrics_addr = match &metrics_listener {
        Some(l) => Some(
            l.local_addr()
                .map_err(|e| BrokerError::from(crate::error::IoError::LocalAddr(e)))?,
        ),
        None => None,
    };
    Ok((metrics_listener, metrics_addr))
}

/// The listeners on `listen`: one per server thread, sharing the port (SO_REUSEPORT),
/// and the address they got.
fn bind_listeners(
    listen: SocketAddr,
    threads: usize,
) -> Result<(Vec<std::net::TcpListener>, SocketAddr), BrokerError> {
    if listen.port() != 0 && threads > 1 {
        // SO_REUSEPORT would let us share the port with another broker left running by
        // the same user; make sure it is free first.
        std::net::TcpListener::bind(listen).map_err(|e| {
            BrokerError::from(crate::error::IoError::Listen {
                addr: listen,
                source: e,
            })
        })?;
    }
    let first = bind(listen, threads > 1)?;
    let addr = first
        .local_addr()
        .map_err(|e| BrokerError::from(crate::error::IoError::LocalAddr(e)))?;
    let mut listeners = vec![first];
    for _ in 1..threads {
        listeners.push(bind(addr, true)?);
    }
    Ok((listeners, addr))
}

/// A server thread: its own single-threaded runtime serving `l`. The receiver hears when
/// the thread is done.
fn spawn_server_thread(
    i: usize,
    l: std::net::TcpListener,
    router: Router,
    stop_rx: watch::Receiver<bool>,
) -> Result<tokio::sync::oneshot::Receiver<()>, BrokerError> {
    let (done, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(format!("entra-broker-{i}"))
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(l) {
                        Ok(l) => serve_tcp(l, router, stop_rx).await,
                        Err(e) => tracing::error!(error = %e, "server thread cannot listen"),
                    }
                }),
                Err(e) => tracing::error!(error = %e, "server thread cannot start its runtime"),
            }
            let _ = done.send(());
        })
        .map_err(|e| BrokerError::from(crate::error::IoError::ServerThread(e)))?;
    Ok(done_rx)
}

/// A listening socket for `addr`, shareable by several listeners when `shared`.
fn bind(addr: SocketAddr, shared: bool) -> Result<std::net::TcpListener, BrokerError> {
    let err =
        |e: std::io::Error| BrokerError::from(crate::error::IoError::Listen { addr, source: e });
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(err)?;
    #[cfg(unix)]
    {
        socket.set_reuseaddr(true).map_err(err)?;
        if shared {
            socket.set_reuseport(true).map_err(err)?;
        }
    }
    #[cfg(not(unix))]
    let _ = shared;
    socket.bind(addr).map_err(err)?;
    socket.listen(1024).map_err(err)?.into_std().map_err(err)
}

/// Every route, behind the browser guard; `/metrics` unless it has a listener of its own.
fn router(shared: Arc<Shared>, with_metrics: bool) -> Router {
    let routes = Router::new()
        .route("/metadata/identity/oauth2/token", get(protocol::imds))
        // msal-node (and so @azure/identity for Node) asks with a trailing slash.
        .route("/metadata/identity/oauth2/token/", get(protocol::imds))
        .route("/msi/token", get(protocol::app_service))
        .route("/oauth2/token", post(protocol::cloud_shell))
        .route("/api/v1/token", post(protocol::native))
        .route("/api/v1/identities", get(identities))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/admin/purge", post(purge))
        .route("/admin/tokens", get(admin_tokens))
        .route("/admin/reload", post(admin_reload));
    let routes = if with_metrics {
        routes.route("/metrics", get(metrics))
    } else {
        routes.route("/metrics", get(metrics_elsewhere))
    };
    guarded(routes, shared)
}

/// `[broker] metrics_listen`'s listener: `/metrics` only.
fn metrics_router(shared: Arc<Shared>) -> Router {
    guarded(Router::new().route("/metrics", get(metrics)), shared)
}

fn guarded(routes: Router<Arc<Shared>>, shared: Arc<Shared>) -> Router {
    routes
        .fallback(not_found)
        .layer(crate::browser_guard::GuardLayer(shared.clone()))
        .with_state(shared)
}

async fn serve_tcp(
    listener: tokio::net::TcpListener,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Out of file descriptors and the like: back off briefly.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().unwrap_or(peer);
                let conn = Arc::new(Conn::tcp(peer, local));
                serve_connection(&graceful, TokioIo::new(stream), conn, router.clone());
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 10 s; closing them");
    }
}

#[cfg(unix)]
async fn serve_unix(
    listener: tokio::net::UnixListener,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let uid = stream.peer_cred().ok().map(|c| c.uid());
                let conn = Arc::new(Conn::unix(uid));
                serve_connection(&graceful, TokioIo::new(stream), conn, router.clone());
            }
            _ = stop.changed() => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

fn serve_connection<I>(graceful: &GracefulShutdown, io: I, conn: Arc<Conn>, router: Router)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(conn.clone());
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    let c = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(io, svc);
    let c = graceful.watch(c);
    tokio::spawn(async move {
        let _ = c.await;
    });
}

impl RunningBroker {
    /// The HTTP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr/msi/token`: `IDENTITY_ENDPOINT` / `MSI_ENDPOINT` for callers.
    pub fn identity_endpoint(&self) -> String {
        format!("http://{}/msi/token", self.addr)
    }

    /// `http://addr`: the IMDS base (`AZURE_POD_IDENTITY_AUTHORITY_HOST`).
    pub fn imds_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://addr/metrics`, on the metrics listener when there is one.
    pub fn metrics_url(&self) -> String {
        format!("http://{}/metrics", self.metrics_addr.unwrap_or(self.addr))
    }

    /// The metrics listener's address (`[broker] metrics_listen`), when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The Unix socket, if one is configured.
    pub fn unix_socket(&self) -> Option<&std::path::Path> {
        self.unix_socket.as_deref()
    }

    /// Applies a new configuration without dropping cached tokens of identities whose
    /// definition is unchanged. On error nothing changes.
    pub fn reload(&self, config: BrokerConfig) -> Result<(), BrokerError> {
        reload(&self.shared, config)
    }

    /// Re-reads the file the broker was started from, and reopens a file audit log
    /// (SIGHUP).
    pub fn reload_from_file(&self) -> Result<(), BrokerError> {
        reload_from_file(&self.shared)
    }

    /// Stops accepting, lets requests in flight finish (10 s at most), writes out the
    /// audit log.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        for t in self.server_threads {
            let _ = t.await;
        }
        #[cfg(unix)]
        if let Some(p) = &self.unix_socket {
            let _ = std::fs::remove_file(p);
        }
        self.shared.audit.close();
    }
}
