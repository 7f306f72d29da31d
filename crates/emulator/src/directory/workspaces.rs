//! Fabric workspaces (Power BI "groups") and their items: the seeded data the local Fabric
//! and Power BI APIs serve (`[[workspaces]]` in the directory file), checked and resolved
//! against the directory's users, apps and managed identities.
//!
//! ```toml
//! [[workspaces]]
//! id = "5a1e5000-0000-4000-8000-000000000001"
//! name = "Sales"
//! tenant = "contoso.onmicrosoft.com"
//! members = [{ principal = "alice@contoso.onmicrosoft.com", role = "Admin" }]
//! items = [{ id = "…", name = "Sales model", type = "SemanticModel" }]
//! ```

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::build::{LoadContext, find_tenant, is_guid};
use super::config::ConfigError;
use super::model::Directory;

/// The workspace types Fabric names (`WorkspaceType` of Fabric's REST specs).
const WORKSPACE_TYPES: &[&str] = &["Workspace", "Personal", "AdminWorkspace"];

/// The workspace roles Fabric and Power BI know.
const ROLES: &[&str] = &["Admin", "Member", "Contributor", "Viewer"];

/// Item types of Fabric's REST specs (`ItemType` in microsoft/fabric-rest-api-specs,
/// common/definitions.json): what `?type=` accepts and what an item may be.
pub(crate) const ITEM_TYPES: &[&str] = &[
    "Dashboard",
    "Report",
    "SemanticModel",
    "PaginatedReport",
    "Datamart",
    "Lakehouse",
    "Eventhouse",
    "Environment",
    "KQLDatabase",
    "KQLQueryset",
    "KQLDashboard",
    "DataPipeline",
    "Notebook",
    "SparkJobDefinition",
    "MLExperiment",
    "MLModel",
    "Warehouse",
    "Eventstream",
    "SQLEndpoint",
    "MirroredWarehouse",
    "MirroredDatabase",
    "Reflex",
    "GraphQLApi",
    "MountedDataFactory",
    "ApacheAirflowJob",
    "SQLDatabase",
    "CopyJob",
    "VariableLibrary",
    "MirroredAzureDatabricksCatalog",
    "Dataflow",
    "WarehouseSnapshot",
    "DigitalTwinBuilder",
    "DigitalTwinBuilderFlow",
    "AnomalyDetector",
    "Map",
    "Ontology",
    "UserDataFunction",
    "GraphModel",
    "GraphQuerySet",
    "SnowflakeDatabase",
    "OperationsAgent",
    "CosmosDBDatabase",
    "EventSchemaSet",
    "DataAgent",
    "MirroredCatalog",
    "AppBackend",
    "OrgApp",
    "OrgAppAudience",
    "DataBuildToolJob",
    "AzureDatabricksStorage",
    "Plan",
];

/// A workspace as the directory file writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// Workspace id (GUID).
    pub id: Spanned<String>,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The tenant (id or domain) the workspace belongs to.
    pub tenant: Spanned<String>,
    /// `Workspace` (default), `Personal` ("My workspace") or `AdminWorkspace`.
    #[serde(default = "d_type", rename = "type")]
    pub kind: String,
    /// The capacity the workspace is assigned to (GUID), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_id: Option<String>,
    /// The capacity's region, e.g. `West Europe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_region: Option<String>,
    /// Who has a role in the workspace.
    #[serde(default)]
    pub members: Vec<WorkspaceMemberConfig>,
    /// The workspace's items.
    #[serde(default)]
    pub items: Vec<WorkspaceItemConfig>,
}

fn d_type() -> String {
    "Workspace".into()
}

/// A workspace role assignment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMemberConfig {
    /// A user's UPN, or the client id of an app or managed identity (service principal).
    pub principal: Spanned<String>,
    /// `Admin`, `Member`, `Contributor` or `Viewer`.
    pub role: String,
}

/// An item of a workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceItemConfig {
    /// Item id (GUID).
    pub id: Spanned<String>,
    /// Display name.
    pub name: String,
    /// Fabric item type, e.g. `Lakehouse`, `SemanticModel`, `Report`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// Who holds a workspace role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Member {
    /// A user, by object id.
    User(String),
    /// A service principal (app or managed identity), by client id.
    App(String),
}

/// A checked workspace.
#[derive(Debug, Clone)]
pub(crate) struct Workspace {
    /// Id (lower case).
    pub(crate) id: String,
    /// Tenant id.
    pub(crate) tenant_id: String,
    /// Display name.
    pub(crate) name: String,
    /// Description.
    pub(crate) description: String,
    /// `Workspace`, `Personal` or `AdminWorkspace`.
    pub(crate) kind: String,
    /// Capacity id.
    pub(crate) capacity_id: Option<String>,
    /// Capacity region.
    pub(crate) capacity_region: Option<String>,
    /// (member, role).
    pub(crate) members: Vec<(Member, String)>,
    /// Items, in file order.
    pub(crate) items: Vec<Item>,
}

/// A checked item.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// Id (lower case).
    pub(crate) id: String,
    /// Display name.
    pub(crate) name: String,
    /// Fabric item type.
    pub(crate) kind: String,
    /// Description.
    pub(crate) description: String,
}

impl Workspace {
    /// The role `who` holds here, if any.
    pub(crate) fn role_of(&self, who: &Member) -> Option<&str> {
        self.members
            .iter()
            .find(|(m, _)| m == who)
            .map(|(_, r)| r.as_str())
    }
}

/// Checks the `[[workspaces]]` entries against the built directory.
pub(crate) fn build(
    list: &[WorkspaceConfig],
    dir: &Directory,
    ctx: &LoadContext,
) -> Result<Vec<Workspace>, ConfigError> {
    if dir.settings.fabric_page_size == 0 {
        let msg = "a page holds at least one entry".to_string();
        return Err(ctx.invalid(None, "settings.fabric_page_size".into(), msg));
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
            return Err(ctx.invalid(Some(w.id.span()), key("id"), format!("{id:?}: {why}")));
        }
        let tenant_id = find_tenant(&dir.tenants, ctx, &w.tenant, key("tenant"))?;
        if !WORKSPACE_TYPES.contains(&w.kind.as_str()) {
            let msg = format!("{:?}: one of {}", w.kind, WORKSPACE_TYPES.join(", "));
            return Err(ctx.invalid(Some(w.id.span()), key("type"), msg));
        }
        let mut members = Vec::new();
        for (j, m) in w.members.iter().enumerate() {
            let k = format!("workspaces[{i}].members[{j}]");
            members.push(member(dir, m, &tenant_id, ctx, &k)?);
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
                return Err(ctx.invalid(Some(it.id.span()), format!("{k}.id"), msg));
            }
            if !ITEM_TYPES.contains(&it.kind.as_str()) {
                let msg = format!("{:?} is not a Fabric item type", it.kind);
                return Err(ctx.invalid(Some(it.id.span()), format!("{k}.type"), msg));
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
    ctx: &LoadContext,
    key: &str,
) -> Result<(Member, String), ConfigError> {
    let err =
        |k: &str, msg: String| ctx.invalid(Some(m.principal.span()), format!("{key}.{k}"), msg);
    if !ROLES.contains(&m.role.as_str()) {
        return Err(err(
            "role",
            format!("{:?}: one of {}", m.role, ROLES.join(", ")),
        ));
    }
    let who = m.principal.get_ref();
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
        err(
            "principal",
            format!("{who:?}: no user (by UPN), app or managed identity (by client id) in the workspace's tenant"),
        )
    })?;
    Ok((member, m.role.clone()))
}
