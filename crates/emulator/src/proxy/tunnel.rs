//! Inside a `CONNECT` tunnel: the TLS handshake with the host's leaf, then HTTP/1.1
//! (keep-alive) served straight by the emulator's router on the decrypted stream, with
//! no second TCP connection. Each request's path is mapped by [`super::hosts`] and it
//! carries [`Proxied`], which only this code sets: that is what makes the emulator
//! answer as Entra on its public hostname ([`crate::client_base`]).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioTimer;

use super::ctx::ProxyCtx;
use super::hosts::{self, Service};
use crate::server::{self, DroppedByFault};

/// Set on every request that came through the proxy: the public host the client asked
/// for (from its `CONNECT`, not from any header) and where the table routes it. Service
/// handlers read it to write URLs on the public host (`continuationUri`, `nextLink`).
#[derive(Debug, Clone)]
pub(crate) struct Proxied {
    /// The host of the `CONNECT`, lower case (`api.fabric.microsoft.com`).
    pub(crate) host: Arc<str>,
    /// Where it is served.
    pub(crate) service: Service,
}

/// Terminates TLS on `io` and serves the router over it until the client is done.
pub(super) async fn serve<I>(
    ctx: Arc<ProxyCtx>,
    io: I,
    config: Arc<rustls::ServerConfig>,
    host: String,
    service: Service,
    remote: std::net::SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(io)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            // A client that does not trust the intercept CA ends here.
            tracing::info!("proxy: TLS handshake for {host} failed: {e}");
            ctx.state.count("proxy", "handshake_failed");
            return;
        }
        Err(_) => return,
    };
    let proxied = Proxied {
        host: host.into(),
        service,
    };
    let shutdown = ctx.shutdown.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let ctx = ctx.clone();
        let proxied = proxied.clone();
        async move { route(ctx, proxied, remote, req).await }
    });
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .keep_alive(true);
    server::serve_connection(b, tls, svc, shutdown).await;
}

/// Maps one request onto the router and runs it through the emulator's own connection
/// layer (faults, counters, body limit).
async fn route(
    ctx: Arc<ProxyCtx>,
    proxied: Proxied,
    remote: std::net::SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, DroppedByFault> {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mapped = hosts::router_path(&proxied.service, pq).and_then(|p| p.parse::<Uri>().ok());
    let Some(uri) = mapped else {
        let mut r = Response::new(Body::from("Not Found\n"));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Ok(r);
    };
    *req.uri_mut() = uri;
    req.extensions_mut().insert(proxied);
    server::handle(ctx.app.clone(), ctx.state.clone(), remote, req).await
}
