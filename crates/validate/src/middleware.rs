//! Tower middleware: [`EntraAuthLayer`] validates the bearer and puts the [`Principal`]
//! into the request's extensions; [`RequireLayer`] adds a per-route [`Requirement`].
//! Refusals are answered by [`error_response`]:
//!
//! | case | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no token (or another scheme) | 401 | `Bearer` (plus `realm`), no error code: RFC 6750 §3.1 |
//! | malformed, expired, untrusted... | 401 | `Bearer error="invalid_token", error_description="..."` |
//! | missing scope or role, client not allowed, tenant header naming another tenant | 403 | `Bearer error="insufficient_scope", error_description="...", scope="..."` |
//! | a required authentication context missing from `acrs` | 401 | `Bearer error="insufficient_claims", error_description="...", claims="<base64 claims request>"` |
//! | tenant header missing | 400 | `Bearer error="invalid_request", ...` |
//! | issuer keys unavailable | 503 | none (`Retry-After: 10`) |
//!
//! The body is JSON: `{"error", "error_description", "code"}` (plus `"scopes"`/`"roles"`
//! for a 403 on permissions, `"claims"` for a claims challenge). Nothing in it or in the header repeats the token,
//! and a 503's body names no discovery or JWKS URL (the reason is logged instead).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, header};
use tower::{Layer, Service};

use crate::error::ValidationError;
use crate::principal::Principal;
use crate::requirement::Requirement;
use crate::validator::Validator;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Validates `Authorization: Bearer` on every request (and the tenant header when the
/// validator has one), inserting the [`Principal`] for handlers and inner layers.
#[derive(Clone, Debug)]
pub struct EntraAuthLayer {
    validator: Validator,
    optional: bool,
}

impl EntraAuthLayer {
    /// A layer that validates with `validator`: a request without a valid bearer is
    /// refused.
    pub fn new(validator: Validator) -> Self {
        Self {
            validator,
            optional: false,
        }
    }

    /// A layer for routes that also serve anonymous callers: a request with no
    /// `Authorization` header at all goes through without a [`Principal`] (handlers take
    /// `Option<Principal>`; [`RequireLayer`] still answers 401 for it). A request that
    /// sends one is validated exactly as by [`Self::new`]: a bad, expired or non-Bearer
    /// credential is refused, never quietly treated as anonymous.
    pub fn optional(validator: Validator) -> Self {
        Self {
            validator,
            optional: true,
        }
    }
}

impl<S> Layer<S> for EntraAuthLayer {
    type Service = EntraAuth<S>;
    fn layer(&self, inner: S) -> EntraAuth<S> {
        EntraAuth {
            inner,
            validator: self.validator.clone(),
            optional: self.optional,
        }
    }
}

/// The service [`EntraAuthLayer`] makes.
#[derive(Clone, Debug)]
pub struct EntraAuth<S> {
    inner: S,
    validator: Validator,
    optional: bool,
}

impl<S, B, RB> Service<Request<B>> for EntraAuth<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
    RB: From<String>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The clone is fresh; the ready one goes to this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let validator = self.validator.clone();
        let anonymous = self.optional && !req.headers().contains_key(header::AUTHORIZATION);
        Box::pin(async move {
            if anonymous {
                return inner.call(req).await;
            }
            match validator.validate_request(req.headers()).await {
                Ok(principal) => {
                    req.extensions_mut().insert(principal);
                    inner.call(req).await
                }
                Err(e) => {
                    if let ValidationError::KeysUnavailable(why) = &e {
                        // The details (which URL failed, how) go to the log only.
                        tracing::warn!(error = %why, "issuer keys unavailable; answering 503");
                    } else {
                        tracing::debug!(code = e.code(), "request refused");
                    }
                    Ok(error_response(&e, validator.config().realm()))
                }
            }
        })
    }
}

/// A per-route [`Requirement`], checked against the [`Principal`] that
/// [`EntraAuthLayer`] inserted (no principal: 401).
#[derive(Clone, Debug)]
pub struct RequireLayer {
    requirement: Arc<Requirement>,
    realm: Option<Arc<str>>,
}

impl RequireLayer {
    /// Requires `requirement` on the wrapped routes.
    pub fn new(requirement: Requirement) -> Self {
        Self {
            requirement: Arc::new(requirement),
            realm: None,
        }
    }

    /// The `realm` for its challenges.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into().into());
        self
    }
}

/// Shorthand for `RequireLayer::new(Requirement::scope(scope))`.
pub fn require_scope(scope: impl Into<String>) -> RequireLayer {
    RequireLayer::new(Requirement::scope(scope))
}

/// Shorthand for `RequireLayer::new(Requirement::role(role))`.
pub fn require_role(role: impl Into<String>) -> RequireLayer {
    RequireLayer::new(Requirement::role(role))
}

impl<S> Layer<S> for RequireLayer {
    type Service = Require<S>;
    fn layer(&self, inner: S) -> Require<S> {
        Require {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`RequireLayer`] makes.
#[derive(Clone, Debug)]
pub struct Require<S> {
    inner: S,
    layer: RequireLayer,
}

impl<S, B, RB> Service<Request<B>> for Require<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    RB: From<String> + Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let verdict = match req.extensions().get::<Principal>() {
            None => Err(ValidationError::Missing),
            Some(p) => self.layer.requirement.check(p),
        };
        match verdict {
            Ok(()) => Box::pin(self.inner.call(req)),
            Err(e) => {
                let resp = error_response(&e, self.layer.realm.as_deref());
                Box::pin(async move { Ok(resp) })
            }
        }
    }
}

