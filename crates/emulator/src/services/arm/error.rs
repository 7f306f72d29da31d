//! Azure Resource Manager's error shape, `{"error":{"code":…,"message":…}}` with
//! `x-ms-request-id`/`x-ms-correlation-request-id` headers, and its answers to refused
//! tokens (`WWW-Authenticate: Bearer authorization_uri=…, error="invalid_token",
//! error_description=…`). Codes and messages were checked against answers of the real
//! service quoted in public threads; docs/first-party-apps.md lists the sources and
//! what stays uncertain.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use entra_validate::ValidationError;
use serde_json::json;

use super::host;
use crate::state::AppState;

/// "Windows Azure Service Management API", ARM's first-party application.
pub(super) const ARM_APP_ID: &str = "797f4846-ba00-4fd7-ba43-dac1f8f63013";

/// The audiences ARM names in `InvalidAuthenticationTokenAudience`, in its order.
const ALLOWED_AUDIENCES: &str = "'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'";

/// An ARM error.
#[derive(Debug)]
pub(super) struct ArmError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// `error_description` of a 401's challenge and the authority it names.
    challenge: Option<(String, String)>,
}

impl ArmError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            challenge: None,
        }
    }

    /// 401 `InvalidAuthenticationToken`: a bearer ARM cannot use.
    pub(super) fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )
    }

    /// 403: a web page's request, or one for a host this emulator is not (not ARM's own
    /// answer: ARM serves browsers; the emulator's local ARM does not).
    pub(super) fn refused_web_request() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "RequestRefused",
            "The emulator's Azure Resource Manager refuses requests from web pages (Origin or Sec-Fetch-* headers) and for hosts other than the emulator or management.azure.com.",
        )
    }

    /// 400 `MissingApiVersionParameter`.
    pub(super) fn missing_api_version() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    }

    /// 400 `InvalidApiVersionParameter`: not an API version at all.
    pub(super) fn invalid_api_version(v: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{}' is invalid. The supported versions are '2022-12-01,2022-09-01,2022-01-01,2021-01-01,2020-01-01,2016-06-01'.",
                printable(v)
            ),
        )
    }

    /// 400 `InvalidSubscriptionId`: not a GUID.
    pub(super) fn invalid_subscription_id(id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidSubscriptionId",
            format!(
                "The provided subscription identifier '{}' is malformed or invalid.",
                printable(id)
            ),
        )
    }

    /// 404 `SubscriptionNotFound`.
    pub(super) fn subscription_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{}' could not be found.", printable(id)),
        )
    }

    /// 403 `AuthorizationFailed`: no role on the subscription.
    pub(super) fn authorization_failed(object_id: &str, subscription: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            format!(
                "The client '{object_id}' with object id '{object_id}' does not have authorization to perform action 'Microsoft.Resources/subscriptions/read' over scope '/subscriptions/{subscription}' or the scope is invalid. If access was recently granted, please refresh your credentials."
            ),
        )
    }

    /// 401 `InvalidAuthenticationTokenTenant`: the subscription trusts another tenant.
    /// `issuer_base` is where v1 issuers live (`https://sts.windows.net` in Azure).
    pub(super) fn wrong_tenant(
        token_tenant: &str,
        subscription_tenant: &str,
        login: &str,
        issuer_base: &str,
    ) -> Self {
        let issuer = |t: &str| format!("{issuer_base}/{t}/");
        let message = format!(
            "The access token is from the wrong issuer '{}'. It must match the tenant '{}' associated with this subscription. Please use the authority (URL) '{login}/{subscription_tenant}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.",
            issuer(token_tenant),
            issuer(subscription_tenant),
        );
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationTokenTenant",
            message.clone(),
        );
        e.challenge = Some((message, format!("{login}/")));
        e
    }

    /// The response, with ARM's id headers and on a 401 its challenge.
    pub(super) fn respond(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut resp = (self.status, axum::Json(body)).into_response();
        ids(resp.headers_mut());
        if let Some((description, authority)) = self.challenge {
            let value = format!(
                "Bearer authorization_uri=\"{authority}\", error=\"invalid_token\", error_description=\"{}\"",
                description.replace(['"', '\\'], "'")
            );
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            resp.headers_mut()
                .insert("x-ms-failure-cause", HeaderValue::from_static("gateway"));
        }
        resp
    }
}

