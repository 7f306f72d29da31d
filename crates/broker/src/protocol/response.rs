//! Writing answers: a JSON object field by field, and the JSON response.

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::cache::Cached;

pub(crate) fn json_response(body: impl Into<Bytes>) -> Response {
    let mut r = Response::new(axum::body::Body::from(body.into()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// A JSON object written field by field: the answers are small and fixed in shape, and
/// the token (1-2 KB) is copied as is when it needs no escaping.
pub(crate) struct Json(pub(crate) Vec<u8>);

impl Json {
    pub(crate) fn new(t: &Cached) -> Self {
        let mut v = Vec::with_capacity(t.token.expose().len() + 384);
        v.push(b'{');
        Self(v)
    }
    pub(crate) fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(k.as_bytes());
        self.0.extend_from_slice(b"\":");
    }
    pub(crate) fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.0, v);
        self
    }
    pub(crate) fn num(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        self.0.extend_from_slice(v.to_string().as_bytes());
        self
    }
    pub(crate) fn token(&mut self, t: &Cached) -> &mut Self {
        if t.json_safe {
            self.key("access_token");
            self.0.push(b'"');
            self.0.extend_from_slice(t.token.expose().as_bytes());
            self.0.push(b'"');
            self
        } else {
            self.str("access_token", t.token.expose())
        }
    }
    pub(crate) fn opt(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        self.0.push(b'}');
        std::mem::take(&mut self.0)
    }
}
