//! `grant_type=refresh_token`: rotation within a family; presenting a redeemed token
//! again (replay) revokes the whole family.

use serde_json::Value;

use super::token_request::TokenRequest;
use super::user_tokens::{UserGrant, user_gone};
use crate::directory::App;
use crate::errors::{EntraError, app_not_found};
use crate::request::{TenantSel, parse_scopes};
use crate::state::{RefreshToken, Revoked};

impl TokenRequest<'_> {
    pub(super) async fn refresh_token(
        &self,
        sel: TenantSel<'_>,
        app: &App,
        basic_secret: Option<String>,
    ) -> Result<Value, EntraError> {
        let rt = self.form.need("refresh_token")?;
        let grant = self.live_refresh_token(rt)?;
        if grant.client_id != app.client_id {
            return Err(EntraError::new(
                "invalid_grant",
                70000,
                "Provided grant is invalid or malformed. The refresh token was issued to a different client.",
            ));
        }
        if self.now - grant.issued > self.dir.settings.refresh_token_inactivity_seconds as i64 {
            return Err(EntraError::new(
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. The token was issued and was inactive for the configured period.",
            ));
        }
        let auth = self.authenticate(app, basic_secret).await?;
        {
            let mut store = self.st.store.lock().expect("store lock");
            let replay = store.refresh_tokens.get(rt).is_none_or(|r| r.used);
            if replay {
                store
                    .revoked_families
                    .insert(grant.family.clone(), Revoked::Replay);
                return Err(replayed());
            }
            if let Some(r) = store.refresh_tokens.get_mut(rt) {
                r.used = true;
            }
        }
        let user = self
            .dir
            .user_by_oid(&grant.user_oid)
            .ok_or_else(user_gone)?;
        if !sel.admits_user(&user.tenant_id) {
            return Err(app_not_found(&app.client_id, self.tenant));
        }
        let raw = self.scopes_raw()?;
        let set = parse_scopes(self.dir, &raw, self.tenant)?;
        self.user_tokens(
            app,
            auth,
            user,
            &grant.tenant_id,
            &set,
            UserGrant {
                nonce: None,
                session_id: &grant.session_id,
                mfa: grant.mfa,
                family: Some(&grant.family),
                id_token: true,
            },
        )
    }

    /// The stored refresh token `rt`, unless it is unknown or its family was revoked (by an
    /// admin, or after a replay).
    fn live_refresh_token(&self, rt: &str) -> Result<RefreshToken, EntraError> {
        let found = {
            let store = self.st.store.lock().expect("store lock");
            store.refresh_tokens.get(rt).cloned().map(|r| {
                let revoked = store.revoked_families.get(&r.family).copied();
                (r, revoked)
            })
        };
        let (grant, revoked) = found.ok_or_else(|| {
            EntraError::new(
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid. The refresh token is not valid.",
            )
        })?;
        match revoked {
            Some(Revoked::Admin) => {
                return Err(EntraError::new(
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
                ));
            }
            Some(Revoked::Replay) => return Err(replayed()),
            None => {}
        }
        Ok(grant)
    }
}

fn replayed() -> EntraError {
    EntraError::new(
        "invalid_grant",
        70008,
        "The refresh token has been revoked because it was already redeemed (replay detected); every token of this sign-in was revoked. Sign in again.",
    )
}
