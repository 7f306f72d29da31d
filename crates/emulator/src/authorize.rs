//! The browser side: `/authorize` (response_type=code with query, fragment or form_post,
//! `state`, `nonce`, `prompt`, `login_hint`, PKCE), the sign-in, MFA, consent and
//! account-picker pages, the device-code endpoint and its pages, and sign-out.
//!
//! A pending sign-in is a server-side *flow* keyed by a random id; each page posts the
//! flow id and a CSRF token that must equal the `entra_csrf` cookie (double submit).
//! Errors that would need an unverified redirect URI are shown as pages, never redirected.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::directory::{App, Directory, User};
use crate::errors::{EntraError, sanitize};
use crate::grants::{Form, OIDC_SCOPES, TenantSel, check_form, parse_scopes};
use crate::pages;
use crate::state::{AppState, AuthCode, DeviceCode, DeviceStatus, Flow, FlowKind, Session};
use crate::tokens::{constant_time_eq, random_token};

const SESSION_COOKIE: &str = "entra_session";
const CSRF_COOKIE: &str = "entra_csrf";

/// The parameters of an authorize request that matter after sign-in.
#[derive(Debug, Clone)]
pub struct AuthorizeParams {
    /// Redirect URI (verified).
    pub redirect_uri: String,
    /// `query`, `fragment` or `form_post`.
    pub response_mode: String,
    /// `state`.
    pub state: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// PKCE challenge and method.
    pub challenge: Option<(String, String)>,
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Cookie jar for one response: what to set.
struct Jar {
    csrf: String,
    set: Vec<String>,
    secure: bool,
}

impl Jar {
    fn new(st: &AppState, headers: &HeaderMap) -> Self {
        let secure = st.scheme == "https";
        let mut set = Vec::new();
        let csrf = cookie(headers, CSRF_COOKIE).unwrap_or_else(|| {
            let v = random_token(24);
            set.push(cookie_line(CSRF_COOKIE, &v, secure, None));
            v
        });
        Self { csrf, set, secure }
    }

    fn set_session(&mut self, id: &str) {
        self.set
            .push(cookie_line(SESSION_COOKIE, id, self.secure, None));
    }

    fn clear_session(&mut self) {
        self.set
            .push(cookie_line(SESSION_COOKIE, "", self.secure, Some(0)));
    }

    fn apply(self, mut resp: Response) -> Response {
        for c in self.set {
            if let Ok(v) = HeaderValue::from_str(&c) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        resp
    }

    fn page(self, body: String) -> Response {
        self.apply(pages::html(StatusCode::OK, body))
    }
}

fn cookie_line(name: &str, value: &str, secure: bool, max_age: Option<u32>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    c
}

fn error_page(code: u32, message: &str) -> Response {
    pages::html(StatusCode::BAD_REQUEST, pages::error(code, message))
}

/// Entra's loopback rule: a registered `http://localhost` (or 127.0.0.1, `[::1]`) matches
/// any port; everything else must match exactly (an empty path equals `/`).
pub fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let split = |u: &str| -> Option<(String, String, Option<String>, String)> {
        let (scheme, rest) = u.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            let (h, p) = h.split_once(']')?;
            (format!("[{h}]"), p.strip_prefix(':').map(str::to_string))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.to_string())),
                None => (authority.to_string(), None),
            }
        };
        let tail = if tail.is_empty() || tail.starts_with('?') {
            format!("/{tail}")
        } else {
            tail.to_string()
        };
        Some((
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase(),
            port,
            tail,
        ))
    };
    let (Some(r), Some(g)) = (split(registered), split(given)) else {
        return false;
    };
    let loopback = ["localhost", "127.0.0.1", "[::1]"].contains(&r.1.as_str());
    if loopback && r.0 == "http" {
        return g.0 == "http"
            && g.1 == r.1
            && g.3 == r.3
            && g.2.as_deref().is_none_or(|p| p.parse::<u16>().is_ok());
    }
    r.0 == g.0 && r.1 == g.1 && r.2 == g.2 && r.3 == g.3
}

fn query_map(raw: Option<&str>) -> Form {
    Form(
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or(""))
            .unwrap_or_default()
            .into_iter()
            .collect(),
    )
}

