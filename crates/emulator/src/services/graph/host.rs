//! Where the local Graph lives as its client sees it: `https://graph.microsoft.com`
//! through the proxy, else the emulator's own base and prefix.

use axum::http::HeaderMap;

use crate::services::prefix;
use crate::services::workspace_access::proxied_host;
use crate::state::AppState;

/// Graph's public host: a request that came through the proxy under it gets links there.
pub(super) const PUBLIC_HOST: &str = "graph.microsoft.com";

/// Where this Graph lives as the client sees it: `https://graph.microsoft.com` through
/// the proxy, else the emulator's own base and prefix.
pub(super) fn service_root(st: &AppState, headers: &HeaderMap) -> String {
    if proxied_host(headers).is_some_and(|h| h.eq_ignore_ascii_case(PUBLIC_HOST)) {
        format!("https://{PUBLIC_HOST}")
    } else {
        format!("{}{}", st.base_url(headers), prefix::GRAPH)
    }
}
