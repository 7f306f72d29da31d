//! The token endpoints (`/{tenant}/oauth2/v2.0/token` and v1 `/{tenant}/oauth2/token`):
//! client authentication (secret post/basic, certificate and federated assertions) and
//! every grant: authorization_code, refresh_token, client_credentials, password,
//! device_code and jwt-bearer on-behalf-of. Each failure is Entra's error with its
//! AADSTS code.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::directory::{App, Directory, Tenant, User};
use crate::errors::{
    EntraError, app_not_found, malformed, missing_field, sanitize, tenant_not_found,
};
use crate::state::{AppState, DeviceStatus, RefreshToken, Revoked};
use crate::tokens::{self, AccessTokenRequest, ClientAuthKind, Principal};

/// OIDC scopes: they need no consent and name no resource.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Request form fields (last value wins; empty values count as absent).
#[derive(Debug, Default)]
pub struct Form(pub HashMap<String, String>);

impl Form {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Result<Self, EntraError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
            malformed("The request body is not valid application/x-www-form-urlencoded.")
        })?;
        Ok(Self(pairs.into_iter().collect()))
    }

    /// A non-empty field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A required field (AADSTS900144 when missing).
    pub fn need(&self, name: &str) -> Result<&str, EntraError> {
        self.get(name).ok_or_else(|| missing_field(name))
    }
}

/// Which tenant a path segment names.
#[derive(Debug, Clone, Copy)]
pub enum TenantSel<'a> {
    /// A specific tenant.
    Id(&'a Tenant),
    /// `common`.
    Common,
    /// `organizations`.
    Organizations,
    /// `consumers`.
    Consumers,
}

impl<'a> TenantSel<'a> {
    /// Resolves a path segment (GUID, domain, or one of the three aliases).
    pub fn resolve(dir: &'a Directory, segment: &str) -> Result<Self, EntraError> {
        match segment.to_ascii_lowercase().as_str() {
            "common" => Ok(Self::Common),
            "organizations" => Ok(Self::Organizations),
            "consumers" => Ok(Self::Consumers),
            crate::directory::CONSUMERS_TENANT_ID => Ok(Self::Consumers),
            _ => dir
                .tenant(segment)
                .map(Self::Id)
                .ok_or_else(|| tenant_not_found(segment)),
        }
    }

    /// The specific tenant, if any.
    pub fn specific(self) -> Option<&'a Tenant> {
        match self {
            Self::Id(t) => Some(t),
            _ => None,
        }
    }

    /// Does a user of `tenant_id` sign in through this segment?
    pub fn admits_user(self, tenant_id: &str) -> bool {
        match self {
            Self::Id(t) => t.id == tenant_id,
            Self::Common | Self::Organizations => true,
            Self::Consumers => tenant_id == crate::directory::CONSUMERS_TENANT_ID,
        }
    }

    /// Is `app` usable through this segment?
    pub fn admits_app(self, app: &App) -> bool {
        match self {
            Self::Id(t) => app.in_tenant(&t.id),
            _ => true,
        }
    }
}

/// Resolved scopes of one request: one resource, its scopes, and the OIDC scopes.
#[derive(Debug)]
pub struct ScopeSet<'d> {
    /// The resource app.
    pub resource: &'d App,
    /// The resource as the client wrote it (v1 `aud`).
    pub named: String,
    /// Scope names on the resource (may be `.default`).
    pub scopes: Vec<String>,
    /// OIDC scopes requested.
    pub oidc: Vec<String>,
}

impl ScopeSet<'_> {
    /// Was `.default` requested?
    pub fn is_default(&self) -> bool {
        self.scopes.iter().any(|s| s == ".default")
    }

    /// Has the client asked for this OIDC scope?
    pub fn has(&self, oidc: &str) -> bool {
        self.oidc.iter().any(|s| s == oidc)
    }
}

