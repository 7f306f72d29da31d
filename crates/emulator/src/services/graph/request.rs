//! The caller of the local Graph: its bearer token validated for Graph's app.

use axum::http::HeaderMap;
use entra_validate::Principal;

use super::error::{self, GraphError};
use super::host;
use crate::services::ServiceAuth;
use crate::services::workspace_access::request_allowed;
use crate::state::AppState;

/// The caller's validated Graph token, or Graph's 401.
pub(super) async fn authenticate(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, GraphError> {
    if !request_allowed(st, headers, &[host::PUBLIC_HOST]) {
        return Err(GraphError::refused_web_request());
    }
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
