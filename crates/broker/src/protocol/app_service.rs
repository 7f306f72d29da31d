//! App Service (`GET /msi/token`): 2019-08-01 with `X-IDENTITY-HEADER`, and the legacy
//! 2017-09-01 with `secret` and its `M/D/YYYY h:mm:ss AM +00:00` dates.

use std::sync::Arc;

use axum::extract::{Extension, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::conn::Conn;
use super::context::Ctx;
use super::kind::Protocol;
use super::refusal::{Refusal, within_limit};
use super::request::{Params, header, resource_scopes};
use super::response::Json;
use crate::state::Shared;
use crate::upstream::Selector;

/// `GET /msi/token` (App Service 2019-08-01 and 2017-09-01).
pub(crate) async fn app_service(
    State(shared): State<Arc<Shared>>,
    Extension(conn): Extension<Arc<Conn>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = q.unwrap_or_default();
    let p = Params::parse(q.as_bytes());
    let api = p.get("api-version").unwrap_or("");
    let legacy = api == "2017-09-01";
    let mut ctx = Ctx::new(
        &shared,
        if legacy {
            Protocol::AppService2017
        } else {
            Protocol::AppService
        },
        &conn,
    );
    if !legacy && api != "2019-08-01" {
        return ctx.refuse(Refusal::bad(format!(
            "api-version {api:?} is not supported: use 2019-08-01 (or the legacy 2017-09-01)"
        )));
    }
    let header_name = if legacy {
        "secret"
    } else {
        "X-IDENTITY-HEADER"
    };
    let caller = match ctx.secret_caller(header(&headers, header_name), header_name) {
        Ok(c) => c,
        Err(r) => return ctx.refuse(r),
    };
    let Some(resource) = p.get("resource") else {
        return ctx.refuse(Refusal::bad("Required audience parameter not specified"));
    };
    if let Err(r) = within_limit("resource", resource.len()) {
        return ctx.refuse(r);
    }
    ctx.resource = Some(resource.to_string());
    let selector = if legacy {
        p.get("clientid").map(Selector::ClientId)
    } else {
        p.get("client_id")
            .map(Selector::ClientId)
            .or_else(|| {
                p.get("principal_id")
                    .or(p.get("object_id"))
                    .map(Selector::ObjectId)
            })
            .or_else(|| p.get("mi_res_id").map(Selector::ResourceId))
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
        Ok((t, source, _)) => {
            let expires_on = if legacy {
                legacy_date(t.expires_on)
            } else {
                t.expires_on.to_string()
            };
            let body = Json::new(&t)
                .token(&t)
                .str("expires_on", &expires_on)
                .str("not_before", &t.fetched_at.to_string())
                .str("resource", resource)
                .str("token_type", "Bearer")
                .opt("client_id", t.client_id.as_deref())
                .finish();
            ctx.ok(body, &t, source)
        }
        Err(r) => ctx.refuse(r),
    }
}

/// `1/10/2020 8:01:28 AM +00:00`, the legacy App Service form.
// The emulator has its own copy (`legacy_date` in crates/emulator/src/managed_identity.rs,
// the App Service endpoint it serves): kept apart on purpose, so the broker and the
// emulator do not depend on each other; a fix to one belongs in the other too.
pub(crate) fn legacy_date(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (h, ampm) = match t.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{}/{}/{} {}:{:02}:{:02} {} +00:00",
        u8::from(t.month()),
        t.day(),
        t.year(),
        h,
        t.minute(),
        t.second(),
        ampm
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn legacy_date_format() {
        assert_eq!(
            super::legacy_date(1578643288),
            "1/10/2020 8:01:28 AM +00:00"
        );
        assert_eq!(
            super::legacy_date(1578686400),
            "1/10/2020 8:00:00 PM +00:00"
        );
    }
}
