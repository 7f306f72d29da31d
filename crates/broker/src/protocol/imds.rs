//! IMDS (`GET /metadata/identity/oauth2/token`) and Cloud Shell (`POST /oauth2/token`):
//! no secret, `Metadata: true`, a local caller, every value of the answer a string.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::conn::Conn;
use super::context::Ctx;
use super::kind::{Outcome, Protocol};
use super::refusal::{Refusal, within_limit};
use super::request::{Params, metadata_true, resource_scopes};
use super::response::Json;
use crate::cache::{Cached, now};
use crate::state::Shared;
use crate::upstream::Selector;

/// IMDS and Cloud Shell: every value a string.
fn imds_body(t: &Cached, resource: &str) -> Vec<u8> {
    let remaining = (t.expires_on - now()).max(0).to_string();
    Json::new(t)
        .token(t)
        .str("refresh_token", "")
        .str("expires_in", &remaining)
        .str("expires_on", &t.expires_on.to_string())
        .str("ext_expires_in", &remaining)
        .str("not_before", &t.fetched_at.to_string())
        .str("resource", resource)
        .str("token_type", "Bearer")
        .opt("client_id", t.client_id.as_deref())
        .finish()
}

/// `GET /metadata/identity/oauth2/token`.
pub(crate) async fn imds(
    State(shared): State<Arc<Shared>>,
    Extension(conn): Extension<Arc<Conn>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = q.unwrap_or_default();
    let p = Params::parse(q.as_bytes());
    let selector = p
        .get("client_id")
        .map(Selector::ClientId)
        .or_else(|| p.get("object_id").map(Selector::ObjectId))
        .or_else(|| {
            p.get("msi_res_id")
                .or(p.get("mi_res_id"))
                .map(Selector::ResourceId)
        });
    secretless(
        Ctx::new(&shared, Protocol::Imds, &conn),
        &headers,
        &p,
        selector,
    )
    .await
}

/// `POST /oauth2/token` (Cloud Shell).
pub(crate) async fn cloud_shell(
    State(shared): State<Arc<Shared>>,
    Extension(conn): Extension<Arc<Conn>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::parse(&body);
    let selector = p.get("client_id").map(Selector::ClientId);
    secretless(
        Ctx::new(&shared, Protocol::CloudShell, &conn),
        &headers,
        &p,
        selector,
    )
    .await
}

/// IMDS and Cloud Shell, which differ only in where their parameters come from (and
/// IMDS's required `api-version`): no secret, `Metadata: true`, a local caller, and
/// every value of the answer a string.
async fn secretless(
    mut ctx: Ctx<'_>,
    headers: &HeaderMap,
    p: &Params<'_>,
    selector: Option<Selector<'_>>,
) -> Response {
    let imds = ctx.protocol == Protocol::Imds;
    if !ctx.generation.imds_enabled {
        return ctx.refuse(Refusal::new(
            StatusCode::NOT_FOUND,
            Outcome::BadRequest,
            "not_found",
            format!(
                "the {} protocol is disabled on this broker ([imds] disabled = true)",
                if imds { "IMDS" } else { "Cloud Shell" }
            ),
        ));
    }
    if !metadata_true(headers) {
        return ctx.refuse(Refusal::bad("Required metadata header not specified"));
    }
    if imds && p.get("api-version").is_none() {
        return ctx.refuse(Refusal::bad(
            "Required query variable 'api-version' is missing",
        ));
    }
    let Some(resource) = p.get("resource") else {
        return ctx.refuse(Refusal::bad("Required audience parameter not specified"));
    };
    if let Err(r) = within_limit("resource", resource.len()) {
        return ctx.refuse(r);
    }
    ctx.resource = Some(resource.to_string());
    let caller = match ctx.local_caller(headers) {
        Ok(c) => c,
        Err(r) => return ctx.refuse(r),
    };
    match ctx
        .token(
            &caller,
            selector,
            resource.to_string(),
            resource_scopes(resource),
        )
        .await
    {
        Ok((t, source, _)) => ctx.ok(imds_body(&t, resource), &t, source),
        Err(r) => ctx.refuse(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::response::Json;

    fn cached(token: &str) -> Cached {
        Cached {
            token: entra_identity::Secret::new(token),
            expires_on: 2_000_000_000,
            refresh_at: 1_999_999_000,
            fetched_at: 1_999_996_400,
            token_id: "uti:x".into(),
            client_id: Some("c\"id".into()),
            json_safe: crate::cache::json_safe(token),
        }
    }

    #[test]
    fn bodies_are_valid_json_whatever_the_values() {
        for token in ["eyJhbGciOi.eyJhdWQi.c2ln-_", "we\"ird\\tok\nen"] {
            let t = cached(token);
            let v: serde_json::Value =
                serde_json::from_slice(&imds_body(&t, "api://x\"y")).unwrap();
            assert_eq!(v["access_token"], token);
            assert_eq!(v["resource"], "api://x\"y");
            assert_eq!(v["client_id"], "c\"id");
            assert_eq!(v["expires_on"], "2000000000");
            assert_eq!(v["not_before"], "1999996400");
            assert_eq!(v["refresh_token"], "");
        }
        assert!(crate::cache::json_safe("a.b-c_D9"));
        assert!(!crate::cache::json_safe("a\"b"));
        let t = cached("abc");
        let mut j = Json::new(&t);
        let body = j.num("n", -5).str("s", "").finish();
        assert_eq!(body, br#"{"n":-5,"s":""}"#);
    }
}
