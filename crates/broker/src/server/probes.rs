//! The routes for operators' tools: `/healthz`, `/readyz`, `/metrics`, and the answer
//! for unknown paths.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::policy::fingerprint;
use crate::protocol;
use crate::state::Shared;

pub(super) async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({
            "error": "not_found",
            "error_description": "unknown path; token endpoints: /metadata/identity/oauth2/token (IMDS), /msi/token (App Service), /oauth2/token (Cloud Shell), /api/v1/token (native)"
        })),
    )
        .into_response()
}

pub(super) async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

pub(super) async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let g = shared.generation();
    let store = shared.cache.store().map(|s| {
        json!({
            "store": s.describe(),
            "connected": s.connected(),
        })
    });
    (
        StatusCode::OK,
        axum::Json(json!({
            "status": "ready",
            "identities": g.identities.len(),
            "callers": g.callers.all.len(),
            "cached_tokens": shared.cache.len(),
            "fleet": store,
        })),
    )
        .into_response()
}

pub(super) async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(expected) = shared.generation().metrics_token {
        let presented = protocol::bearer(&headers).map(|b| fingerprint(b.as_bytes()));
        if presented != Some(expected) {
            let mut r = (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "unauthorized", "error_description": "/metrics needs Authorization: Bearer <metrics token> ([broker] metrics_token_env / metrics_token_file)"})),
            )
                .into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"entra-broker-metrics\""),
            );
            return r;
        }
    }
    shared.cache.maintain_gauges();
    let mut r = shared.metrics.encode().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

pub(super) async fn metrics_elsewhere() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "not_found", "error_description": "/metrics is served on [broker] metrics_listen, not here"})),
    )
        .into_response()
}
