//! The recorder's HTTP side: the hook that records a request before routing, and the
//! admin routes that read and clear the records.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::ring::{RECORDED, Recorded, decode_assertion, fit, headers, pairs, redact};
use crate::state::AppState;

/// A request being recorded: [`Pending::finish`] adds the answer's status.
pub(crate) struct Pending {
    seq: u64,
}

impl Pending {
    /// Records the status of the answer.
    pub(crate) fn finish(self, state: &AppState, status: StatusCode) {
        state.recorder.set_status(self.seq, status.as_u16());
    }
}

/// Records `req` (its body already read into memory by `body_limit`) when recording is
/// on and `endpoint` is one of the recorded ones; gives the request back unchanged.
pub(crate) async fn capture(
    state: &AppState,
    endpoint: &'static str,
    req: Request<Body>,
) -> (Request<Body>, Option<Pending>) {
    if !state.recorder.enabled() || !RECORDED.contains(&endpoint) {
        return (req, None);
    }
    let (parts, body) = req.into_parts();
    // The body is in memory already (at most MAX_BODY_BYTES): this cannot wait or fail
    // for want of data.
    let bytes = axum::body::to_bytes(body, crate::body_limit::MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    let is_form = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let form = if is_form { pairs(&bytes) } else { Vec::new() };
    let client_assertion = form
        .iter()
        .find(|(k, _)| k == "client_assertion")
        .map(|(_, v)| decode_assertion(v));
    let record = Recorded {
        seq: 0,
        time: state.now(),
        endpoint,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: fit(redact(pairs(parts.uri.query().unwrap_or("").as_bytes()))),
        headers: fit(headers(&parts.headers)),
        form: fit(redact(form)),
        client_assertion,
        status: 0,
    };
    let seq = state.recorder.push(record);
    (
        Request::from_parts(parts, Body::from(bytes)),
        Some(Pending { seq }),
    )
}

/// The admin routes (mounted under `/admin`, behind its guard).
pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/requests", get(list).delete(clear))
}

/// `?after=SEQ`: only records newer than that.
#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    after: u64,
}

fn off() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "error": "request recording is off: start the emulator with --record-requests N (Options::record_requests)"
        })),
    )
        .into_response()
}

async fn list(State(st): State<AppState>, Query(q): Query<ListQuery>) -> Response {
    if !st.recorder.enabled() {
        return off();
    }
    let ring = st.recorder.inner.lock().unwrap_or_else(|p| p.into_inner());
    let records: Vec<&Recorded> = ring.records.iter().filter(|r| r.seq > q.after).collect();
    Json(json!({
        "capacity": st.recorder.capacity,
        "last_seq": ring.next_seq,
        "requests": records,
    }))
    .into_response()
}

async fn clear(State(st): State<AppState>) -> Response {
    if !st.recorder.enabled() {
        return off();
    }
    st.recorder
        .inner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .records
        .clear();
    StatusCode::NO_CONTENT.into_response()
}
