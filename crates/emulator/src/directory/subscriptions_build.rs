//! Checking `[[subscriptions]]` (their tenants, and who holds which role) and finding
//! a subscription by id.

use super::config::ConfigError;
use super::model::Directory;
use super::subscriptions::{
    BUILT_IN_ROLES, RoleAssignmentConfig, Subscription, SubscriptionConfig,
};

/// Words a directory-file error: (span, dotted key, message).
pub(crate) type Invalid<'a> =
    dyn Fn(Option<std::ops::Range<usize>>, String, String) -> ConfigError + 'a;

/// A subscription id: a GUID in 8-4-4-4-12 form.
fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

impl Directory {
    /// A subscription by id (case-insensitive).
    pub(crate) fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
    }

    /// Checks the `[[subscriptions]]` entries (tenants, apps, identities and users are
    /// built already); `invalid` words an error with its span, key and message.
    pub(crate) fn build_subscriptions(
        &self,
        list: &[SubscriptionConfig],
        invalid: &Invalid<'_>,
    ) -> Result<Vec<Subscription>, ConfigError> {
        let mut out: Vec<Subscription> = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let id = s.id.get_ref().to_ascii_lowercase();
            if !is_guid(&id) {
                return Err(invalid(
                    Some(s.id.span()),
                    format!("subscriptions[{i}].id"),
                    format!("{id:?} is not a GUID"),
                ));
            }
            if out.iter().any(|x| x.id == id) {
                return Err(invalid(
                    Some(s.id.span()),
                    format!("subscriptions[{i}].id"),
                    "duplicate subscription id".into(),
                ));
            }
            let want = s.tenant.get_ref().to_ascii_lowercase();
            let tenant_id = self.tenant(&want).map(|t| t.id.clone()).ok_or_else(|| {
                invalid(
                    Some(s.tenant.span()),
                    format!("subscriptions[{i}].tenant"),
                    format!("no tenant {want:?} (define it under [[tenants]])"),
                )
            })?;
            let mut role_assignments = Vec::new();
            for (j, r) in s.role_assignments.iter().enumerate() {
                let key = format!("subscriptions[{i}].role_assignments[{j}]");
                let oid = self.assignee(r, &tenant_id, invalid, &key)?;
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
        invalid: &Invalid<'_>,
        key: &str,
    ) -> Result<String, ConfigError> {
        if !BUILT_IN_ROLES.contains(&r.role.as_str()) {
            return Err(invalid(
                Some(r.principal.span()),
                format!("{key}.role"),
                format!("{:?}: use one of {BUILT_IN_ROLES:?}", r.role),
            ));
        }
        let who = r.principal.get_ref();
        let err = |m: String| invalid(Some(r.principal.span()), format!("{key}.principal"), m);
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

#[cfg(test)]
mod tests {
    use super::super::build::LoadContext;
    use super::super::config::{DEFAULT_DIRECTORY_TOML, DirectoryConfig};
    use super::*;

    fn build(text: &str) -> Result<Directory, ConfigError> {
        let state = std::env::temp_dir().join(format!("entra-sub-test-{}", uuid::Uuid::new_v4()));
        let ctx = LoadContext {
            file: "test.toml".into(),
            config_dir: state.clone(),
            state_dir: state,
            text: text.into(),
        };
        Directory::build(&DirectoryConfig::parse(text, "test.toml")?, &ctx)
    }

    #[test]
    fn default_subscriptions_and_their_roles() {
        let dir = build(DEFAULT_DIRECTORY_TOML).unwrap();
        let dev = dir
            .subscription("C0FFEE00-5B00-4000-A000-000000000001")
            .unwrap();
        assert_eq!(dev.name, "Contoso Dev");
        let alice = dir.user("alice@contoso.onmicrosoft.com").unwrap();
        assert_eq!(
            dev.roles_of(&alice.object_id).collect::<Vec<_>>(),
            ["Owner"]
        );
        let daemon = dir.app("d0000000-0000-4000-8000-0000000000d1").unwrap();
        assert_eq!(
            dev.roles_of(&daemon.object_id).collect::<Vec<_>>(),
            ["Contributor"]
        );
        let web = dir.app("e0000000-0000-4000-8000-0000000000e1").unwrap();
        assert_eq!(dev.roles_of(&web.object_id).count(), 0);
        assert!(
            dir.subscription("fab00000-5b00-4000-a000-000000000002")
                .is_some()
        );
    }

    #[test]
    fn bad_entries_name_their_key() {
        for (from, to, key) in [
            (
                "role = \"Owner\"",
                "role = \"Overlord\"",
                "subscriptions[0].role_assignments[0].role",
            ),
            (
                "{ principal = \"bob@contoso.onmicrosoft.com\", role = \"Reader\" }",
                "{ principal = \"carol@contoso.onmicrosoft.com\", role = \"Reader\" }",
                "subscriptions[0].role_assignments[1].principal",
            ),
            (
                "id = \"fab00000-5b00-4000-a000-000000000002\"",
                "id = \"c0ffee00-5b00-4000-a000-000000000001\"",
                "subscriptions[1].id",
            ),
            (
                "id = \"fab00000-5b00-4000-a000-000000000002\"",
                "id = \"dev\"",
                "subscriptions[1].id",
            ),
        ] {
            let text = DEFAULT_DIRECTORY_TOML.replacen(from, to, 1);
            assert_ne!(text, DEFAULT_DIRECTORY_TOML, "{from}");
            let err = build(&text).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        // A Contoso app on Fabrikam's subscription: it has no service principal there.
        let text = DEFAULT_DIRECTORY_TOML.replace(
            "name = \"Fabrikam Dev\"\ntenant = \"fabrikam.onmicrosoft.com\"\n",
            "name = \"Fabrikam Dev\"\ntenant = \"fabrikam.onmicrosoft.com\"\nrole_assignments = [{ principal = \"d0000000-0000-4000-8000-0000000000d1\", role = \"Reader\" }]\n",
        );
        assert_ne!(text, DEFAULT_DIRECTORY_TOML);
        let err = build(&text).unwrap_err().to_string();
        assert!(err.contains("no service principal"), "{err}");
    }
}