/// ARM's request-id headers (one id per request; ARM also echoes it as the correlation
/// id when the client sent none).
pub(super) fn ids(headers: &mut HeaderMap) {
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert("x-ms-request-id", v.clone());
        headers.insert("x-ms-correlation-request-id", v);
    }
}

/// The `api-version` a request must carry (any `YYYY-MM-DD[-suffix]`; ARM's own list
/// differs per resource type and is not reproduced).
pub(super) fn api_version(query: Option<&str>) -> Result<String, ArmError> {
    let v = query
        .and_then(|q| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .ok()?
                .into_iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
                .map(|(_, v)| v)
        })
        .ok_or_else(ArmError::missing_api_version)?;
    let b = v.as_bytes();
    let dated = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
        && (b.len() == 10
            || (b[10] == b'-' && b.len() <= 24 && b[11..].iter().all(u8::is_ascii_alphabetic)));
    if dated {
        Ok(v)
    } else {
        Err(ArmError::invalid_api_version(&v))
    }
}

/// ARM's 401 for a refused token. `authorization_uri` names the authority to get an
/// ARM token from (Entra's public name through the proxy, else the emulator).
pub(super) fn from_validation(e: &ValidationError, st: &AppState, headers: &HeaderMap) -> ArmError {
    let authority = if host::via_public_host(headers) {
        // What ARM itself names.
        "https://login.windows.net/".to_string()
    } else {
        format!("{}/", host::login_base(st, headers))
    };
    let token = entra_validate::bearer(headers).ok();
    let claim = |name: &str| token.and_then(|t| unverified_claim(t, name));
    let (mut err, description) = match e {
        ValidationError::Missing => (
            ArmError::new(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ),
            "The authentication failed because of missing 'Authorization' header.".to_string(),
        ),
        ValidationError::Expired => {
            let exp = claim("exp").and_then(|v| v.as_i64()).unwrap_or(0);
            let message = format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                arm_time(exp),
                arm_time(st.now())
            );
            (
                ArmError::new(
                    StatusCode::UNAUTHORIZED,
                    "ExpiredAuthenticationToken",
                    message.clone(),
                ),
                message,
            )
        }
        ValidationError::WrongAudience { .. } => {
            let aud = claim("aud")
                .and_then(|v| v.as_str().map(printable))
                .unwrap_or_default();
            let message = format!(
                "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences {ALLOWED_AUDIENCES}."
            );
            (
                ArmError::new(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationTokenAudience",
                    message.clone(),
                ),
                message,
            )
        }
        _ => (
            ArmError::invalid_token(),
            "The access token is invalid.".to_string(),
        ),
    };
    err.challenge = Some((description, authority));
    err
}

/// ARM's time format in its token messages: `6/15/2026 8:22:51 AM` (UTC).
fn arm_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[month padding:none]/[day padding:none]/[year] [hour repr:12 padding:none]:[minute]:[second] [period]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A claim of a token's payload read without verifying anything (the token was already
/// refused; this only words the refusal as ARM does).
fn unverified_claim(token: &str, name: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    if payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = entra_jose::b64url_decode(payload).ok()?;
    let mut claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).ok()?;
    claims.remove(name)
}

/// A caller's value fit to echo in a message: printable ASCII, at most 128 characters.
pub(super) fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(128)
        .collect()
}

/// A path the local ARM does not serve.
pub(super) async fn unknown_route(uri: Uri) -> Response {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "The emulator's Azure Resource Manager serves /subscriptions, /subscriptions/{{id}}, /tenants and /metadata/endpoints; '{}' is not one of them.",
            printable(uri.path())
        ),
    )
    .respond()
}