/// Splits and resolves a v2 `scope` parameter.
pub fn parse_scopes<'d>(
    dir: &'d Directory,
    raw: &str,
    tenant: &str,
) -> Result<ScopeSet<'d>, EntraError> {
    let mut oidc = Vec::new();
    let mut resource: Option<(&App, String)> = None;
    let mut scopes: Vec<String> = Vec::new();
    for s in raw.split([' ', '+']).filter(|s| !s.is_empty()) {
        if OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            oidc.push(s.to_ascii_lowercase());
            continue;
        }
        let (app, name) = match dir.resolve_scope(s) {
            Some(found) => found,
            None => {
                return Err(match s.rsplit_once('/') {
                    Some((prefix, _)) => resource_not_found(prefix, tenant),
                    None => invalid_scope(s),
                });
            }
        };
        let named = &s[..s.len() - name.len()].trim_end_matches('/');
        let named = if named.is_empty() {
            "https://graph.microsoft.com"
        } else {
            named
        };
        if name != ".default" && !app.scopes.iter().any(|x| x.eq_ignore_ascii_case(name)) {
            return Err(invalid_scope(s));
        }
        match &resource {
            Some((r, _)) if r.client_id != app.client_id => {
                return Err(EntraError::new(
                    "invalid_scope",
                    28000,
                    "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ".to_string()
                        + &sanitize(raw)
                        + " is not valid.",
                ));
            }
            Some(_) => {}
            None => resource = Some((app, named.to_string())),
        }
        let canonical = app
            .scopes
            .iter()
            .find(|x| x.eq_ignore_ascii_case(name))
            .cloned()
            .unwrap_or_else(|| name.to_string());
        if !scopes.contains(&canonical) {
            scopes.push(canonical);
        }
    }
    let (resource, named) = match resource {
        Some(r) => r,
        None => {
            let graph = dir.app(crate::directory::GRAPH_APP_ID).ok_or_else(|| {
                EntraError::new("invalid_scope", 70011, "The provided request must include a resource scope; this directory has no Microsoft Graph.")
            })?;
            (graph, "https://graph.microsoft.com".to_string())
        }
    };
    Ok(ScopeSet {
        resource,
        named,
        scopes,
        oidc,
    })
}

fn invalid_scope(s: &str) -> EntraError {
    EntraError::new(
        "invalid_scope",
        70011,
        format!(
            "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {} is not valid.",
            sanitize(s)
        ),
    )
}

fn resource_not_found(resource: &str, tenant: &str) -> EntraError {
    EntraError::new(
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            sanitize(resource),
            sanitize(tenant)
        ),
    )
}

/// AADSTS65001.
pub fn consent_required(client: &App, resource: &App) -> EntraError {
    EntraError::new(
        "invalid_grant",
        65001,
        format!(
            "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource. (resource: {})",
            client.client_id, client.name, resource.name
        ),
    )
    .suberror("consent_required")
}

