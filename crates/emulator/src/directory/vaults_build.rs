//! Checking `[[vaults]]` against the built directory: names, tenants, seeded secret
//! names, and each role assignment resolved to a user (by UPN) or a service principal
//! (by client id) of the vault's tenant.

use super::config::ConfigError;
use super::model::Directory;
use super::vaults::{
    VAULT_ROLES, Vault, VaultConfig, VaultRoleConfig, valid_secret_name, valid_vault_name,
};
use super::workspaces::Member;
use super::workspaces_build::Invalid;

/// Checks the `[[vaults]]` entries against the built directory.
pub(super) fn build(
    list: &[VaultConfig],
    dir: &Directory,
    invalid: Invalid<'_>,
) -> Result<Vec<Vault>, ConfigError> {
    let mut out: Vec<Vault> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let key = |k: &str| format!("vaults[{i}].{k}");
        let name = v.name.get_ref().to_ascii_lowercase();
        if !valid_vault_name(&name) || out.iter().any(|x| x.name == name) {
            let why = if valid_vault_name(&name) {
                "duplicate vault name"
            } else {
                "3-24 of a-z, 0-9 and single hyphens, a letter first"
            };
            let msg = format!("{name:?}: {why}");
            return Err(invalid(Some(v.name.span()), key("name"), msg));
        }
        let tenant_id = dir.tenant(v.tenant.get_ref()).map(|t| t.id.clone());
        let Some(tenant_id) = tenant_id else {
            let msg = format!(
                "no tenant {:?} (define it under [[tenants]])",
                v.tenant.get_ref()
            );
            return Err(invalid(Some(v.tenant.span()), key("tenant"), msg));
        };
        let mut secrets: Vec<(String, String, Option<String>)> = Vec::new();
        for (j, s) in v.secrets.iter().enumerate() {
            let n = s.name.get_ref();
            let dup = secrets.iter().any(|(x, _, _)| x.eq_ignore_ascii_case(n));
            if !valid_secret_name(n) || dup {
                let why = if dup {
                    "duplicate secret name"
                } else {
                    "1-127 of letters, digits and -"
                };
                let msg = format!("{n:?}: {why}");
                return Err(invalid(
                    Some(s.name.span()),
                    key(&format!("secrets[{j}].name")),
                    msg,
                ));
            }
            secrets.push((n.clone(), s.value.clone(), s.content_type.clone()));
        }
        let mut roles = Vec::new();
        for (j, r) in v.role_assignments.iter().enumerate() {
            let k = key(&format!("role_assignments[{j}]"));
            roles.push(role(dir, r, &tenant_id, invalid, &k)?);
        }
        out.push(Vault {
            name,
            tenant_id,
            secrets,
            roles,
        });
    }
    Ok(out)
}

/// Resolves one role assignment: a user of the vault's tenant by UPN, or an app or managed
/// identity usable there by client id.
fn role(
    dir: &Directory,
    r: &VaultRoleConfig,
    tenant_id: &str,
    invalid: Invalid<'_>,
    key: &str,
) -> Result<(Member, String), ConfigError> {
    let err = |k: &str, msg: String| invalid(Some(r.principal.span()), format!("{key}.{k}"), msg);
    if !VAULT_ROLES.contains(&r.role.as_str()) {
        let msg = format!("{:?}: one of {}", r.role, VAULT_ROLES.join(", "));
        return Err(err("role", msg));
    }
    let who = r.principal.get_ref();
    let resolved = if who.contains('@') {
        dir.user(who)
            .filter(|u| u.tenant_id == tenant_id)
            .map(|u| Member::User(u.object_id.clone()))
    } else {
        let id = who.to_ascii_lowercase();
        let app = dir.app(&id).filter(|a| a.in_tenant(tenant_id)).is_some();
        let mi = dir
            .managed_identities
            .iter()
            .any(|x| x.client_id == id && x.tenant_id == tenant_id);
        (app || mi).then_some(Member::App(id))
    };
    let member = resolved.ok_or_else(|| {
        let msg = format!(
            "{who:?}: no user (by UPN), app or managed identity (by client id) in the vault's tenant"
        );
        err("principal", msg)
    })?;
    Ok((member, r.role.clone()))
}
