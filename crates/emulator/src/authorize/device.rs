//! The device-code flow's browser side: `/devicecode` issues the codes, `/devicelogin`
//! takes the user code, and `/device/confirm` approves or declines (the device's polls
//! are answered by `grants`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::flow::{advance, flow_gone, record_consent, store_flow};
use super::session::{Jar, browser_session, cookie_session_for, error_page, page_form};
use crate::client_base::ClientBase;
use crate::device_codes::{pending_device_code, read_user_code};
use crate::errors::EntraError;
use crate::pages;
use crate::request::{TenantSel, check_form, parse_scopes};
use crate::state::{AppState, DeviceCode, DeviceStatus, Flow, FlowKind};
use crate::tokens::random_token;

/// `POST /{tenant}/oauth2/v2.0/devicecode` (and v1 `/oauth2/devicecode`).
pub(crate) async fn devicecode(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    ClientBase(base): ClientBase,
    body: Bytes,
) -> Response {
    match devicecode_inner(&st, &tenant, &headers, &base, &body) {
        Ok(v) => {
            let mut r = axum::Json(v).into_response();
            crate::request::no_store(r.headers_mut());
            r
        }
        Err(e) => e.correlate(&headers).into_response(),
    }
}

fn devicecode_inner(
    st: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    base: &str,
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
    let uri = format!("{base}/devicelogin");
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
pub(crate) async fn devicelogin_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let jar = Jar::new(&st, &headers);
    let csrf = jar.csrf.clone();
    jar.page(pages::device_entry(&csrf, None))
}

/// `POST /devicelogin`: the user typed a code.
pub(crate) async fn devicelogin_submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, jar) = match page_form(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let typed = read_user_code(form.get("otc").unwrap_or(""));
    let now = st.now();
    let found = pending_device_code(&st, &typed, now);
    let csrf = jar.csrf.clone();
    let Some((device_code, dc)) = found else {
        return jar.page(pages::device_entry(
            &csrf,
            Some("That code didn't work. Check the code and try again. (AADSTS70018)"),
        ));
    };
    let dir = st.dir();
    let session_user =
        browser_session(&st, &headers).filter(|s| dir.user_by_oid(&s.user_oid).is_some());
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
pub(crate) async fn device_confirm(
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
