//! `grant_type=device_code`: the device's polls, pending until the user approves or
//! declines on `/devicelogin`, then tokens once.

use serde_json::Value;

use super::token_request::TokenRequest;
use super::user_tokens::{UserGrant, user_gone};
use crate::directory::App;
use crate::errors::{EntraError, missing_field};
use crate::request::parse_scopes;
use crate::state::{DeviceCode, DeviceStatus};
use crate::tokens;

impl TokenRequest<'_> {
    pub(super) async fn device_code(
        &self,
        app: &App,
        basic_secret: Option<String>,
    ) -> Result<Value, EntraError> {
        let code = self
            .form
            .get("device_code")
            .or_else(|| self.form.get("code"))
            .ok_or_else(|| missing_field("device_code"))?;
        let dc = self.device_code_of(app, code)?;
        if self.now > dc.expires {
            return Err(EntraError::new(
                "expired_token",
                70019,
                "Verification code expired.",
            ));
        }
        match &dc.status {
            DeviceStatus::Pending => Err(EntraError::new(
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )),
            DeviceStatus::Declined => Err(EntraError::new(
                "authorization_declined",
                70000,
                "The user declined the sign-in request.",
            )),
            DeviceStatus::Redeemed => Err(EntraError::new(
                "invalid_grant",
                54005,
                "The device code was already redeemed; start a new device code flow.",
            )),
            DeviceStatus::Approved(oid, tenant_id, mfa) => {
                let auth = self.authenticate(app, basic_secret).await?;
                {
                    let mut store = self.st.store.lock().expect("store lock");
                    match store.device_codes.get_mut(code) {
                        Some(d) if matches!(d.status, DeviceStatus::Approved(..)) => {
                            d.status = DeviceStatus::Redeemed
                        }
                        _ => return Err(bad_verification_code()),
                    }
                }
                let user = self.dir.user_by_oid(oid).ok_or_else(user_gone)?;
                let set = parse_scopes(self.dir, &dc.scopes.join(" "), self.tenant)?;
                let session = tokens::random_token(16);
                self.user_tokens(
                    app,
                    auth,
                    user,
                    tenant_id,
                    &set,
                    UserGrant {
                        nonce: None,
                        session_id: &session,
                        mfa: *mfa,
                        family: None,
                        id_token: true,
                    },
                )
            }
        }
    }

    /// The stored device code `code`, issued to `app` (AADSTS70018 otherwise).
    fn device_code_of(&self, app: &App, code: &str) -> Result<DeviceCode, EntraError> {
        let found = self
            .st
            .store
            .lock()
            .expect("store lock")
            .device_codes
            .get(code)
            .cloned();
        let dc = found
            .filter(|d| d.client_id == app.client_id)
            .ok_or_else(bad_verification_code)?;
        Ok(dc)
    }
}

/// AADSTS70018: an unknown device code, or one issued to another client.
fn bad_verification_code() -> EntraError {
    EntraError::new(
        "bad_verification_code",
        70018,
        "The provided value for the input parameter 'device_code' is not valid.",
    )
}
