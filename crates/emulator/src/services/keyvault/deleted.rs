//! Soft delete: delete a secret (all its versions), get and list deleted secrets,
//! recover one, purge one.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::KvError;
use super::request::{Access, Ctx, check};
use super::secrets::{SecretPath, name_of, page};
use super::store::{RECOVERABLE_DAYS, Secret};
use crate::state::AppState;

/// A `DeletedSecretBundle` (or item): the latest version without its value, plus
/// `recoveryId`, `deletedDate` and `scheduledPurgeDate`.
fn deleted_json(ctx: &Ctx, s: &Secret, deleted: i64, item: bool) -> Value {
    let latest = s.latest();
    let mut v = if item {
        latest.item(&ctx.base, &s.name, false)
    } else {
        latest.bundle(&ctx.base, &s.name, false)
    };
    v["recoveryId"] = json!(format!("{}/deletedsecrets/{}", ctx.base, s.name));
    v["deletedDate"] = json!(deleted);
    v["scheduledPurgeDate"] = json!(deleted + RECOVERABLE_DAYS * 86_400);
    v
}

/// `DELETE /secrets/{name}`: soft delete (Secrets Officer).
pub(super) async fn delete(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, KvError> {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Write).await?;
    let name = name_of(&p)?;
    let key = name.to_ascii_lowercase();
    let now = st.now();
    st.key_vaults.with(&ctx.vault, now, |d| {
        let s = d
            .live
            .remove(&key)
            .ok_or_else(|| KvError::secret_not_found(&name))?;
        let body = deleted_json(&ctx, &s, now, false);
        d.deleted.insert(key, (s, now));
        Ok(Json(body))
    })
}

/// `GET /deletedsecrets/{name}`.
pub(super) async fn get(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, KvError> {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Write).await?;
    let name = name_of(&p)?;
    let key = name.to_ascii_lowercase();
    st.key_vaults.with(&ctx.vault, st.now(), |d| {
        let (s, at) = d
            .deleted
            .get(&key)
            .ok_or_else(|| KvError::deleted_not_found(&name))?;
        Ok(Json(deleted_json(&ctx, s, *at, false)))
    })
}

/// `GET /deletedsecrets`, paged as the live list.
pub(super) async fn list(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, KvError> {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Write).await?;
    let items: Vec<Value> = st.key_vaults.with(&ctx.vault, st.now(), |d| {
        d.deleted
            .values()
            .map(|(s, at)| deleted_json(&ctx, s, *at, true))
            .collect()
    });
    page(&ctx, q.as_deref(), items, "/deletedsecrets")
}

/// `POST /deletedsecrets/{name}/recover`: back to live, every version kept.
pub(super) async fn recover(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, KvError> {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Write).await?;
    let name = name_of(&p)?;
    let key = name.to_ascii_lowercase();
    st.key_vaults.with(&ctx.vault, st.now(), |d| {
        let (s, _) = d
            .deleted
            .remove(&key)
            .ok_or_else(|| KvError::deleted_not_found(&name))?;
        let body = s.latest().bundle(&ctx.base, &s.name, false);
        d.live.insert(key, s);
        Ok(Json(body))
    })
}

/// `DELETE /deletedsecrets/{name}`: gone for good, 204.
pub(super) async fn purge(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, KvError> {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Write).await?;
    let name = name_of(&p)?;
    let key = name.to_ascii_lowercase();
    st.key_vaults.with(&ctx.vault, st.now(), |d| {
        d.deleted
            .remove(&key)
            .ok_or_else(|| KvError::deleted_not_found(&name))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
