//! The checked form of a directory: tenants, apps, managed identities and users, indexed
//! for the endpoints, and the lookups they use.

use std::collections::HashMap;

use super::config::{FederatedCredentialConfig, Settings};
use crate::keys::ClientCertificate;

/// The consumer (personal accounts) tenant id.
pub(crate) const CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// A tenant.
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    /// GUID, lower case.
    pub(crate) id: String,
    /// Domain, lower case.
    pub(crate) domain: String,
    /// Display name (the dashboard shows it).
    pub(crate) name: String,
}

/// A usable client secret.
#[derive(Clone)]
pub(crate) struct ClientSecret {
    /// Key id.
    pub(crate) key_id: String,
    /// The secret.
    pub(crate) value: String,
    /// Expiry (unix seconds).
    pub(crate) expires: Option<i64>,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecret")
            .field("key_id", &self.key_id)
            .field("value", &"[redacted]")
            .field("expires", &self.expires)
            .finish()
    }
}

/// A checked app registration.
#[derive(Debug, Clone)]
pub(crate) struct App {
    /// Client id (lower case).
    pub(crate) client_id: String,
    /// Name.
    pub(crate) name: String,
    /// Home tenant id.
    pub(crate) tenant_id: String,
    /// Multi-tenant.
    pub(crate) multi_tenant: bool,
    /// Public client.
    pub(crate) public_client: bool,
    /// Secrets.
    pub(crate) secrets: Vec<ClientSecret>,
    /// Certificates.
    pub(crate) certificates: Vec<ClientCertificate>,
    /// Federated credentials.
    pub(crate) federated: Vec<FederatedCredentialConfig>,
    /// Redirect URIs.
    pub(crate) redirect_uris: Vec<String>,
    /// App ID URIs.
    pub(crate) identifier_uris: Vec<String>,
    /// 1 or 2.
    pub(crate) token_version: u8,
    /// Exposed scopes.
    pub(crate) scopes: Vec<String>,
    /// App roles.
    pub(crate) app_roles: Vec<String>,
    /// (resource client id, scope) consented by an admin for everyone.
    pub(crate) admin_consent: Vec<(String, String)>,
    /// (resource client id, role) granted.
    pub(crate) role_assignments: Vec<(String, String)>,
    /// (client id, scope of this app) pre-authorized: no consent needed.
    pub(crate) pre_authorized: Vec<(String, String)>,
    /// Service principal object id.
    pub(crate) object_id: String,
}

impl App {
    /// Is this app usable in `tenant_id`?
    pub(crate) fn in_tenant(&self, tenant_id: &str) -> bool {
        self.multi_tenant || self.tenant_id == tenant_id
    }

    /// The first App ID URI, or the client id: how scopes are written in responses.
    pub(crate) fn scope_prefix(&self) -> &str {
        self.identifier_uris
            .first()
            .map(String::as_str)
            .unwrap_or(&self.client_id)
    }

    /// Microsoft Graph's well-known id.
    pub(crate) fn is_graph(&self) -> bool {
        self.client_id == GRAPH_APP_ID
    }
}

/// Microsoft Graph's application id.
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// A managed identity.
#[derive(Debug, Clone)]
pub(crate) struct ManagedIdentity {
    /// Client id.
    pub(crate) client_id: String,
    /// Object id.
    pub(crate) object_id: String,
    /// Resource id.
    pub(crate) resource_id: String,
    /// Name (the dashboard shows it).
    pub(crate) name: String,
    /// Tenant id.
    pub(crate) tenant_id: String,
    /// System-assigned.
    pub(crate) system: bool,
    /// (resource client id, role).
    pub(crate) role_assignments: Vec<(String, String)>,
}

/// A user.
#[derive(Clone)]
pub(crate) struct User {
    /// UPN (lower case).
    pub(crate) upn: String,
    /// Password.
    pub(crate) password: String,
    /// Display name.
    pub(crate) name: String,
    /// Object id.
    pub(crate) object_id: String,
    /// Home tenant id.
    pub(crate) tenant_id: String,
    /// MFA required.
    pub(crate) mfa_required: bool,
    /// Group ids.
    pub(crate) groups: Vec<String>,
    /// Directory role ids.
    pub(crate) roles: Vec<String>,
    /// client id -> (resource client id, scope) consented.
    pub(crate) consents: HashMap<String, Vec<(String, String)>>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("upn", &self.upn)
            .field("object_id", &self.object_id)
            .field("password", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The checked, indexed directory.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    /// Settings.
    pub(crate) settings: Settings,
    /// Tenants.
    pub(crate) tenants: Vec<Tenant>,
    /// Apps.
    pub(crate) apps: Vec<App>,
    /// Managed identities.
    pub(crate) managed_identities: Vec<ManagedIdentity>,
    /// Users.
    pub(crate) users: Vec<User>,
    /// Azure subscriptions (what the local ARM lists).
    pub(crate) subscriptions: Vec<super::subscriptions::Subscription>,
    /// Fabric workspaces (Power BI groups) and their items.
    pub(crate) workspaces: Vec<super::workspaces::Workspace>,
    /// Azure Key Vaults (their seeded secrets and role assignments).
    pub(crate) vaults: Vec<super::vaults::Vault>,
    pub(super) app_index: HashMap<String, usize>,
    /// (lower-cased App ID URI, app index), longest first.
    pub(super) uri_index: Vec<(String, usize)>,
}

impl Directory {
    /// Splits `resource/permission` (or a bare Graph permission) into the resource app and name.
    pub(crate) fn split_permission<'a>(&self, entry: &'a str) -> Option<(&App, &'a str)> {
        match entry.rsplit_once('/') {
            Some((resource, name)) => Some((self.resource(resource)?, name)),
            None => Some((self.app(GRAPH_APP_ID)?, entry)),
        }
    }

