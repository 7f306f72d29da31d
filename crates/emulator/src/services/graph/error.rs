//! Microsoft Graph's error shape:
//! `{"error":{"code":…,"message":…,"innerError":{"date":…,"request-id":…,"client-request-id":…}}}`,
//! with `request-id` and `client-request-id` response headers, and Graph's messages for
//! refused tokens. The messages were checked against answers of the real service quoted
//! in public issue threads (docs/first-party-apps.md lists them; the ones no source
//! showed are marked there as uncertain).

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use entra_validate::ValidationError;
use serde_json::json;

use super::host;
use crate::state::AppState;

/// Graph's answer to a token that is not a JWT at all (its token handler's words).
pub(super) const NOT_A_JWT: &str = "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EncodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'.";

/// One request's ids, as Graph reports them in headers and in every error body.
#[derive(Debug, Clone)]
pub(super) struct Call {
    request_id: String,
    client_request_id: String,
}

impl Call {
    /// A new request id; the caller's `client-request-id` when it sent a usable one.
    pub(super) fn new(headers: &HeaderMap) -> Self {
        let request_id = uuid::Uuid::new_v4().to_string();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= 64
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            .map_or_else(|| request_id.clone(), str::to_string);
        Self {
            request_id,
            client_request_id,
        }
    }

    /// A 200 with Graph's JSON content type and id headers.
    pub(super) fn ok(&self, body: serde_json::Value) -> Response {
        let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(
                "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
            ),
        );
        self.id_headers(&mut resp);
        resp
    }

    fn id_headers(&self, resp: &mut Response) {
        for (name, value) in [
            ("request-id", &self.request_id),
            ("client-request-id", &self.client_request_id),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                resp.headers_mut().insert(name, v);
            }
        }
    }
}

/// A Graph error, ready to be answered for one [`Call`].
#[derive(Debug)]
pub(super) struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
    challenge: Option<String>,
}

impl GraphError {
    /// 401 `InvalidAuthenticationToken`.
    pub(super) fn invalid_token(message: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "InvalidAuthenticationToken",
            message: message.to_string(),
            challenge: None,
        }
    }

    /// 403: a web page's request, or one for a host this emulator is not (not Graph's
    /// own answer: Graph serves browsers; the emulator's local Graph does not).
    pub(super) fn refused_web_request() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "RequestRefused",
            message: "The emulator's Microsoft Graph refuses requests from web pages (Origin or Sec-Fetch-* headers) and for hosts other than the emulator or graph.microsoft.com.".into(),
            challenge: None,
        }
    }

    /// 403 `Authorization_RequestDenied`: the token lacks every permission the call takes.
    pub(super) fn insufficient_privileges() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "Authorization_RequestDenied",
            message: "Insufficient privileges to complete the operation.".into(),
            challenge: None,
        }
    }

    /// 404 `Request_ResourceNotFound` for a directory object that does not exist.
    pub(super) fn not_found(id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "Request_ResourceNotFound",
            message: format!(
                "Resource '{}' does not exist or one of its queried reference-property objects are not present.",
                printable(id)
            ),
            challenge: None,
        }
    }

    /// 400 `BadRequest` with `message`.
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequest",
            message: message.into(),
            challenge: None,
        }
    }

    /// The response: the error body with `innerError`, the id headers, and on a 401
    /// Graph's `WWW-Authenticate`.
    pub(super) fn respond(self, call: &Call) -> Response {
        let date = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]"
            ))
            .unwrap_or_default();
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": date,
                    "request-id": call.request_id,
                    "client-request-id": call.client_request_id,
                }
            }
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        call.id_headers(&mut resp);
        if let Some(c) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        resp
    }
}

/// Graph's 401 for a refused token. `login` is the authority the client should get a
/// Graph token from (Entra's public name through the proxy, else the emulator).
pub(super) fn from_validation(
    e: &ValidationError,
    st: &AppState,
    headers: &HeaderMap,
) -> GraphError {
    use ValidationError as E;
    let message = match e {
        E::Missing => "Access token is empty.",
        E::NotAJwt(_) => NOT_A_JWT,
        E::Expired => "Lifetime validation failed, the token is expired.",
        E::WrongAudience { .. } => "Invalid audience.",
        // No public answer of Graph's shows its words for these: its generic refusal.
        _ => "Access token validation failure.",
    };
    let mut err = GraphError::invalid_token(message);
    let login = if host::service_root(st, headers).starts_with("https://graph.microsoft.com") {
        "https://login.microsoftonline.com".to_string()
    } else {
        st.base_url(headers)
    };
    err.challenge = Some(format!(
        "Bearer realm=\"\", authorization_uri=\"{login}/common/oauth2/authorize\", client_id=\"{}\"",
        crate::directory::GRAPH_APP_ID
    ));
    err
}

/// Graph's answer for a path it has no resource here: 400 naming the last segment (the
/// local Graph serves a few v1.0 calls only).
pub(super) async fn unknown_segment(headers: HeaderMap, uri: Uri) -> Response {
    let call = Call::new(&headers);
    let last = uri.path().rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    GraphError::bad_request(format!(
        "Resource not found for the segment '{}'.",
        printable(last)
    ))
    .respond(&call)
}

/// A caller's value fit to echo in a message: printable ASCII, at most 128 characters.
pub(super) fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(128)
        .collect()
}
