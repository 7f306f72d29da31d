//! Getting into the dashboard and staying in: the login form (the admin token), one-time
//! links, the session cookie, and the checks every dashboard request passes (`Host`
//! names the emulator; a POST comes from the emulator's own origin with the session's
//! CSRF token).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::html;
use super::store::DashboardSession;
use crate::browser_guard::names_this_emulator;
use crate::request::Form;
use crate::state::AppState;
use crate::tokens::{constant_time_eq, random_token};

/// The session cookie.
const COOKIE: &str = "entra_dashboard";
/// A session ends this long after login, whatever the browser does with the cookie.
const SESSION_SECONDS: i64 = 8 * 3600;
/// A one-time link works once, within this many seconds.
pub(super) const LINK_SECONDS: i64 = 300;

fn wall_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A one-time link into the dashboard for `authority` (`https://localhost:PORT`).
pub(crate) fn one_time_link(st: &AppState, authority: &str) -> String {
    let secret = random_token(32);
    let now = wall_now();
    let mut links = st.dashboard.links.lock().expect("dashboard lock");
    links.retain(|_, expires| *expires > now);
    links.insert(secret.clone(), now + LINK_SECONDS);
    format!("{authority}/dashboard?once={secret}")
}

/// Uses up the one-time link `secret`: true when it existed and had not expired.
pub(super) fn redeem_link(st: &AppState, secret: &str) -> bool {
    let expires = st
        .dashboard
        .links
        .lock()
        .expect("dashboard lock")
        .remove(secret);
    expires.is_some_and(|e| e > wall_now())
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The browser's live session: (id, session).
pub(super) fn current(st: &AppState, headers: &HeaderMap) -> Option<(String, DashboardSession)> {
    let id = session_cookie(headers)?;
    let now = wall_now();
    let mut sessions = st.dashboard.sessions.lock().expect("dashboard lock");
    sessions.retain(|_, s| s.expires > now);
    sessions.get(&id).map(|s| (id, s.clone()))
}

/// Takes the session's flash message (shown once).
pub(super) fn take_flash(st: &AppState, id: &str) -> Option<(bool, String)> {
    let mut sessions = st.dashboard.sessions.lock().expect("dashboard lock");
    sessions.get_mut(id).and_then(|s| s.flash.take())
}

/// Leaves `message` for the session's next page.
pub(super) fn flash(st: &AppState, id: &str, worked: bool, message: String) {
    if let Some(s) = st
        .dashboard
        .sessions
        .lock()
        .expect("dashboard lock")
        .get_mut(id)
    {
        s.flash = Some((worked, message));
    }
}

/// A new session: a 303 to `/dashboard` that sets its cookie.
pub(super) fn start_session(st: &AppState) -> Response {
    let id = random_token(32);
    st.dashboard
        .sessions
        .lock()
        .expect("dashboard lock")
        .insert(
            id.clone(),
            DashboardSession {
                expires: wall_now() + SESSION_SECONDS,
                csrf: random_token(32),
                flash: None,
            },
        );
    let mut cookie = format!(
        "{COOKIE}={id}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}"
    );
    if st.scheme == "https" {
        cookie.push_str("; Secure");
    }
    let mut resp = see_other();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `303 See Other` to `/dashboard` (after a POST, and to drop `?once=` from the bar).
pub(super) fn see_other() -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/dashboard"),
            (header::CACHE_CONTROL, "no-store"),
        ],
    )
        .into_response()
}

/// A refusal page.
fn refuse(st: &AppState, status: StatusCode, message: &str) -> Response {
    st.count("refused", "dashboard");
    tracing::warn!(reason = message, "refused a dashboard request");
    html::html(status, html::message_page("Refused", message))
}

/// The `Host` check: one `Host`, naming the emulator.
#[expect(
    clippy::result_large_err,
    reason = "the error is the response to send; handlers return it as is"
)]
pub(super) fn check_host(st: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(h), None) if names_this_emulator(h.to_str().unwrap_or(""), st.bind) => Ok(()),
        _ => Err(refuse(
            st,
            StatusCode::FORBIDDEN,
            "The Host header does not name this emulator (localhost, 127.0.0.1, [::1]): a page rebinding its own name to this machine is refused.",
        )),
    }
}

/// A POST's origin: the `Host` check, `Origin` equal to the emulator's own origin, and
/// no `Sec-Fetch-Site` other than `same-origin`.
#[expect(clippy::result_large_err, reason = "as check_host")]
fn check_origin(st: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    check_host(st, headers)?;
    let own = st.base_url(headers);
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin != Some(own.as_str()) {
        return Err(refuse(
            st,
            StatusCode::FORBIDDEN,
            "A dashboard form must be posted from the dashboard itself (Origin missing or foreign).",
        ));
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin") {
        return Err(refuse(
            st,
            StatusCode::FORBIDDEN,
            "A dashboard form must be posted from the dashboard itself (Sec-Fetch-Site).",
        ));
    }
    Ok(())
}

/// Everything a signed-in POST needs: origin, session, CSRF token. The form and the
/// session id.
#[expect(clippy::result_large_err, reason = "as check_host")]
pub(super) fn signed_in_post(
    st: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Form, String), Response> {
    check_origin(st, headers)?;
    let Some((id, session)) = current(st, headers) else {
        return Err(refuse(
            st,
            StatusCode::UNAUTHORIZED,
            "The dashboard session has ended; sign in again.",
        ));
    };
    let form = Form::parse(body)
        .map_err(|_| refuse(st, StatusCode::BAD_REQUEST, "The form is malformed."))?;
    let csrf_ok = form
        .get("csrf")
        .is_some_and(|c| constant_time_eq(c.as_bytes(), session.csrf.as_bytes()));
    if !csrf_ok {
        return Err(refuse(
            st,
            StatusCode::FORBIDDEN,
            "The form could not be verified (missing or wrong CSRF token). Reload the dashboard and try again.",
        ));
    }
    Ok((form, id))
}

/// `POST /dashboard/login` with `token` (the admin token).
pub(crate) async fn login(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_origin(&st, &headers) {
        return r;
    }
    let form = Form::parse(&body).unwrap_or_else(|_| Form::parse(b"").expect("empty form"));
    let presented = form.get("token").unwrap_or("").trim();
    if presented.is_empty() || !constant_time_eq(presented.as_bytes(), st.admin_token.as_bytes()) {
        st.count("dashboard", "login_refused");
        return html::html(
            StatusCode::UNAUTHORIZED,
            html::login_page(Some("That is not this emulator's admin token.")),
        );
    }
    st.count("dashboard", "login");
    start_session(&st)
}

/// `POST /dashboard/logout`.
pub(crate) async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match signed_in_post(&st, &headers, &body) {
        Ok((_, id)) => id,
        Err(r) => return r,
    };
    st.dashboard
        .sessions
        .lock()
        .expect("dashboard lock")
        .remove(&id);
    let mut resp = see_other();
    let mut cookie = format!("{COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0");
    if st.scheme == "https" {
        cookie.push_str("; Secure");
    }
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
