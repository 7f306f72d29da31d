//! Which names a client of the local ARM uses: Microsoft's public ones when it came
//! through the proxy (for `management.azure.com` or `management.core.windows.net`), else
//! the emulator's own.

use axum::http::HeaderMap;

use crate::services::workspace_access::proxied_host;
use crate::state::AppState;

/// ARM's public hosts, both routed here by the proxy: a request that came through it
/// under one of them is told the public cloud's names.
pub(super) const PUBLIC_HOSTS: &[&str] = &["management.azure.com", "management.core.windows.net"];

/// Whether the request reached the emulator through the proxy under an ARM public name.
pub(super) fn via_public_host(headers: &HeaderMap) -> bool {
    proxied_host(headers).is_some_and(|h| PUBLIC_HOSTS.iter().any(|p| h.eq_ignore_ascii_case(p)))
}

/// The login authority a client of this ARM uses: Entra's public name through the
/// proxy, else the emulator itself (no trailing slash).
pub(super) fn login_base(st: &AppState, headers: &HeaderMap) -> String {
    if via_public_host(headers) {
        "https://login.microsoftonline.com".into()
    } else {
        st.base_url(headers)
    }
}
