//! The local admin API under `/admin`, guarded by `Authorization: Bearer <admin_token>`
//! (the token is in `ready.json`). It changes the directory at run time (apps, users,
//! secrets, consents), revokes a user's refresh tokens, rotates signing keys ([`keys`]) and
//! Key Vault secrets ([`vaults`]), moves the
//! clock, lists sign-in events, reads counters, injects faults, and approves a pending
//! device code as a user (`POST /admin/device-codes/{user_code}/approve`, for scripts and
//! tests that have no browser).
//!
//! App and user bodies are the same TOML tables as in the directory file (JSON objects
//! are accepted too and read the same way).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub(crate) mod keys;
mod vaults;

use crate::device_codes::{self, ApproveError};
use crate::directory::{AppConfig, SecretConfig, UserConfig};
use crate::state::{AppState, Fault, Revoked, mutate_directory as mutate};

/// The admin routes (mounted under `/admin`).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/directory", get(get_directory))
        .route("/apps", post(add_app))
        .route("/apps/{client_id}", delete(remove_app))
        .route("/apps/{client_id}/secrets", post(add_secret))
        .route("/apps/{client_id}/secrets/{key_id}", delete(remove_secret))
        .route("/users", post(add_user))
        .route("/users/{upn}", delete(remove_user))
        .route("/users/{upn}/revoke", post(revoke_user))
        .route("/keys", get(keys::list))
        .route("/keys/rotate", post(keys::rotate))
        .route(
            "/vaults/{vault}/secrets/{name}/rotate",
            post(vaults::rotate),
        )
        .route("/events", get(events))
        .route("/counters", get(counters).delete(reset_counters))
        .route(
            "/faults",
            get(list_faults).post(set_fault).delete(clear_faults),
        )
        .route("/clock", get(get_clock).post(move_clock))
        .route(
            "/device-codes/{user_code}/approve",
            post(approve_device_code),
        )
}

/// Rejects requests without the admin bearer token.
pub(crate) async fn guard(
    State(st): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !crate::tokens::constant_time_eq(presented.as_bytes(), st.admin_token.as_bytes()) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "the admin API needs `Authorization: Bearer <admin_token>` (see ready.json)",
        );
    }
    next.run(req).await
}

fn fail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Reads a TOML (or JSON) table into `T`.
fn table<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    let toml_text = match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => {
            toml::to_string(&v).map_err(|e| format!("cannot use that JSON: {e}"))?
        }
        _ => text.to_string(),
    };
    toml::from_str(&toml_text).map_err(|e| e.to_string())
}

