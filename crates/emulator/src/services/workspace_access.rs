//! Who may see which Fabric workspace (Power BI group): the caller a validated token names
//! (a user by object id, or a service principal by client id for an app-only token), and
//! the workspaces of its tenant in which it holds a role. Fabric and Power BI both
//! authorize data-plane calls this way; an app-only token's Entra app roles play no part
//! (Fabric has none, and Power BI's Tenant.* roles are for its admin APIs).

use axum::http::{HeaderMap, header};
use entra_validate::Principal;

use crate::browser_guard::names_this_emulator;
use crate::directory::{Directory, Member, Workspace};
use crate::state::AppState;

/// Power BI Service, the first-party app whose tokens Fabric and Power BI accept.
pub(crate) const POWER_BI_SERVICE: &str = "00000009-0000-0000-c000-000000000000";

/// The caller of a service request.
pub(crate) struct Caller {
    member: Member,
    tenant_id: String,
    principal: Principal,
}

impl Caller {
    /// The caller a validated token names.
    pub(crate) fn new(principal: Principal) -> Self {
        let member = if principal.is_app_only() {
            Member::App(principal.app_id().unwrap_or_default().to_ascii_lowercase())
        } else {
            Member::User(principal.object_id().unwrap_or_default().to_string())
        };
        Self {
            member,
            tenant_id: principal.tenant_id().to_string(),
            principal,
        }
    }

    /// An app-only token (a service principal or managed identity).
    pub(crate) fn is_app_only(&self) -> bool {
        self.principal.is_app_only()
    }

    /// Whether a delegated token carries one of `scopes`.
    pub(crate) fn has_any_scope(&self, scopes: &[&str]) -> bool {
        scopes.iter().any(|s| self.principal.has_scope(s))
    }

    /// The caller's role in `w`, if it has one.
    pub(crate) fn role_in<'a>(&self, w: &'a Workspace) -> Option<&'a str> {
        if w.tenant_id != self.tenant_id {
            return None;
        }
        w.role_of(&self.member)
    }

    /// The workspaces the caller holds a role in, in directory order.
    pub(crate) fn workspaces<'a>(
        &'a self,
        dir: &'a Directory,
    ) -> impl Iterator<Item = &'a Workspace> {
        dir.workspaces.iter().filter(|w| self.role_in(w).is_some())
    }

    /// The caller's workspace `id` (case-insensitive), if it holds a role there.
    pub(crate) fn workspace<'a>(&self, dir: &'a Directory, id: &str) -> Option<&'a Workspace> {
        dir.workspaces
            .iter()
            .find(|w| w.id.eq_ignore_ascii_case(id))
            .filter(|w| self.role_in(w).is_some())
    }
}

/// Whether a request may reach a local service: its `Host` names this emulator or one of
/// the service's public hostnames (as the loopback proxy forwards it), and it carries
/// none of the headers only browsers send (`Origin`, `Sec-Fetch-Site`). The services answer
/// no CORS preflight, so a web page (including a DNS-rebinding one) has no business here.
pub(crate) fn request_allowed(st: &AppState, headers: &HeaderMap, public_hosts: &[&str]) -> bool {
    // As the emulator's browser guard: Node's fetch sends a lone `Sec-Fetch-Mode`, a
    // browser always `Sec-Fetch-Site` and `-Dest` with it.
    let browser = headers.contains_key(header::ORIGIN)
        || headers
            .keys()
            .any(|k| k.as_str().starts_with("sec-fetch-") && k.as_str() != "sec-fetch-mode");
    if browser {
        return false;
    }
    // Through the proxy: the host of its CONNECT, which the proxy routed here.
    if let Some(via) = proxied_host(headers) {
        return public_hosts.iter().any(|h| via.eq_ignore_ascii_case(h));
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(h), None) => h.to_str().unwrap_or(""),
        // HTTP/2 names the authority in the URI, not in a Host header (and a browser
        // sends Origin and Sec-Fetch-* with it, refused above).
        (None, None) => return true,
        _ => return false,
    };
    // Straight to the emulator: the Host must name it (a public hostname sent here
    // directly is as foreign as any other name).
    names_this_emulator(host, st.bind)
}

/// The internal header that carries, to the service handlers, the public host a request
/// came for through the in-process proxy. The services' router removes it from every
/// request and sets it only from the proxy's own request extension, so a client cannot
/// forge it.
pub(crate) const VIA_PROXY: &str = "x-entrakit-via-proxy";

/// The public host the proxy served this request for, if it came through the proxy.
pub(crate) fn proxied_host(headers: &HeaderMap) -> Option<&str> {
    headers.get(VIA_PROXY).and_then(|v| v.to_str().ok())
}

/// The public base URL of a service for links in its answers (`continuationUri`,
/// `@odata.context`): `https://{host}` when the request came through the proxy for one
/// of the service's public hostnames, else the emulator's own URL plus the service's
/// path prefix.
pub(crate) fn public_base(
    st: &AppState,
    headers: &HeaderMap,
    public_hosts: &[&str],
    prefix: &str,
) -> String {
    if let Some(h) = proxied_host(headers)
        .and_then(|via| public_hosts.iter().find(|h| via.eq_ignore_ascii_case(h)))
    {
        return format!("https://{h}");
    }
    format!("{}{prefix}", st.base_url(headers))
}
