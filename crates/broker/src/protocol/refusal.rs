//! [`Refusal`]: a refusal or failure, before it is shaped as the protocol's error; and
//! the bound on what a request may name.

use axum::http::StatusCode;

use super::kind::Outcome;
use crate::cache::FetchError;

/// Longest resource, or list of scopes all told (space-joined), a request may name, in
/// bytes: they key the cache and the fleet store and go into audit lines; real ones are
/// a few hundred bytes at most.
pub(crate) const MAX_SCOPES_BYTES: usize = 4096;

/// A 400 when `what` (`len` bytes) is longer than [`MAX_SCOPES_BYTES`].
pub(crate) fn within_limit(what: &str, len: usize) -> Result<(), Refusal> {
    if len > MAX_SCOPES_BYTES {
        return Err(Refusal::bad(format!(
            "the {what} is {len} bytes long; the broker accepts at most {MAX_SCOPES_BYTES}"
        )));
    }
    Ok(())
}

/// A refusal or failure, in the protocol's error shape.
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) outcome: Outcome,
    pub(crate) error: &'static str,
    pub(crate) description: String,
    pub(crate) retry_after: bool,
    pub(crate) www_authenticate: bool,
}

impl Refusal {
    pub(crate) fn new(
        status: StatusCode,
        outcome: Outcome,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            outcome,
            error,
            description: description.into(),
            retry_after: false,
            www_authenticate: false,
        }
    }
    pub(crate) fn bad(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Outcome::BadRequest,
            "invalid_request",
            description,
        )
    }
    pub(crate) fn unauthorized(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            Outcome::Unauthorized,
            "unauthorized",
            description,
        )
    }
    pub(crate) fn denied(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            Outcome::Denied,
            "forbidden",
            description,
        )
    }
    pub(crate) fn from_fetch(e: &FetchError, identity: &str) -> Self {
        match e {
            FetchError::Rejected { error, description } => {
                let error: &'static str = match error.as_str() {
                    "invalid_resource" => "invalid_resource",
                    "invalid_scope" => "invalid_scope",
                    "unauthorized_client" => "unauthorized_client",
                    "invalid_client" => "invalid_client",
                    _ => "invalid_request",
                };
                Self::new(
                    StatusCode::BAD_REQUEST,
                    Outcome::UpstreamError,
                    error,
                    format!("identity {identity:?}: {description}"),
                )
            }
            FetchError::Unavailable(m) => {
                let mut r = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Outcome::Unavailable,
                    "temporarily_unavailable",
                    format!(
                        "identity {identity:?}: the authority could not be reached and no valid token is cached: {m}"
                    ),
                );
                r.retry_after = true;
                r
            }
            FetchError::CacheFull { .. } => {
                let mut r = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Outcome::Unavailable,
                    "temporarily_unavailable",
                    format!(
                        "{}; try again shortly (the operator can raise [broker] max_tokens)",
                        e.summary()
                    ),
                );
                r.retry_after = true;
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_is_a_retryable_503() {
        let r = Refusal::from_fetch(&FetchError::CacheFull { max: 7 }, "daemon");
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.error, "temporarily_unavailable");
        assert!(r.retry_after);
        assert_eq!(
            r.description,
            "the token cache is full: it holds max_tokens (7) and every one has a request in flight; try again shortly (the operator can raise [broker] max_tokens)"
        );
    }
}
