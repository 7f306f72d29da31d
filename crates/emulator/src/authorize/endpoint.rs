//! `/authorize` (v2 and v1): checks the client and redirect URI, reads the request's
//! parameters, and starts a flow, reusing the browser session when it may.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::flow::{advance, store_flow};
use super::redirect::{query_map, redirect_error, redirect_matches};
use super::session::{Jar, browser_session, error_page};
use crate::directory::{App, Directory, User};
use crate::errors::{EntraError, sanitize};
use crate::pages;
use crate::request::{Form, TenantSel, parse_scopes};
use crate::state::{AppState, AuthorizeParams, Flow, FlowKind};

/// `GET|POST /{tenant}/oauth2/v2.0/authorize`.
pub(crate) async fn authorize_v2(
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
pub(crate) async fn authorize_v1(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    authorize(st, tenant, query_map(q.as_deref()), headers, true)
}

/// Checks an authorize request and starts its flow, reusing the browser session as
/// `prompt` allows.
fn authorize(st: AppState, tenant: String, form: Form, headers: HeaderMap, v1: bool) -> Response {
    let dir = st.dir();
    let sel = match TenantSel::resolve(&dir, &tenant) {
        Ok(s) => s,
        Err(e) => return error_page(e.code, &e.message),
    };
    let (app, params) = match client_and_redirect(&dir, sel, &tenant, &form) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let fail = |e: EntraError| redirect_error(&params, e.error, e.code, &e.message);
    let scopes_raw = match requested_scopes(&dir, &tenant, &form, &params, v1) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let prompt = form.get("prompt").map(str::to_ascii_lowercase);
    let jar = Jar::new(&st, &headers);
    let session_user = session_user(&st, &dir, &headers, sel, &form);
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

/// Checks the client and its redirect URI and reads what matters after sign-in. Errors
/// here are pages, never redirects: the redirect URI is not trusted yet.
#[expect(
    clippy::result_large_err,
    reason = "the error is the page to show; handlers return it as is"
)]
fn client_and_redirect<'d>(
    dir: &'d Directory,
    sel: TenantSel<'_>,
    tenant: &str,
    form: &Form,
) -> Result<(&'d App, AuthorizeParams), Response> {
    let Some(client_id) = form.get("client_id") else {
        return Err(error_page(
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        ));
    };
    let Some(app) = dir.app(client_id).filter(|a| sel.admits_app(a)) else {
        let e = crate::errors::app_not_found(client_id, tenant);
        return Err(error_page(e.code, &e.message));
    };
    let redirect = match form.get("redirect_uri") {
        Some(r) => r.to_string(),
        None => match app.redirect_uris.first() {
            Some(r) => r.clone(),
            None => {
                return Err(error_page(
                    500113,
                    "No reply address is registered for the application.",
                ));
            }
        },
    };
    if !app
        .redirect_uris
        .iter()
        .any(|r| redirect_matches(r, &redirect))
    {
        return Err(error_page(
            50011,
            &format!(
                "The redirect URI '{}' specified in the request does not match the redirect URIs configured for the application '{}'.",
                sanitize(&redirect),
                app.client_id
            ),
        ));
    }
    let response_mode = form.get("response_mode").unwrap_or("query").to_string();
    if !["query", "fragment", "form_post"].contains(&response_mode.as_str()) {
        return Err(error_page(
            900144,
            "response_mode must be query, fragment or form_post.",
        ));
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
    Ok((app, params))
}

/// Checks `response_type`, the PKCE method and the scopes; returns the raw scopes.
fn requested_scopes(
    dir: &Directory,
    tenant: &str,
    form: &Form,
    params: &AuthorizeParams,
    v1: bool,
) -> Result<String, EntraError> {
    if form.get("response_type") != Some("code") {
        return Err(EntraError::new(
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
        return Err(EntraError::new(
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
                return Err(EntraError::new(
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'scope'.",
                ));
            }
        }
    };
    parse_scopes(dir, &scopes_raw, tenant)?;
    Ok(scopes_raw)
}

/// The user signed in to this browser, with whether they did MFA, when they may sign in
/// through this tenant segment and match any `login_hint`.
fn session_user<'d>(
    st: &AppState,
    dir: &'d Directory,
    headers: &HeaderMap,
    sel: TenantSel<'_>,
    form: &Form,
) -> Option<(&'d User, bool)> {
    browser_session(st, headers)
        .and_then(|s| dir.user_by_oid(&s.user_oid).map(|u| (u, s.mfa)))
        .filter(|(u, _)| sel.admits_user(&u.tenant_id))
        .filter(|(u, _)| {
            form.get("login_hint")
                .is_none_or(|h| u.upn.eq_ignore_ascii_case(h))
        })
}
