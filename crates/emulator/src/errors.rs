//! Entra's error responses: `error`, `error_description` starting `AADSTS<code>:` and
//! ending with trace id, correlation id and timestamp, `error_codes`, `timestamp`,
//! `trace_id`, `correlation_id`, `error_uri`. Clients branch on `error` and
//! `error_codes`, so each failure path names its AADSTS code here.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An OAuth error as Entra reports it.
#[derive(Debug, Clone)]
pub(crate) struct EntraError {
    /// HTTP status.
    pub(crate) status: StatusCode,
    /// OAuth `error`.
    pub(crate) error: &'static str,
    /// AADSTS number.
    pub(crate) code: u32,
    /// Human text (without the AADSTS prefix and trailer).
    pub(crate) message: String,
    /// `client-request-id` from the request, echoed as the correlation id.
    pub(crate) correlation_id: Option<String>,
    /// `suberror`, for interaction-required cases.
    pub(crate) suberror: Option<&'static str>,
    /// `claims` challenge.
    pub(crate) claims: Option<String>,
}

impl EntraError {
    /// A 400 error.
    pub(crate) fn new(error: &'static str, code: u32, message: impl Into<String>) -> Self {
        let status = if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            status,
            error,
            code,
            message: message.into(),
            correlation_id: None,
            suberror: None,
            claims: None,
        }
    }

    /// With a specific status.
    pub(crate) fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// With a `suberror`.
    pub(crate) fn suberror(mut self, s: &'static str) -> Self {
        self.suberror = Some(s);
        self
    }

    /// Echo the request's `client-request-id`.
    pub(crate) fn correlate(mut self, headers: &HeaderMap) -> Self {
        self.correlation_id = correlation_id(headers);
        self
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> serde_json::Value {
        let trace = uuid::Uuid::new_v4().to_string();
        let correlation = self
            .correlation_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let now = time::OffsetDateTime::now_utc();
        let timestamp = format_timestamp(now);
        let mut body = serde_json::json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {} Correlation ID: {} Timestamp: {}",
                self.code, self.message, trace, correlation, timestamp_long(now)
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        if let Some(s) = self.suberror {
            body["suberror"] = s.into();
        }
        if let Some(c) = &self.claims {
            body["claims"] = c.clone().into();
        }
        body
    }
}

impl std::fmt::Display for EntraError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} AADSTS{}: {}", self.error, self.code, self.message)
    }
}

impl IntoResponse for EntraError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, no-cache"),
        );
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"entra-emulator\""),
            );
        }
        resp
    }
}

/// The request's `client-request-id`, if it is a sane value.
pub(crate) fn correlation_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_string)
}

/// `2016-01-09 02:02:12Z`, Entra's `timestamp` form.
pub(crate) fn format_timestamp(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn timestamp_long(t: time::OffsetDateTime) -> String {
    format!(
        "{}.{:07}Z",
        &format_timestamp(t)[..19],
        t.nanosecond() / 100
    )
}

// Constructors for the failures every endpoint shares.

/// AADSTS90002.
pub(crate) fn tenant_not_found(tenant: &str) -> EntraError {
    EntraError::new(
        "invalid_request",
        90002,
        format!(
            "Tenant '{}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
            sanitize(tenant)
        ),
    )
}

/// AADSTS700016.
pub(crate) fn app_not_found(client_id: &str, tenant: &str) -> EntraError {
    EntraError::new(
        "unauthorized_client",
        700016,
        format!(
            "Application with identifier '{}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
            sanitize(client_id),
            sanitize(tenant)
        ),
    )
}

/// AADSTS900144.
pub(crate) fn missing_field(name: &str) -> EntraError {
    EntraError::new(
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// AADSTS9002313.
pub(crate) fn malformed(detail: &str) -> EntraError {
    EntraError::new(
        "invalid_request",
        9002313,
        format!("Invalid request. Request is malformed or invalid. {detail}"),
    )
}

/// Caps and cleans user-supplied text before it is echoed in an error.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_entras_shape() {
        let mut headers = HeaderMap::new();
        headers.insert("client-request-id", HeaderValue::from_static("abc-123"));
        let e = EntraError::new("invalid_client", 7000215, "Invalid client secret provided.")
            .correlate(&headers);
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        let body = e.body();
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"][0], 7000215);
        assert_eq!(body["correlation_id"], "abc-123");
        let desc = body["error_description"].as_str().unwrap();
        assert!(desc.starts_with("AADSTS7000215: Invalid client secret provided. Trace ID: "));
        assert!(desc.contains("Correlation ID: abc-123 Timestamp: "));
        let ts = body["timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), 20);
        assert!(ts.ends_with('Z'));
    }

    #[test]
    fn hostile_correlation_ids_are_not_echoed() {
        let mut headers = HeaderMap::new();
        headers.insert("client-request-id", HeaderValue::from_static("<script>"));
        assert_eq!(correlation_id(&headers), None);
        assert_eq!(sanitize("a\nb\u{7}c"), "abc");
    }
}