/// AADSTS50076.
pub fn mfa_required(resource: &App) -> EntraError {
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

/// The token endpoint's entry point.
pub async fn token_v2(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(st, tenant, headers, body, false).await
}

/// The v1 token endpoint (`resource` instead of `scope`).
pub async fn token_v1(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(st, tenant, headers, body, true).await
}

async fn token(
    st: AppState,
    tenant: String,
    headers: HeaderMap,
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
    let result = Request {
        st: &st,
        dir: &st.dir(),
        tenant: &tenant,
        headers: &headers,
        form: &form,
        v1,
        base: st.base_url(&headers),
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

/// Sets `Cache-Control: no-store` and `Pragma: no-cache`, as Entra does on token responses.
pub fn no_store(h: &mut HeaderMap) {
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Refuses non-form bodies, then parses the form.
pub fn check_form(headers: &HeaderMap, body: &[u8]) -> Result<Form, EntraError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(EntraError::new(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'. (Content-Type must be application/x-www-form-urlencoded.)",
        ));
    }
    Form::parse(body)
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

struct Request<'a> {
    st: &'a AppState,
    dir: &'a Directory,
    tenant: &'a str,
    headers: &'a HeaderMap,
    form: &'a Form,
    v1: bool,
    base: String,
    now: i64,
}

impl Request<'_> {
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

    /// The client id from the form, HTTP Basic, or a certificate assertion's `iss`.
    fn client_id(&self) -> Result<(String, Option<String>), EntraError> {
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
    async fn authenticate(
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

    fn scopes_raw(&self) -> Result<String, EntraError> {
        if self.v1 {
            let resource = self.form.get("resource");
            let scope = self.form.get("scope").unwrap_or("");
            Ok(match resource {
                Some(r) => format!("{}/.default {}", r.trim_end_matches('/'), scope),
                None => scope.to_string(),
            })
        } else {
            self.form.need("scope").map(str::to_string)
        }
    }

    async fn client_credentials(
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
    fn app_token_response(
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

    async fn authorization_code(
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

    async fn refresh_token(
        &self,
        sel: TenantSel<'_>,
        app: &App,
        basic_secret: Option<String>,
    ) -> Result<Value, EntraError> {
        let rt = self.form.need("refresh_token")?;
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

    async fn password(
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

    async fn device_code(
        &self,
        app: &App,
        basic_secret: Option<String>,
    ) -> Result<Value, EntraError> {
        let code = self
            .form
            .get("device_code")
            .or_else(|| self.form.get("code"))
            .ok_or_else(|| missing_field("device_code"))?;
        let found = self
            .st
            .store
            .lock()
            .expect("store lock")
            .device_codes
            .get(code)
            .cloned();
        let bad = || {
            EntraError::new(
                "bad_verification_code",
                70018,
                "The provided value for the input parameter 'device_code' is not valid.",
            )
        };
        let dc = found
            .filter(|d| d.client_id == app.client_id)
            .ok_or_else(bad)?;
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
                        _ => return Err(bad()),
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

    async fn on_behalf_of(
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

    /// Checks consent and MFA, mints the access token (plus refresh and ID tokens as
    /// asked), and shapes the response.
    fn user_tokens(
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
        let scp = if set.resource.is_graph() && granted.is_empty() {
            set.oidc
                .iter()
                .filter(|s| *s != "offline_access")
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            granted.join(" ")
        };
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
            body["refresh_token"] = rt.into();
            body["refresh_token_expires_in"] =
                self.dir.settings.refresh_token_inactivity_seconds.into();
        }
        if g.id_token && (set.has("openid") || self.v1) {
            let id = tokens::mint_id_token(
                &key,
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
            .map_err(|_| {
                EntraError::new("server_error", 50000, "There was an error issuing a token.")
            })?;
            body["id_token"] = id.into();
        }
        if self.form.get("client_info") == Some("1") {
            body["client_info"] = tokens::client_info(user).into();
        }
        Ok(body)
    }
}

struct UserGrant<'a> {
    nonce: Option<&'a str>,
    session_id: &'a str,
    mfa: bool,
    family: Option<&'a str>,
    id_token: bool,
}

fn replayed() -> EntraError {
    EntraError::new(
        "invalid_grant",
        70008,
        "The refresh token has been revoked because it was already redeemed (replay detected); every token of this sign-in was revoked. Sign in again.",
    )
}

fn user_gone() -> EntraError {
    EntraError::new(
        "invalid_grant",
        50034,
        "The user account {EUII Hidden} does not exist in the directory.",
    )
}

/// The delegated scopes a user token gets, or 65001 when consent is missing.
pub fn delegated_scopes(
    dir: &Directory,
    client: &App,
    user: &User,
    set: &ScopeSet<'_>,
) -> Result<Vec<String>, EntraError> {
    let resource = set.resource;
    if set.is_default() {
        let all = dir.consented_scopes(user, client, &resource.client_id);
        // A client asking for its own API by `.default` needs no consent.
        if all.is_empty() && resource.client_id != client.client_id {
            return Err(consent_required(client, resource));
        }
        return Ok(all);
    }
    for s in &set.scopes {
        if !dir.consented(user, client, &resource.client_id, s)
            && resource.client_id != client.client_id
        {
            return Err(consent_required(client, resource));
        }
    }
    Ok(set.scopes.clone())
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
