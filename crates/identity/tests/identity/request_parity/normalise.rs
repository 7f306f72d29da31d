//! From the emulator's recorded requests (`GET /admin/requests`) to comparable items:
//! one `name -> value` map per request, values random by nature replaced by a marker,
//! then the differences between MSAL Python's requests and entra-identity's, and a
//! side-by-side rendering for failure messages.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// One request's comparable items (`form.grant_type`, `header.metadata`, ...).
pub type Items = BTreeMap<String, String>;

/// One request of a flow: its step name (endpoint and grant) and its items.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub items: Items,
}

/// Headers left out of the comparison, with why (docs/request-parity.md, "Not compared").
/// Transport headers are the HTTP stack's, telemetry headers are informational.
pub const IGNORED_HEADERS: [&str; 14] = [
    // Transport: set by requests/urllib3 and reqwest/hyper, not by the OAuth client.
    "host",
    "content-length",
    "connection",
    "accept-encoding",
    "user-agent",
    // MSAL's library telemetry (x-client-*, x-app-*): informational.
    "x-client-sku",
    "x-client-ver",
    "x-client-os",
    "x-client-cpu",
    "x-client-current-telemetry",
    "x-client-last-telemetry",
    "x-ms-lib-capability",
    "x-app-name",
    "x-app-ver",
];

/// Parameters whose values are random by nature (or unique per request).
const RANDOM: [&str; 6] = [
    "state",
    "nonce",
    "code_challenge",
    "client-request-id",
    "x-ms-client-request-id",
    "jti",
];

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A value as compared: random ones as `<random>`, scopes as a sorted set (RFC 6749
/// §3.3: their order does not matter), loopback ports as `<port>`.
fn value(name: &str, v: &str) -> String {
    if RANDOM.contains(&name) && !v.is_empty() {
        return "<random>".into();
    }
    match name {
        "scope" => {
            let set: BTreeSet<&str> = v.split_whitespace().collect();
            set.into_iter().collect::<Vec<_>>().join(" ")
        }
        "redirect_uri" => match v.rsplit_once(':') {
            Some((head, port)) if port.chars().all(|c| c.is_ascii_digit()) => {
                format!("{head}:<port>")
            }
            _ => v.to_string(),
        },
        _ => v.to_string(),
    }
}

/// A client assertion's decoded header and claims: times relative to `iat` (or to the
/// recording's time when there is no `iat`), `x5c` as a count.
fn assertion(items: &mut Items, a: &Value, recorded_at: i64) {
    let empty = serde_json::Map::new();
    let header = a["header"].as_object().unwrap_or(&empty);
    for (k, v) in header {
        let shown = match (k.as_str(), v) {
            ("x5c", Value::Array(chain)) => format!("<{} certificate(s)>", chain.len()),
            // A thumbprint is compared without its padding; whether it has any is an
            // item of its own (the thumbprint changes with each emulator's certificate).
            ("x5t" | "x5t#S256", Value::String(s)) => {
                let padded = if s.ends_with('=') {
                    "padded"
                } else {
                    "unpadded"
                };
                items.insert(format!("assertion.header.{k} encoding"), padded.into());
                s.trim_end_matches('=').to_string()
            }
            (_, Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        };
        items.insert(format!("assertion.header.{k}"), shown);
    }
    let claims = a["claims"].as_object().unwrap_or(&empty);
    // NumericDate may have a fraction (RFC 7519 §2; MSAL Python sends `time.time()`):
    // compared in whole seconds, the fraction noted as an item of its own.
    let secs = |v: &Value| v.as_f64().map(|f| f.floor() as i64);
    let iat = claims.get("iat").and_then(secs);
    for (k, v) in claims {
        if matches!(k.as_str(), "iat" | "exp" | "nbf") {
            let kind = if v.is_i64() || v.is_u64() {
                "integer"
            } else {
                "fraction"
            };
            items.insert(format!("assertion.claims.{k} type"), kind.into());
        }
        let shown = match (k.as_str(), secs(v)) {
            ("iat", Some(t)) => {
                let skew = t - recorded_at;
                if skew.abs() <= 60 {
                    "now".to_string()
                } else {
                    format!("now{skew:+}")
                }
            }
            ("exp" | "nbf", Some(t)) => match iat {
                Some(iat) => format!("iat{:+}", t - iat),
                // No iat: to the nearest minute after the recording.
                None => format!("now{:+}min", (t - recorded_at + 30).div_euclid(60)),
            },
            ("jti", _) => value("jti", v.as_str().unwrap_or("")),
            (_, _) => v.as_str().map(str::to_string).unwrap_or(v.to_string()),
        };
        items.insert(format!("assertion.claims.{k}"), shown);
    }
}

/// One recorded request as items. The authorize request is sent by the browser (the
/// test's), so only its query is the client's.
pub fn step(rec: &Value) -> Step {
    let endpoint = rec["endpoint"].as_str().unwrap_or("?");
    let mut items = Items::new();
    items.insert(
        "method".into(),
        rec["method"].as_str().unwrap_or("?").into(),
    );
    items.insert("path".into(), rec["path"].as_str().unwrap_or("?").into());
    for (k, v) in pairs(&rec["query"]) {
        items.insert(format!("query.{k}"), value(&k, &v));
    }
    let form = pairs(&rec["form"]);
    for (k, v) in &form {
        items.insert(format!("form.{k}"), value(k, v));
    }
    if endpoint != "authorize" {
        for (k, v) in pairs(&rec["headers"]) {
            if !IGNORED_HEADERS.contains(&k.as_str()) {
                items.insert(format!("header.{k}"), value(&k, &v));
            }
        }
    }
    if let Some(a) = rec.get("client_assertion") {
        assertion(&mut items, a, rec["time"].as_i64().unwrap_or(0));
    }
    let grant = form
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| format!(" {v}"))
        .unwrap_or_default();
    Step {
        name: format!("{endpoint}{grant}"),
        items,
    }
}

/// The steps of a recording, a repeated request (a device-code poll) kept once.
pub fn steps(records: &[Value]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for rec in records {
        let s = step(rec);
        if !out.iter().any(|o| o.name == s.name && o.items == s.items) {
            out.push(s);
        }
    }
    out
}

/// One difference: in `step`, `item` is `msal` in MSAL Python's request and `entra` in
/// entra-identity's (`None`: not sent).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    pub step: String,
    pub item: String,
    pub msal: Option<String>,
    pub entra: Option<String>,
}