    /// An app by client id.
    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        let i = *self.app_index.get(client_id).or_else(|| {
            if client_id.bytes().any(|b| b.is_ascii_uppercase()) {
                self.app_index.get(&client_id.to_ascii_lowercase())
            } else {
                None
            }
        })?;
        self.apps.get(i)
    }

    /// A resource app by App ID URI or client id (trailing `/` ignored).
    pub(crate) fn resource(&self, id: &str) -> Option<&App> {
        let id = id.trim_end_matches('/');
        if let Some(app) = self.app(id) {
            return Some(app);
        }
        let lower = id.to_ascii_lowercase();
        self.uri_index
            .iter()
            .find(|(uri, _)| *uri == lower)
            .map(|(_, i)| &self.apps[*i])
    }

    /// Splits a v2 scope string's entry into (resource app, scope name). Scopes without a
    /// resource prefix are Microsoft Graph's. Longest App ID URI prefix wins.
    pub(crate) fn resolve_scope<'a>(&self, scope: &'a str) -> Option<(&App, &'a str)> {
        // Entra splits a scope at its last `/`: the resource is everything before it, as
        // written, so `https://management.core.windows.net//.default` names the resource
        // `https://management.core.windows.net/` and the scope `.default`.
        if let Some((resource, name)) = scope.rsplit_once('/')
            && !name.is_empty()
            && let Some(app) = self.resource(resource)
        {
            return Some((app, name));
        }
        let lower = scope.to_ascii_lowercase();
        for (uri, i) in &self.uri_index {
            if lower.len() > uri.len() + 1
                && lower.starts_with(uri.as_str())
                && lower.as_bytes()[uri.len()] == b'/'
            {
                return Some((&self.apps[*i], &scope[uri.len() + 1..]));
            }
        }
        self.split_permission(scope)
    }

    /// A tenant by id or domain (case-insensitive).
    pub(crate) fn tenant(&self, id_or_domain: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| {
            t.id.eq_ignore_ascii_case(id_or_domain) || t.domain.eq_ignore_ascii_case(id_or_domain)
        })
    }

    /// A user by UPN.
    pub(crate) fn user(&self, upn: &str) -> Option<&User> {
        self.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn))
    }

    /// A user by object id.
    pub(crate) fn user_by_oid(&self, oid: &str) -> Option<&User> {
        self.users.iter().find(|u| u.object_id == oid)
    }

    /// The managed identity a request selects: none of the ids means system-assigned.
    pub(crate) fn managed_identity(
        &self,
        client_id: Option<&str>,
        object_id: Option<&str>,
        resource_id: Option<&str>,
    ) -> Option<&ManagedIdentity> {
        let ids = &self.managed_identities;
        match (client_id, object_id, resource_id) {
            (Some(c), _, _) => ids.iter().find(|m| m.client_id.eq_ignore_ascii_case(c)),
            (_, Some(o), _) => ids.iter().find(|m| m.object_id.eq_ignore_ascii_case(o)),
            (_, _, Some(r)) => ids.iter().find(|m| m.resource_id.eq_ignore_ascii_case(r)),
            _ => ids.iter().find(|m| m.system),
        }
    }

    /// Has `user` (or an admin, for everyone) consented to `client` using `scope` of `resource`?
    pub(crate) fn consented(&self, user: &User, client: &App, resource: &str, scope: &str) -> bool {
        let hit = |list: &[(String, String)]| {
            list.iter()
                .any(|(r, s)| r == resource && s.eq_ignore_ascii_case(scope))
        };
        hit(&client.admin_consent)
            || user.consents.get(&client.client_id).is_some_and(|l| hit(l))
            || self
                .pre_authorized(client, resource)
                .any(|s| s.eq_ignore_ascii_case(scope))
    }

    /// The scopes of `resource` (a client id) that `client` is pre-authorized for.
    fn pre_authorized<'a>(
        &'a self,
        client: &'a App,
        resource: &str,
    ) -> impl Iterator<Item = &'a String> + 'a {
        self.app(resource)
            .into_iter()
            .flat_map(|r| r.pre_authorized.iter())
            .filter(|(c, _)| *c == client.client_id)
            .map(|(_, s)| s)
    }

    /// Every scope of `resource` consented for `user` and `client` (what `/.default` means).
    pub(crate) fn consented_scopes(
        &self,
        user: &User,
        client: &App,
        resource: &str,
    ) -> Vec<String> {
        let mut out: Vec<String> = client
            .admin_consent
            .iter()
            .chain(user.consents.get(&client.client_id).into_iter().flatten())
            .filter(|(r, _)| r == resource)
            .map(|(_, s)| s.clone())
            .chain(self.pre_authorized(client, resource).cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}
