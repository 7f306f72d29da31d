//! The connection layer: accepts TCP, does the TLS handshake, serves HTTP/1.1 with
//! keep-alive, and applies injected faults before routing (so a "dropped connection"
//! really closes the socket without an answer).

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;

use crate::state::{AppState, FaultAction, RemoteAddr, endpoint_name};

/// A connection dropped on purpose (fault injection).
#[derive(Debug)]
pub(crate) struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

/// Serves `listener` until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let state = state.clone();
        let tls = tls.clone();
        let conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let app = app.clone();
                let state = state.clone();
                async move { handle(app, state, remote, req).await }
            });
            let builder = {
                let mut b = hyper::server::conn::http1::Builder::new();
                b.timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .keep_alive(true);
                b
            };
            match tls {
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                    if let Ok(Ok(tls_stream)) = handshake.await {
                        serve_connection(builder, tls_stream, service, conn_shutdown).await;
                    }
                }
                None => serve_connection(builder, stream, service, conn_shutdown).await,
            }
        });
    }
}

/// Serves one connection until it ends or shutdown asks it to finish gracefully.
pub(crate) async fn serve_connection<I, S>(
    builder: hyper::server::conn::http1::Builder,
    io: I,
    service: S,
    mut shutdown: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}

pub(crate) async fn handle(
    app: Router,
    state: AppState,
    remote: std::net::SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, DroppedByFault> {
    let endpoint = endpoint_name(req.uri().path());
    state.count("endpoint", endpoint);
    if endpoint != "admin" {
        match state.take_fault(endpoint) {
            FaultAction::Pass => {}
            FaultAction::Delay(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            FaultAction::Drop => return Err(DroppedByFault),
            FaultAction::Respond {
                status,
                retry_after,
                latency_ms,
            } => {
                if latency_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(latency_ms)).await;
                }
                return Ok(fault_response(status, retry_after));
            }
        }
    }
    req.extensions_mut().insert(RemoteAddr(remote));
    let req = match crate::body_limit::read_bounded(req).await {
        Ok(r) => r,
        Err(too_large) => return Ok(too_large),
    };
    let (req, recording) = crate::recorder::capture(&state, endpoint, req).await;
    let resp = match app.oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    if let Some(r) = recording {
        r.finish(&state, resp.status());
    }
    Ok(resp)
}

fn fault_response(status: u16, retry_after: Option<u64>) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let (error, code, text) = if status == StatusCode::TOO_MANY_REQUESTS {
        (
            "temporarily_unavailable",
            50196u32,
            "The server is throttling this client (injected fault). Retry after the given delay.",
        )
    } else {
        (
            "temporarily_unavailable",
            50000u32,
            "The server is temporarily unavailable (injected fault).",
        )
    };
    let err = crate::errors::EntraError::new(error, code, text).status(status);
    let body = serde_json::to_vec(&err.body()).unwrap_or_default();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(s) = retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, v);
    }
    resp
}
