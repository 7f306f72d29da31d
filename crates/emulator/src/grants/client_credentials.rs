//! `grant_type=client_credentials`: an app-only token for `<resource>/.default`.

use serde_json::{Value, json};

use super::token_request::TokenRequest;
use crate::directory::App;
use crate::errors::{EntraError, sanitize};
use crate::request::{TenantSel, parse_scopes, resource_not_found};
use crate::tokens::{self, AccessTokenRequest, ClientAuthKind, Principal};

impl TokenRequest<'_> {
    pub(super) async fn client_credentials(
        &self,
        sel: TenantSel<'_>,
        app: &App,
        basic_secret: Option<String>,
    ) -> Result<Value, EntraError> {
        let tenant = sel.specific().ok_or_else(|| {
            EntraError::new(
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by any provided credentials. Use a tenant-specific authority for the client credentials flow.",
            )
        })?;
        let raw = self.scopes_raw()?;
        let items: Vec<&str> = raw.split(' ').filter(|s| !s.is_empty()).collect();
        if items.len() != 1 || !items[0].ends_with("/.default") {
            return Err(EntraError::new(
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
                    sanitize(&raw)
                ),
            ));
        }
        let set = parse_scopes(self.dir, items[0], self.tenant)?;
        if !set.resource.in_tenant(&tenant.id) {
            return Err(resource_not_found(&set.named, self.tenant));
        }
        let auth = self.authenticate(app, basic_secret).await?;
        if auth == ClientAuthKind::None {
            return Err(EntraError::new(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
        let roles = tokens::roles_for(&app.role_assignments, set.resource);
        let named = if self.v1 {
            self.form.get("resource").unwrap_or(&set.named).to_string()
        } else {
            set.named.clone()
        };
        self.app_token_response(
            &tenant.id,
            set.resource,
            &named,
            &app.client_id,
            auth,
            &app.object_id,
            None,
            roles,
        )
    }

    /// Mints an app-only token and shapes the v1 or v2 response.
    #[expect(clippy::too_many_arguments, reason = "the parts of an app-only token")]
    pub(super) fn app_token_response(
        &self,
        tenant_id: &str,
        resource: &App,
        named: &str,
        client_id: &str,
        auth: ClientAuthKind,
        object_id: &str,
        mi_resource_id: Option<&str>,
        roles: Vec<String>,
    ) -> Result<Value, EntraError> {
        let lifetime = self.st.token_lifetime(self.dir);
        let key = self.st.signing_key();
        let at = tokens::mint_access_token(
            &key,
            &AccessTokenRequest {
                base: &self.base,
                tenant_id,
                resource,
                requested_resource: named,
                client_id,
                client_auth: auth,
                principal: Principal::App {
                    object_id,
                    mi_resource_id,
                },
                scp: None,
                roles,
                amr: &[],
                now: self.now,
                lifetime,
                requested: tokens::RequestedClaims::parse(self.form.get("claims")),
            },
        )
        .map_err(|_| {
            EntraError::new("server_error", 50000, "There was an error issuing a token.")
                .status(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
        })?;
        crate::dashboard::record_token(self.st, "access_token", &at);
        if self.v1 {
            Ok(json!({
                "token_type": "Bearer",
                "expires_in": lifetime.to_string(),
                "ext_expires_in": lifetime.to_string(),
                "expires_on": (self.now + lifetime).to_string(),
                "not_before": self.now.to_string(),
                "resource": named,
                "access_token": at,
            }))
        } else {
            Ok(json!({
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": at,
            }))
        }
    }
}
