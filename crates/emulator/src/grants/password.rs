//! `grant_type=password` (ROPC): a user's name and password in the form.

use serde_json::Value;

use super::token_request::TokenRequest;
use super::user_tokens::UserGrant;
use crate::directory::App;
use crate::errors::{EntraError, sanitize};
use crate::request::{TenantSel, parse_scopes};
use crate::tokens;

impl TokenRequest<'_> {
    pub(super) async fn password(
        &self,
        sel: TenantSel<'_>,
        app: &App,
        basic_secret: Option<String>,
    ) -> Result<Value, EntraError> {
        let username = self.form.need("username")?;
        let password = self.form.need("password")?;
        let raw = self.scopes_raw()?;
        let set = parse_scopes(self.dir, &raw, self.tenant)?;
        let auth = self.authenticate(app, basic_secret).await?;
        let user = self.dir.user(username).filter(|u| sel.admits_user(&u.tenant_id)).ok_or_else(|| {
            EntraError::new(
                "invalid_grant",
                50034,
                format!("The user account {{EUII Hidden}} does not exist in the {} directory. To sign into this application, the account must be added to the directory.", sanitize(self.tenant)),
            )
        })?;
        if !tokens::constant_time_eq(user.password.as_bytes(), password.as_bytes()) {
            return Err(EntraError::new(
                "invalid_grant",
                50126,
                "Error validating credentials due to invalid username or password.",
            ));
        }
        let session = tokens::random_token(16);
        let tenant_id = user.tenant_id.clone();
        self.user_tokens(
            app,
            auth,
            user,
            &tenant_id,
            &set,
            UserGrant {
                nonce: None,
                session_id: &session,
                mfa: false,
                family: None,
                id_token: true,
            },
        )
    }
}
