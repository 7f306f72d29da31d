//! The local services' routes, each under its [`prefix`](super::prefix).

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use super::prefix;
use super::workspace_access::VIA_PROXY;
use super::{arm, fabric, graph, keyvault, powerbi};
use crate::proxy::Proxied;
use crate::state::AppState;

/// Every local service, each under its prefix.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .nest(prefix::FABRIC, fabric::router())
        .nest(prefix::POWER_BI, powerbi::router())
        .nest(prefix::GRAPH, graph::router())
        .nest(prefix::ARM, arm::router())
        .nest(prefix::VAULT, keyvault::router())
        .layer(axum::middleware::from_fn(mark_proxied))
}

/// Turns the proxy's request extension into the internal [`VIA_PROXY`] header the
/// service handlers read (they take a `HeaderMap`), after removing any such header the
/// client sent: only the in-process proxy can make a service answer for its public
/// hostname.
async fn mark_proxied(mut req: Request, next: Next) -> Response {
    req.headers_mut().remove(VIA_PROXY);
    let via = req
        .extensions()
        .get::<Proxied>()
        .and_then(|p| HeaderValue::from_str(&p.host).ok());
    if let Some(host) = via {
        req.headers_mut().insert(VIA_PROXY, host);
    }
    next.run(req).await
}
