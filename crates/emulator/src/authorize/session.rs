//! The browser side's plumbing: the session and CSRF cookies, the cookie jar of one
//! response, the form check every page post goes through (CSRF double submit), and the
//! error page.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::directory::User;
use crate::pages;
use crate::request::{Form, check_form};
use crate::state::{AppState, Session};
use crate::tokens::{constant_time_eq, random_token};

pub(super) const SESSION_COOKIE: &str = "entra_session";
pub(super) const CSRF_COOKIE: &str = "entra_csrf";

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
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
pub(super) struct Jar {
    pub(super) csrf: String,
    set: Vec<String>,
    secure: bool,
}

impl Jar {
    pub(super) fn new(st: &AppState, headers: &HeaderMap) -> Self {
        let secure = st.scheme == "https";
        let mut set = Vec::new();
        let csrf = cookie(headers, CSRF_COOKIE).unwrap_or_else(|| {
            let v = random_token(24);
            set.push(cookie_line(CSRF_COOKIE, &v, secure, None));
            v
        });
        Self { csrf, set, secure }
    }

    pub(super) fn set_session(&mut self, id: &str) {
        self.set
            .push(cookie_line(SESSION_COOKIE, id, self.secure, None));
    }

    pub(super) fn clear_session(&mut self) {
        self.set
            .push(cookie_line(SESSION_COOKIE, "", self.secure, Some(0)));
    }

    pub(super) fn apply(self, mut resp: Response) -> Response {
        for c in self.set {
            if let Ok(v) = HeaderValue::from_str(&c) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        resp
    }

    pub(super) fn page(self, body: String) -> Response {
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

pub(super) fn error_page(code: u32, message: &str) -> Response {
    pages::html(StatusCode::BAD_REQUEST, pages::error(code, message))
}

/// Reads a page form and checks the CSRF double submit.
#[expect(
    clippy::result_large_err,
    reason = "the error is the page to show; handlers return it as is"
)]
pub(super) fn page_form(
    st: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Form, Jar), Response> {
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

/// The browser's signed-in session, found by its session cookie, if it has one.
pub(super) fn browser_session(st: &AppState, headers: &HeaderMap) -> Option<Session> {
    let id = cookie(headers, SESSION_COOKIE)?;
    st.store
        .lock()
        .expect("store lock")
        .sessions
        .get(&id)
        .cloned()
}

/// Creates (or refreshes) the browser session for `user` and returns its id.
pub(super) fn cookie_session_for(st: &AppState, user: &User, mfa: bool) -> String {
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
