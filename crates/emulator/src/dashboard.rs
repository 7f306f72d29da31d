//! The dashboard: a server-rendered page at `/dashboard`, behind the admin token, that
//! shows the directory (tenants, apps, users, groups, grants), recent sign-in and token
//! events (decoded claims, never a token, code or secret), the signing keys and the
//! counters, with buttons for faults and key rotation.
//!
//! - **Getting in** ([`auth`]): a login form that takes the admin token, or a one-time
//!   link (`/dashboard?once=...`, single use, 5 minutes; `entra up` prints one, and
//!   `POST /admin/dashboard/link` makes one). Either sets a session cookie: random,
//!   `HttpOnly`, `Secure` (over HTTPS), `SameSite=Strict`, `Path=/dashboard`, expiring
//!   on the server after 8 hours.
//! - **It is a browser page**, so the browser guard's rules apply as they fit one: the
//!   `Host` must name the emulator (a rebinding page is refused), and every POST must carry
//!   `Origin` equal to the emulator's own origin and the session's CSRF token.
//! - **No script**: `Content-Security-Policy: default-src 'none'; style-src 'self';
//!   form-action 'self'; frame-ancestors 'none'`; the style sheet is
//!   `/dashboard/style.css`.

mod actions;
mod auth;
mod directory_view;
mod html;
pub(crate) mod store;
mod style;
mod token_log;
mod view;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

pub(crate) use auth::one_time_link;
pub(crate) use token_log::record_token;

use crate::state::AppState;

/// The dashboard's routes (merged into the route table).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(view::dashboard))
        .route("/dashboard/style.css", get(style::stylesheet))
        .route("/dashboard/login", post(auth::login))
        .route("/dashboard/logout", post(auth::logout))
        .route("/dashboard/keys/rotate", post(actions::rotate))
        .route("/dashboard/faults", post(actions::set_fault))
        .route("/dashboard/faults/clear", post(actions::clear_faults))
        .route("/dashboard/counters/reset", post(actions::reset_counters))
}

/// The dashboard's admin API routes (merged under `/admin`, behind its guards):
/// `POST /admin/dashboard/link`.
pub(crate) fn admin_router() -> Router<AppState> {
    Router::new().route("/dashboard/link", post(admin_link))
}

/// `POST /admin/dashboard/link`: a one-time link into the dashboard, for the origin the
/// request came in on.
async fn admin_link(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let url = one_time_link(&st, &st.base_url(&headers));
    axum::Json(json!({ "url": url, "expires_in_seconds": auth::LINK_SECONDS })).into_response()
}
