//! Azure Resource Manager (`management.azure.com`), served under `/arm`: the
//! subscriptions a caller may see (`/subscriptions`, `/subscriptions/{id}`), its tenants
//! (`/tenants`) and the cloud's endpoint metadata (`/metadata/endpoints`), which is what
//! the Azure CLI calls on `az cloud register` and on every `az login`.
//!
//! A caller's token must be an ARM token of this emulator (entra-validate: signature,
//! issuer, audience, tenant, lifetime); what it may see follows the directory's role
//! assignments (`[[subscriptions]]`), as ARM's RBAC does. Every request needs an
//! `api-version`; every failure is answered in ARM's error shape ([`error`]).

mod error;
mod host;
mod metadata;
mod request;
mod subscriptions;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;

use crate::state::AppState;

/// ARM's routes (nested under [`super::prefix::ARM`]).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/subscriptions", get(subscriptions::list))
        .route("/subscriptions/{id}", get(subscriptions::get))
        .route("/tenants", get(subscriptions::tenants))
        .route("/metadata/endpoints", get(metadata::endpoints))
        .fallback(repeated_slashes)
}

/// ARM answers `https://management.azure.com//metadata/endpoints` as the path without the
/// empty segment, and `az cloud register --endpoint-resource-manager https://…/arm/`
/// (a trailing slash, as Microsoft's examples write it) asks for exactly that. A GET
/// whose path has empty segments (repeated or trailing slashes) is answered as the path
/// without them; anything else is not served.
async fn repeated_slashes(
    axum::extract::State(st): axum::extract::State<AppState>,
    method: axum::http::Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::extract::{Path, State};
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    // axum hands a nested fallback the path with the prefix stripped (and with it the
    // empty segment): route by the non-empty segments.
    if method != axum::http::Method::GET {
        return error::unknown_route(uri).await;
    }
    let state = State(st);
    match segments.as_slice() {
        ["subscriptions"] => subscriptions::list(state, headers, uri).await,
        ["subscriptions", id] => {
            let id = Path(id.to_string());
            subscriptions::get(state, id, headers, uri).await
        }
        ["tenants"] => subscriptions::tenants(state, headers, uri).await,
        ["metadata", "endpoints"] => metadata::endpoints(state, headers, uri).await,
        _ => error::unknown_route(uri).await,
    }
}
