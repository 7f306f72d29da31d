//! The dashboard's sections with buttons, and what the buttons do: key rotation
//! (announce, or the immediate danger switch), faults (through the admin API's own
//! checks), counters. Every POST answers `303` back to the dashboard with a message.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value};

use super::auth::{flash, see_other, signed_in_post};
use super::html::{code, form, short_kid, table, when};
use crate::admin::keys::{Rotation, rotate_keys};
use crate::admin::{self, FAULT_ENDPOINTS};
use crate::pages::esc;
use crate::state::AppState;

pub(super) fn keys_section(st: &AppState, csrf: &str, now: i64) -> String {
    let settings = st.dir().settings.clone();
    let keys = st
        .keys
        .read()
        .expect("keys lock")
        .status(now, settings.key_grace_seconds as i64);
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            let phase = serde_json::to_value(k.phase)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            vec![
                short_kid(&k.kid),
                format!("<span class=\"tag {0}\">{0}</span>", esc(&phase)),
                esc(&when(k.activates)),
                k.retires.map(|r| esc(&when(r))).unwrap_or_default(),
            ]
        })
        .collect();
    let delay = settings.key_rollover_delay_seconds;
    let announce = form(
        "/dashboard/keys/rotate",
        csrf,
        "<input type=\"hidden\" name=\"mode\" value=\"announce\">",
        &format!("<button id=\"rotate-announce\">Announce next key (signs in {delay} s)</button>"),
    );
    let immediate = form(
        "/dashboard/keys/rotate",
        csrf,
        "<input type=\"hidden\" name=\"mode\" value=\"danger_immediate\">",
        "<button class=\"danger\" id=\"rotate-immediate\">Switch now (danger: breaks cached JWKS)</button>",
    );
    format!(
        "<section id=\"keys\"><h2>Signing keys</h2>{}<p class=\"muted\">A new key is published at once and signs after {delay} s; a retired key stays published {} s.</p>{announce}{immediate}</section>",
        table(
            "key-table",
            &["kid", "phase", "signs from", "signs until"],
            &rows
        ),
        settings.key_grace_seconds,
    )
}

pub(super) fn faults_section(st: &AppState, csrf: &str) -> String {
    let faults = st.faults.lock().expect("faults lock").clone();
    let mut names: Vec<_> = faults.keys().cloned().collect();
    names.sort();
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|n| {
            let f = &faults[n];
            let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
            vec![
                code(n),
                opt(f.status.map(u64::from)),
                f.count.to_string(),
                f.latency_ms.to_string(),
                opt(f.retry_after),
                f.drop.to_string(),
            ]
        })
        .collect();
    let options: String = FAULT_ENDPOINTS
        .iter()
        .filter(|e| **e != "admin")
        .map(|e| format!("<option>{e}</option>"))
        .collect();
    let number = |name: &str, label: &str, placeholder: &str| {
        format!(
            "<label>{label}<input type=\"number\" min=\"0\" name=\"{name}\" id=\"fault-{name}\" placeholder=\"{placeholder}\"></label>"
        )
    };
    let fields = format!(
        "<label>endpoint<select name=\"endpoint\" id=\"fault-endpoint\">{options}</select></label>{}{}{}{}{}",
        number("status", "status", "503"),
        number("count", "count", "1"),
        number("latency_ms", "latency ms", "0"),
        number("retry_after", "Retry-After s", ""),
        number("drop", "drop conns", "0"),
    );
    format!(
        "<section id=\"faults\"><h2>Faults</h2>{}{}{}</section>",
        table(
            "fault-table",
            &[
                "endpoint",
                "status",
                "count",
                "latency ms",
                "Retry-After",
                "drop"
            ],
            &rows
        ),
        form(
            "/dashboard/faults",
            csrf,
            &fields,
            "<button id=\"fault-set\">Inject</button>"
        ),
        form(
            "/dashboard/faults/clear",
            csrf,
            "",
            "<button class=\"secondary\" id=\"fault-clear\">Clear all faults</button>"
        ),
    )
}

pub(super) fn counters_section(st: &AppState, csrf: &str) -> String {
    let rows: Vec<Vec<String>> = st
        .counters()
        .into_iter()
        .map(|(k, v)| vec![code(&k), v.to_string()])
        .collect();
    format!(
        "<section id=\"counters\"><h2>Counters</h2>{}{}</section>",
        table("counter-table", &["counter", "count"], &rows),
        form(
            "/dashboard/counters/reset",
            csrf,
            "",
            "<button class=\"secondary\" id=\"counters-reset\">Reset counters</button>"
        ),
    )
}

/// `POST /dashboard/keys/rotate` with `mode=announce|danger_immediate`.
pub(crate) async fn rotate(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, id) = match signed_in_post(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mode = match form.get("mode") {
        Some("announce") => Rotation::Announce,
        Some("danger_immediate") => Rotation::DangerImmediate,
        _ => {
            flash(&st, &id, false, "Unknown rotation mode.".into());
            return see_other();
        }
    };
    let message = match rotate_keys(&st, mode).await {
        Ok(r) if mode == Rotation::Announce => (
            true,
            format!(
                "Announced key {}; it signs from {} (key {} signs until then).",
                r.kid,
                when(r.activates),
                r.signing_kid
            ),
        ),
        Ok(r) => (
            true,
            format!(
                "Key {} signs now. Validators that cached the JWKS refuse its tokens (unknown kid) until they refetch.",
                r.kid
            ),
        ),
        Err(e) => (false, e.to_string()),
    };
    flash(&st, &id, message.0, message.1);
    see_other()
}

/// `POST /dashboard/faults`: the form's fields as the admin API's fault JSON.
pub(crate) async fn set_fault(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, id) = match signed_in_post(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut fault = Map::new();
    fault.insert("endpoint".into(), form.get("endpoint").unwrap_or("").into());
    for name in ["status", "count", "latency_ms", "retry_after", "drop"] {
        if let Some(v) = form.get(name) {
            match v.trim().parse::<u64>() {
                Ok(n) => {
                    fault.insert(name.into(), n.into());
                }
                Err(_) => {
                    flash(&st, &id, false, format!("{name} must be a whole number"));
                    return see_other();
                }
            }
        }
    }
    let json = serde_json::to_vec(&Value::Object(fault.clone())).unwrap_or_default();
    let resp = admin::set_fault(State(st.clone()), Bytes::from(json)).await;
    let outcome = if resp.status().is_success() {
        (true, format!("Fault set: {}", Value::Object(fault)))
    } else {
        let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        let error = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| "the fault was refused".into());
        (false, error)
    };
    flash(&st, &id, outcome.0, outcome.1);
    see_other()
}

/// `POST /dashboard/faults/clear`.
pub(crate) async fn clear_faults(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match signed_in_post(&st, &headers, &body) {
        Ok((_, id)) => id,
        Err(r) => return r,
    };
    st.faults.lock().expect("faults lock").clear();
    flash(&st, &id, true, "All faults cleared.".into());
    see_other()
}

/// `POST /dashboard/counters/reset`.
pub(crate) async fn reset_counters(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match signed_in_post(&st, &headers, &body) {
        Ok((_, id)) => id,
        Err(r) => return r,
    };
    st.counters.lock().expect("counters lock").clear();
    flash(&st, &id, true, "Counters reset.".into());
    see_other()
}
