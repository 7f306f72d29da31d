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
mod metadata;
mod subscriptions;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use entra_validate::Principal;

use crate::services::ServiceAuth;
use crate::state::AppState;
use error::ArmError;

/// ARM's public host: a request that came through the proxy under it is told the
/// public cloud's names.
const PUBLIC_HOST: &str = "management.azure.com";

/// ARM's routes (nested under [`super::prefix::ARM`]).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/subscriptions", get(subscriptions::list))
        .route("/subscriptions/{id}", get(subscriptions::get))
        .route("/tenants", get(subscriptions::tenants))
        .route("/metadata/endpoints", get(metadata::endpoints))
        .fallback(error::unknown_route)
}

/// Whether the request reached the emulator through the proxy under ARM's public name.
fn via_public_host(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.split(':').next().unwrap_or(h))
        .is_some_and(|h| h.eq_ignore_ascii_case(PUBLIC_HOST))
}

/// The login authority a client of this ARM uses: Entra's public name through the
/// proxy, else the emulator itself (no trailing slash).
fn login_base(st: &AppState, headers: &HeaderMap) -> String {
    if via_public_host(headers) {
        "https://login.microsoftonline.com".into()
    } else {
        st.base_url(headers)
    }
}

/// The caller's validated ARM token, or ARM's 401.
async fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<Principal, ArmError> {
    let dir = st.dir();
    let Some(arm) = dir.app(error::ARM_APP_ID) else {
        return Err(ArmError::invalid_token());
    };
    ServiceAuth::check(st, headers, arm)
        .await
        .map_err(|e| error::from_validation(&e, st, headers))
}
