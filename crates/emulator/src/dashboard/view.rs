//! The dashboard page and its login page: header, keys, faults, counters, sign-in and
//! token events, and the directory ([`super::directory_view`]). All text from the
//! directory or a request goes through [`esc`].

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::{auth, directory_view, token_log};
use crate::pages::esc;
use crate::state::AppState;

/// Rows of each event list shown.
const EVENTS_SHOWN: usize = 30;

/// An HTML response with the dashboard's headers: no script at all, the style sheet from
/// this origin only, forms posting only here, never framed, never cached.
pub(super) fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
<link rel=\"stylesheet\" href=\"/dashboard/style.css\"></head><body>{body}</body></html>",
        esc(title)
    )
}

/// The login page (the admin token), with an optional error.
pub(super) fn login_page(error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"flash bad\" id=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    document(
        "Sign in: entrakit emulator dashboard",
        &format!(
            "<div class=\"login\"><h1>Emulator dashboard</h1>{err}\
<p class=\"muted\">Paste the admin token (<code>admin_token</code> in ready.json), or open the one-time link <code>entra up</code> prints.</p>\
<form method=\"post\" action=\"/dashboard/login\"><label for=\"token\">Admin token\
<input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" required></label>\
<button type=\"submit\" id=\"sign-in\">Sign in</button></form></div>"
        ),
    )
}

/// A page with one message (refusals).
pub(super) fn message_page(title: &str, message: &str) -> String {
    document(
        title,
        &format!(
            "<div class=\"login\"><h1>{}</h1><p id=\"error\">{}</p><p><a href=\"/dashboard\">Dashboard</a></p></div>",
            esc(title),
            esc(message)
        ),
    )
}

/// `2026-12-08T00:10:00Z` for unix seconds.
pub(super) fn when(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// A table; `rows` are already-escaped cells.
pub(super) fn table(id: &str, heads: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return format!("<p class=\"muted\" id=\"{id}\">None.</p>");
    }
    let head: String = heads
        .iter()
        .map(|h| format!("<th>{}</th>", esc(h)))
        .collect();
    let body: String = rows
        .iter()
        .map(|r| {
            format!(
                "<tr>{}</tr>",
                r.iter()
                    .map(|c| format!("<td>{c}</td>"))
                    .collect::<String>()
            )
        })
        .collect();
    format!(
        "<div class=\"scroll\"><table id=\"{id}\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )
}

/// Escaped text in `<code>`.
pub(super) fn code(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

/// A POST form to `action` with the CSRF token, `fields` (escaped HTML) and a button.
pub(super) fn form(action: &str, csrf: &str, fields: &str, button: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">{fields}{button}</form>",
        esc(action),
        esc(csrf)
    )
}

/// `GET /dashboard[?once=...]`.
pub(crate) async fn dashboard(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = auth::check_host(&st, &headers) {
        return r;
    }
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    if let Some((_, secret)) = params.iter().find(|(k, _)| k == "once") {
        if auth::redeem_link(&st, secret) {
            st.count("dashboard", "link");
            return auth::start_session(&st);
        }
        return html(
            StatusCode::UNAUTHORIZED,
            login_page(Some(
                "This one-time link was used already or has expired. Sign in with the admin token.",
            )),
        );
    }
    let Some((id, session)) = auth::current(&st, &headers) else {
        return html(StatusCode::OK, login_page(None));
    };
    let flash = auth::take_flash(&st, &id);
    let base = st.base_url(&headers);
    html(StatusCode::OK, render(&st, &session.csrf, flash, &base))
}

fn render(st: &AppState, csrf: &str, flash: Option<(bool, String)>, base: &str) -> String {
    let now = st.now();
    let offset = st.clock_offset.load(std::sync::atomic::Ordering::Relaxed);
    let flash = flash
        .map(|(ok, m)| {
            format!(
                "<p class=\"flash{} wide\" id=\"flash\" role=\"status\">{}</p>",
                if ok { "" } else { " bad" },
                esc(&m)
            )
        })
        .unwrap_or_default();
    let header = format!(
        "<header><div><h1>entrakit emulator</h1><div class=\"sub\">{} &middot; clock {}{}</div></div>{}</header>",
        esc(base),
        esc(&when(now)),
        if offset != 0 {
            format!(" (moved {offset} s)")
        } else {
            String::new()
        },
        form(
            "/dashboard/logout",
            csrf,
            "",
            "<button class=\"secondary\" id=\"sign-out\">Sign out</button>"
        )
    );
    let dir = st.dir();
    let groups = st.config.lock().expect("config lock").0.groups.clone();
    document(
        "entrakit emulator dashboard",
        &format!(
            "{header}<main>{flash}{keys}{faults}{counters}{signins}{tokens}{directory}</main>",
            keys = super::actions::keys_section(st, csrf, now),
            faults = super::actions::faults_section(st, csrf),
            counters = super::actions::counters_section(st, csrf),
            signins = signin_section(st),
            tokens = token_section(st),
            directory = directory_view::render(&dir, &groups),
        ),
    )
}

fn signin_section(st: &AppState) -> String {
    let events: Vec<_> = {
        let ev = st.events.lock().expect("events lock");
        ev.iter().rev().take(EVENTS_SHOWN).cloned().collect()
    };
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let outcome = match e.error_code {
                Some(c) => format!(
                    "<span class=\"tag fail\">{} AADSTS{c}</span>",
                    esc(&e.outcome)
                ),
                None => format!("<span class=\"tag success\">{}</span>", esc(&e.outcome)),
            };
            vec![
                esc(&when(e.time)),
                esc(&e.flow),
                code(&e.principal),
                code(&e.client_id),
                outcome,
            ]
        })
        .collect();
    format!(
        "<section id=\"sign-ins\"><h2>Sign-in events</h2><p class=\"muted\">The last {EVENTS_SHOWN}, newest first (no passwords, secrets or tokens).</p>{}</section>",
        table(
            "sign-in-table",
            &["time", "flow", "principal", "client", "outcome"],
            &rows
        )
    )
}