/// `GET|POST /{tenant}/oauth2/v2.0/authorize`.
pub async fn authorize_v2(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut form = query_map(q.as_deref());
    if !body.is_empty()
        && let Ok(f) = Form::parse(&body)
    {
        form.0.extend(f.0);
    }
    authorize(st, tenant, form, headers, false)
}

/// v1 `/{tenant}/oauth2/authorize` (`resource` instead of `scope`).
pub async fn authorize_v1(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    authorize(st, tenant, query_map(q.as_deref()), headers, true)
}

fn authorize(st: AppState, tenant: String, form: Form, headers: HeaderMap, v1: bool) -> Response {
    let dir = st.dir();
    let sel = match TenantSel::resolve(&dir, &tenant) {
        Ok(s) => s,
        Err(e) => return error_page(e.code, &e.message),
    };
    let Some(client_id) = form.get("client_id") else {
        return error_page(
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(app) = dir.app(client_id).filter(|a| sel.admits_app(a)) else {
        let e = crate::errors::app_not_found(client_id, &tenant);
        return error_page(e.code, &e.message);
    };
    let redirect = match form.get("redirect_uri") {
        Some(r) => r.to_string(),
        None => match app.redirect_uris.first() {
            Some(r) => r.clone(),
            None => {
                return error_page(
                    500113,
                    "No reply address is registered for the application.",
                );
            }
        },
    };
    if !app
        .redirect_uris
        .iter()
        .any(|r| redirect_matches(r, &redirect))
    {
        return error_page(
            50011,
            &format!(
                "The redirect URI '{}' specified in the request does not match the redirect URIs configured for the application '{}'.",
                sanitize(&redirect),
                app.client_id
            ),
        );
    }
    let response_mode = form.get("response_mode").unwrap_or("query").to_string();
    if !["query", "fragment", "form_post"].contains(&response_mode.as_str()) {
        return error_page(
            900144,
            "response_mode must be query, fragment or form_post.",
        );
    }
    let params = AuthorizeParams {
        redirect_uri: redirect,
        response_mode,
        state: form.get("state").map(str::to_string),
        nonce: form.get("nonce").map(str::to_string),
        challenge: form.get("code_challenge").map(|c| {
            (
                c.to_string(),
                form.get("code_challenge_method")
                    .unwrap_or("plain")
                    .to_string(),
            )
        }),
    };
    let fail = |e: EntraError| redirect_error(&params, e.error, e.code, &e.message);
    if form.get("response_type") != Some("code") {
        return fail(EntraError::new(
            "unsupported_response_type",
            700054,
            format!(
                "response_type '{}' is not supported; the emulator implements the authorization code flow.",
                sanitize(form.get("response_type").unwrap_or(""))
            ),
        ));
    }
    if let Some((_, m)) = &params.challenge
        && m != "S256"
        && m != "plain"
    {
        return fail(EntraError::new(
            "invalid_request",
            5000331,
            "code_challenge_method must be S256 or plain.",
        ));
    }
    let scopes_raw = if v1 {
        format!(
            "{}/.default openid {}",
            form.get("resource")
                .unwrap_or("https://graph.microsoft.com"),
            form.get("scope").unwrap_or("")
        )
    } else {
        match form.get("scope") {
            Some(s) => s.to_string(),
            None => {
                return fail(EntraError::new(
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'scope'.",
                ));
            }
        }
    };
    if let Err(e) = parse_scopes(&dir, &scopes_raw, &tenant) {
        return fail(e);
    }
    let prompt = form.get("prompt").map(str::to_ascii_lowercase);
    let jar = Jar::new(&st, &headers);
    let session = cookie(&headers, SESSION_COOKIE).and_then(|id| {
        st.store
            .lock()
            .expect("store lock")
            .sessions
            .get(&id)
            .cloned()
            .map(|s| (id, s))
    });
    let session_user = session
        .as_ref()
        .and_then(|(_, s)| dir.user_by_oid(&s.user_oid).map(|u| (u, s.mfa)))
        .filter(|(u, _)| sel.admits_user(&u.tenant_id))
        .filter(|(u, _)| {
            form.get("login_hint")
                .is_none_or(|h| u.upn.eq_ignore_ascii_case(h))
        });
    let mut flow = Flow {
        kind: FlowKind::Authorize(params.clone()),
        tenant_segment: tenant.clone(),
        client_id: app.client_id.clone(),
        scopes: scopes_raw
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        user_oid: None,
        mfa: false,
        consented: false,
        created: st.now(),
        prompt: prompt.clone(),
        login_hint: form.get("login_hint").map(str::to_string),
    };
    match prompt.as_deref() {
        Some("login") => {}
        Some("select_account") => {
            if let Some((u, mfa)) = session_user {
                flow.mfa = mfa;
                let id = store_flow(&st, flow, &dir);
                let upn = u.upn.clone();
                let csrf = jar.csrf.clone();
                return jar.page(pages::select_account(&id, &csrf, &upn));
            }
        }
        Some("none") => {
            let Some((u, mfa)) = session_user else {
                return fail(EntraError::new(
                    "login_required",
                    50058,
                    "A silent sign-in request was sent but no user is signed in.",
                ));
            };
            flow.user_oid = Some(u.object_id.clone());
            flow.mfa = mfa;
        }
        _ => {
            if let Some((u, mfa)) = session_user {
                flow.user_oid = Some(u.object_id.clone());
                flow.mfa = mfa;
            }
        }
    }
    let id = store_flow(&st, flow, &dir);
    advance(&st, &dir, &id, jar)
}

/// A pending flow by id.
fn pending_flow(st: &crate::state::Inner, flow_id: &str) -> Option<Flow> {
    st.store
        .lock()
        .expect("store lock")
        .flows
        .get(flow_id)
        .cloned()
}

fn flow_gone() -> Response {
    error_page(
        9002313,
        "This sign-in request has expired or is unknown. Start again from the application.",
    )
}

fn store_flow(st: &AppState, flow: Flow, dir: &Directory) -> String {
    let id = random_token(24);
    let mut store = st.store.lock().expect("store lock");
    store.sweep(st.now(), dir);
    store.flows.insert(id.clone(), flow);
    id
}

/// Permissions the user has not consented to yet, as `resource/scope` lines for the page.
fn missing_consent(
    dir: &Directory,
    app: &App,
    user: &User,
    scopes: &[String],
) -> Result<Vec<(String, String, String)>, EntraError> {
    let set = parse_scopes(dir, &scopes.join(" "), "")?;
    let wanted: Vec<String> = if set.is_default() {
        set.resource.scopes.clone()
    } else {
        set.scopes.clone()
    };
    if set.resource.client_id == app.client_id {
        return Ok(Vec::new());
    }
    Ok(wanted
        .into_iter()
        .filter(|s| !dir.consented(user, app, &set.resource.client_id, s))
        .map(|s| {
            (
                set.resource.client_id.clone(),
                s.clone(),
                format!("{}/{}", set.resource.scope_prefix(), s),
            )
        })
        .collect())
}

/// Moves a flow forward: sign-in, then MFA, then consent, then finish.
fn advance(st: &AppState, dir: &Directory, flow_id: &str, jar: Jar) -> Response {
    let Some(flow) = pending_flow(st, flow_id) else {
        return jar.apply(flow_gone());
    };
    let Some(app) = dir.app(&flow.client_id) else {
        return jar.apply(error_page(700016, "The application no longer exists."));
    };
    let silent = flow.prompt.as_deref() == Some("none");
    let csrf = jar.csrf.clone();
    let Some(user) = flow.user_oid.as_deref().and_then(|o| dir.user_by_oid(o)) else {
        return jar.page(pages::login(
            flow_id,
            &csrf,
            &app.name,
            flow.login_hint.as_deref(),
            None,
        ));
    };
    if user.mfa_required && !flow.mfa {
        if silent {
            return finish_error(
                st,
                flow_id,
                &flow,
                EntraError::new(
                    "interaction_required",
                    50076,
                    "Due to a configuration change made by your administrator, you must use multi-factor authentication.",
                ),
                jar,
            );
        }
        return jar.page(pages::mfa(flow_id, &csrf, &user.upn));
    }
    let missing = match missing_consent(dir, app, user, &flow.scopes) {
        Ok(m) => m,
        Err(e) => return finish_error(st, flow_id, &flow, e, jar),
    };
    let force = flow.prompt.as_deref() == Some("consent") && !flow.consented;
    if let FlowKind::Device(_) = flow.kind {
        let perms: Vec<String> = if missing.is_empty() {
            flow.scopes
                .iter()
                .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
                .cloned()
                .collect()
        } else {
            missing.iter().map(|m| m.2.clone()).collect()
        };
        return jar.page(pages::consent(
            flow_id,
            &csrf,
            "/device/confirm",
            &format!("Are you trying to sign in to {}?", app.name),
            &app.name,
            &user.upn,
            &perms,
        ));
    }
    if (!missing.is_empty() && !flow.consented) || force {
        if silent {
            return finish_error(
                st,
                flow_id,
                &flow,
                crate::grants::consent_required(app, app),
                jar,
            );
        }
        let mut perms: Vec<String> = missing.iter().map(|m| m.2.clone()).collect();
        if perms.is_empty() {
            perms = flow
                .scopes
                .iter()
                .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
                .cloned()
                .collect();
        }
        perms.push("Maintain access to data you have given it access to (offline_access)".into());
        return jar.page(pages::consent(
            flow_id,
            &csrf,
            "/consent",
            "Permissions requested",
            &app.name,
            &user.upn,
            &perms,
        ));
    }
    let FlowKind::Authorize(params) = &flow.kind else {
        unreachable!("device flows returned above")
    };
    let tenant_id = user.tenant_id.clone();
    let code = random_token(96);
    let session_id = cookie_session_for(st, user, flow.mfa);
    {
        let mut store = st.store.lock().expect("store lock");
        store.flows.remove(flow_id);
        store.codes.insert(
            code.clone(),
            AuthCode {
                client_id: app.client_id.clone(),
                redirect_uri: params.redirect_uri.clone(),
                user_oid: user.object_id.clone(),
                tenant_id,
                scopes: flow.scopes.clone(),
                nonce: params.nonce.clone(),
                challenge: params.challenge.clone(),
                issued: st.now(),
                used: false,
                session_id: session_id.clone(),
                mfa: flow.mfa,
            },
        );
    }
    st.event(
        "authorize",
        &app.client_id,
        &flow.tenant_segment,
        &user.upn,
        Ok(()),
    );
    let mut jar = jar;
    jar.set_session(&session_id);
    let mut fields: Vec<(&str, &str)> = vec![("code", &code)];
    if let Some(s) = &params.state {
        fields.push(("state", s));
    }
    fields.push(("session_state", &session_id));
    jar.apply(respond(params, &fields))
}

/// Creates (or refreshes) the browser session for `user` and returns its id.
fn cookie_session_for(st: &AppState, user: &User, mfa: bool) -> String {
    let id = random_token(24);
    st.store.lock().expect("store lock").sessions.insert(
        id.clone(),
        Session {
            user_oid: user.object_id.clone(),
            mfa,
            created: st.now(),
        },
    );
    id
}

fn finish_error(st: &AppState, flow_id: &str, flow: &Flow, e: EntraError, jar: Jar) -> Response {
    st.store.lock().expect("store lock").flows.remove(flow_id);
    st.event(
        "authorize",
        &flow.client_id,
        &flow.tenant_segment,
        "",
        Err((e.error, e.code)),
    );
    match &flow.kind {
        FlowKind::Authorize(p) => jar.apply(redirect_error(p, e.error, e.code, &e.message)),
        FlowKind::Device(_) => jar.apply(error_page(e.code, &e.message)),
    }
}

fn redirect_error(p: &AuthorizeParams, error: &str, code: u32, message: &str) -> Response {
    let desc = format!("AADSTS{code}: {message}");
    let mut fields: Vec<(&str, &str)> = vec![("error", error), ("error_description", &desc)];
    if let Some(s) = &p.state {
        fields.push(("state", s));
    }
    respond(p, &fields)
}

fn respond(p: &AuthorizeParams, fields: &[(&str, &str)]) -> Response {
    if p.response_mode == "form_post" {
        return pages::html(StatusCode::OK, pages::form_post(&p.redirect_uri, fields));
    }
    let encoded = serde_urlencoded::to_string(fields).unwrap_or_default();
    let url = if p.response_mode == "fragment" {
        format!("{}#{}", p.redirect_uri, encoded)
    } else if p.redirect_uri.contains('?') {
        format!("{}&{}", p.redirect_uri, encoded)
    } else {
        format!("{}?{}", p.redirect_uri, encoded)
    };
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Reads a page form and checks the CSRF double submit.
#[expect(
    clippy::result_large_err,
    reason = "the error is the page to show; handlers return it as is"
)]
fn page_form(st: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(Form, Jar), Response> {
    let form = check_form(headers, body).map_err(|e| error_page(e.code, &e.message))?;
    let jar = Jar::new(st, headers);
    let cookie_csrf = cookie(headers, CSRF_COOKIE);
    let ok = match (cookie_csrf, form.get("csrf")) {
        (Some(c), Some(f)) => constant_time_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    };
    if !ok {
        return Err(jar.apply(pages::html(
            StatusCode::FORBIDDEN,
            pages::error(90015, "The form could not be verified (missing or mismatched CSRF token). Enable cookies and start the sign-in again."),
        )));
    }
    Ok((form, jar))
}

/// `POST /login`.
pub async fn login(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (form, jar) = match page_form(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let dir = st.dir();
    let flow_id = form.get("flow").unwrap_or("").to_string();
    let Some(flow) = pending_flow(&st, &flow_id) else {
        return jar.apply(flow_gone());
    };
    let app_name = dir
        .app(&flow.client_id)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let login = form.get("login").unwrap_or("");
    let sel = TenantSel::resolve(&dir, &flow.tenant_segment);
    let user = dir
        .user(login)
        .filter(|u| sel.as_ref().is_ok_and(|s| s.admits_user(&u.tenant_id)));
    let csrf = jar.csrf.clone();
    let Some(user) = user else {
        st.event(
            "login_page",
            &flow.client_id,
            &flow.tenant_segment,
            login,
            Err(("invalid_grant", 50034)),
        );
        return jar.page(pages::login(
            &flow_id,
            &csrf,
            &app_name,
            Some(login),
            Some("We couldn't find an account with that username. (AADSTS50034)"),
        ));
    };
    let password = form.get("passwd").unwrap_or("");
    if !constant_time_eq(user.password.as_bytes(), password.as_bytes()) {
        st.event(
            "login_page",
            &flow.client_id,
            &flow.tenant_segment,
            &user.upn,
            Err(("invalid_grant", 50126)),
        );
        return jar.page(pages::login(
            &flow_id,
            &csrf,
            &app_name,
            Some(login),
            Some("Your account or password is incorrect. (AADSTS50126)"),
        ));
    }
    if let Some(f) = st.store.lock().expect("store lock").flows.get_mut(&flow_id) {
        f.user_oid = Some(user.object_id.clone());
        f.mfa = false;
    }
    advance(&st, &dir, &flow_id, jar)
}

/// `POST /mfa`.
pub async fn mfa(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (form, jar) = match page_form(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let flow_id = form.get("flow").unwrap_or("").to_string();
    if let Some(f) = st.store.lock().expect("store lock").flows.get_mut(&flow_id)
        && f.user_oid.is_some()
    {
        f.mfa = true;
    }
    advance(&st, &st.dir(), &flow_id, jar)
}

/// `POST /select` (account picker).
pub async fn select(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (form, mut jar) = match page_form(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let flow_id = form.get("flow").unwrap_or("").to_string();
    let session_user = cookie(&headers, SESSION_COOKIE).and_then(|id| {
        st.store
            .lock()
            .expect("store lock")
            .sessions
            .get(&id)
            .map(|s| s.user_oid.clone())
    });
    {
        let mut store = st.store.lock().expect("store lock");
        if let Some(f) = store.flows.get_mut(&flow_id) {
            if form.get("choice") == Some("current") {
                f.user_oid = session_user;
            } else {
                f.user_oid = None;
                f.mfa = false;
                jar.clear_session();
            }
        }
    }
    advance(&st, &st.dir(), &flow_id, jar)
}

/// `POST /consent`.
pub async fn consent(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (form, jar) = match page_form(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let flow_id = form.get("flow").unwrap_or("").to_string();
    let Some(flow) = pending_flow(&st, &flow_id) else {
        return jar.apply(flow_gone());
    };
    if form.get("action") != Some("accept") {
        return finish_error(
            &st,
            &flow_id,
            &flow,
            EntraError::new(
                "access_denied",
                65004,
                "User declined to consent to access the app.",
            ),
            jar,
        );
    }
    if let Err(r) = record_consent(&st, &flow) {
        return jar.apply(r);
    }
    if let Some(f) = st.store.lock().expect("store lock").flows.get_mut(&flow_id) {
        f.consented = true;
    }
    advance(&st, &st.dir(), &flow_id, jar)
}

/// Stores the user's consent for the flow's scopes in the directory.
#[expect(
    clippy::result_large_err,
    reason = "the error is the page to show; handlers return it as is"
)]
fn record_consent(st: &AppState, flow: &Flow) -> Result<(), Response> {
    let dir = st.dir();
    let (Some(app), Some(user)) = (
        dir.app(&flow.client_id),
        flow.user_oid.as_deref().and_then(|o| dir.user_by_oid(o)),
    ) else {
        return Err(error_page(
            9002313,
            "This sign-in request is no longer valid.",
        ));
    };
    let missing = missing_consent(&dir, app, user, &flow.scopes)
        .map_err(|e| error_page(e.code, &e.message))?;
    if missing.is_empty() {
        return Ok(());
    }
    let perms: Vec<String> = missing.into_iter().map(|m| m.2).collect();
    crate::admin::add_user_consent(st, &user.upn, &app.client_id, &perms)
        .map_err(|m| error_page(50000, &m))
}

// ---------------------------------------------------------------------------------------
// Device code

/// `POST /{tenant}/oauth2/v2.0/devicecode` (and v1 `/oauth2/devicecode`).
pub async fn devicecode(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match devicecode_inner(&st, &tenant, &headers, &body) {
        Ok(v) => {
            let mut r = axum::Json(v).into_response();
            crate::grants::no_store(r.headers_mut());
            r
        }
        Err(e) => e.correlate(&headers).into_response(),
    }
}

fn devicecode_inner(
    st: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, EntraError> {
    let form = check_form(headers, body)?;
    let dir = st.dir();
    let sel = TenantSel::resolve(&dir, tenant)?;
    let client_id = form.need("client_id")?;
    let app = dir
        .app(client_id)
        .filter(|a| sel.admits_app(a))
        .ok_or_else(|| crate::errors::app_not_found(client_id, tenant))?;
    let raw = match (form.get("scope"), form.get("resource")) {
        (Some(s), _) => s.to_string(),
        (None, Some(r)) => format!("{r}/.default openid"),
        (None, None) => return Err(crate::errors::missing_field("scope")),
    };
    parse_scopes(&dir, &raw, tenant)?;
    let now = st.now();
    let device_code = random_token(48);
    let user_code = user_code();
    let lifetime = dir.settings.device_code_lifetime_seconds;
    {
        let mut store = st.store.lock().expect("store lock");
        store.sweep(now, &dir);
        store.device_codes.insert(
            device_code.clone(),
            DeviceCode {
                user_code: user_code.clone(),
                client_id: app.client_id.clone(),
                tenant_segment: tenant.to_string(),
                scopes: raw
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                expires: now + lifetime as i64,
                status: DeviceStatus::Pending,
            },
        );
    }
    let uri = format!("{}/devicelogin", st.base_url(headers));
    Ok(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "verification_url": uri,
        "expires_in": lifetime,
        "interval": dir.settings.device_code_interval_seconds,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    }))
}

fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 9];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut b)
        .expect("system RNG");
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

/// `GET /devicelogin`.
pub async fn devicelogin_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let jar = Jar::new(&st, &headers);
    let csrf = jar.csrf.clone();
    jar.page(pages::device_entry(&csrf, None))
}

