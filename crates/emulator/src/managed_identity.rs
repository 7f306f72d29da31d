//! Managed-identity endpoints, so SDK code written for Azure hosts runs against the
//! emulator unchanged: IMDS (`/metadata/identity/oauth2/token`, `Metadata: true`) and
//! App Service (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER`, api-version 2019-08-01; and
//! the legacy 2017-09-01 with the `secret` header). Response shapes follow Microsoft's
//! "How to use managed identities for App Service" and IMDS documentation, as the Azure
//! SDKs parse them: every IMDS value is a string; App Service 2017 writes `expires_on` as
//! a date.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::directory::ManagedIdentity;
use crate::state::AppState;
use crate::tokens::{self, AccessTokenRequest, ClientAuthKind, Principal};

fn mi_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

struct MiParams(Vec<(String, String)>);

impl MiParams {
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

struct Issued {
    token: String,
    now: i64,
    lifetime: i64,
    resource: String,
    identity: ManagedIdentity,
}

#[expect(clippy::result_large_err, reason = "the error is the response to send")]
fn issue(
    st: &AppState,
    headers: &HeaderMap,
    identity: Option<&ManagedIdentity>,
    resource: &str,
) -> Result<Issued, Response> {
    let Some(identity) = identity else {
        return Err(mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        ));
    };
    let dir = st.dir();
    let named = resource.trim_end_matches("/.default");
    let Some(app) = dir
        .resource(named)
        .filter(|a| a.in_tenant(&identity.tenant_id))
    else {
        let e = crate::errors::EntraError::new(
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {} was not found in the tenant.",
                crate::errors::sanitize(named)
            ),
        );
        return Err(mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            &format!("AADSTS{}: {}", e.code, e.message),
        ));
    };
    let now = st.now();
    let lifetime = st.token_lifetime(&dir);
    let base = st.base_url(headers);
    let roles = tokens::roles_for(&identity.role_assignments, app);
    let token = tokens::mint_access_token(
        &st.signing_key(),
        &AccessTokenRequest {
            base: &base,
            tenant_id: &identity.tenant_id,
            resource: app,
            requested_resource: named,
            client_id: &identity.client_id,
            client_auth: ClientAuthKind::Assertion,
            principal: Principal::App {
                object_id: &identity.object_id,
                mi_resource_id: Some(&identity.resource_id),
            },
            scp: None,
            roles,
            amr: &[],
            now,
            lifetime,
            requested: Default::default(),
        },
    )
    .map_err(|_| {
        mi_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "token signing failed",
        )
    })?;
    crate::dashboard::record_token(st, "access_token", &token);
    st.event(
        "managed_identity",
        &identity.client_id,
        &identity.tenant_id,
        &identity.object_id,
        Ok(()),
    );
    Ok(Issued {
        token,
        now,
        lifetime,
        resource: named.to_string(),
        identity: identity.clone(),
    })
}

/// `GET /metadata/identity/oauth2/token` (IMDS).
pub(crate) async fn imds(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = MiParams(serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default());
    if !headers
        .get("metadata")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    if p.get("api-version").is_none() {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let Some(resource) = p.get("resource") else {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required audience parameter not specified",
        );
    };
    let dir = st.dir();
    let identity = dir.managed_identity(
        p.get("client_id"),
        p.get("object_id"),
        p.get("msi_res_id").or(p.get("mi_res_id")),
    );
    match issue(&st, &headers, identity, resource) {
        Ok(i) => {
            let body: Value = json!({
                "access_token": i.token,
                "refresh_token": "",
                "expires_in": i.lifetime.to_string(),
                "expires_on": (i.now + i.lifetime).to_string(),
                "ext_expires_in": i.lifetime.to_string(),
                "not_before": i.now.to_string(),
                "resource": i.resource,
                "token_type": "Bearer",
                "client_id": i.identity.client_id,
            });
            axum::Json(body).into_response()
        }
        Err(r) => r,
    }
}

/// `GET /msi/token` (App Service, Functions, Container Apps).
pub(crate) async fn app_service(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = MiParams(serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default());
    let api = p.get("api-version").unwrap_or("").to_string();
    let legacy = api == "2017-09-01";
    if !legacy && api != "2019-08-01" {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "api-version must be 2019-08-01 (or the legacy 2017-09-01)",
        );
    }
    let header_name = if legacy {
        "secret"
    } else {
        "x-identity-header"
    };
    let presented = headers
        .get(header_name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !tokens::constant_time_eq(presented.as_bytes(), st.identity_header.as_bytes()) {
        return mi_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &format!("The {header_name} header is missing or does not match IDENTITY_HEADER."),
        );
    }
    let Some(resource) = p.get("resource") else {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required audience parameter not specified",
        );
    };
    let dir = st.dir();
    let client_id = if legacy {
        p.get("clientid")
    } else {
        p.get("client_id")
    };
    let identity = dir.managed_identity(
        client_id,
        p.get("principal_id").or(p.get("object_id")),
        p.get("mi_res_id"),
    );
    match issue(&st, &headers, identity, resource) {
        Ok(i) => {
            let expires = i.now + i.lifetime;
            let expires_on = if legacy {
                legacy_date(expires)
            } else {
                expires.to_string()
            };
            axum::Json(json!({
                "access_token": i.token,
                "expires_on": expires_on,
                "not_before": i.now.to_string(),
                "resource": i.resource,
                "token_type": "Bearer",
                "client_id": i.identity.client_id,
            }))
            .into_response()
        }
        Err(r) => r,
    }
}

/// `1/10/2020 8:01:28 AM +00:00`, the legacy App Service form.
///
/// The broker has the same function (`legacy_date` in
/// crates/broker/src/protocol/app_service.rs); the copy is deliberate, so the emulator and
/// the broker stay independent of each other.
fn legacy_date(unix: i64) -> String {
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