/// The HTTP answer for `error`: status, `WWW-Authenticate` and a JSON body.
pub fn error_response<RB: From<String>>(
    error: &ValidationError,
    realm: Option<&str>,
) -> Response<RB> {
    let description = body_description(error);
    let mut body = serde_json::json!({
        "error": error.oauth_error().unwrap_or(match error {
            ValidationError::Missing => "unauthorized",
            _ => "temporarily_unavailable",
        }),
        "error_description": description,
        "code": error.code(),
    });
    if let ValidationError::InsufficientScope { scopes, roles, .. } = error {
        body["scopes"] = scopes.clone().into();
        body["roles"] = roles.clone().into();
    }
    if let ValidationError::InsufficientClaims { claims, .. } = error {
        body["claims"] = claims.clone().into();
    }
    let mut resp = Response::new(RB::from(body.to_string()));
    *resp.status_mut() = error.status();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(challenge) = challenge(error, realm)
        && let Ok(v) = HeaderValue::from_str(&challenge)
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    if matches!(error, ValidationError::KeysUnavailable(_)) {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    }
    resp
}

/// The `error_description` of a body: the error's text, except for a key outage, whose
/// text names the discovery or JWKS URL and what went wrong with it (which tells a
/// caller about the API's network, not about its token): that stays in the log.
fn body_description(error: &ValidationError) -> String {
    match error {
        ValidationError::KeysUnavailable(_) => {
            "the issuer's signing keys are unavailable; try again later".to_string()
        }
        _ => sanitize(&error.to_string()),
    }
}

/// The `WWW-Authenticate` value for `error` (`None` for a 503).
pub fn challenge(error: &ValidationError, realm: Option<&str>) -> Option<String> {
    if matches!(error, ValidationError::KeysUnavailable(_)) {
        return None;
    }
    let mut params = Vec::new();
    if let Some(realm) = realm {
        params.push(format!("realm=\"{}\"", sanitize(realm)));
    }
    if let Some(code) = error.oauth_error() {
        params.push(format!("error=\"{code}\""));
        params.push(format!(
            "error_description=\"{}\"",
            sanitize(&error.to_string())
        ));
    }
    if let ValidationError::InsufficientScope { scopes, .. } = error
        && !scopes.is_empty()
    {
        params.push(format!("scope=\"{}\"", sanitize(&scopes.join(" "))));
    }
    // The claims challenge: the claims request in standard base64, as Entra's resources
    // send it and MSAL reads it.
    if let ValidationError::InsufficientClaims { claims, .. } = error {
        params.push(format!("claims=\"{}\"", entra_jose::b64std(claims)));
    }
    Some(if params.is_empty() {
        "Bearer".to_string()
    } else {
        format!("Bearer {}", params.join(", "))
    })
}

/// RFC 6750 allows `%x20-21 / %x23-5B / %x5D-7E` in these values: no quote, no
/// backslash, no control or non-ASCII characters.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(feature = "axum")]
mod axum_support {
    use axum::extract::{FromRequestParts, OptionalFromRequestParts};
    use axum::response::{IntoResponse, Response};
    use http::request::Parts;

    use crate::error::ValidationError;
    use crate::principal::Principal;

    /// The rejection of the [`Principal`] extractor: the [`EntraAuthLayer`](super::EntraAuthLayer)
    /// did not run on this route (or let the request through without a principal).
    #[derive(Debug)]
    pub struct MissingPrincipal;

    impl IntoResponse for MissingPrincipal {
        fn into_response(self) -> Response {
            ValidationError::Missing.into_response()
        }
    }

    impl IntoResponse for ValidationError {
        fn into_response(self) -> Response {
            super::error_response(&self, None)
        }
    }

    /// `Option<Principal>`: `None` for an anonymous request let through by
    /// [`EntraAuthLayer::optional`](super::EntraAuthLayer::optional).
    impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
        type Rejection = std::convert::Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(parts.extensions.get::<Principal>().cloned())
        }
    }

    impl<S: Send + Sync> FromRequestParts<S> for Principal {
        type Rejection = MissingPrincipal;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<Principal>()
                .cloned()
                .ok_or(MissingPrincipal)
        }
    }
}

#[cfg(feature = "axum")]
pub use axum_support::MissingPrincipal;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            challenge(&ValidationError::Missing, None).unwrap(),
            "Bearer"
        );
        assert_eq!(
            challenge(&ValidationError::Missing, Some("api")).unwrap(),
            "Bearer realm=\"api\""
        );
        assert_eq!(
            challenge(&ValidationError::Expired, None).unwrap(),
            "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
        );
        let e = ValidationError::InsufficientScope {
            scopes: vec!["Data.Read".into(), "Data.Write".into()],
            roles: vec![],
            description: "needs \"x\"".into(),
        };
        assert_eq!(
            challenge(&e, None).unwrap(),
            "Bearer error=\"insufficient_scope\", error_description=\"insufficient permissions: needs 'x'\", scope=\"Data.Read Data.Write\""
        );
        assert!(challenge(&ValidationError::KeysUnavailable("x".into()), None).is_none());
        assert_eq!(sanitize("a\"b\\c\n\u{e9}"), "a'b'c??");
    }
}
