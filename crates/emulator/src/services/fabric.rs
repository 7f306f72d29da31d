//! The local Microsoft Fabric REST API (`api.fabric.microsoft.com`, mounted at `/fabric`):
//! `GET /v1/workspaces`, `/v1/workspaces/{id}` and `/v1/workspaces/{id}/items`, over the
//! directory's `[[workspaces]]`.
//!
//! As Fabric: the bearer must be an access token of this emulator for Power BI Service
//! (the first-party app that carries `https://api.fabric.microsoft.com`), else 401
//! `InvalidToken` (a code, garbage, an expired token, another audience: seed 001's
//! answer); a delegated token needs one of the endpoint's documented scopes, else 403
//! `InsufficientScopes`; users and service principals see the workspaces they hold a
//! role in. Error shapes and what is uncertain about them: docs/local-apis.md.

mod error;
mod items;
mod paging;
mod workspaces;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;

pub(crate) use error::FabricError;

use super::ServiceAuth;
use super::workspace_access::{Caller, public_base, request_allowed};
use crate::state::AppState;

/// Power BI Service, the first-party app whose token Fabric accepts.
pub(crate) const POWER_BI_SERVICE: &str = "00000009-0000-0000-c000-000000000000";

/// Fabric's public hostname (what the proxy forwards here).
const PUBLIC_HOSTS: &[&str] = &["api.fabric.microsoft.com"];

/// "Required Delegated Scopes" of list/get workspace and list items (Fabric's REST specs).
const WORKSPACE_READ: &[&str] = &["Workspace.Read.All", "Workspace.ReadWrite.All"];

/// The Fabric routes (relative to `/fabric`).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/workspaces", get(workspaces::list))
        .route("/v1/workspaces/{workspace_id}", get(workspaces::get))
        .route("/v1/workspaces/{workspace_id}/items", get(items::list))
        .fallback(not_served)
}

async fn not_served() -> FabricError {
    FabricError::not_served()
}

/// The caller of a Fabric request, once the request is not a browser's (nor for a
/// foreign `Host`) and its bearer is valid for Fabric and (delegated) carries one of
/// `scopes`.
async fn caller(
    st: &AppState,
    headers: &HeaderMap,
    scopes: &[&str],
) -> Result<Caller, FabricError> {
    if !request_allowed(st, headers, PUBLIC_HOSTS) {
        st.count("refused", "service-browser");
        return Err(FabricError::refused_request());
    }
    let dir = st.dir();
    // A directory without Power BI Service has no token Fabric would accept.
    let app = dir
        .app(POWER_BI_SERVICE)
        .ok_or_else(FabricError::invalid_token)?;
    let principal = ServiceAuth::check(st, headers, app).await.map_err(|e| {
        tracing::info!(reason = e.code(), "fabric: bearer refused");
        FabricError::invalid_token()
    })?;
    let caller = Caller::new(principal);
    if !caller.is_app_only() && !caller.has_any_scope(scopes) {
        return Err(FabricError::insufficient_scopes());
    }
    Ok(caller)
}

/// The base of links in Fabric's answers: `https://api.fabric.microsoft.com` through the
/// proxy, the emulator's `/fabric` otherwise.
fn link_base(st: &AppState, headers: &HeaderMap) -> String {
    public_base(st, headers, PUBLIC_HOSTS, super::prefix::FABRIC)
}

/// The first value of query parameter `name`.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}