async fn get_directory(State(st): State<AppState>) -> Response {
    let text = st.config.lock().expect("config lock").0.to_toml();
    (
        [(header::CONTENT_TYPE, "application/toml; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn add_app(State(st): State<AppState>, body: Bytes) -> Response {
    let app: AppConfig = match table(&body) {
        Ok(a) => a,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
    };
    let id = app.client_id.get_ref().clone();
    match mutate(&st, |c| {
        c.apps.push(app);
        Ok(())
    }) {
        Ok(()) => (StatusCode::CREATED, Json(json!({ "client_id": id }))).into_response(),
        Err(e) => fail(StatusCode::BAD_REQUEST, &e),
    }
}

async fn remove_app(State(st): State<AppState>, Path(client_id): Path<String>) -> Response {
    match mutate(&st, |c| {
        let before = c.apps.len();
        c.apps
            .retain(|a| !a.client_id.get_ref().eq_ignore_ascii_case(&client_id));
        if c.apps.len() == before {
            Err(format!("no app {client_id}"))
        } else {
            Ok(())
        }
    }) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(StatusCode::NOT_FOUND, &e),
    }
}

async fn add_secret(
    State(st): State<AppState>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let mut secret: SecretConfig = if body.is_empty() {
        SecretConfig {
            value: String::new(),
            expires: None,
            key_id: None,
        }
    } else {
        match table::<Value>(&body).map(|v| {
            (
                v.get("value").and_then(Value::as_str).map(str::to_string),
                v.get("expires").and_then(Value::as_str).map(str::to_string),
            )
        }) {
            Ok((value, expires)) => SecretConfig {
                value: value.unwrap_or_default(),
                expires,
                key_id: None,
            },
            Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
        }
    };
    if secret.value.is_empty() {
        secret.value = crate::tokens::random_token(30);
    }
    let key_id = uuid::Uuid::new_v4().to_string();
    secret.key_id = Some(key_id.clone());
    let value = secret.value.clone();
    match mutate(&st, |c| {
        let app = c
            .apps
            .iter_mut()
            .find(|a| a.client_id.get_ref().eq_ignore_ascii_case(&client_id))
            .ok_or(format!("no app {client_id}"))?;
        app.secrets.push(secret);
        Ok(())
    }) {
        // The new secret is shown once, like the portal does.
        Ok(()) => (
            StatusCode::CREATED,
            Json(json!({ "key_id": key_id, "value": value })),
        )
            .into_response(),
        Err(e) => fail(StatusCode::NOT_FOUND, &e),
    }
}

async fn remove_secret(
    State(st): State<AppState>,
    Path((client_id, key_id)): Path<(String, String)>,
) -> Response {
    let dir = st.dir();
    let Some(app) = dir.app(&client_id) else {
        return fail(StatusCode::NOT_FOUND, &format!("no app {client_id}"));
    };
    let Some(index) = app.secrets.iter().position(|s| s.key_id == key_id) else {
        return fail(StatusCode::NOT_FOUND, &format!("no secret {key_id}"));
    };
    match mutate(&st, |c| {
        let app = c
            .apps
            .iter_mut()
            .find(|a| a.client_id.get_ref().eq_ignore_ascii_case(&client_id))
            .ok_or("app vanished")?;
        if index < app.secrets.len() {
            app.secrets.remove(index);
        }
        Ok(())
    }) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(StatusCode::BAD_REQUEST, &e),
    }
}

async fn add_user(State(st): State<AppState>, body: Bytes) -> Response {
    let user: UserConfig = match table(&body) {
        Ok(u) => u,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
    };
    let upn = user.upn.get_ref().clone();
    match mutate(&st, |c| {
        c.users.push(user);
        Ok(())
    }) {
        Ok(()) => {
            let oid = st.dir().user(&upn).map(|u| u.object_id.clone());
            (
                StatusCode::CREATED,
                Json(json!({ "upn": upn, "object_id": oid })),
            )
                .into_response()
        }
        Err(e) => fail(StatusCode::BAD_REQUEST, &e),
    }
}

async fn remove_user(State(st): State<AppState>, Path(upn): Path<String>) -> Response {
    revoke(&st, &upn);
    match mutate(&st, |c| {
        let before = c.users.len();
        c.users
            .retain(|u| !u.upn.get_ref().eq_ignore_ascii_case(&upn));
        if c.users.len() == before {
            Err(format!("no user {upn}"))
        } else {
            Ok(())
        }
    }) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(StatusCode::NOT_FOUND, &e),
    }
}

/// Revokes every refresh-token family and browser session of `upn`; returns how many families.
fn revoke(st: &AppState, upn: &str) -> Option<usize> {
    let oid = st.dir().user(upn)?.object_id.clone();
    let mut store = st.store.lock().expect("store lock");
    let families: Vec<String> = store
        .refresh_tokens
        .values()
        .filter(|r| r.user_oid == oid)
        .map(|r| r.family.clone())
        .collect();
    let mut count = 0;
    for f in families {
        if store.revoked_families.insert(f, Revoked::Admin).is_none() {
            count += 1;
        }
    }
    store.sessions.retain(|_, s| s.user_oid != oid);
    Some(count)
}

async fn revoke_user(State(st): State<AppState>, Path(upn): Path<String>) -> Response {
    match revoke(&st, &upn) {
        Some(n) => Json(json!({ "revoked_families": n })).into_response(),
        None => fail(StatusCode::NOT_FOUND, &format!("no user {upn}")),
    }
}

