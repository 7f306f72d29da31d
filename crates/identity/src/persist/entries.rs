//! [`Entries`]: the cache entries one token response makes, and how they go into a
//! [`CacheData`].

use serde_json::Value;

use super::response::{ClientInfo, TokenResponse, target_of};
use super::schema::{
    self, AccessTokenEntry, AccountEntry, AppMetadata, CacheData, IdTokenEntry, RefreshTokenEntry,
};
use crate::unix_time::refresh_on;

/// The entries one token response becomes.
pub(super) struct Entries {
    pub(super) home_account_id: Option<String>,
    pub(super) access_token: Option<AccessTokenEntry>,
    pub(super) refresh_token: Option<RefreshTokenEntry>,
    pub(super) id_token: Option<IdTokenEntry>,
    pub(super) account: Option<AccountEntry>,
    pub(super) app_metadata: AppMetadata,
}

impl Entries {
    // Over 80 lines: five struct literals (one per MSAL section) from one response;
    // splitting them would repeat the shared keys five times.
    pub(super) fn from_response(r: &TokenResponse, now: i64) -> Self {
        let claims = r
            .id_token
            .as_ref()
            .and_then(|t| entra_jose::decode_unverified(t.expose()).ok())
            .map(|t| t.claims)
            .unwrap_or_default();
        let claim = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
        let client_info = r.client_info.as_deref().and_then(ClientInfo::decode);
        // As MSAL: `uid.utid` from client_info; without it, a user's `sub` (ADFS);
        // an app's own token has none.
        let home_account_id = client_info
            .as_ref()
            .map(ClientInfo::home_account_id)
            .or_else(|| claim("sub"));
        let environment = Some(r.environment.to_ascii_lowercase());
        let client_id = Some(r.client_id.clone());
        let realm = Some(r.realm.clone());
        let target = Some(target_of(&r.scopes));

        let access_token = r.access_token.as_ref().map(|secret| {
            let expires_in = r.expires_in.unwrap_or(3600);
            AccessTokenEntry {
                credential_type: Some(schema::ACCESS_TOKEN.into()),
                secret: Some(secret.clone()),
                home_account_id: home_account_id.clone(),
                environment: environment.clone(),
                client_id: client_id.clone(),
                realm: realm.clone(),
                target: target.clone(),
                token_type: Some(r.token_type.clone().unwrap_or_else(|| "Bearer".into())),
                cached_at: Some(now),
                expires_on: Some(now + expires_in),
                extended_expires_on: Some(now + r.ext_expires_in.unwrap_or(expires_in)),
                refresh_on: refresh_on(now, expires_in, r.refresh_in),
                extra: Default::default(),
            }
        });
        let refresh_token = r.refresh_token.as_ref().map(|secret| RefreshTokenEntry {
            credential_type: Some(schema::REFRESH_TOKEN.into()),
            secret: Some(secret.clone()),
            home_account_id: home_account_id.clone(),
            environment: environment.clone(),
            client_id: client_id.clone(),
            target: target.clone(),
            last_modification_time: Some(now),
            family_id: r.family_id.clone(),
            extra: Default::default(),
        });
        let id_token = r.id_token.as_ref().map(|secret| IdTokenEntry {
            credential_type: Some(schema::ID_TOKEN.into()),
            secret: Some(secret.clone()),
            home_account_id: home_account_id.clone(),
            environment: environment.clone(),
            realm: realm.clone(),
            client_id: client_id.clone(),
            extra: Default::default(),
        });
        let account = match (
            &home_account_id,
            client_info.is_some() || !claims.is_empty(),
        ) {
            (Some(home), true) => Some(AccountEntry {
                home_account_id: Some(home.clone()),
                environment: environment.clone(),
                realm: realm.clone(),
                local_account_id: claim("oid")
                    .or_else(|| claim("sub"))
                    .or_else(|| client_info.as_ref().map(|c| c.uid.clone())),
                username: Some(
                    claim("preferred_username")
                        .or_else(|| claim("upn"))
                        .unwrap_or_default(),
                ),
                authority_type: Some(schema::AUTHORITY_TYPE_MSSTS.into()),
                client_info: r.client_info.clone(),
                extra: Default::default(),
            }),
            _ => None,
        };
        let app_metadata = AppMetadata {
            client_id,
            environment,
            family_id: r.family_id.clone(),
            extra: Default::default(),
        };
        Self {
            home_account_id,
            access_token,
            refresh_token,
            id_token,
            account,
            app_metadata,
        }
    }

    pub(super) fn store(self, data: &mut CacheData) {
        if let Some(e) = self.access_token {
            data.insert_access_token(e);
        }
        if let Some(e) = self.refresh_token {
            data.insert_refresh_token(e);
        }
        if let Some(e) = self.id_token {
            data.insert_id_token(e);
        }
        if let Some(e) = self.account {
            data.insert_account(e);
        }
        data.insert_app_metadata(self.app_metadata);
    }
}
