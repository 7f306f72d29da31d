//! Which names a client of the local ARM uses: Microsoft's public ones when it came
//! through the proxy (`Host: management.azure.com`), else the emulator's own.

use axum::http::HeaderMap;

use crate::state::AppState;

/// ARM's public host: a request that came through the proxy under it is told the
/// public cloud's names.
pub(super) const PUBLIC_HOST: &str = "management.azure.com";

/// Whether the request reached the emulator through the proxy under ARM's public name.
pub(super) fn via_public_host(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.split(':').next().unwrap_or(h))
        .is_some_and(|h| h.eq_ignore_ascii_case(PUBLIC_HOST))
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