async fn events(State(st): State<AppState>) -> Response {
    let events: Vec<_> = st
        .events
        .lock()
        .expect("events lock")
        .iter()
        .cloned()
        .collect();
    Json(json!({ "events": events })).into_response()
}

async fn counters(State(st): State<AppState>) -> Response {
    Json(json!(st.counters())).into_response()
}

async fn reset_counters(State(st): State<AppState>) -> Response {
    st.counters.lock().expect("counters lock").clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_faults(State(st): State<AppState>) -> Response {
    Json(json!(st.faults.lock().expect("faults lock").clone())).into_response()
}

pub(crate) const FAULT_ENDPOINTS: [&str; 14] = [
    "token",
    "token_v1",
    "authorize",
    "devicecode",
    "discovery",
    "jwks",
    "instance_discovery",
    "imds",
    "app_service",
    "userinfo",
    "logout",
    "federation",
    "pages",
    "admin",
];

fn json_body(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))
}

pub(crate) async fn set_fault(State(st): State<AppState>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
    };
    let Some(endpoint) = body.get("endpoint").and_then(Value::as_str) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "give \"endpoint\" (one of token, token_v1, authorize, devicecode, discovery, jwks, instance_discovery, imds, app_service, userinfo, logout, federation, pages)",
        );
    };
    if !FAULT_ENDPOINTS.contains(&endpoint) || endpoint == "admin" {
        return fail(
            StatusCode::BAD_REQUEST,
            &format!("unknown endpoint {endpoint:?}"),
        );
    }
    let fault: Fault = match serde_json::from_value(body.clone()) {
        Ok(f) => f,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if let Some(s) = fault.status
        && !(400..=599).contains(&s)
    {
        return fail(StatusCode::BAD_REQUEST, "status must be 400-599");
    }
    if fault.latency_ms > 60_000 {
        return fail(StatusCode::BAD_REQUEST, "latency_ms is capped at 60000");
    }
    st.faults_armed
        .store(true, std::sync::atomic::Ordering::Relaxed);
    st.faults
        .lock()
        .expect("faults lock")
        .insert(endpoint.to_string(), fault);
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_faults(State(st): State<AppState>) -> Response {
    st.faults.lock().expect("faults lock").clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_clock(State(st): State<AppState>) -> Response {
    Json(json!({ "now": st.now(), "offset_seconds": st.clock_offset.load(std::sync::atomic::Ordering::Relaxed) })).into_response()
}

async fn move_clock(State(st): State<AppState>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
    };
    let Some(secs) = body.get("advance_seconds").and_then(Value::as_i64) else {
        return fail(StatusCode::BAD_REQUEST, "give {\"advance_seconds\": N}");
    };
    st.clock_offset
        .fetch_add(secs, std::sync::atomic::Ordering::Relaxed);
    get_clock(State(st)).await
}

/// `POST /admin/device-codes/{user_code}/approve` with `{"user": "<upn>"}` (or the part
/// before `@` when one user has it): approves a pending device code as that user, as the
/// browser's sign-in and consent would; the client's next poll gets tokens.
async fn approve_device_code(
    State(st): State<AppState>,
    Path(user_code): Path<String>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
    };
    let Some(user) = body.get("user").and_then(Value::as_str) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "give {\"user\": \"<upn, or the part before @>\"}",
        );
    };
    match device_codes::approve(&st, &user_code, user) {
        Ok(a) => Json(json!({
            "user_code": a.user_code,
            "user": a.upn,
            "client_id": a.client_id,
        }))
        .into_response(),
        Err(ApproveError::UnknownCode(m)) => fail(StatusCode::NOT_FOUND, &m),
        Err(ApproveError::UnknownUser(m) | ApproveError::Unusable(m)) => {
            fail(StatusCode::BAD_REQUEST, &m)
        }
    }
}