fn token_section(st: &AppState) -> String {
    let events = token_log::recent(st, EVENTS_SHOWN);
    let items: String = events
        .iter()
        .map(|e| {
            let c = &e.claims;
            let s = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let who = [s("preferred_username"), s("upn"), s("oid")]
                .into_iter()
                .find(|v| !v.is_empty())
                .unwrap_or("");
            let client = if s("azp").is_empty() { s("appid") } else { s("azp") };
            let grants = match (s("scp"), c.get("roles").and_then(|r| r.as_array())) {
                (scp, _) if !scp.is_empty() => format!("scp {scp}"),
                (_, Some(roles)) => format!(
                    "roles {}",
                    roles.iter().filter_map(|r| r.as_str()).collect::<Vec<_>>().join(" ")
                ),
                _ => String::new(),
            };
            let pretty = serde_json::to_string_pretty(c).unwrap_or_default();
            format!(
                "<details class=\"token\"><summary>{time} <span class=\"tag\">{kind} v{ver}</span> aud {aud} &middot; {who} &middot; client {client} {grants}</summary>\
<p class=\"muted\">kid {kid}</p><pre>{claims}</pre></details>",
                time = esc(&when(e.time)),
                kind = esc(e.kind),
                ver = esc(s("ver")),
                aud = code(s("aud")),
                who = code(who),
                client = code(client),
                grants = esc(&grants),
                kid = code(&e.kid),
                claims = esc(&pretty),
            )
        })
        .collect();
    let body = if items.is_empty() {
        "<p class=\"muted\">No tokens issued yet.</p>".to_string()
    } else {
        items
    };
    format!(
        "<section id=\"tokens\"><h2>Token events</h2><p class=\"muted\">The last {EVENTS_SHOWN} tokens issued, newest first, as decoded claims (the tokens themselves are not kept).</p><div id=\"token-list\">{body}</div></section>"
    )
}
