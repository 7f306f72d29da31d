//! The one table of the public hostnames the proxy serves, and where each goes on the
//! emulator's router.
//!
//! | Host (CONNECT `host:443`)        | Served as                         |
//! |----------------------------------|-----------------------------------|
//! | `login.microsoftonline.com`      | the emulator's root routes (Entra) |
//! | `login.windows.net`              | the emulator's root routes        |
//! | `login.microsoft.com`            | the emulator's root routes        |
//! | `sts.windows.net`                | the emulator's root routes        |
//! | `management.azure.com`           | `/arm` + path                     |
//! | `management.core.windows.net`    | `/arm` + path                     |
//! | `graph.microsoft.com`            | `/graph` + path                   |
//! | `api.fabric.microsoft.com`       | `/fabric` + path                  |
//! | `api.powerbi.com`                | `/powerbi` + path                 |
//! | `{vault}.vault.azure.net`        | `/vault/{vault}` + path           |
//!
//! So `https://api.fabric.microsoft.com/v1/workspaces` is `/fabric/v1/workspaces` on the
//! router. The login hosts are Entra's public-cloud aliases (the `aliases` of Entra's
//! instance discovery for `login.microsoftonline.com`); the others are the API hosts the
//! Azure CLI, azure-identity, the Fabric CLI and the seeds' code call. Everything else
//! (telemetry such as `dc.services.visualstudio.com`, `pypi.org` for az's version check,
//! OneLake, Storage) is refused with a 403 and never dialled.
//!
//! The intercept CA's name constraints are built from this table too
//! ([`permitted_dns_subtrees`]), so the CA can vouch for nothing the proxy does not serve.

/// Where a served host goes on the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Service {
    /// Entra itself: the emulator's root routes, answered as on the public host.
    Login,
    /// A resource API under this router prefix (`/fabric`, `/arm`, ...).
    Api(String),
}

/// The v2 issuer's (and every endpoint's) base when a login host is reached through the
/// proxy: Entra's public cloud names `https://login.microsoftonline.com` whichever alias
/// the client used.
pub(crate) const PUBLIC_LOGIN_BASE: &str = "https://login.microsoftonline.com";

/// The v1 issuer's base on the public cloud (`https://sts.windows.net/{tid}/`).
pub(crate) const PUBLIC_V1_ISSUER_BASE: &str = "https://sts.windows.net";

/// Entra's public-cloud login hosts (instance-discovery aliases).
pub(crate) const LOGIN_HOSTS: [&str; 4] = [
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
];

/// The API hosts and their router prefixes.
const API_HOSTS: [(&str, &str); 5] = [
    ("management.azure.com", "/arm"),
    ("management.core.windows.net", "/arm"),
    ("graph.microsoft.com", "/graph"),
    ("api.fabric.microsoft.com", "/fabric"),
    ("api.powerbi.com", "/powerbi"),
];

/// Key Vault: `{name}.vault.azure.net` goes to `/vault/{name}`.
const VAULT_DOMAIN: &str = "vault.azure.net";

/// The router prefixes the API hosts own: a login host may not reach them.
pub(crate) fn api_prefixes() -> impl Iterator<Item = &'static str> {
    API_HOSTS
        .iter()
        .map(|(_, p)| *p)
        .chain(std::iter::once("/vault"))
}

/// A Key Vault name as Azure allows it: 3-24 of `a-z0-9-`, starting with a letter, not
/// ending with `-` (lower case: host names arrive lower-cased).
fn vault_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=24).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Where `host` (lower case, no port) is served, or `None`: not served, refused.
pub(crate) fn route(host: &str) -> Option<Service> {
    if LOGIN_HOSTS.contains(&host) {
        return Some(Service::Login);
    }
    if let Some((_, prefix)) = API_HOSTS.iter().find(|(h, _)| *h == host) {
        return Some(Service::Api((*prefix).to_string()));
    }
    let vault = host
        .strip_suffix(VAULT_DOMAIN)
        .and_then(|s| s.strip_suffix('.'))?;
    vault_name_ok(vault).then(|| Service::Api(format!("/vault/{vault}")))
}

/// Is `host` (any case, no port) one of the served public names? The emulator's direct
/// listener ignores such a `Host` header: only the proxy may make it answer as Entra.
pub(crate) fn is_served(host: &str) -> bool {
    route(&host.to_ascii_lowercase()).is_some()
}

