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
mod host;
mod request;
mod users;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

/// Graph's routes (nested under [`super::prefix::GRAPH`]).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1.0/me", get(users::me))
        .route("/v1.0/users", get(users::list))
        .route("/v1.0/users/{id}", get(users::get))
        .route("/v1.0/organization", get(users::organization))
        .fallback(error::unknown_segment)
}
