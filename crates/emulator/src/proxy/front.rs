//! The proxy's plain-HTTP side: what a client sends to `HTTPS_PROXY` before any TLS.
//!
//! - `CONNECT host:443` for a served host ([`super::hosts::route`]) gets `200` and the
//!   tunnel ([`super::tunnel`]) terminates TLS on it; the leaf is minted before the `200`,
//!   so a failure is still an HTTP answer.
//! - Every other `CONNECT` (another host, another port, an IP literal) and every
//!   absolute-form request (`GET http://example.com/`, plain HTTP through the proxy) gets
//!   a `403` whose body names the host and says that nothing leaves the machine. The
//!   proxy never opens a connection to anywhere: it has no outbound code path.
//! - A request to the proxy itself (origin-form) must carry a `Host` naming it; it is
//!   answered `400` with a line saying what this listener is.
//! - A browser's request (`Origin`, `Sec-Fetch-Site`, `Sec-Fetch-Dest`, `Sec-Fetch-User`)
//!   is refused: no browser talks to a forward proxy with those.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::ctx::ProxyCtx;
use super::{hosts, tunnel};

/// What the refusals list as served, for the reader of a 403.
const SERVED_SUMMARY: &str = "login.microsoftonline.com, login.windows.net, login.microsoft.com, sts.windows.net, management.azure.com, management.core.windows.net, graph.microsoft.com, api.fabric.microsoft.com, api.powerbi.com, <vault>.vault.azure.net";

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
                handle(conn_ctx.clone(), remote, req)
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

/// Answers one request on the proxy listener.
pub(super) async fn handle(
    ctx: Arc<ProxyCtx>,
    remote: std::net::SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if let Some(h) = browser_header(&req) {
        ctx.state.count("proxy", "refused:browser");
        return Ok(text(
            StatusCode::FORBIDDEN,
            format!(
                "entrakit proxy: refused a browser request (it carries {h}); this proxy is for command-line clients and SDKs.\n"
            ),
        ));
    }
    if req.method() == Method::CONNECT {
        return Ok(connect(ctx, remote, req));
    }
    if let Some(authority) = req.uri().authority() {
        ctx.state.count("proxy", "refused:host");
        let host = printable(authority.as_str());
        return Ok(text(
            StatusCode::FORBIDDEN,
            format!(
                "entrakit proxy: refused {} http://{host}/: plain HTTP is not proxied. {}\n",
                printable(req.method().as_str()),
                nothing_leaves()
            ),
        ));
    }
    let host_ok = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| names_proxy(h, ctx.bind));
    if !host_ok {
        ctx.state.count("proxy", "refused:host");
        return Ok(text(
            StatusCode::FORBIDDEN,
            "entrakit proxy: refused: the Host header does not name this proxy.\n".into(),
        ));
    }
    Ok(text(
        StatusCode::BAD_REQUEST,
        format!(
            "entrakit proxy: this is an HTTPS proxy (HTTPS_PROXY) for Microsoft's login and API hosts, served by the local emulator: {SERVED_SUMMARY}. Send CONNECT host:443.\n"
        ),
    ))
}

fn nothing_leaves() -> String {
    format!(
        "Only Microsoft's login and API hosts are served, by the local emulator ({SERVED_SUMMARY}); nothing leaves this machine: the proxy never connects anywhere."
    )
}

/// `CONNECT host:port`: the tunnel for a served host on 443, a 403 for anything else.
fn connect(
    ctx: Arc<ProxyCtx>,
    remote: std::net::SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let Some(authority) = req.uri().authority().cloned() else {
        return text(
            StatusCode::BAD_REQUEST,
            "entrakit proxy: CONNECT needs host:port.\n".into(),
        );
    };
    let host = authority.host().to_ascii_lowercase();
    let shown = printable(authority.as_str());
    let ip_literal = host.starts_with('[') || host.parse::<IpAddr>().is_ok();
    let service = if ip_literal {
        None
    } else {
        hosts::route(&host)
    };
    let Some(service) = service else {
        ctx.state.count("proxy", "refused:host");
        tracing::info!(target = %shown, "proxy refused CONNECT");
        return text(
            StatusCode::FORBIDDEN,
            format!(
                "entrakit proxy: refused CONNECT {shown}: not a host the local emulator serves. {}\n",
                nothing_leaves()
            ),
        );
    };
    if authority.port_u16() != Some(443) {
        ctx.state.count("proxy", "refused:port");
        return text(
            StatusCode::FORBIDDEN,
            format!(
                "entrakit proxy: refused CONNECT {shown}: only port 443 is served. {}\n",
                nothing_leaves()
            ),
        );
    }
    let config = match ctx.ca.server_config(&host, ctx.state.now()) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("proxy: no leaf for {host}: {e}");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("entrakit proxy: no certificate for {shown}.\n"),
            );
        }
    };
    // The tunnel outlives this front connection: it holds a connection slot of its own.
    let Ok(slot) = ctx.conns.clone().try_acquire_owned() else {
        ctx.state.count("proxy", "refused:busy");
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "entrakit proxy: too many open connections.\n".into(),
        );
    };
    ctx.state.count("proxy", "connect");
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let _slot = slot;
        let upgraded = match tokio::time::timeout(Duration::from_secs(10), on_upgrade).await {
            Ok(Ok(u)) => u,
            _ => return,
        };
        tunnel::serve(ctx, TokioIo::new(upgraded), config, host, service, remote).await;
    });
    Response::new(Body::empty())
}

/// The first browser-only header present, if any.
fn browser_header<B>(req: &Request<B>) -> Option<&'static str> {
    [
        "origin",
        "sec-fetch-site",
        "sec-fetch-dest",
        "sec-fetch-user",
    ]
    .into_iter()
    .find(|h| req.headers().contains_key(*h))
}

/// Does a `Host` value name this proxy: a loopback name or the bind address, any port?
fn names_proxy(value: &str, bind: IpAddr) -> bool {
    let host = match value.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => value,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip == bind)
}

/// A client-given value made safe to echo: printable ASCII, at most 100 characters.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(100)
        .collect()
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_host_check() {
        let lo = IpAddr::from([127, 0, 0, 1]);
        assert!(names_proxy("127.0.0.1:8080", lo));
        assert!(names_proxy("localhost", lo));
        assert!(names_proxy("[::1]:8080", lo));
        assert!(!names_proxy("evil.example:8080", lo));
        assert!(!names_proxy("login.microsoftonline.com", lo));
    }

    #[test]
    fn echo_is_bounded() {
        assert_eq!(printable("a b\r\nc"), "abc");
        assert_eq!(printable(&"x".repeat(500)).len(), 100);
    }
}
