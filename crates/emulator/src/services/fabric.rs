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
mod request;
mod workspaces;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;
use error::FabricError;

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
