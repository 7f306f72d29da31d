//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with
//! `requested_token_use=on_behalf_of`: a middle-tier API trades the user token it received
//! for one to a downstream API.

use serde_json::Value;

use super::token_request::TokenRequest;
use super::user_tokens::{UserGrant, user_gone};
use crate::directory::App;
use crate::errors::{EntraError, sanitize};
use crate::request::{TenantSel, parse_scopes};
use crate::tokens::{self, ClientAuthKind};

impl TokenRequest<'_> {
    pub(super) async fn on_behalf_of(
        &self,
        sel: TenantSel<'_>,
        app: &App,
        basic_secret: Option<String>,
    ) -> Result<Value, EntraError> {
        if self.form.get("requested_token_use") != Some("on_behalf_of") {
            return Err(EntraError::new(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'requested_token_use' (on_behalf_of).",
            ));
        }
        let assertion = self.form.need("assertion")?;
        let raw = self.scopes_raw()?;
        let set = parse_scopes(self.dir, &raw, self.tenant)?;
        let auth = self.authenticate(app, basic_secret).await?;
        if auth == ClientAuthKind::None {
            return Err(EntraError::new(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
        let token = crate::assertions::verify_own_token(self.st, assertion, self.now)?;
        let aud = token.claim_str("aud").unwrap_or_default();
        let for_me = aud.eq_ignore_ascii_case(&app.client_id)
            || app
                .identifier_uris
                .iter()
                .any(|u| u.eq_ignore_ascii_case(aud));
        if !for_me {
            return Err(EntraError::new(
                "invalid_grant",
                50013,
                format!(
                    "Assertion failed signature validation. [Reason - The audience '{}' of the assertion is not this application ('{}').]",
                    sanitize(aud),
                    app.client_id
                ),
            ));
        }
        if token.claim_str("idtyp") == Some("app") || token.claims.get("scp").is_none() {
            return Err(EntraError::new(
                "invalid_grant",
                500131,
                "Assertion audience does not match the Client app presenting the assertion, or the assertion is an app-only token; on-behalf-of needs a delegated user token.",
            ));
        }
        let user = token
            .claim_str("oid")
            .and_then(|oid| self.dir.user_by_oid(oid))
            .ok_or_else(user_gone)?;
        let tenant_id = token
            .claim_str("tid")
            .unwrap_or(&user.tenant_id)
            .to_string();
        if !sel.admits_user(&tenant_id) {
            return Err(EntraError::new(
                "invalid_grant",
                50013,
                "Assertion was issued for a different tenant.",
            ));
        }
        let session = tokens::random_token(16);
        self.user_tokens(
            app,
            auth,
            user,
            &tenant_id,
            &set,
            UserGrant {
                nonce: None,
                session_id: &session,
                mfa: true,
                family: None,
                id_token: false,
            },
        )
    }
}
