//! The local services' routes, each under its [`prefix`](super::prefix).

use axum::Router;

use super::prefix;
use super::{fabric, powerbi};
use crate::state::AppState;

/// Every local service, each under its prefix.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .nest(prefix::FABRIC, fabric::router())
        .nest(prefix::POWER_BI, powerbi::router())
}