/// `POST /devicelogin`: the user typed a code.
pub async fn devicelogin_submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, jar) = match page_form(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let typed: String = form
        .get("otc")
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase();
    let now = st.now();
    let found = {
        let store = st.store.lock().expect("store lock");
        store
            .device_codes
            .iter()
            .find(|(_, d)| d.user_code == typed && d.status == DeviceStatus::Pending)
            .map(|(k, d)| (k.clone(), d.clone()))
    };
    let csrf = jar.csrf.clone();
    let Some((device_code, dc)) = found.filter(|(_, d)| now <= d.expires) else {
        return jar.page(pages::device_entry(
            &csrf,
            Some("That code didn't work. Check the code and try again. (AADSTS70018)"),
        ));
    };
    let dir = st.dir();
    let session_user = cookie(&headers, SESSION_COOKIE)
        .and_then(|id| {
            st.store
                .lock()
                .expect("store lock")
                .sessions
                .get(&id)
                .cloned()
        })
        .filter(|s| dir.user_by_oid(&s.user_oid).is_some());
    let flow = Flow {
        kind: FlowKind::Device(device_code),
        tenant_segment: dc.tenant_segment.clone(),
        client_id: dc.client_id.clone(),
        scopes: dc.scopes.clone(),
        user_oid: session_user.as_ref().map(|s| s.user_oid.clone()),
        mfa: session_user.as_ref().is_some_and(|s| s.mfa),
        consented: false,
        created: now,
        prompt: None,
        login_hint: None,
    };
    let id = store_flow(&st, flow, &dir);
    advance(&st, &dir, &id, jar)
}

