//! Microsoft Graph (`graph.microsoft.com`), served under `/graph`: the signed-in user
//! (`/v1.0/me`), users (`/v1.0/users`, `/v1.0/users/{id | userPrincipalName}`) and the
//! tenant (`/v1.0/organization`), read from the directory.
//!
//! Each request's bearer token must be a Graph token of this emulator (entra-validate:
//! signature, issuer, audience, tenant, lifetime); the permissions are Graph's own (its
//! API reference, "Permissions" of each call), and every failure is answered in Graph's
//! error shape ([`error`]). What was checked against which source, and what stays
//! uncertain: docs/first-party-apps.md.

mod error;
mod users;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use entra_validate::Principal;

use crate::services::ServiceAuth;
use crate::state::AppState;
use error::GraphError;

/// Graph's public host: a request that came through the proxy under it gets links there.
const PUBLIC_HOST: &str = "graph.microsoft.com";

/// Graph's routes (nested under [`super::prefix::GRAPH`]).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1.0/me", get(users::me))
        .route("/v1.0/users", get(users::list))
        .route("/v1.0/users/{id}", get(users::get))
        .route("/v1.0/organization", get(users::organization))
        .fallback(error::unknown_segment)
}

/// Where this Graph lives as the client sees it: `https://graph.microsoft.com` through
/// the proxy, else the emulator's own base and prefix.
fn service_root(st: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase());
    if host.as_deref() == Some(PUBLIC_HOST) {
        format!("https://{PUBLIC_HOST}")
    } else {
        format!("{}{}", st.base_url(headers), super::prefix::GRAPH)
    }
}

/// The caller's validated Graph token, or Graph's 401.
async fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<Principal, GraphError> {
    let dir = st.dir();
    let Some(graph) = dir.app(crate::directory::GRAPH_APP_ID) else {
        // A directory without Graph: no token can be Graph's.
        return Err(GraphError::invalid_token(
            "Access token validation failure. Invalid audience.",
        ));
    };
    ServiceAuth::check(st, headers, graph)
        .await
        .map_err(|e| error::from_validation(&e, st, headers))
}
