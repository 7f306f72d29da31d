//! Request bodies, read before routing with a bound, and an oversized one drained so its
//! sender hears the answer.
//!
//! A body over [`MAX_BODY_BYTES`] is answered with Entra's 413 (`AADSTS9002313`).
//! Closing the connection while the client is still sending makes the kernel reset it,
//! and a client that writes its whole body before reading (Python requests, most SDKs)
//! then sees a broken pipe or an SSL EOF instead of that answer. So, like nginx's
//! lingering close, the rest of the body is read and thrown away first, up to
//! [`DRAIN_CAP`] bytes and [`DRAIN_TIME`]; past either bound the 413 goes out with
//! `Connection: close`. A client that sent `Expect: 100-continue` gets the 413 without
//! being asked for the body at all.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, header};
use axum::response::IntoResponse as _;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

/// Largest request body accepted (token requests are a few KiB).
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;

/// How much of an oversized body is read and discarded before the connection is closed.
pub(crate) const DRAIN_CAP: u64 = 16 * 1024 * 1024;
/// How long the draining may take.
pub(crate) const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The request with its body read into memory, or the 413 to send when it is too big.
pub(crate) async fn read_bounded(req: Request<Incoming>) -> Result<Request<Body>, Response<Body>> {
    let (parts, mut body) = req.into_parts();
    if hyper::body::Body::is_end_stream(&body) {
        return Ok(Request::from_parts(parts, Body::empty()));
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        let expects_continue = parts
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expects_continue {
            // The body was not sent yet and will not be: no 100 Continue goes out.
            return Err(too_large(false));
        }
        let drained = drain(body, 0).await;
        return Err(too_large(drained));
    }
    let mut buf = Vec::new();
    loop {
        match body.frame().await {
            None => break,
            Some(Err(_)) => {
                // The client went away or sent a malformed chunk: never route a
                // truncated body.
                let mut r = crate::errors::malformed("The request body ended early.")
                    .status(axum::http::StatusCode::BAD_REQUEST)
                    .into_response();
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return Err(r);
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                    if buf.len() > MAX_BODY_BYTES {
                        let so_far = buf.len() as u64;
                        let drained = drain(body, so_far).await;
                        return Err(too_large(drained));
                    }
                }
            }
        }
    }
    Ok(Request::from_parts(parts, Body::from(buf)))
}

/// Reads and discards the rest of `body`: true when it ended within the bounds.
async fn drain(mut body: Incoming, mut seen: u64) -> bool {
    let until = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        match tokio::time::timeout_at(until, body.frame()).await {
            Err(_) => return false,
            Ok(None) => return true,
            Ok(Some(Err(_))) => return false,
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    seen += data.len() as u64;
                    if seen > DRAIN_CAP {
                        return false;
                    }
                }
            }
        }
    }
}

/// Entra's 413 for a request body over [`MAX_BODY_BYTES`] (AADSTS9002313).
pub(crate) fn body_too_large_response() -> axum::response::Response {
    crate::errors::EntraError::new(
        "invalid_request",
        9002313,
        format!("Invalid request. The request body is larger than {MAX_BODY_BYTES} bytes."),
    )
    .status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
    .into_response()
}

/// Entra's answer to a body over the limit.
fn too_large(drained: bool) -> Response<Body> {
    let mut r = body_too_large_response();
    if !drained {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}
