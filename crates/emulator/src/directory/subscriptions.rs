//! Azure subscriptions and their role assignments (`[[subscriptions]]`): what the local
//! Azure Resource Manager lists. ARM decides who sees a subscription by RBAC: a caller
//! sees the subscriptions of its token's tenant on which it holds a role, and nothing
//! else (a service principal with no role gets an empty list, as in Azure).

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::build::{LoadContext, is_guid};
use super::config::ConfigError;
use super::model::Directory;

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

impl Directory {
    /// A subscription by id (case-insensitive).
    pub(crate) fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
    }

    /// Checks the `[[subscriptions]]` entries (tenants, apps, identities and users are
    /// built already).
    pub(crate) fn build_subscriptions(
        &self,
        list: &[SubscriptionConfig],
        ctx: &LoadContext,
    ) -> Result<Vec<Subscription>, ConfigError> {
        let mut out: Vec<Subscription> = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let id = s.id.get_ref().to_ascii_lowercase();
            if !is_guid(&id) {
                return Err(ctx.invalid(
                    Some(s.id.span()),
                    format!("subscriptions[{i}].id"),
                    format!("{id:?} is not a GUID"),
                ));
            }
            if out.iter().any(|x| x.id == id) {
                return Err(ctx.invalid(
                    Some(s.id.span()),
                    format!("subscriptions[{i}].id"),
                    "duplicate subscription id".into(),
                ));
            }
            let want = s.tenant.get_ref().to_ascii_lowercase();
            let tenant_id = self.tenant(&want).map(|t| t.id.clone()).ok_or_else(|| {
                ctx.invalid(
                    Some(s.tenant.span()),
                    format!("subscriptions[{i}].tenant"),
                    format!("no tenant {want:?} (define it under [[tenants]])"),
                )
            })?;
            let mut role_assignments = Vec::new();
            for (j, r) in s.role_assignments.iter().enumerate() {
                let key = format!("subscriptions[{i}].role_assignments[{j}]");
                let oid = self.assignee(r, &tenant_id, ctx, &key)?;
                role_assignments.push((oid, r.role.clone()));
            }
            out.push(Subscription {
                name: if s.name.is_empty() {
                    format!("subscription {}", &id[..8])
                } else {
                    s.name.clone()
                },
                id,
                tenant_id,
                role_assignments,
            });
        }
        Ok(out)
    }

    /// The object id a role assignment names; it must be a principal of `tenant_id`.
    fn assignee(
        &self,
        r: &RoleAssignmentConfig,
        tenant_id: &str,
        ctx: &LoadContext,
        key: &str,
    ) -> Result<String, ConfigError> {
        if !BUILT_IN_ROLES.contains(&r.role.as_str()) {
            return Err(ctx.invalid(
                Some(r.principal.span()),
                format!("{key}.role"),
                format!("{:?}: use one of {BUILT_IN_ROLES:?}", r.role),
            ));
        }
        let who = r.principal.get_ref();
        let err = |m: String| ctx.invalid(Some(r.principal.span()), format!("{key}.principal"), m);
        if who.contains('@') {
            let user = self
                .user(who)
                .ok_or_else(|| err(format!("no user {who:?}")))?;
            if user.tenant_id != tenant_id {
                return Err(err(format!(
                    "{who:?} is a user of another tenant than the subscription's"
                )));
            }
            return Ok(user.object_id.clone());
        }
        let id = who.to_ascii_lowercase();
        if let Some(app) = self.app(&id) {
            if !app.in_tenant(tenant_id) {
                return Err(err(format!(
                    "the app {id:?} has no service principal in the subscription's tenant"
                )));
            }
            return Ok(app.object_id.clone());
        }
        if let Some(mi) = self.managed_identities.iter().find(|m| m.client_id == id) {
            if mi.tenant_id != tenant_id {
                return Err(err(format!(
                    "the managed identity {id:?} belongs to another tenant"
                )));
            }
            return Ok(mi.object_id.clone());
        }
        Err(err(format!(
            "{who:?}: name a user's UPN, an app's client id or a managed identity's client id"
        )))
    }
}
