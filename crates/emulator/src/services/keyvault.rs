//! The local Azure Key Vault (`https://{vault}.vault.azure.net`, mounted at
//! `/vault/{vault}`): secrets over Key Vault's REST API (api-version 7.x): set, get
//! (latest and by version), list and list versions (paged by `nextLink`), update
//! attributes, delete (soft delete), get deleted, list deleted, recover, purge; PEM
//! certificates: import, get, list, list versions (the bundle read through `/secrets`).
//!
//! As Key Vault: a request with no bearer gets the 401 challenge (`WWW-Authenticate:
//! Bearer authorization="…", resource="https://vault.azure.net"`); the bearer must be an
//! access token of this emulator for Azure Key Vault in the vault's tenant; access is the
//! vault's RBAC role assignments (`[[vaults]]`). Secrets live in memory, seeded from the
//! directory at first use. Sources and what is uncertain: docs/local-apis.md.

mod certificates;
mod deleted;
mod error;
mod request;
mod secrets;
mod store;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;
use error::KvError;
pub(crate) use store::{KeyVaults, RotateError};

/// The Key Vault routes (relative to `/vault/{vault}`).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/secrets", get(secrets::list))
        .route(
            "/secrets/{name}",
            get(secrets::get_latest)
                .put(secrets::set)
                .delete(deleted::delete),
        )
        .route(
            "/secrets/{name}/",
            get(secrets::get_latest).patch(secrets::update_latest),
        )
        .route("/secrets/{name}/versions", get(secrets::versions))
        .route(
            "/secrets/{name}/{version}",
            get(secrets::get_version).patch(secrets::update),
        )
        .route("/deletedsecrets", get(deleted::list))
        .route(
            "/deletedsecrets/{name}",
            get(deleted::get).delete(deleted::purge),
        )
        .route("/deletedsecrets/{name}/recover", post(deleted::recover))
        .route("/certificates", get(certificates::list))
        .route("/certificates/{name}", get(certificates::get))
        .route("/certificates/{name}/", get(certificates::get))
        .route("/certificates/{name}/import", post(certificates::import))
        .route("/certificates/{name}/versions", get(certificates::versions))
        .route("/certificates/{name}/{version}", get(certificates::get))
        .fallback(not_served)
}

async fn not_served() -> KvError {
    KvError::bad_parameter("The request URI is not a supported Key Vault operation.")
}
