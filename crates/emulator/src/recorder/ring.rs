//! The recorder's ring buffer and what goes into it: one [`Recorded`] request, its secrets
//! redacted and its client assertion decoded.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Value, json};

/// What replaces a secret value.
pub(crate) const REDACTED: &str = "[redacted]";
/// The most records an emulator keeps, whatever it was asked for.
pub(crate) const MAX_CAPACITY: usize = 1000;
/// Longest value kept (longer ones are cut, with a marker).
const MAX_VALUE_CHARS: usize = 1024;
/// Most fields (query, form, headers) kept per request.
const MAX_FIELDS: usize = 48;
/// Characters kept per list (query, form, headers) of one request, and for a decoded
/// assertion's header and claims: with [`MAX_CAPACITY`], the recorder holds at most a few
/// tens of MiB whatever clients send.
const LIST_BUDGET: usize = 8192;

/// Form or query parameters whose values are secrets (or grant a token).
const SECRET_FIELDS: [&str; 9] = [
    "client_secret",
    "password",
    "code",
    "refresh_token",
    "device_code",
    "assertion",
    "code_verifier",
    "client_assertion",
    "id_token_hint",
];
/// Headers whose values are secrets.
const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-identity-header",
    "secret",
    "x-ms-client-secret",
];
/// The endpoints recorded (names from [`crate::state::endpoint_name`]).
pub(super) const RECORDED: [&str; 6] = [
    "token",
    "token_v1",
    "devicecode",
    "authorize",
    "imds",
    "app_service",
];

/// One recorded request.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Recorded {
    /// Sequence number, from 1, never reused while the emulator runs.
    pub(super) seq: u64,
    /// Unix seconds (the emulator's clock).
    pub(super) time: i64,
    /// The endpoint's name (`token`, `imds`, ...).
    pub(super) endpoint: &'static str,
    /// `GET`, `POST`.
    pub(super) method: String,
    /// The path, without the query.
    pub(super) path: String,
    /// Query parameters in the order sent.
    pub(super) query: Vec<(String, String)>,
    /// Headers in the order sent, names lower-case.
    pub(super) headers: Vec<(String, String)>,
    /// Form fields in the order sent (a form body only).
    pub(super) form: Vec<(String, String)>,
    /// The decoded header and claims of a `client_assertion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) client_assertion: Option<Value>,
    /// The answer's status (0 until it is known).
    pub(super) status: u16,
}

/// The ring buffer.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(super) capacity: usize,
    pub(super) inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
pub(super) struct Ring {
    pub(super) next_seq: u64,
    pub(super) records: VecDeque<Recorded>,
}

impl Recorder {
    /// A recorder keeping the last `capacity` requests (0: off; capped at [`MAX_CAPACITY`]).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.min(MAX_CAPACITY),
            inner: Mutex::new(Ring::default()),
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub(super) fn push(&self, mut record: Recorded) -> u64 {
        let mut ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        ring.next_seq += 1;
        record.seq = ring.next_seq;
        if ring.records.len() >= self.capacity {
            ring.records.pop_front();
        }
        ring.records.push_back(record);
        ring.next_seq
    }

    pub(super) fn set_status(&self, seq: u64, status: u16) {
        let mut ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = ring.records.iter_mut().rev().find(|r| r.seq == seq) {
            r.status = status;
        }
    }
}

/// URL-encoded pairs in order (an unreadable body gives none).
pub(super) fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .unwrap_or_default()
        .into_iter()
        .take(MAX_FIELDS)
        .collect()
}

fn cut(mut v: String) -> String {
    if v.chars().count() > MAX_VALUE_CHARS {
        v = v.chars().take(MAX_VALUE_CHARS).collect::<String>() + "…[cut]";
    }
    v
}

pub(super) fn redact(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            let secret = SECRET_FIELDS.iter().any(|s| k.eq_ignore_ascii_case(s));
            let v = if secret && !v.is_empty() {
                REDACTED.to_string()
            } else {
                cut(v)
            };
            (cut(k), v)
        })
        .collect()
}

