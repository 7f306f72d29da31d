//! The dashboard page: header, keys, faults and counters ([`super::actions`]), sign-in and
//! token events, and the directory ([`super::directory_view`]). All text from the
//! directory or a request goes through [`esc`].

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::html::{code, document, form, html, login_page, table, when};
use super::{actions, auth, directory_view, token_log};
use crate::pages::esc;
use crate::state::AppState;

/// Rows of each event list shown.
const EVENTS_SHOWN: usize = 30;

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
            keys = actions::keys_section(st, csrf, now),
            faults = actions::faults_section(st, csrf),
            counters = actions::counters_section(st, csrf),
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
