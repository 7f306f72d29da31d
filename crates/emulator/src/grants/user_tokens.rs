//! The user-token response every delegated grant ends in: consent and MFA checks, the
//! access token, a rotating refresh token, the ID token, and the v1 or v2 shape.

use serde_json::{Value, json};

use super::token_request::TokenRequest;
use crate::consent::delegated_scopes;
use crate::directory::{App, User};
use crate::errors::EntraError;
use crate::keys::SigningKey;
use crate::request::ScopeSet;
use crate::state::RefreshToken;
use crate::tokens::{self, AccessTokenRequest, ClientAuthKind, Principal};

impl TokenRequest<'_> {
    /// Checks consent and MFA, mints the access token (plus refresh and ID tokens as
    /// asked), and shapes the response.
    pub(super) fn user_tokens(
        &self,
        client: &App,
        auth: ClientAuthKind,
        user: &User,
        tenant_id: &str,
        set: &ScopeSet<'_>,
        g: UserGrant<'_>,
    ) -> Result<Value, EntraError> {
        let granted = delegated_scopes(self.dir, client, user, set)?;
        if user.mfa_required && !g.mfa {
            return Err(mfa_required(set.resource));
        }
        let lifetime = self.st.token_lifetime(self.dir);
        let key = self.st.signing_key();
        let scp = token_scp(set, &granted);
        let amr: &[&str] = if g.mfa { &["pwd", "mfa"] } else { &["pwd"] };
        let at = tokens::mint_access_token(
            &key,
            &AccessTokenRequest {
                base: &self.base,
                tenant_id,
                resource: set.resource,
                requested_resource: &set.named,
                client_id: &client.client_id,
                client_auth: auth,
                principal: Principal::User(user),
                scp: Some(scp),
                roles: Vec::new(),
                amr,
                now: self.now,
                lifetime,
                requested: tokens::RequestedClaims::parse(self.form.get("claims")),
            },
        )
        .map_err(|_| {
            EntraError::new("server_error", 50000, "There was an error issuing a token.")
        })?;
        crate::dashboard::record_token(self.st, "access_token", &at);
        let scope_text = response_scope(set, &granted);
        let mut body = if self.v1 {
            json!({
                "token_type": "Bearer",
                "scope": granted.join(" "),
                "expires_in": lifetime.to_string(),
                "ext_expires_in": lifetime.to_string(),
                "expires_on": (self.now + lifetime).to_string(),
                "not_before": self.now.to_string(),
                "resource": set.named,
                "access_token": at,
            })
        } else {
            json!({
                "token_type": "Bearer",
                "scope": scope_text,
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": at,
            })
        };
        if set.has("offline_access") || self.v1 {
            let rt = self.store_refresh_token(client, user, tenant_id, &g);
            body["refresh_token"] = rt.into();
            body["refresh_token_expires_in"] =
                self.dir.settings.refresh_token_inactivity_seconds.into();
        }
        if g.id_token && (set.has("openid") || self.v1) {
            body["id_token"] = self
                .id_token(&key, client, user, tenant_id, set, &g)?
                .into();
        }
        if self.form.get("client_info") == Some("1") {
            body["client_info"] = tokens::client_info(user).into();
        }
        Ok(body)
    }

    /// The ID token of a user grant.
    fn id_token(
        &self,
        key: &SigningKey,
        client: &App,
        user: &User,
        tenant_id: &str,
        set: &ScopeSet<'_>,
        g: &UserGrant<'_>,
    ) -> Result<String, EntraError> {
        tokens::mint_id_token(
            key,
            &self.base,
            tenant_id,
            &client.client_id,
            user,
            g.nonce,
            g.session_id,
            self.now,
            self.dir.settings.id_token_lifetime_seconds as i64,
            set.has("email"),
        )
        .inspect(|t| crate::dashboard::record_token(self.st, "id_token", t))
        .map_err(|_| EntraError::new("server_error", 50000, "There was an error issuing a token."))
    }

    /// Stores a new refresh token (in the grant's family, or a new one) and returns it.
    fn store_refresh_token(
        &self,
        client: &App,
        user: &User,
        tenant_id: &str,
        g: &UserGrant<'_>,
    ) -> String {
        let rt = tokens::random_token(48);
        let family = g
            .family
            .map(str::to_string)
            .unwrap_or_else(|| tokens::random_token(12));
        let mut store = self.st.store.lock().expect("store lock");
        store.sweep(self.now, self.dir);
        store.refresh_tokens.insert(
            rt.clone(),
            RefreshToken {
                family,
                client_id: client.client_id.clone(),
                user_oid: user.object_id.clone(),
                tenant_id: tenant_id.to_string(),
                issued: self.now,
                used: false,
                session_id: g.session_id.to_string(),
                mfa: g.mfa,
            },
        );
        rt
    }
}

/// What a user grant carries into [`TokenRequest::user_tokens`].
pub(super) struct UserGrant<'a> {
    pub(super) nonce: Option<&'a str>,
    pub(super) session_id: &'a str,
    pub(super) mfa: bool,
    pub(super) family: Option<&'a str>,
    pub(super) id_token: bool,
}

/// AADSTS50034 for a user deleted since the grant was issued.
pub(super) fn user_gone() -> EntraError {
    EntraError::new(
        "invalid_grant",
        50034,
        "The user account {EUII Hidden} does not exist in the directory.",
    )
}

/// The `scope` a v2 response reports: fully-qualified scopes of a custom API, bare ones
/// (with the OIDC scopes) for Graph, as Entra does.
fn response_scope(set: &ScopeSet<'_>, granted: &[String]) -> String {
    if set.resource.is_graph() {
        let mut all: Vec<String> = granted.to_vec();
        all.extend(set.oidc.iter().filter(|s| *s != "offline_access").cloned());
        all.join(" ")
    } else {
        granted
            .iter()
            .map(|s| format!("{}/{}", set.named, s))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// AADSTS50076.
pub(crate) fn mfa_required(resource: &App) -> EntraError {
    EntraError::new(
        "interaction_required",
        50076,
        format!(
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{}'.",
            resource.client_id
        ),
    )
    .suberror("basic_action")
}

/// The access token's `scp`: the granted scopes, or for Graph with none granted the OIDC
/// scopes asked for (without `offline_access`).
fn token_scp(set: &ScopeSet<'_>, granted: &[String]) -> String {
    if set.resource.is_graph() && granted.is_empty() {
        set.oidc
            .iter()
            .filter(|s| *s != "offline_access")
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        granted.join(" ")
    }
}
