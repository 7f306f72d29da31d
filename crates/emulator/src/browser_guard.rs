//! The managed-identity endpoints and the admin API against web browsers (DNS
//! rebinding): one layer on those routes only. The sign-in, consent and device-code
//! pages are for browsers and are not behind it.
//!
//! A web page can make its own name resolve to 127.0.0.1; its requests then reach the
//! emulator from the user's browser and are same-origin for the page. The emulator's
//! IMDS route carries no secret, and its admin API changes the directory, so both refuse:
//!
//! - a `Host` that does not name the emulator: `localhost`, `127.0.0.1`, `[::1]` or the
//!   bind address (any IP address when bound to `0.0.0.0`/`[::]`), with any port or none
//!   (a rebinding page's requests carry the page's own name); an HTTP/1.1 request without
//!   `Host`, or with two;
//! - `Origin` or a `Sec-Fetch-*` header other than `Sec-Fetch-Mode`: browsers send
//!   `Sec-Fetch-Site` and `-Dest` with every `Sec-Fetch-Mode` to trustworthy (loopback or
//!   HTTPS) targets, while Node's `fetch` (undici, used by msal-node) sends a lone
//!   `Sec-Fetch-Mode: cors` and SDKs nothing of the kind.
//!
//! A refusal is a 403 in the route's error shape, the counter `refused:host` or
//! `refused:browser` (`GET /admin/counters`) and a warning in the log.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

// ---------------------------------------------------------------------------------------
// The `Host` header parser. The broker has its own copy of it (`parse_host` in
// crates/broker/src/browser_guard.rs, returning its `HostName`); the two crates are kept
// independent for now, so a fix to one belongs in the other too.

/// Parses `host[:port]` (`[v6]:port`) as a `Host` header carries it: the IP address, or
/// the name in lower case. `None` for anything else.
fn parse_host(value: &str) -> Option<Result<IpAddr, String>> {
    if value.is_empty() || value.len() > 255 || !value.is_ascii() {
        return None;
    }
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inner.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        let ip = ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4);
        (Ok(ip), port)
    } else {
        let (h, port) = match value.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        };
        let host = match h.parse::<Ipv4Addr>() {
            Ok(ip) => Ok(IpAddr::V4(ip)),
            Err(_)
                if !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') =>
            {
                Err(h.to_ascii_lowercase())
            }
            Err(_) => return None,
        };
        (host, port)
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err())
    {
        return None;
    }
    Some(host)
}

// ---------------------------------------------------------------------------------------
// The guard.

/// Whether `host` (a `Host` header's value) names an emulator bound to `bind`.
pub(crate) fn names_this_emulator(host: &str, bind: IpAddr) -> bool {
    match parse_host(host) {
        Some(Ok(ip)) => {
            ip == IpAddr::V4(Ipv4Addr::LOCALHOST)
                || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
                || ip == bind
                || bind.is_unspecified()
        }
        Some(Err(name)) => name == "localhost",
        None => false,
    }
}

fn browser_header(headers: &HeaderMap) -> Option<&str> {
    if headers.contains_key(header::ORIGIN) {
        return Some("Origin");
    }
    // Node's fetch (undici, which msal-node uses) sends `Sec-Fetch-Mode: cors` and no
    // other; a browser sends `Sec-Fetch-Site` and `Sec-Fetch-Dest` with it, always.
    headers
        .keys()
        .map(|k| k.as_str())
        .find(|k| k.starts_with("sec-fetch-") && *k != "sec-fetch-mode")
}

/// `Err((counter, description))` when `req` must be refused.
fn check(req: &Request, bind: IpAddr) -> Result<(), (&'static str, String)> {
    let headers = req.headers();
    if let Some(h) = browser_header(headers) {
        return Err((
            "browser",
            format!(
                "requests from a web browser ({h} header) are not accepted on the managed-identity endpoints and the admin API"
            ),
        ));
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(h), None) => {
            let h = h.to_str().unwrap_or("");
            if !names_this_emulator(h, bind) {
                return Err((
                    "host",
                    format!(
                        "Host {:?} does not name this emulator (localhost, 127.0.0.1, [::1] or its bind address): a web page rebinding its own name to this machine is refused",
                        h.chars().take(100).collect::<String>()
                    ),
                ));
            }
        }
        (Some(_), Some(_)) => {
            return Err(("host", "the request has more than one Host header".into()));
        }
        (None, _) if req.version() >= Version::HTTP_11 => {
            return Err((
                "host",
                "an HTTP/1.1 request needs a Host header naming this emulator".into(),
            ));
        }
        (None, _) => {}
    }
    Ok(())
}

/// The layer on the managed-identity routes: refusals in their error shape.
pub(crate) async fn managed_identity(
    State(st): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    guard(&st, req, next, false).await
}

/// The layer on `/admin`: refusals in the admin API's error shape.
pub(crate) async fn admin(State(st): State<AppState>, req: Request, next: Next) -> Response {
    guard(&st, req, next, true).await
}

async fn guard(st: &AppState, req: Request, next: Next, admin: bool) -> Response {
    let Err((reason, description)) = check(&req, st.bind) else {
        return next.run(req).await;
    };
    st.count("refused", reason);
    let area = if admin {
        "admin API"
    } else {
        "managed identity"
    };
    tracing::warn!(
        area,
        reason,
        "refused a request that may come from a web page"
    );
    let body = if admin {
        json!({ "error": description })
    } else {
        json!({ "error": "forbidden", "error_description": description })
    };
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_values() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for ok in [
            "localhost:8443",
            "LocalHost",
            "127.0.0.1:8443",
            "[::1]:8443",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(names_this_emulator(ok, lo), "{ok}");
        }
        for bad in [
            "attacker.example:8443",
            "localhost.attacker.example",
            "10.0.0.5:8443",
            "",
            "::1",
            "localhost:",
            "localhost:99999",
            "[::1]x",
        ] {
            assert!(!names_this_emulator(bad, lo), "{bad:?}");
        }
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        assert!(names_this_emulator("172.17.0.2:8443", any));
        assert!(!names_this_emulator("attacker.example:8443", any));
    }

    #[test]
    fn host_missing_or_doubled() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let req = |version, hosts: &[&str]| {
            let mut b = Request::builder().uri("/counters").version(version);
            for h in hosts {
                b = b.header(header::HOST, *h);
            }
            b.body(axum::body::Body::empty()).unwrap()
        };
        assert!(check(&req(Version::HTTP_11, &["localhost:1"]), lo).is_ok());
        assert!(check(&req(Version::HTTP_10, &[]), lo).is_ok());
        let (reason, text) = check(&req(Version::HTTP_11, &[]), lo).unwrap_err();
        assert_eq!(reason, "host");
        assert!(text.contains("needs a Host"), "{text}");
        let (reason, _) = check(
            &req(Version::HTTP_11, &["localhost", "attacker.example"]),
            lo,
        )
        .unwrap_err();
        assert_eq!(reason, "host");
    }
}