/// The differences between two flows, step by step (a step only one side sent is one
/// `(request)` difference).
pub fn differences(msal: &[Step], entra: &[Step]) -> Vec<Difference> {
    let mut names: Vec<&str> = Vec::new();
    for s in msal.iter().chain(entra) {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    let mut out = Vec::new();
    for name in names {
        let m = msal.iter().find(|s| s.name == name);
        let e = entra.iter().find(|s| s.name == name);
        let (m, e) = match (m, e) {
            (Some(m), Some(e)) => (m, e),
            (m, e) => {
                out.push(Difference {
                    step: name.to_string(),
                    item: "(request)".into(),
                    msal: m.map(|_| "sent".into()),
                    entra: e.map(|_| "sent".into()),
                });
                continue;
            }
        };
        let keys: BTreeSet<&String> = m.items.keys().chain(e.items.keys()).collect();
        for k in keys {
            let (mv, ev) = (m.items.get(k), e.items.get(k));
            if mv != ev {
                out.push(Difference {
                    step: name.to_string(),
                    item: k.clone(),
                    msal: mv.cloned(),
                    entra: ev.cloned(),
                });
            }
        }
    }
    out
}

fn cell(v: Option<&String>) -> String {
    let v = v.map(String::as_str).unwrap_or("—");
    if v.chars().count() > 60 {
        format!("{}…", v.chars().take(59).collect::<String>())
    } else {
        v.to_string()
    }
}

/// Both flows side by side, every item of every step, differences marked `≠`.
pub fn side_by_side(msal: &[Step], entra: &[Step]) -> String {
    let mut out = format!(
        "{:<3}{:<44} {:<62} {}\n",
        "", "item", "MSAL Python", "entra-identity"
    );
    let mut names: Vec<&str> = Vec::new();
    for s in msal.iter().chain(entra) {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    let none = Items::new();
    for name in names {
        out.push_str(&format!("--- {name}\n"));
        let m = msal
            .iter()
            .find(|s| s.name == name)
            .map_or(&none, |s| &s.items);
        let e = entra
            .iter()
            .find(|s| s.name == name)
            .map_or(&none, |s| &s.items);
        let keys: BTreeSet<&String> = m.keys().chain(e.keys()).collect();
        for k in keys {
            let (mv, ev) = (m.get(k), e.get(k));
            let mark = if mv == ev { "" } else { "≠" };
            out.push_str(&format!("{mark:<3}{k:<44} {:<62} {}\n", cell(mv), cell(ev)));
        }
    }
    out
}
