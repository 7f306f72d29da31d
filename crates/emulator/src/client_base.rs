//! The base URL a request's answers are written on: `https://login.microsoftonline.com`
//! when the request came through the proxy to a login host, the host the client used
//! otherwise ([`crate::state::Inner::base_url`]). Issuers, discovery documents, token
//! and device-code URLs are built from it.
//!
//! The public base comes only from [`Proxied`], a request extension that only the
//! in-process proxy sets; a `Host: login.microsoftonline.com` header sent straight to the
//! emulator is ignored, so nothing but the proxy makes the emulator issue tokens naming
//! Entra's real issuer.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::proxy::Proxied;
use crate::proxy::hosts::{PUBLIC_LOGIN_BASE, Service};
use crate::state::AppState;

/// The base URL for this request (`scheme://host[:port]`, no trailing slash).
#[derive(Debug, Clone)]
pub(crate) struct ClientBase(pub(crate) String);

impl FromRequestParts<AppState> for ClientBase {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let public = parts
            .extensions
            .get::<Proxied>()
            .is_some_and(|p| p.service == Service::Login);
        Ok(Self(if public {
            PUBLIC_LOGIN_BASE.to_string()
        } else {
            st.base_url(&parts.headers)
        }))
    }
}
