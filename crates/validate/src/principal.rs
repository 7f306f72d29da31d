//! [`Principal`]: who called, as a validated token says. Cheap to clone (one `Arc`).

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::token::{Claims, TokenVersion};

/// The caller a validated access token describes.
#[derive(Clone)]
pub struct Principal(Arc<Inner>);

struct Inner {
    tenant_id: String,
    object_id: Option<String>,
    subject: Option<String>,
    app_id: Option<String>,
    /// `scp` as sent; split into `scopes` only when someone asks for the list.
    scp: Option<String>,
    scopes: OnceLock<Vec<String>>,
    roles: Vec<String>,
    version: Option<TokenVersion>,
    name: Option<String>,
    username: Option<String>,
    expires_at: i64,
    payload: Vec<u8>,
    raw: OnceLock<Arc<Map<String, Value>>>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("tenant_id", &self.0.tenant_id)
            .field("object_id", &self.0.object_id)
            .field("app_id", &self.0.app_id)
            .field("scopes", &self.scopes())
            .field("roles", &self.0.roles)
            .field("version", &self.0.version)
            .finish_non_exhaustive()
    }
}

impl Principal {
    pub(crate) fn from_claims(claims: Claims, payload: Vec<u8>, expires_at: i64) -> Self {
        let version = claims.version();
        Self(Arc::new(Inner {
            tenant_id: claims.tid.unwrap_or_default(),
            object_id: claims.oid,
            subject: claims.sub,
            app_id: claims.azp.or(claims.appid),
            scp: claims.scp,
            scopes: OnceLock::new(),
            roles: claims.roles.unwrap_or_default(),
            version,
            name: claims.name,
            username: claims
                .preferred_username
                .or(claims.upn)
                .or(claims.unique_name),
            expires_at,
            payload,
            raw: OnceLock::new(),
        }))
    }

    /// The tenant (`tid`); empty for a non-Entra issuer that sends none.
    pub fn tenant_id(&self) -> &str {
        &self.0.tenant_id
    }

    /// The user's or service principal's object id (`oid`).
    pub fn object_id(&self) -> Option<&str> {
        self.0.object_id.as_deref()
    }

    /// The subject (`sub`): pairwise per application for users.
    pub fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }

    /// The calling application's client id (`azp` in v2, `appid` in v1).
    pub fn app_id(&self) -> Option<&str> {
        self.0.app_id.as_deref()
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
            .scp
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// App roles (`roles`).
    pub fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// Whether the token carries the delegated scope `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scp_iter().any(|s| s == scope)
    }

    /// Whether the token carries the app role `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.0.roles.iter().any(|r| r == role)
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
        self.0.name.as_deref()
    }

    /// The sign-in name: `preferred_username` (v2), else `upn` or `unique_name` (v1).
    pub fn username(&self) -> Option<&str> {
        self.0.username.as_deref()
    }

    /// When the token expires (seconds since the epoch).
    pub fn expires_at(&self) -> i64 {
        self.0.expires_at
    }

    /// Every claim, parsed on first use (validation itself never builds this map).
    pub fn claims(&self) -> &Map<String, Value> {
        self.0
            .raw
            .get_or_init(|| Arc::new(serde_json::from_slice(&self.0.payload).unwrap_or_default()))
    }

    /// Every claim, shared.
    pub fn claims_arc(&self) -> Arc<Map<String, Value>> {
        self.claims();
        self.0.raw.get().expect("initialised").clone()
    }
}
