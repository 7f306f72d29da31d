//! What every Fabric handler does first: refuse browsers and foreign hosts, validate the
//! bearer for Power BI Service, check a delegated token's scopes; and the helpers for
//! links and query parameters.

use axum::http::HeaderMap;

use super::error::FabricError;
use crate::services::ServiceAuth;
use crate::services::prefix::FABRIC;
use crate::services::workspace_access::{Caller, POWER_BI_SERVICE, public_base, request_allowed};
use crate::state::AppState;

/// Fabric's public hostname (what the proxy forwards here).
const PUBLIC_HOSTS: &[&str] = &["api.fabric.microsoft.com"];

/// "Required Delegated Scopes" of list/get workspace and list items (Fabric's REST specs).
pub(super) const WORKSPACE_READ: &[&str] = &["Workspace.Read.All", "Workspace.ReadWrite.All"];

/// The caller of a Fabric request, once the request is not a browser's (nor for a
/// foreign `Host`) and its bearer is valid for Fabric and (delegated) carries one of
/// `scopes`.
pub(super) async fn caller(
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
pub(super) fn link_base(st: &AppState, headers: &HeaderMap) -> String {
    public_base(st, headers, PUBLIC_HOSTS, FABRIC)
}

/// The first value of query parameter `name`.
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}
