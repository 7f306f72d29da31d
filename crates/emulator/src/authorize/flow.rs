//! A pending interactive sign-in (a *flow*) and the state machine that moves it on:
//! sign-in, then MFA, then consent, then the code (or the device approval page).

use axum::response::Response;

use super::redirect::{redirect_error, respond};
use super::session::{Jar, cookie_session_for, error_page};
use crate::consent::{add_user_consent, consent_required, missing_consent};
use crate::directory::{App, Directory, User};
use crate::errors::EntraError;
use crate::pages;
use crate::request::OIDC_SCOPES;
use crate::state::{AppState, AuthCode, AuthorizeParams, Flow, FlowKind};
use crate::tokens::random_token;

/// A pending flow by id.
pub(super) fn pending_flow(st: &crate::state::Inner, flow_id: &str) -> Option<Flow> {
    st.store
        .lock()
        .expect("store lock")
        .flows
        .get(flow_id)
        .cloned()
}

pub(super) fn flow_gone() -> Response {
    error_page(
        9002313,
        "This sign-in request has expired or is unknown. Start again from the application.",
    )
}

pub(super) fn store_flow(st: &AppState, flow: Flow, dir: &Directory) -> String {
    let id = random_token(24);
    let mut store = st.store.lock().expect("store lock");
    store.sweep(st.now(), dir);
    store.flows.insert(id.clone(), flow);
    id
}

/// Moves a flow forward: sign-in, then MFA, then consent, then finish.
pub(super) fn advance(st: &AppState, dir: &Directory, flow_id: &str, jar: Jar) -> Response {
    let Some(flow) = pending_flow(st, flow_id) else {
        return jar.apply(flow_gone());
    };
    let Some(app) = dir.app(&flow.client_id) else {
        return jar.apply(error_page(700016, "The application no longer exists."));
    };
    let silent = flow.prompt.as_deref() == Some("none");
    let csrf = jar.csrf.clone();
    let Some(user) = flow.user_oid.as_deref().and_then(|o| dir.user_by_oid(o)) else {
        return jar.page(super::dev_picker::login_page(
            dir,
            &flow,
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
        return device_consent_page(flow_id, &flow, app, user, &missing, jar);
    }
    if (!missing.is_empty() && !flow.consented) || force {
        if silent {
            return finish_error(st, flow_id, &flow, consent_required(app, app), jar);
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
    issue_code(st, flow_id, &flow, params, app, user, jar)
}

/// The flow is done: stores the authorization code, starts the browser session and
/// sends the browser back to the client.
fn issue_code(
    st: &AppState,
    flow_id: &str,
    flow: &Flow,
    params: &AuthorizeParams,
    app: &App,
    user: &User,
    jar: Jar,
) -> Response {
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

/// The device flow's last page: "Are you trying to sign in to ...?" with what it may do.
fn device_consent_page(
    flow_id: &str,
    flow: &Flow,
    app: &App,
    user: &User,
    missing: &[(String, String, String)],
    jar: Jar,
) -> Response {
    let csrf = jar.csrf.clone();
    let perms: Vec<String> = if missing.is_empty() {
        flow.scopes
            .iter()
            .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
            .cloned()
            .collect()
    } else {
        missing.iter().map(|m| m.2.clone()).collect()
    };
    jar.page(pages::consent(
        flow_id,
        &csrf,
        "/device/confirm",
        &format!("Are you trying to sign in to {}?", app.name),
        &app.name,
        &user.upn,
        &perms,
    ))
}

pub(super) fn finish_error(
    st: &AppState,
    flow_id: &str,
    flow: &Flow,
    e: EntraError,
    jar: Jar,
) -> Response {
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

/// Stores the user's consent for the flow's scopes in the directory.
#[expect(
    clippy::result_large_err,
    reason = "the error is the page to show; handlers return it as is"
)]
pub(super) fn record_consent(st: &AppState, flow: &Flow) -> Result<(), Response> {
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
    add_user_consent(st, &user.upn, &app.client_id, &perms).map_err(|m| error_page(50000, &m))
}
