//! Checking `[[vaults]]` against the built directory: names, tenants, seeded secret
//! names, and each role assignment resolved to a user (by UPN) or a service principal
//! (by client id) of the vault's tenant.

use std::path::Path;

use super::config::ConfigError;
use super::model::Directory;
use super::vaults::{
    VAULT_ROLES, Vault, VaultCertificateConfig, VaultConfig, VaultRoleConfig, parse_cert_pem,
    valid_secret_name, valid_vault_name,
};
use super::workspaces::Member;
use super::workspaces_build::{Invalid, principal_in_tenant};

/// Checks the `[[vaults]]` entries against the built directory.
pub(super) fn build(
    list: &[VaultConfig],
    dir: &Directory,
    dirs: (&Path, &Path),
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
        let mut certificates: Vec<(String, String)> = Vec::new();
        for (j, c) in v.certificates.iter().enumerate() {
            let k = key(&format!("certificates[{j}]"));
            let n = c.name.get_ref();
            let taken = certificates.iter().any(|(x, _)| x.eq_ignore_ascii_case(n))
                || secrets.iter().any(|(x, _, _)| x.eq_ignore_ascii_case(n));
            if !valid_secret_name(n) || taken {
                let why = if taken {
                    "name already used in this vault"
                } else {
                    "1-127 of letters, digits and -"
                };
                return Err(invalid(
                    Some(c.name.span()),
                    format!("{k}.name"),
                    format!("{n:?}: {why}"),
                ));
            }
            let pem = certificate_pem(c, dirs).map_err(|m| invalid(Some(c.name.span()), k, m))?;
            certificates.push((n.clone(), pem));
        }
        out.push(Vault {
            name,
            tenant_id,
            secrets,
            roles,
            certificates,
        });
    }
    Ok(out)
}

/// The PEM bundle of a seeded certificate, checked (certificate and private key).
/// `dirs` is (the directory file's folder, the state directory).
fn certificate_pem(c: &VaultCertificateConfig, dirs: (&Path, &Path)) -> Result<String, String> {
    let (config_dir, state_dir) = dirs;
    let path = match (&c.file, &c.state_file) {
        (Some(f), None) => config_dir.join(f),
        (None, Some(f)) => state_dir.join(f),
        _ => return Err("give exactly one of file or state_file".into()),
    };
    let pem = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_cert_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(pem)
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
    let resolved = principal_in_tenant(dir, who, tenant_id);
    let member = resolved.ok_or_else(|| {
        let msg = format!(
            "{who:?}: no user (by UPN), app or managed identity (by client id) in the vault's tenant"
        );
        err("principal", msg)
    })?;
    Ok((member, r.role.clone()))
}
