//! `/admin/vaults`: Key Vault secret rotation for tests and scripts.
//!
//! `POST /admin/vaults/{vault}/secrets/{name}/rotate` with an optional JSON body
//! `{"value": "…"}` (or none, or `null`) adds a new version to the secret (a random value when none is
//! given) and answers `{"vault","name","version"}`, plus `value` when it was generated.
//! 404 for an unknown vault or secret, 409 for a soft-deleted secret.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::services::RotateError;
use crate::state::AppState;

fn fail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    value: Option<String>,
}

/// `POST /admin/vaults/{vault}/secrets/{name}/rotate`.
pub(crate) async fn rotate(
    State(st): State<AppState>,
    Path((vault, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let given = if body.iter().all(|b| b.is_ascii_whitespace()) {
        None
    } else {
        match serde_json::from_slice::<Option<RotateBody>>(&body) {
            Ok(b) => b.and_then(|b| b.value),
            Err(_) => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    "the body is {\"value\": \"…\"} or empty",
                );
            }
        }
    };
    let dir = st.dir();
    let vault = vault.to_ascii_lowercase();
    let Some(v) = dir.vaults.iter().find(|v| v.name == vault) else {
        return fail(
            StatusCode::NOT_FOUND,
            &format!("no vault {vault:?} in the directory"),
        );
    };
    let generated = given.is_none();
    let value = given.unwrap_or_else(|| crate::tokens::random_token(32));
    match st.key_vaults.rotate(v, st.now(), &name, value.clone()) {
        Ok(version) => {
            tracing::info!(vault = %vault, secret = %name, %version, "admin: key vault secret rotated");
            let mut out = json!({ "vault": vault, "name": name, "version": version });
            if generated {
                out["value"] = json!(value);
            }
            Json(out).into_response()
        }
        Err(RotateError::NotFound) => fail(
            StatusCode::NOT_FOUND,
            &format!("no secret {name:?} in vault {vault:?}"),
        ),
        Err(RotateError::Managed) => fail(
            StatusCode::CONFLICT,
            &format!(
                "secret {name:?} of vault {vault:?} is a certificate's (import a new version)"
            ),
        ),
        Err(RotateError::Deleted) => fail(
            StatusCode::CONFLICT,
            &format!("secret {name:?} of vault {vault:?} is deleted (recover or purge it first)"),
        ),
    }
}
