//! [`Principal`]: who called, as a validated token says. Cheap to clone (one `Arc`).

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::token::{Claims, TokenVersion};

/// The caller a validated access token describes.
#[derive(Clone)]
pub struct Principal(Arc<Inner>);

struct Inner {
    /// The claims read at validation, and the payload they are places in.
    claims: Claims,
    version: Option<TokenVersion>,
    /// `scp` split into a list only when someone asks for it.
    scopes: OnceLock<Vec<String>>,
    /// `roles` as owned strings, likewise.
    roles: OnceLock<Vec<String>>,
    expires_at: i64,
    raw: OnceLock<Arc<Map<String, Value>>>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("tenant_id", &self.tenant_id())
            .field("object_id", &self.object_id())
            .field("app_id", &self.app_id())
            .field("scopes", &self.scopes())
            .field("roles", &self.roles())
            .field("version", &self.0.version)
            .finish_non_exhaustive()
    }
}

impl Principal {
    pub(crate) fn from_claims(claims: Claims, expires_at: i64) -> Self {
        Self(Arc::new(Inner {
            version: claims.version(),
            claims,
            scopes: OnceLock::new(),
            roles: OnceLock::new(),
            expires_at,
            raw: OnceLock::new(),
        }))
    }

    /// The token this principal came from, when the validator kept it for its cache.
    #[inline]
    pub(crate) fn kept_token(&self) -> Option<&str> {
        self.0.claims.kept_token()
    }

    /// The tenant (`tid`); empty for a non-Entra issuer that sends none.
    pub fn tenant_id(&self) -> &str {
        self.0.claims.tid().unwrap_or_default()
    }

    /// The user's or service principal's object id (`oid`).
    pub fn object_id(&self) -> Option<&str> {
        self.0.claims.oid()
    }

    /// The subject (`sub`): pairwise per application for users.
    pub fn subject(&self) -> Option<&str> {
        self.0.claims.sub()
    }

    /// The calling application's client id (`azp` in v2, `appid` in v1).
    pub fn app_id(&self) -> Option<&str> {
        self.0.claims.azp().or_else(|| self.0.claims.appid())
    }

    /// Delegated scopes (`scp`), empty on app-only tokens.
    pub fn scopes(&self) -> &[String] {
        self.0
            .scopes
            .get_or_init(|| self.scp_iter().map(str::to_string).collect())
    }

    /// The `scp` claim's scopes, without building the list.
    fn scp_iter(&self) -> impl Iterator<Item = &str> {
        self.0
            .claims
            .scp()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// App roles (`roles`).
    pub fn roles(&self) -> &[String] {
        self.0.roles.get_or_init(|| {
            self.0
                .claims
                .roles()
                .map(|r| r.map(str::to_string).collect())
                .unwrap_or_default()
        })
    }

    /// Whether the token carries the delegated scope `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scp_iter().any(|s| s == scope)
    }

    /// Whether the token carries the app role `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.0
            .claims
            .roles()
            .is_some_and(|mut all| all.any(|r| r == role))
    }

    /// An app-only token (no user: no `scp`).
    pub fn is_app_only(&self) -> bool {
        self.scp_iter().next().is_none()
    }

    /// The token version (`ver`).
    pub fn version(&self) -> Option<TokenVersion> {
        self.0.version
    }

    /// The user's display name (`name`), when present.
    pub fn name(&self) -> Option<&str> {
        self.0.claims.name()
    }

    /// The sign-in name: `preferred_username` (v2), else `upn` or `unique_name` (v1).
    pub fn username(&self) -> Option<&str> {
        let c = &self.0.claims;
        c.preferred_username()
            .or_else(|| c.upn())
            .or_else(|| c.unique_name())
    }

    /// When the token expires (seconds since the epoch).
    pub fn expires_at(&self) -> i64 {
        self.0.expires_at
    }

    /// The Conditional Access authentication contexts the token satisfies (`acrs`,
    /// e.g. `["c1"]`); empty when the claim is absent.
    pub fn auth_contexts(&self) -> Vec<&str> {
        self.string_list("acrs")
    }

    /// The client capabilities the calling app declared (`xms_cc`, e.g. `["cp1"]`: it
    /// handles claims challenges); empty when the claim is absent.
    pub fn client_capabilities(&self) -> Vec<&str> {
        self.string_list("xms_cc")
    }

    fn string_list(&self, name: &str) -> Vec<&str> {
        match self.claims().get(name) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(one)) => vec![one.as_str()],
            _ => Vec::new(),
        }
    }

    /// Every claim, parsed on first use (validation itself never builds this map).
    pub fn claims(&self) -> &Map<String, Value> {
        self.0.raw.get_or_init(|| {
            Arc::new(serde_json::from_slice(self.0.claims.payload()).unwrap_or_default())
        })
    }

    /// Every claim, shared.
    pub fn claims_arc(&self) -> Arc<Map<String, Value>> {
        self.claims();
        self.0.raw.get().expect("initialised").clone()
    }

    /// Who called, as JSON: the summary `entra validate` prints and an API's "who am I"
    /// route returns (tenant, object id, subject, names, client, app-only, scopes,
    /// roles, version, issuer, audience, expiry). Never the token.
    pub fn to_json(&self) -> Value {
        let claims = self.claims();
        serde_json::json!({
            "tenant": self.tenant_id(),
            "oid": self.object_id(),
            "sub": self.subject(),
            "name": self.name(),
            "username": self.username(),
            "app_id": self.app_id(),
            "app_only": self.is_app_only(),
            "scopes": self.scopes(),
            "roles": self.roles(),
            "version": self.version().map(|v| v.label()),
            "issuer": claims.get("iss"),
            "audience": claims.get("aud"),
            "expires_at": self.expires_at(),
        })
    }
}
