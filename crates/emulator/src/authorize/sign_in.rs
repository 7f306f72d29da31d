//! The sign-in pages' posts: `/login` (user name and password), `/mfa`, and `/select`
//! (the account picker).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::dev_picker::login_page;
use super::flow::{advance, flow_gone, pending_flow};
use super::session::{browser_session, page_form};
use crate::request::TenantSel;
use crate::state::AppState;
use crate::tokens::constant_time_eq;

/// `POST /login`.
pub(crate) async fn login(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
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
        return jar.page(login_page(
            &dir,
            &flow,
            &flow_id,
            &csrf,
            &app_name,
            Some(login),
            Some("We couldn't find an account with that username. (AADSTS50034)"),
        ));
    };
    // The development user picker posts no password; honoured only while it is on.
    let picked = form.get("dev_pick") == Some("1") && dir.settings.dev_user_picker;
    let password = form.get("passwd").unwrap_or("");
    if !picked && !constant_time_eq(user.password.as_bytes(), password.as_bytes()) {
        st.event(
            "login_page",
            &flow.client_id,
            &flow.tenant_segment,
            &user.upn,
            Err(("invalid_grant", 50126)),
        );
        return jar.page(login_page(
            &dir,
            &flow,
            &flow_id,
            &csrf,
            &app_name,
            Some(login),
            Some("Your account or password is incorrect. (AADSTS50126)"),
        ));
    }
    if picked {
        st.event(
            "dev_user_picker",
            &flow.client_id,
            &flow.tenant_segment,
            &user.upn,
            Ok(()),
        );
    }
    if let Some(f) = st.store.lock().expect("store lock").flows.get_mut(&flow_id) {
        f.user_oid = Some(user.object_id.clone());
        f.mfa = false;
    }
    advance(&st, &dir, &flow_id, jar)
}

/// `POST /mfa`.
pub(crate) async fn mfa(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
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
pub(crate) async fn select(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, mut jar) = match page_form(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let flow_id = form.get("flow").unwrap_or("").to_string();
    let session_user = browser_session(&st, &headers).map(|s| s.user_oid);
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