/// `POST /device/confirm`: approve or decline the device sign-in.
pub async fn device_confirm(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, mut jar) = match page_form(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let flow_id = form.get("flow").unwrap_or("").to_string();
    let flow = st.store.lock().expect("store lock").flows.remove(&flow_id);
    let Some(flow) = flow else {
        return jar.apply(flow_gone());
    };
    let FlowKind::Device(device_code) = &flow.kind else {
        return jar.apply(error_page(9002313, "Not a device sign-in."));
    };
    let dir = st.dir();
    let Some(user) = flow.user_oid.as_deref().and_then(|o| dir.user_by_oid(o)) else {
        return jar.apply(error_page(9002313, "Sign in first."));
    };
    let accept = form.get("action") == Some("accept");
    if accept && let Err(r) = record_consent(&st, &flow) {
        return jar.apply(r);
    }
    let status = if accept {
        DeviceStatus::Approved(user.object_id.clone(), user.tenant_id.clone(), flow.mfa)
    } else {
        DeviceStatus::Declined
    };
    let ok = {
        let mut store = st.store.lock().expect("store lock");
        match store.device_codes.get_mut(device_code) {
            Some(d) if d.status == DeviceStatus::Pending && st.now() <= d.expires => {
                d.status = status;
                true
            }
            _ => false,
        }
    };
    let session = cookie_session_for(&st, user, flow.mfa);
    jar.set_session(&session);
    st.event(
        "device_code_page",
        &flow.client_id,
        &flow.tenant_segment,
        &user.upn,
        if accept {
            Ok(())
        } else {
            Err(("authorization_declined", 70000))
        },
    );
    if !ok {
        return jar.apply(error_page(
            70019,
            "The code has expired or was already used. Start again on your device.",
        ));
    }
    if accept {
        jar.page(pages::done("You have signed in", &format!("You have signed in to the application on your device. You may now close this window. ({})", user.upn)))
    } else {
        jar.page(pages::done(
            "Sign-in declined",
            "You declined the sign-in on your device. You may close this window.",
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Sign-out

/// `GET /{tenant}/oauth2/v2.0/logout`: ends the browser session; redirects to
/// `post_logout_redirect_uri` only when it is a registered redirect URI of some app.
pub async fn logout(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let form = query_map(q.as_deref());
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        st.store.lock().expect("store lock").sessions.remove(&id);
    }
    let mut jar = Jar::new(&st, &headers);
    jar.clear_session();
    let dir = st.dir();
    if let Some(target) = form.get("post_logout_redirect_uri")
        && dir
            .apps
            .iter()
            .any(|a| a.redirect_uris.iter().any(|r| redirect_matches(r, target)))
    {
        let mut resp = StatusCode::FOUND.into_response();
        if let Ok(v) = HeaderValue::from_str(target) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        return jar.apply(resp);
    }
    jar.page(pages::done(
        "You signed out of your account",
        "It's a good idea to close all browser windows.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_any_port() {
        assert!(redirect_matches(
            "http://localhost",
            "http://localhost:53211"
        ));
        assert!(redirect_matches(
            "http://localhost",
            "http://localhost:53211/"
        ));
        assert!(redirect_matches(
            "http://localhost/cb",
            "http://localhost:8400/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1",
            "http://127.0.0.1:1234"
        ));
        assert!(!redirect_matches(
            "http://localhost/cb",
            "http://localhost:8400/other"
        ));
        assert!(!redirect_matches(
            "http://localhost",
            "http://evil.example:80"
        ));
        assert!(!redirect_matches(
            "http://localhost",
            "https://localhost:443"
        ));
        assert!(!redirect_matches(
            "http://localhost",
            "http://localhost:notaport"
        ));
        assert!(redirect_matches(
            "https://localhost/callback",
            "https://localhost/callback"
        ));
        assert!(!redirect_matches(
            "https://localhost/callback",
            "https://localhost:8443/callback"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb/../x"
        ));
    }
}