pub(super) fn headers(h: &axum::http::HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .take(MAX_FIELDS)
        .map(|(k, v)| {
            let name = k.as_str().to_ascii_lowercase();
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                REDACTED.to_string()
            } else {
                cut(String::from_utf8_lossy(v.as_bytes()).into_owned())
            };
            (name, value)
        })
        .collect()
}

/// `pairs` up to [`LIST_BUDGET`] characters; the rest becomes one marker pair.
pub(super) fn fit(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut used = 0;
    let mut out = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        used += k.len() + v.len();
        if used > LIST_BUDGET {
            out.push((
                "[cut]".to_string(),
                "more fields than the recorder keeps".to_string(),
            ));
            break;
        }
        out.push((k, v));
    }
    out
}

/// A client assertion's header and claims (the signature is dropped); what cannot be
/// decoded, or is longer than [`LIST_BUDGET`], says so instead.
pub(super) fn decode_assertion(jwt: &str) -> Value {
    let part = |p: Option<&str>| -> Value {
        p.and_then(|p| entra_jose::b64url_decode(p).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(Value::is_object)
            .map(|v| {
                if v.to_string().len() > LIST_BUDGET {
                    Value::String("[too large to keep]".into())
                } else {
                    v
                }
            })
            .unwrap_or_else(|| Value::String("[not a JWT part]".into()))
    };
    let mut it = jwt.split('.');
    let header = part(it.next());
    let claims = part(it.next());
    json!({ "header": header, "claims": claims, "parts": jwt.split('.').count() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_assertions_decoded() {
        let form = pairs(
            b"grant_type=password&client_secret=s3cret&password=pw&username=alice&code=c0de&refresh_token=rt&scope=a+b",
        );
        let red = redact(form);
        let get = |k: &str| red.iter().find(|(n, _)| n == k).unwrap().1.clone();
        for k in ["client_secret", "password", "code", "refresh_token"] {
            assert_eq!(get(k), REDACTED, "{k}");
        }
        assert_eq!(
            (get("username"), get("scope")),
            ("alice".into(), "a b".into())
        );
        let jwt = format!(
            "{}.{}.sig",
            entra_jose::b64url(br#"{"alg":"RS256","x5t":"abc"}"#),
            entra_jose::b64url(br#"{"aud":"x","iss":"c"}"#)
        );
        let d = decode_assertion(&jwt);
        assert_eq!(d["header"]["x5t"], "abc");
        assert_eq!(d["claims"]["iss"], "c");
        assert!(!d.to_string().contains("sig"));
        assert_eq!(decode_assertion("garbage")["claims"], "[not a JWT part]");
    }

    #[test]
    fn the_ring_is_bounded_and_off_by_default() {
        let r = Recorder::new(2);
        let rec = |p: &str| Recorded {
            seq: 0,
            time: 0,
            endpoint: "token",
            method: "POST".into(),
            path: p.into(),
            query: vec![],
            headers: vec![],
            form: vec![],
            client_assertion: None,
            status: 0,
        };
        for p in ["/a", "/b", "/c"] {
            r.push(rec(p));
        }
        let ring = r.inner.lock().unwrap();
        let paths: Vec<_> = ring.records.iter().map(|r| r.path.as_str()).collect();
        assert_eq!((paths, ring.next_seq), (vec!["/b", "/c"], 3));
        assert!(!Recorder::new(0).enabled());
        assert_eq!(Recorder::new(usize::MAX).capacity, MAX_CAPACITY);
        let many: Vec<(String, String)> = (0..40)
            .map(|i| (format!("k{i}"), "v".repeat(1000)))
            .collect();
        let kept = fit(many);
        assert_eq!(kept.len(), 9, "8 fields fit in the budget, then the marker");
        assert_eq!(kept[8].0, "[cut]");
    }

    #[test]
    fn secret_headers_are_redacted() {
        let mut h = axum::http::HeaderMap::new();
        h.insert("X-IDENTITY-HEADER", "hdr".parse().unwrap());
        h.insert("Authorization", "Bearer t".parse().unwrap());
        h.insert("Metadata", "true".parse().unwrap());
        let out = headers(&h);
        assert!(out.contains(&("x-identity-header".into(), REDACTED.into())));
        assert!(out.contains(&("authorization".into(), REDACTED.into())));
        assert!(out.contains(&("metadata".into(), "true".into())));
    }
}
