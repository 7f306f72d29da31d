//! What every Key Vault handler does first: refuse browsers and foreign hosts, find the
//! vault, answer a request without a valid bearer with the challenge, check the caller's
//! RBAC role for the operation, and check `api-version`.

use axum::http::HeaderMap;

use super::error::KvError;
use crate::directory::{Member, Vault};
use crate::services::ServiceAuth;
use crate::services::workspace_access::{proxied_host, request_allowed};
use crate::state::AppState;

/// Azure Key Vault's first-party app.
const KEY_VAULT_APP: &str = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";

/// The resource a Key Vault challenge names.
const RESOURCE: &str = "https://vault.azure.net";

/// The api-versions of Key Vault's data plane the local vault answers: the ones
/// azure-keyvault-secrets 4.12.0 names (`ApiVersion`, its default `2026-04-01`).
const API_VERSIONS: &[&str] = &[
    "2016-10-01",
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
    "2026-04-01",
];

/// What an operation needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Read a secret's value or list secrets (Secrets User).
    Read,
    /// Set, update, delete, recover, purge (Secrets Officer).
    Write,
    /// Get or list certificates (Certificate User).
    CertRead,
    /// Import certificates (Certificates Officer).
    CertWrite,
}

/// A request that passed the checks: the vault and the base of its ids.
pub(super) struct Ctx {
    pub(super) vault: Vault,
    /// `https://{vault}.vault.azure.net` through the proxy, else the emulator's URL +
    /// `/vault/{vault}`.
    pub(super) base: String,
    /// The query's `api-version`.
    pub(super) api_version: String,
}

/// Runs the checks for `access` on `vault`.
pub(super) async fn check(
    st: &AppState,
    headers: &HeaderMap,
    vault: &str,
    query: Option<&str>,
    access: Access,
) -> Result<Ctx, KvError> {
    let vault = vault.to_ascii_lowercase();
    let public = format!("{vault}.vault.azure.net");
    if !request_allowed(st, headers, &[public.as_str()]) {
        st.count("refused", "service-browser");
        return Err(KvError::refused_request());
    }
    let dir = st.dir();
    let Some(v) = dir.vaults.iter().find(|v| v.name == vault).cloned() else {
        return Err(KvError::vault_not_found(&vault));
    };
    let via_proxy = proxied_host(headers).is_some();
    let authority = if via_proxy {
        format!("https://login.microsoftonline.com/{}", v.tenant_id)
    } else {
        format!("{}/{}", st.base_url(headers), v.tenant_id)
    };
    let unauthorized = |msg: &str| KvError::unauthorized(msg, &authority, RESOURCE);
    if entra_validate::bearer(headers).is_err() {
        return Err(unauthorized(
            "AKV10000: Request is missing a Bearer or PoP token.",
        ));
    }
    let app = dir
        .app(KEY_VAULT_APP)
        .ok_or_else(|| unauthorized("AKV10022: Invalid audience."))?;
    let principal = ServiceAuth::check(st, headers, app).await.map_err(|e| {
        tracing::info!(reason = e.code(), "keyvault: bearer refused");
        unauthorized(&format!("AKV10032: Invalid token ({}).", e.code()))
    })?;
    if principal.tenant_id() != v.tenant_id {
        return Err(unauthorized(&format!(
            "AKV10032: Invalid issuer. Expected one of the tenant {}'s issuers.",
            v.tenant_id
        )));
    }
    let member = if principal.is_app_only() {
        Member::App(principal.app_id().unwrap_or_default().to_ascii_lowercase())
    } else {
        Member::User(principal.object_id().unwrap_or_default().to_string())
    };
    if !allowed(&v, &member, access) {
        let who = match &member {
            Member::User(oid) => format!("oid={oid}"),
            Member::App(id) => format!("appid={id}"),
        };
        let action = match access {
            Access::Read => "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            Access::Write => "Microsoft.KeyVault/vaults/secrets/setSecret/action",
            Access::CertRead => "Microsoft.KeyVault/vaults/certificates/read",
            Access::CertWrite => "Microsoft.KeyVault/vaults/certificates/import/action",
        };
        return Err(KvError::forbidden_by_rbac(&who, action, &v.name));
    }
    let api_version = query_param(query, "api-version").unwrap_or_default();
    if !API_VERSIONS.contains(&api_version.as_str()) {
        return Err(KvError::bad_parameter(
            "The request URI contains an invalid or missing api-version parameter.",
        ));
    }
    let base = if via_proxy {
        format!("https://{public}")
    } else {
        format!("{}/vault/{vault}", st.base_url(headers))
    };
    Ok(Ctx {
        vault: v,
        base,
        api_version,
    })
}

/// Whether `who`'s roles on `v` allow `access`.
fn allowed(v: &Vault, who: &Member, access: Access) -> bool {
    v.roles_of(who).any(|r| match r {
        "Key Vault Administrator" => true,
        "Key Vault Secrets Officer" => matches!(access, Access::Read | Access::Write),
        "Key Vault Secrets User" => access == Access::Read,
        "Key Vault Certificates Officer" => matches!(access, Access::CertRead | Access::CertWrite),
        "Key Vault Certificate User" => access == Access::CertRead,
        _ => false,
    })
}

/// The first value of query parameter `name`.
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}
