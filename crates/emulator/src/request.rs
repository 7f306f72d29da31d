//! The parts of a request that every endpoint reads the same way: the form body (and
//! the check that it is one), the tenant path segment, and the `scope` parameter resolved
//! against the directory. The token endpoints (`grants`), the browser pages
//! (`authorize`) and discovery all build on these.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, header};

use crate::directory::{App, Directory, Tenant};
use crate::errors::{EntraError, malformed, missing_field, sanitize, tenant_not_found};

/// OIDC scopes: they need no consent and name no resource.
pub(crate) const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Request form fields (last value wins; empty values count as absent).
#[derive(Debug, Default)]
pub(crate) struct Form(pub HashMap<String, String>);

impl Form {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, EntraError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
            malformed("The request body is not valid application/x-www-form-urlencoded.")
        })?;
        Ok(Self(pairs.into_iter().collect()))
    }

    /// A non-empty field.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A required field (AADSTS900144 when missing).
    pub(crate) fn need(&self, name: &str) -> Result<&str, EntraError> {
        self.get(name).ok_or_else(|| missing_field(name))
    }
}

/// Which tenant a path segment names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TenantSel<'a> {
    /// A specific tenant.
    Id(&'a Tenant),
    /// `common`.
    Common,
    /// `organizations`.
    Organizations,
    /// `consumers`.
    Consumers,
}

impl<'a> TenantSel<'a> {
    /// Resolves a path segment (GUID, domain, or one of the three aliases).
    pub(crate) fn resolve(dir: &'a Directory, segment: &str) -> Result<Self, EntraError> {
        match segment.to_ascii_lowercase().as_str() {
            "common" => Ok(Self::Common),
            "organizations" => Ok(Self::Organizations),
            "consumers" => Ok(Self::Consumers),
            crate::directory::CONSUMERS_TENANT_ID => Ok(Self::Consumers),
            _ => dir
                .tenant(segment)
                .map(Self::Id)
                .ok_or_else(|| tenant_not_found(segment)),
        }
    }

    /// The specific tenant, if any.
    pub(crate) fn specific(self) -> Option<&'a Tenant> {
        match self {
            Self::Id(t) => Some(t),
            _ => None,
        }
    }

    /// Does a user of `tenant_id` sign in through this segment?
    pub(crate) fn admits_user(self, tenant_id: &str) -> bool {
        match self {
            Self::Id(t) => t.id == tenant_id,
            Self::Common | Self::Organizations => true,
            Self::Consumers => tenant_id == crate::directory::CONSUMERS_TENANT_ID,
        }
    }

    /// Is `app` usable through this segment?
    pub(crate) fn admits_app(self, app: &App) -> bool {
        match self {
            Self::Id(t) => app.in_tenant(&t.id),
            _ => true,
        }
    }
}

/// Resolved scopes of one request: one resource, its scopes, and the OIDC scopes.
#[derive(Debug)]
pub(crate) struct ScopeSet<'d> {
    /// The resource app.
    pub(crate) resource: &'d App,
    /// The resource as the client wrote it (v1 `aud`).
    pub(crate) named: String,
    /// Scope names on the resource (may be `.default`).
    pub(crate) scopes: Vec<String>,
    /// OIDC scopes requested.
    pub(crate) oidc: Vec<String>,
}

impl ScopeSet<'_> {
    /// Was `.default` requested?
    pub(crate) fn is_default(&self) -> bool {
        self.scopes.iter().any(|s| s == ".default")
    }

    /// Has the client asked for this OIDC scope?
    pub(crate) fn has(&self, oidc: &str) -> bool {
        self.oidc.iter().any(|s| s == oidc)
    }
}

/// Splits and resolves a v2 `scope` parameter.
pub(crate) fn parse_scopes<'d>(
    dir: &'d Directory,
    raw: &str,
    tenant: &str,
) -> Result<ScopeSet<'d>, EntraError> {
    let mut oidc = Vec::new();
    let mut resource: Option<(&App, String)> = None;
    let mut scopes: Vec<String> = Vec::new();
    for s in raw.split([' ', '+']).filter(|s| !s.is_empty()) {
        if OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            oidc.push(s.to_ascii_lowercase());
            continue;
        }
        let (app, name) = match dir.resolve_scope(s) {
            Some(found) => found,
            None => {
                return Err(match s.rsplit_once('/') {
                    Some((prefix, _)) => resource_not_found(prefix, tenant),
                    None => invalid_scope(s),
                });
            }
        };
        // The resource as written, less the one `/` before the scope name: a v1 `aud`
        // keeps a URI's own trailing slash (`https://management.core.windows.net/`).
        let before = &s[..s.len() - name.len()];
        let named = before.strip_suffix('/').unwrap_or(before);
        let named = if named.is_empty() {
            "https://graph.microsoft.com"
        } else {
            named
        };
        if name != ".default" && !app.scopes.iter().any(|x| x.eq_ignore_ascii_case(name)) {
            return Err(invalid_scope(s));
        }
        match &resource {
            Some((r, _)) if r.client_id != app.client_id => {
                return Err(EntraError::new(
                    "invalid_scope",
                    28000,
                    "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ".to_string()
                        + &sanitize(raw)
                        + " is not valid.",
                ));
            }
            Some(_) => {}
            None => resource = Some((app, named.to_string())),
        }
        let canonical = app
            .scopes
            .iter()
            .find(|x| x.eq_ignore_ascii_case(name))
            .cloned()
            .unwrap_or_else(|| name.to_string());
        if !scopes.contains(&canonical) {
            scopes.push(canonical);
        }
    }
    let (resource, named) = match resource {
        Some(r) => r,
        None => {
            let graph = dir.app(crate::directory::GRAPH_APP_ID).ok_or_else(|| {
                EntraError::new("invalid_scope", 70011, "The provided request must include a resource scope; this directory has no Microsoft Graph.")
            })?;
            (graph, "https://graph.microsoft.com".to_string())
        }
    };
    Ok(ScopeSet {
        resource,
        named,
        scopes,
        oidc,
    })
}

fn invalid_scope(s: &str) -> EntraError {
    EntraError::new(
        "invalid_scope",
        70011,
        format!(
            "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {} is not valid.",
            sanitize(s)
        ),
    )
}

pub(crate) fn resource_not_found(resource: &str, tenant: &str) -> EntraError {
    EntraError::new(
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            sanitize(resource),
            sanitize(tenant)
        ),
    )
}

/// Sets `Cache-Control: no-store` and `Pragma: no-cache`, as Entra does on token responses.
pub(crate) fn no_store(h: &mut HeaderMap) {
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Refuses non-form bodies, then parses the form.
pub(crate) fn check_form(headers: &HeaderMap, body: &[u8]) -> Result<Form, EntraError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(EntraError::new(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'. (Content-Type must be application/x-www-form-urlencoded.)",
        ));
    }
    Form::parse(body)
}
