//! Azure subscriptions and their role assignments (`[[subscriptions]]`): what the local
//! Azure Resource Manager lists. ARM decides who sees a subscription by RBAC: a caller
//! sees the subscriptions of its token's tenant on which it holds a role, and nothing
//! else (a service principal with no role gets an empty list, as in Azure). The entries
//! are checked by `subscriptions_build`.

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// Azure's built-in roles that a `[[subscriptions]]` entry may assign (by name).
pub(crate) const BUILT_IN_ROLES: &[&str] = &[
    "Owner",
    "Contributor",
    "Reader",
    "User Access Administrator",
];

/// A subscription in the directory file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// Subscription id (GUID).
    pub id: Spanned<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The tenant the subscription trusts (id or domain).
    pub tenant: Spanned<String>,
    /// Who holds which role on the whole subscription.
    #[serde(default)]
    pub role_assignments: Vec<RoleAssignmentConfig>,
}

/// One role assignment at subscription scope.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignmentConfig {
    /// A user's UPN, an app's client id or a managed identity's client id.
    pub principal: Spanned<String>,
    /// A built-in role name: `Owner`, `Contributor`, `Reader` or `User Access Administrator`.
    pub role: String,
}

/// A checked subscription.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    /// GUID, lower case.
    pub(crate) id: String,
    /// Display name.
    pub(crate) name: String,
    /// The tenant id it trusts.
    pub(crate) tenant_id: String,
    /// (principal object id, role name).
    pub(crate) role_assignments: Vec<(String, String)>,
}

impl Subscription {
    /// The role names `object_id` holds here.
    pub(crate) fn roles_of<'a>(&'a self, object_id: &'a str) -> impl Iterator<Item = &'a str> {
        self.role_assignments
            .iter()
            .filter(move |(oid, _)| oid.eq_ignore_ascii_case(object_id))
            .map(|(_, role)| role.as_str())
    }
}
