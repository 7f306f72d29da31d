//! Sign-out (`/logout`): ends the browser session.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::redirect::{query_map, redirect_matches};
use super::session::{Jar, SESSION_COOKIE, cookie};
use crate::pages;
use crate::state::AppState;

/// `GET /{tenant}/oauth2/v2.0/logout`: ends the browser session; redirects to
/// `post_logout_redirect_uri` only when it is a registered redirect URI of some app.
pub(crate) async fn logout(
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
