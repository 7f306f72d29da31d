//! `/admin/keys`: the signing keys' status, and rotation.
//!
//! - `GET /admin/keys`: each published key with its phase (`announced`, `signing`,
//!   `retired`) and times, and the rollover delay.
//! - `POST /admin/keys/rotate`: announces the next key (published in the v1 and v2 JWKS
//!   at once) that starts signing `key_rollover_delay_seconds` later; 409 while another
//!   announced key is pending.
//! - `POST /admin/keys/rotate?danger_immediate=true`: a new key signs at once. Validators
//!   that cached the key set refuse its tokens (`unknown kid`) until they may refetch.
//!
//! The federation issuer's key (`/federation/keys`) is not a token-signing key of the
//! tenants and does not rotate.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::signing_keys::RotateError;
use crate::state::AppState;

fn fail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// How a rotation switches keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rotation {
    /// Announce now, sign after the rollover delay.
    Announce,
    /// Sign with a new key at once (breaks validators' cached key sets).
    DangerImmediate,
}

impl Rotation {
    /// From the query string: nothing, or `danger_immediate=true|false`.
    fn from_query(q: Option<&str>) -> Result<Self, String> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.unwrap_or(""))
            .map_err(|_| "the query string is malformed".to_string())?;
        let mut mode = Self::Announce;
        for (k, v) in pairs {
            match (k.as_str(), v.as_str()) {
                ("danger_immediate", "true") => mode = Self::DangerImmediate,
                ("danger_immediate", "false") => mode = Self::Announce,
                ("danger_immediate", other) => {
                    return Err(format!(
                        "danger_immediate must be true or false, not {other:?}"
                    ));
                }
                (other, _) => return Err(format!("unknown parameter {other:?}")),
            }
        }
        Ok(mode)
    }
}

/// What a rotation did, for the admin API and the dashboard.
pub(crate) struct Rotated {
    /// The new key.
    pub(crate) kid: String,
    /// When it signs (or signed) first.
    pub(crate) activates: i64,
    /// The key that signs until then.
    pub(crate) signing_kid: String,
    /// When the rotation happened (emulator clock).
    pub(crate) at: i64,
}

/// Rotates the signing keys as `mode` says (RSA generation runs off the async workers).
pub(crate) async fn rotate_keys(st: &AppState, mode: Rotation) -> Result<Rotated, RotateError> {
    let now = st.now();
    let settings = st.dir().settings.clone();
    let grace = settings.key_grace_seconds as i64;
    let delay = settings.key_rollover_delay_seconds as i64;
    let st = st.clone();
    tokio::task::spawn_blocking(move || {
        let mut keys = st.keys.write().expect("keys lock");
        let key = match mode {
            Rotation::Announce => keys.announce(now, delay, grace)?,
            Rotation::DangerImmediate => keys.rotate_now(now, grace)?,
        };
        Ok(Rotated {
            kid: key.kid.clone(),
            activates: key.activates,
            signing_kid: keys.active_at(now).kid.clone(),
            at: now,
        })
    })
    .await
    .unwrap_or_else(|e| {
        Err(RotateError::Key(crate::keys::KeyError::Crypto(
            e.to_string(),
        )))
    })
}

/// `POST /admin/keys/rotate[?danger_immediate=true]`.
pub(crate) async fn rotate(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let mode = match Rotation::from_query(q.as_deref()) {
        Ok(m) => m,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
    };
    match rotate_keys(&st, mode).await {
        Ok(r) => {
            let mut body = json!({
                "kid": r.kid,
                "activates_at": r.activates,
                "activates_in_seconds": (r.activates - r.at).max(0),
                "signing_kid": r.signing_kid,
                "mode": if mode == Rotation::Announce { "announced" } else { "danger_immediate" },
            });
            if mode == Rotation::DangerImmediate {
                body["warning"] = "validators that cached the JWKS refuse tokens signed with the new key (unknown kid) until they refetch it".into();
            }
            Json(body).into_response()
        }
        Err(e @ RotateError::AlreadyAnnounced { .. }) => fail(StatusCode::CONFLICT, &e.to_string()),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /admin/keys`.
pub(crate) async fn list(State(st): State<AppState>) -> Response {
    let now = st.now();
    let settings = st.dir().settings.clone();
    let keys = st
        .keys
        .read()
        .expect("keys lock")
        .status(now, settings.key_grace_seconds as i64);
    Json(json!({
        "now": now,
        "key_rollover_delay_seconds": settings.key_rollover_delay_seconds,
        "key_grace_seconds": settings.key_grace_seconds,
        "keys": keys,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_query() {
        assert_eq!(Rotation::from_query(None), Ok(Rotation::Announce));
        assert_eq!(
            Rotation::from_query(Some("danger_immediate=true")),
            Ok(Rotation::DangerImmediate)
        );
        assert_eq!(
            Rotation::from_query(Some("danger_immediate=false")),
            Ok(Rotation::Announce)
        );
        assert!(Rotation::from_query(Some("danger_immediate=yes")).is_err());
        assert!(Rotation::from_query(Some("immediate=true")).is_err());
    }
}
