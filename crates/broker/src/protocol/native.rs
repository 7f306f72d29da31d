//! The native API (`POST /api/v1/token`): JSON scopes in, JSON with numbers out, the
//! caller's secret as `Authorization: Bearer`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::conn::Conn;
use super::context::Ctx;
use super::kind::Protocol;
use super::refusal::{Refusal, within_limit};
use super::request::{bearer, resource_scopes};
use super::response::Json;
use crate::cache::{now, scope_key};
use crate::state::Shared;
use crate::upstream::Selector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeRequest {
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    identity: Option<String>,
}

/// `POST /api/v1/token`.
pub(crate) async fn native(
    State(shared): State<Arc<Shared>>,
    Extension(conn): Extension<Arc<Conn>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut ctx = Ctx::new(&shared, Protocol::Native, &conn);
    let caller = match ctx.secret_caller(bearer(&headers), "Authorization: Bearer") {
        Ok(c) => c,
        Err(mut r) => {
            r.www_authenticate = true;
            return ctx.refuse(r);
        }
    };
    let req: NativeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return ctx.refuse(Refusal::bad(format!(
                "the body must be JSON like {{\"scopes\": [\"https://graph.microsoft.com/.default\"]}}: {e}"
            )));
        }
    };
    let scopes = match (req.scopes.is_empty(), &req.resource) {
        (false, None) => req.scopes,
        (true, Some(r)) if !r.is_empty() => resource_scopes(r),
        _ => {
            return ctx.refuse(Refusal::bad(
                "give either \"scopes\" (a non-empty list) or \"resource\"",
            ));
        }
    };
    let joined = scopes
        .iter()
        .map(|s| s.len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    if let Err(r) = within_limit("scope list (space-joined)", joined) {
        return ctx.refuse(r);
    }
    if scopes
        .iter()
        .any(|s| s.is_empty() || s.chars().any(char::is_whitespace))
    {
        return ctx.refuse(Refusal::bad("a scope is empty or contains whitespace"));
    }
    ctx.scopes = Some(scopes.clone());
    let key = scope_key(&scopes);
    let selector = req.identity.as_deref().map(Selector::Name);
    let answer_scopes = scopes.clone();
    match ctx.token(&caller, selector, key, scopes).await {
        Ok((t, source, identity)) => {
            let mut json = Json::new(&t);
            json.token(&t)
                .str("token_type", "Bearer")
                .num("expires_on", t.expires_on)
                .num("expires_in", (t.expires_on - now()).max(0))
                .str("identity", &identity.name)
                .opt("client_id", t.client_id.as_deref());
            json.key("scopes");
            let _ = serde_json::to_writer(&mut json.0, &answer_scopes);
            let body = json.str("token_id", &t.token_id).finish();
            ctx.ok(body, &t, source)
        }
        Err(r) => ctx.refuse(r),
    }
}
