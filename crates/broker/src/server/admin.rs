//! The admin API (`/admin/purge`, `/admin/tokens`, `/admin/reload`, behind the admin
//! token) and `/api/v1/identities` (what a caller may use).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::policy::fingerprint;
use crate::protocol;
use crate::state::{Shared, reload_from_file};

/// The admin API needs `Authorization: Bearer <admin token>`; without a configured
/// token it is off.
#[expect(clippy::result_large_err, reason = "the error is the response to send")]
fn admin_check(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let g = shared.generation();
    let Some(expected) = g.admin_token else {
        return Err((
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "not_found", "error_description": "the admin API is off: set [broker] admin_token_env or admin_token_file"})),
        )
            .into_response());
    };
    let presented = protocol::bearer(headers).map(|b| fingerprint(b.as_bytes()));
    if presented != Some(expected) {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "unauthorized", "error_description": "the admin API needs Authorization: Bearer <admin token>"})),
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"entra-broker-admin\""),
        );
        return Err(r);
    }
    Ok(())
}

/// `POST /admin/purge` with `{"identity": "name"}`.
pub(super) async fn purge(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admin_check(&shared, &headers) {
        return r;
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        identity: String,
    }
    let b: Body = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "invalid_request", "error_description": format!("give {{\"identity\": \"name\"}}: {e}")})),
            )
                .into_response();
        }
    };
    if !shared.generation().by_name.contains_key(&b.identity) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "not_found", "error_description": format!("no identity named {:?}", b.identity)})),
        )
            .into_response();
    }
    let (local, fleet) = shared.cache.purge(&b.identity).await;
    let fleet = match fleet {
        None => json!(null),
        Some(Ok(n)) => json!({"purged": n}),
        Some(Err(e)) => json!({"error": e}),
    };
    tracing::info!(identity = %b.identity, local, "admin purge");
    axum::Json(json!({"identity": b.identity, "purged": local, "fleet": fleet})).into_response()
}

pub(super) async fn admin_tokens(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admin_check(&shared, &headers) {
        return r;
    }
    axum::Json(json!({ "tokens": shared.cache.entries() })).into_response()
}

pub(super) async fn admin_reload(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admin_check(&shared, &headers) {
        return r;
    }
    match reload_from_file(&shared) {
        Ok(()) => axum::Json(json!({"reloaded": true})).into_response(),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(
                json!({"error": "invalid_configuration", "error_description": e.to_string()}),
            ),
        )
            .into_response(),
    }
}

/// `GET /api/v1/identities`: what the bearer's caller may use.
pub(super) async fn identities(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let g = shared.generation();
    let caller = protocol::bearer(&headers).and_then(|s| g.callers.by_secret(s));
    let Some(caller) = caller else {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "unauthorized", "error_description": "the Authorization: Bearer header matches no caller"})),
        )
            .into_response();
    };
    let list: Vec<_> = g
        .identities
        .iter()
        .filter(|i| caller.may_use(&i.name))
        .map(|i| json!({"name": &*i.name, "client_id": i.client_id}))
        .collect();
    axum::Json(json!({"caller": &*caller.name, "identities": list})).into_response()
}
