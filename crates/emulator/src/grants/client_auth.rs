//! Client authentication at the token endpoint: the client id from the form, HTTP Basic
//! or an assertion's `iss`, then a secret (post or basic), a certificate or federated
//! assertion, or nothing for a public client.

use axum::http::header;
use base64::Engine as _;

use super::token_request::TokenRequest;
use crate::directory::App;
use crate::errors::{EntraError, malformed, missing_field};
use crate::tokens::{self, ClientAuthKind};

impl TokenRequest<'_> {
    /// The client id from the form, HTTP Basic, or a certificate assertion's `iss`.
    pub(super) fn client_id(&self) -> Result<(String, Option<String>), EntraError> {
        let basic = self
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Basic ")
                    .or_else(|| v.strip_prefix("basic "))
            })
            .map(|b64| {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| {
                        malformed("The Authorization header is not valid Basic credentials.")
                    })?;
                let text = String::from_utf8(raw).map_err(|_| {
                    malformed("The Authorization header is not valid Basic credentials.")
                })?;
                let (id, secret) = text.split_once(':').ok_or_else(|| {
                    malformed("The Authorization header is not valid Basic credentials.")
                })?;
                let dec = |s: &str| {
                    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
                        .ok()
                        .and_then(|mut v| v.pop())
                        .map(|(_, v)| v)
                        .unwrap_or_else(|| s.to_string())
                };
                Ok::<_, EntraError>((dec(id), dec(secret)))
            })
            .transpose()?;
        let form_id = self.form.get("client_id").map(str::to_string);
        let id = match (&form_id, &basic) {
            (Some(f), Some((b, _))) if !f.eq_ignore_ascii_case(b) => {
                return Err(EntraError::new(
                    "invalid_request",
                    900144,
                    "The client_id in the request body does not match the one in the Authorization header.",
                ));
            }
            (Some(f), _) => f.clone(),
            (None, Some((b, _))) => b.clone(),
            (None, None) => match self
                .form
                .get("client_assertion")
                .and_then(|a| entra_jose::decode_unverified(a).ok())
            {
                Some(t) => t.claim_str("iss").unwrap_or_default().to_string(),
                None => String::new(),
            },
        };
        if id.is_empty() {
            return Err(missing_field("client_id"));
        }
        Ok((id.to_ascii_lowercase(), basic.map(|(_, s)| s)))
    }

    /// Authenticates the client: none for public clients, else a secret or an assertion.
    pub(super) async fn authenticate(
        &self,
        app: &App,
        basic_secret: Option<String>,
    ) -> Result<ClientAuthKind, EntraError> {
        let secret = self
            .form
            .get("client_secret")
            .map(str::to_string)
            .or(basic_secret);
        let assertion = self.form.get("client_assertion");
        if app.public_client {
            if secret.is_some() || assertion.is_some() {
                return Err(EntraError::new(
                    "invalid_client",
                    700025,
                    "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
                ));
            }
            return Ok(ClientAuthKind::None);
        }
        if let Some(secret) = secret {
            let found = app
                .secrets
                .iter()
                .find(|s| tokens::constant_time_eq(s.value.as_bytes(), secret.as_bytes()));
            return match found {
                Some(s) if s.expires.is_some_and(|e| e <= self.now) => Err(EntraError::new(
                    "invalid_client",
                    7000222,
                    format!(
                        "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app.",
                        app.client_id
                    ),
                )),
                Some(_) => Ok(ClientAuthKind::Secret),
                None => Err(EntraError::new(
                    "invalid_client",
                    7000215,
                    format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                        app.client_id
                    ),
                )),
            };
        }
        if let Some(assertion) = assertion {
            if self.form.get("client_assertion_type")
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return Err(EntraError::new(
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'client_assertion_type' (urn:ietf:params:oauth:client-assertion-type:jwt-bearer).",
                ));
            }
            crate::assertions::verify_client_assertion(self.st, app, assertion, self.now).await?;
            return Ok(ClientAuthKind::Assertion);
        }
        Err(EntraError::new(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ))
    }
}
