//! Fabric workspaces (Power BI "groups") and their items: the seeded data the local Fabric
//! and Power BI APIs serve (`[[workspaces]]` in the directory file), as the file writes it
//! and as the checked directory holds it (`workspaces_build` checks one into the other).
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

/// The workspace types Fabric names (`WorkspaceType` of Fabric's REST specs).
pub(crate) const WORKSPACE_TYPES: &[&str] = &["Workspace", "Personal", "AdminWorkspace"];

/// The workspace roles Fabric and Power BI know.
pub(crate) const ROLES: &[&str] = &["Admin", "Member", "Contributor", "Viewer"];

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
