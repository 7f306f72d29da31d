//! `grant_type=authorization_code`: redeems a code from `/authorize` once, checking its
//! client, age, redirect URI and PKCE verifier.

use serde_json::Value;

use super::token_request::TokenRequest;
use super::user_tokens::{UserGrant, user_gone};
use crate::directory::App;
use crate::errors::{EntraError, sanitize};
use crate::request::parse_scopes;
use crate::state::AuthCode;
use crate::tokens;

impl TokenRequest<'_> {
    pub(super) async fn authorization_code(
        &self,
        app: &App,
        basic_secret: Option<String>,
    ) -> Result<Value, EntraError> {
        let code = self.form.need("code")?;
        let redirect = self.form.need("redirect_uri")?;
        let grant = {
            let store = self.st.store.lock().expect("store lock");
            store.codes.get(code).cloned()
        };
        let grant = grant.ok_or_else(|| EntraError::new("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid. The authorization code is not valid."))?;
        self.check_code(&grant, app, redirect)?;
        let auth = self.authenticate(app, basic_secret).await?;
        {
            let mut store = self.st.store.lock().expect("store lock");
            match store.codes.get_mut(code) {
                Some(c) if !c.used => c.used = true,
                _ => {
                    return Err(EntraError::new(
                        "invalid_grant",
                        54005,
                        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                    ));
                }
            }
        }
        let user = self
            .dir
            .user_by_oid(&grant.user_oid)
            .ok_or_else(user_gone)?;
        let raw = if self.v1 {
            self.scopes_raw()?
        } else {
            self.form
                .get("scope")
                .map(str::to_string)
                .unwrap_or_else(|| grant.scopes.join(" "))
        };
        let set = parse_scopes(self.dir, &raw, self.tenant)?;
        self.user_tokens(
            app,
            auth,
            user,
            &grant.tenant_id,
            &set,
            UserGrant {
                nonce: grant.nonce.as_deref(),
                session_id: &grant.session_id,
                mfa: grant.mfa,
                family: None,
                id_token: true,
            },
        )
    }

    /// Checks a stored code against this redemption: unused, same client, not expired,
    /// same redirect URI, and the PKCE verifier.
    fn check_code(&self, grant: &AuthCode, app: &App, redirect: &str) -> Result<(), EntraError> {
        if grant.used {
            return Err(EntraError::new(
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            ));
        }
        if grant.client_id != app.client_id {
            return Err(EntraError::new(
                "invalid_grant",
                70000,
                "Provided grant is invalid or malformed. The code was issued to a different client.",
            ));
        }
        if self.now - grant.issued > self.dir.settings.auth_code_lifetime_seconds as i64 {
            return Err(EntraError::new(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            ));
        }
        if grant.redirect_uri != redirect {
            return Err(EntraError::new(
                "invalid_request",
                50011,
                format!(
                    "The redirect URI '{}' specified in the request does not match the redirect URI used to obtain the authorization code ('{}').",
                    sanitize(redirect),
                    sanitize(&grant.redirect_uri)
                ),
            ));
        }
        if let Some((challenge, method)) = &grant.challenge {
            let verifier = self.form.get("code_verifier").unwrap_or("");
            let computed = if method.eq_ignore_ascii_case("S256") {
                entra_jose::b64url(aws_lc_rs::digest::digest(
                    &aws_lc_rs::digest::SHA256,
                    verifier.as_bytes(),
                ))
            } else {
                verifier.to_string()
            };
            if verifier.is_empty()
                || !tokens::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
            {
                return Err(EntraError::new(
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                ));
            }
        }
        Ok(())
    }
}
