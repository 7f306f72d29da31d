//! Web pages have no business with the local Graph and ARM: they answer no CORS
//! preflight, so only a page on the emulator's own origin (a DNS-rebinding one) could
//! read them. A request is served only when its `Host` names this emulator or the
//! service's public hostname (as the loopback proxy forwards it), and it carries none of
//! the headers only browsers send, as the emulator's browser guard decides
//! ([`crate::browser_guard`]).

use axum::http::{HeaderMap, header};

use crate::browser_guard::names_this_emulator;
use crate::state::AppState;

/// Whether the request may reach a local service whose public hostname is `public_host`.
pub(crate) fn allowed(st: &AppState, headers: &HeaderMap, public_host: &str) -> bool {
    // Node's fetch (undici) sends a lone `Sec-Fetch-Mode`; a browser always sends
    // `Sec-Fetch-Site` and `Sec-Fetch-Dest` with it, and `Origin` on cross-origin calls.
    let browser = headers.contains_key(header::ORIGIN)
        || headers
            .keys()
            .any(|k| k.as_str().starts_with("sec-fetch-") && k.as_str() != "sec-fetch-mode");
    if browser {
        return false;
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(h), None) => h.to_str().unwrap_or(""),
        // HTTP/2 names the authority in the URI, not in a Host header.
        (None, None) => return true,
        _ => return false,
    };
    let name = if host.starts_with('[') {
        host
    } else {
        host.split(':').next().unwrap_or(host)
    };
    name.eq_ignore_ascii_case(public_host) || names_this_emulator(host, st.bind)
}
