//! The Microsoft APIs people call most, by host and by audience: `entra call` derives the
//! scope from a URL's host with it, and `entra decode --for URL` checks that a token's
//! audience fits the API it is about to be sent to.

/// A well-known API.
#[derive(Debug)]
pub(crate) struct KnownResource {
    /// What people call it.
    pub name: &'static str,
    /// The `--resource` alias (a key of the configuration's `[resources]`).
    pub alias: &'static str,
    /// The `aud` values its tokens carry (URLs and the resource app's id).
    pub audiences: &'static [&'static str],
}

/// The known APIs. Fabric accepts Power BI tokens (the same resource app) and the reverse.
pub(crate) const KNOWN: &[KnownResource] = &[
    KnownResource {
        name: "Microsoft Graph",
        alias: "graph",
        audiences: &[
            "https://graph.microsoft.com",
            "00000003-0000-0000-c000-000000000000",
        ],
    },
    KnownResource {
        name: "Microsoft Fabric",
        alias: "fabric",
        audiences: &[
            "https://api.fabric.microsoft.com",
            "https://analysis.windows.net/powerbi/api",
            "00000009-0000-0000-c000-000000000000",
        ],
    },
    KnownResource {
        name: "Power BI",
        alias: "powerbi",
        audiences: &[
            "https://analysis.windows.net/powerbi/api",
            "https://api.fabric.microsoft.com",
            "00000009-0000-0000-c000-000000000000",
        ],
    },
    KnownResource {
        name: "Azure Resource Manager",
        alias: "arm",
        audiences: &[
            "https://management.azure.com",
            "https://management.core.windows.net",
            "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        ],
    },
    KnownResource {
        name: "Azure Key Vault",
        alias: "keyvault",
        audiences: &[
            "https://vault.azure.net",
            "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
        ],
    },
    KnownResource {
        name: "Azure Storage",
        alias: "storage",
        audiences: &[
            "https://storage.azure.com",
            "e406a681-f3d4-42a8-90b6-c2b029497af1",
        ],
    },
];

fn by_alias(alias: &str) -> &'static KnownResource {
    KNOWN
        .iter()
        .find(|r| r.alias == alias)
        .expect("alias in KNOWN")
}

/// The API served at `host` (lower case, no port), if it is a known one.
pub(crate) fn for_host(host: &str) -> Option<&'static KnownResource> {
    let host = host.to_ascii_lowercase();
    let alias = match host.as_str() {
        "graph.microsoft.com" => "graph",
        "api.fabric.microsoft.com" => "fabric",
        "api.powerbi.com" => "powerbi",
        "management.azure.com" => "arm",
        h if h.ends_with(".vault.azure.net") => "keyvault",
        h if [".blob.", ".queue.", ".table.", ".file.", ".dfs."]
            .iter()
            .any(|s| h.contains(s))
            && h.ends_with(".core.windows.net") =>
        {
            "storage"
        }
        _ => return None,
    };
    Some(by_alias(alias))
}

/// The API a URL is for: by its host (see [`for_host`]), or, on this machine, by the
/// path prefix under which the emulator serves Microsoft's APIs (`/fabric/...`,
/// `/powerbi/...`), so `entra call https://localhost:8443/fabric/v1/workspaces` needs no
/// `--resource`.
pub(crate) fn for_url(url: &str) -> Option<&'static KnownResource> {
    let uri: http::Uri = url.parse().ok()?;
    let host = uri.host()?.to_ascii_lowercase();
    if let Some(known) = for_host(&host) {
        return Some(known);
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return None;
    }
    let first = uri.path().trim_start_matches('/').split('/').next()?;
    match first {
        "fabric" => Some(by_alias("fabric")),
        "powerbi" => Some(by_alias("powerbi")),
        _ => None,
    }
}

/// The known API a token with audience `aud` is for (a trailing `/` ignored).
pub(crate) fn for_audience(aud: &str) -> Option<&'static KnownResource> {
    let aud = aud.trim_end_matches('/');
    // Power BI and Fabric share audiences: name the first (Graph ... Fabric) that lists it,
    // except the Power BI URL, which is Power BI's own.
    if aud.eq_ignore_ascii_case("https://analysis.windows.net/powerbi/api") {
        return Some(by_alias("powerbi"));
    }
    KNOWN
        .iter()
        .find(|r| r.audiences.iter().any(|a| a.eq_ignore_ascii_case(aud)))
}

/// The host of an absolute URL, lower case, without port.
pub(crate) fn host_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    uri.host().map(|h| h.to_ascii_lowercase())
}

/// Does a token with audience `aud` fit a request to `url`? `None` when it cannot be told
/// (an unknown API whose tokens name it by app id or App ID URI).
pub(crate) fn audience_fits(aud: &str, url: &str) -> Option<bool> {
    let host = host_of(url)?;
    let aud_trimmed = aud.trim_end_matches('/');
    if let Some(known) = for_host(&host) {
        if known
            .audiences
            .iter()
            .any(|a| a.eq_ignore_ascii_case(aud_trimmed))
        {
            return Some(true);
        }
        // A storage account's own URL is a valid audience too.
        if known.alias == "storage" && host_of(aud).as_deref() == Some(host.as_str()) {
            return Some(true);
        }
        return Some(false);
    }
    match host_of(aud) {
        Some(aud_host) if aud.contains("://") && !aud.starts_with("api://") => {
            Some(aud_host == host)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_audiences() {
        assert_eq!(for_host("graph.microsoft.com").unwrap().alias, "graph");
        assert_eq!(for_host("API.powerbi.com").unwrap().alias, "powerbi");
        assert_eq!(
            for_host("myvault.vault.azure.net").unwrap().alias,
            "keyvault"
        );
        assert_eq!(
            for_host("acct.blob.core.windows.net").unwrap().alias,
            "storage"
        );
        assert!(for_host("example.com").is_none());
        let alias = |u: &str| for_url(u).map(|r| r.alias);
        assert_eq!(
            alias("https://api.fabric.microsoft.com/v1/workspaces"),
            Some("fabric")
        );
        assert_eq!(
            alias("https://localhost:8443/fabric/v1/workspaces"),
            Some("fabric")
        );
        assert_eq!(
            alias("https://127.0.0.1:8443/powerbi/v1.0/myorg/groups"),
            Some("powerbi")
        );
        assert_eq!(alias("https://example.com/fabric/v1/workspaces"), None);
        assert_eq!(alias("https://localhost:8443/other"), None);
        assert_eq!(
            for_audience("https://graph.microsoft.com/").unwrap().alias,
            "graph"
        );
        assert_eq!(
            for_audience("https://analysis.windows.net/powerbi/api")
                .unwrap()
                .alias,
            "powerbi"
        );
        assert_eq!(
            audience_fits(
                "https://graph.microsoft.com",
                "https://api.fabric.microsoft.com/v1/workspaces"
            ),
            Some(false)
        );
        assert_eq!(
            audience_fits(
                "https://analysis.windows.net/powerbi/api",
                "https://api.fabric.microsoft.com/v1/workspaces"
            ),
            Some(true)
        );
        assert_eq!(
            audience_fits(
                "https://acct.blob.core.windows.net",
                "https://acct.blob.core.windows.net/c/b"
            ),
            Some(true)
        );
        assert_eq!(
            audience_fits(
                "https://api.contoso.example",
                "https://api.contoso.example/x"
            ),
            Some(true)
        );
        assert_eq!(
            audience_fits("https://other.example", "https://api.contoso.example/x"),
            Some(false)
        );
        assert_eq!(
            audience_fits("api://contoso-api", "https://api.contoso.example/x"),
            None
        );
    }
}
