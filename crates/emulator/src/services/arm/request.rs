//! The caller of the local ARM: its bearer token validated for ARM's first-party app.

use axum::http::HeaderMap;
use entra_validate::Principal;

use super::error::{self, ArmError};
use super::host;
use crate::services::ServiceAuth;
use crate::services::workspace_access::request_allowed;
use crate::state::AppState;

/// The caller's validated ARM token, or ARM's 401.
pub(super) async fn authenticate(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, ArmError> {
    if !request_allowed(st, headers, host::PUBLIC_HOSTS) {
        return Err(ArmError::refused_web_request());
    }
    let dir = st.dir();
    let Some(arm) = dir.app(error::ARM_APP_ID) else {
        return Err(ArmError::invalid_token());
    };
    ServiceAuth::check(st, headers, arm)
        .await
        .map_err(|e| error::from_validation(&e, st, headers))
}
