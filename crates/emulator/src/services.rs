//! Microsoft's first-party APIs, served locally so that code written for Fabric, Power BI,
//! Microsoft Graph and Azure Resource Manager runs offline against the emulator.
//!
//! Each service lives under a path prefix of the emulator's router (the loopback proxy
//! maps the real hostname to it: `https://api.fabric.microsoft.com/v1/workspaces` is
//! `/fabric/v1/workspaces` here). Each checks its bearer token as the real service does,
//! through entra-validate ([`auth`]): signature against the emulator's published keys,
//! issuer, audience (the service's first-party app), tenant and expiry; then scopes or
//! roles, and answers in that service's own error shape.

mod arm;
mod auth;
mod fabric;
mod graph;
mod keyvault;
mod powerbi;
mod router;
mod workspace_access;

pub(crate) use auth::ServiceAuth;
pub(crate) use keyvault::{KeyVaults, RotateError};

pub(crate) use router::router;

/// Where each service is mounted on the emulator's router. The proxy's host table maps
/// Microsoft's hostnames to these.
pub(crate) mod prefix {
    /// Microsoft Fabric REST API (`api.fabric.microsoft.com`).
    pub(crate) const FABRIC: &str = "/fabric";
    /// Power BI REST API (`api.powerbi.com`).
    pub(crate) const POWER_BI: &str = "/powerbi";
    /// Microsoft Graph (`graph.microsoft.com`).
    pub(crate) const GRAPH: &str = "/graph";
    /// Azure Resource Manager (`management.azure.com`).
    pub(crate) const ARM: &str = "/arm";
    /// Azure Key Vault (`{vault}.vault.azure.net`), one vault under each `/vault/{vault}`.
    pub(crate) const VAULT: &str = "/vault/{vault}";
}
