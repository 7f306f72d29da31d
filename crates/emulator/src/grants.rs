//! The token endpoints (`/{tenant}/oauth2/v2.0/token` and v1 `/{tenant}/oauth2/token`):
//! client authentication (secret post/basic, certificate and federated assertions) and
//! every grant: authorization_code, refresh_token, client_credentials, password,
//! device_code and jwt-bearer on-behalf-of. Each failure is Entra's error with its
//! AADSTS code.

mod authorization_code;
mod client_auth;
mod client_credentials;
mod device_code;
mod on_behalf_of;
mod password;
mod refresh_token;
mod token_request;
mod user_tokens;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::client_base::ClientBase;
use crate::errors::{EntraError, app_not_found, missing_field, sanitize};
use crate::request::{TenantSel, check_form, no_store};
use crate::state::AppState;
use token_request::TokenRequest;

/// The token endpoint's entry point.
pub(crate) async fn token_v2(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    ClientBase(base): ClientBase,
    body: Bytes,
) -> Response {
    token(st, tenant, headers, base, body, false).await
}

/// The v1 token endpoint (`resource` instead of `scope`).
pub(crate) async fn token_v1(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    ClientBase(base): ClientBase,
    body: Bytes,
) -> Response {
    token(st, tenant, headers, base, body, true).await
}

async fn token(
    st: AppState,
    tenant: String,
    headers: HeaderMap,
    base: String,
    body: Bytes,
    v1: bool,
) -> Response {
    let form = match check_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return e.correlate(&headers).into_response(),
    };
    let grant = form.get("grant_type").unwrap_or("").to_string();
    let client_id = form.get("client_id").unwrap_or("").to_string();
    let principal = form.get("username").unwrap_or("").to_string();
    st.count("grant", grant_label(&grant));
    let result = TokenRequest {
        st: &st,
        dir: &st.dir(),
        tenant: &tenant,
        headers: &headers,
        form: &form,
        v1,
        base,
        now: st.now(),
    }
    .run(&grant)
    .await;
    match result {
        Ok(body) => {
            st.event(grant_label(&grant), &client_id, &tenant, &principal, Ok(()));
            let mut resp = axum::Json(body).into_response();
            no_store(resp.headers_mut());
            resp
        }
        Err(e) => {
            st.event(
                grant_label(&grant),
                &client_id,
                &tenant,
                &principal,
                Err((e.error, e.code)),
            );
            e.correlate(&headers).into_response()
        }
    }
}

fn grant_label(grant: &str) -> &'static str {
    match grant {
        "client_credentials" => "client_credentials",
        "authorization_code" => "authorization_code",
        "refresh_token" => "refresh_token",
        "password" => "password",
        "urn:ietf:params:oauth:grant-type:device_code" | "device_code" => "device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => "on_behalf_of",
        _ => "unsupported",
    }
}

impl TokenRequest<'_> {
    /// Resolves the tenant and the client, then hands the request to its grant.
    async fn run(&self, grant: &str) -> Result<Value, EntraError> {
        let sel = TenantSel::resolve(self.dir, self.tenant)?;
        let (client_id, basic_secret) = self.client_id()?;
        let app = self
            .dir
            .app(&client_id)
            .filter(|a| sel.admits_app(a))
            .ok_or_else(|| app_not_found(&client_id, self.tenant))?;
        match grant {
            "client_credentials" => self.client_credentials(sel, app, basic_secret).await,
            "authorization_code" => self.authorization_code(app, basic_secret).await,
            "refresh_token" => self.refresh_token(sel, app, basic_secret).await,
            "password" => self.password(sel, app, basic_secret).await,
            "urn:ietf:params:oauth:grant-type:device_code" | "device_code" => {
                self.device_code(app, basic_secret).await
            }
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
                self.on_behalf_of(sel, app, basic_secret).await
            }
            "" => Err(missing_field("grant_type")),
            other => Err(EntraError::new(
                "unsupported_grant_type",
                70003,
                format!(
                    "The app requested an unsupported grant type '{}'.",
                    sanitize(other)
                ),
            )),
        }
    }
}
