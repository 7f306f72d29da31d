//! The consent page's post (`/consent`): accept records the grant, decline ends the
//! flow with AADSTS65004.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::flow::{advance, finish_error, flow_gone, pending_flow, record_consent};
use super::session::page_form;
use crate::errors::EntraError;
use crate::state::AppState;

/// `POST /consent`.
pub(crate) async fn consent(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
