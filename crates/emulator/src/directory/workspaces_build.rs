//! Checking `[[workspaces]]` against the built directory: ids, types, roles, and each
//! member resolved to a user (by UPN) or a service principal (by client id) of the
//! workspace's tenant.

use std::ops::Range;

use toml::Spanned;

use super::config::ConfigError;
use super::model::Directory;
use super::workspaces::{
    ITEM_TYPES, Item, Member, ROLES, WORKSPACE_TYPES, Workspace, WorkspaceConfig,
    WorkspaceMemberConfig,
};

/// How a check names a bad entry: (span, dotted key, message) -> the error.
pub(super) type Invalid<'a> = &'a dyn Fn(Option<Range<usize>>, String, String) -> ConfigError;

fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// Checks the `[[workspaces]]` entries against the built directory.
pub(super) fn build(
    list: &[WorkspaceConfig],
    dir: &Directory,
    invalid: Invalid<'_>,
) -> Result<Vec<Workspace>, ConfigError> {
    if dir.settings.fabric_page_size == 0 {
        let msg = "a page holds at least one entry".to_string();
        return Err(invalid(None, "settings.fabric_page_size".into(), msg));
    }
    let mut out: Vec<Workspace> = Vec::new();
    let mut item_ids: Vec<String> = Vec::new();
    for (i, w) in list.iter().enumerate() {
        let key = |k: &str| format!("workspaces[{i}].{k}");
        let id = w.id.get_ref().to_ascii_lowercase();
        if !is_guid(&id) || out.iter().any(|x| x.id == id) {
            let why = if is_guid(&id) {
                "duplicate workspace id"
            } else {
                "not a GUID"
            };
            return Err(invalid(
                Some(w.id.span()),
                key("id"),
                format!("{id:?}: {why}"),
            ));
        }
        let tenant_id = tenant_of(dir, &w.tenant, key("tenant"), invalid)?;
        if !WORKSPACE_TYPES.contains(&w.kind.as_str()) {
            let msg = format!("{:?}: one of {}", w.kind, WORKSPACE_TYPES.join(", "));
            return Err(invalid(Some(w.id.span()), key("type"), msg));
        }
        let mut members = Vec::new();
        for (j, m) in w.members.iter().enumerate() {
            let k = format!("workspaces[{i}].members[{j}]");
            members.push(member(dir, m, &tenant_id, invalid, &k)?);
        }
        let mut items = Vec::new();
        for (j, it) in w.items.iter().enumerate() {
            let k = format!("workspaces[{i}].items[{j}]");
            let item_id = it.id.get_ref().to_ascii_lowercase();
            if !is_guid(&item_id) || item_ids.contains(&item_id) {
                let why = if is_guid(&item_id) {
                    "duplicate item id"
                } else {
                    "not a GUID"
                };
                let msg = format!("{item_id:?}: {why}");
                return Err(invalid(Some(it.id.span()), format!("{k}.id"), msg));
            }
            if !ITEM_TYPES.contains(&it.kind.as_str()) {
                let msg = format!("{:?} is not a Fabric item type", it.kind);
                return Err(invalid(Some(it.id.span()), format!("{k}.type"), msg));
            }
            item_ids.push(item_id.clone());
            items.push(Item {
                id: item_id,
                name: it.name.clone(),
                kind: it.kind.clone(),
                description: it.description.clone(),
            });
        }
        out.push(Workspace {
            id,
            tenant_id,
            name: w.name.clone(),
            description: w.description.clone(),
            kind: w.kind.clone(),
            capacity_id: w.capacity_id.clone(),
            capacity_region: w.capacity_region.clone(),
            members,
            items,
        });
    }
    Ok(out)
}

/// Resolves one member: a user of the workspace's tenant by UPN, or an app or managed
/// identity usable there by client id.
fn member(
    dir: &Directory,
    m: &WorkspaceMemberConfig,
    tenant_id: &str,
    invalid: Invalid<'_>,
    key: &str,
) -> Result<(Member, String), ConfigError> {
    let err = |k: &str, msg: String| invalid(Some(m.principal.span()), format!("{key}.{k}"), msg);
    if !ROLES.contains(&m.role.as_str()) {
        return Err(err(
            "role",
            format!("{:?}: one of {}", m.role, ROLES.join(", ")),
        ));
    }
    let who = m.principal.get_ref();
    let resolved = principal_in_tenant(dir, who, tenant_id);
    let member = resolved.ok_or_else(|| {
        err(
            "principal",
            format!("{who:?}: no user (by UPN), app or managed identity (by client id) in the workspace's tenant"),
        )
    })?;
    Ok((member, m.role.clone()))
}

/// The id of the tenant `t` names (id or domain).
/// The member `who` names in `tenant_id`: a user by UPN, or an app or managed identity
/// by client id usable there.
pub(super) fn principal_in_tenant(dir: &Directory, who: &str, tenant_id: &str) -> Option<Member> {
    if who.contains('@') {
        return dir
            .user(who)
            .filter(|u| u.tenant_id == tenant_id)
            .map(|u| Member::User(u.object_id.clone()));
    }
    let id = who.to_ascii_lowercase();
    let app = dir.app(&id).filter(|a| a.in_tenant(tenant_id)).is_some();
    let mi = dir
        .managed_identities
        .iter()
        .any(|x| x.client_id == id && x.tenant_id == tenant_id);
    (app || mi).then_some(Member::App(id))
}

fn tenant_of(
    dir: &Directory,
    t: &Spanned<String>,
    key: String,
    invalid: Invalid<'_>,
) -> Result<String, ConfigError> {
    dir.tenant(t.get_ref())
        .map(|x| x.id.clone())
        .ok_or_else(|| {
            let msg = format!("no tenant {:?} (define it under [[tenants]])", t.get_ref());
            invalid(Some(t.span()), key, msg)
        })
}