/// The DNS subtrees the intercept CA is constrained to: every served host, and the Key
/// Vault domain (whose subtree holds exactly the vault hosts).
pub(crate) fn permitted_dns_subtrees() -> Vec<&'static str> {
    LOGIN_HOSTS
        .iter()
        .copied()
        .chain(API_HOSTS.iter().map(|(h, _)| *h))
        .chain(std::iter::once(VAULT_DOMAIN))
        .collect()
}

/// The path on the router for a request to `service` with `path_and_query`, or `None`
/// when a login host is asked for an API prefix (`https://login.microsoftonline.com/fabric/...`
/// is not Fabric).
pub(crate) fn router_path(service: &Service, path_and_query: &str) -> Option<String> {
    let pq = if path_and_query.starts_with('/') {
        path_and_query.to_string()
    } else {
        format!("/{path_and_query}")
    };
    match service {
        Service::Login => {
            let path = pq.split(['?', '#']).next().unwrap_or("");
            let owned = api_prefixes().any(|p| {
                path.eq_ignore_ascii_case(p)
                    || path
                        .get(..p.len() + 1)
                        .is_some_and(|head| head.eq_ignore_ascii_case(&format!("{p}/")))
            });
            (!owned).then_some(pq)
        }
        Service::Api(prefix) => Some(format!("{prefix}{pq}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(route("login.microsoftonline.com"), Some(Service::Login));
        assert_eq!(route("sts.windows.net"), Some(Service::Login));
        assert_eq!(
            route("api.fabric.microsoft.com"),
            Some(Service::Api("/fabric".into()))
        );
        assert_eq!(
            route("management.core.windows.net"),
            Some(Service::Api("/arm".into()))
        );
        assert_eq!(
            route("contoso-kv.vault.azure.net"),
            Some(Service::Api("/vault/contoso-kv".into()))
        );
        for refused in [
            "example.com",
            "login.microsoftonline.com.evil.example",
            "evil.login.microsoftonline.com",
            "vault.azure.net",
            "a.b.vault.azure.net",
            "kv.vault.azure.net",
            "-kv1.vault.azure.net",
            "kv1-.vault.azure.net",
            "0kv.vault.azure.net",
            "dc.services.visualstudio.com",
            "analysis.windows.net",
            "127.0.0.1",
            "",
        ] {
            assert_eq!(route(refused), None, "{refused}");
        }
        assert!(is_served("Login.MicrosoftOnline.com"));
    }

    #[test]
    fn paths() {
        let fabric = Service::Api("/fabric".into());
        assert_eq!(
            router_path(&fabric, "/v1/workspaces?continuationToken=x").as_deref(),
            Some("/fabric/v1/workspaces?continuationToken=x")
        );
        assert_eq!(
            router_path(
                &Service::Login,
                "/common/v2.0/.well-known/openid-configuration"
            )
            .as_deref(),
            Some("/common/v2.0/.well-known/openid-configuration")
        );
        assert_eq!(router_path(&Service::Login, "/fabric/v1/workspaces"), None);
        assert_eq!(router_path(&Service::Login, "/VAULT/x"), None);
        assert_eq!(router_path(&Service::Login, "/arm"), None);
        assert_eq!(
            router_path(&Service::Login, "/armada/oauth2/token").as_deref(),
            Some("/armada/oauth2/token")
        );
    }

    #[test]
    fn prefixes_are_where_the_services_are_mounted() {
        use crate::services::prefix;
        let api = |h: &str| match route(h) {
            Some(Service::Api(p)) => p,
            other => panic!("{h}: {other:?}"),
        };
        assert_eq!(api("api.fabric.microsoft.com"), prefix::FABRIC);
        assert_eq!(api("api.powerbi.com"), prefix::POWER_BI);
        assert_eq!(api("graph.microsoft.com"), prefix::GRAPH);
        assert_eq!(api("management.azure.com"), prefix::ARM);
        assert_eq!(api("management.core.windows.net"), prefix::ARM);
    }

    #[test]
    fn subtrees_cover_every_served_host() {
        let subtrees = permitted_dns_subtrees();
        for h in LOGIN_HOSTS.iter().chain(API_HOSTS.iter().map(|(h, _)| h)) {
            assert!(subtrees.contains(h));
        }
        assert!(subtrees.contains(&"vault.azure.net"));
        assert_eq!(subtrees.len(), 10);
    }
}
