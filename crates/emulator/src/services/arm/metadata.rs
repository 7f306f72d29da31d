//! `GET /metadata/endpoints?api-version=2022-09-01`: the cloud's endpoints, which the
//! Azure CLI reads on `az cloud register --endpoint-resource-manager` (and Azure SDKs on
//! custom clouds). The shape follows ARM's answer for the public cloud; the keys the CLI
//! maps are those of `azure.cli.core.cloud._arm_to_cli_mapper` (azure-cli 2.91).
//!
//! Which names it returns depends on how the client reached it:
//! - through the proxy (for `management.azure.com`), the public cloud's real names:
//!   the client keeps using Microsoft's hostnames and the proxy routes each to the
//!   emulator, so nothing about the client needs to change;
//! - directly, the emulator's own base: the login endpoint is the emulator (its tenants'
//!   authorities live at its root), Resource Manager is `{base}/arm/`, and the resource
//!   ids (audiences) stay Microsoft's, because tokens name their resource by App ID URI,
//!   not by where the API is served.
//!
//! The answer is public (ARM serves it without a token) and carries no secret.

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{error, host};
use crate::services::prefix;
use crate::services::workspace_access::request_allowed;
use crate::state::AppState;

/// `GET /metadata/endpoints?api-version=…`.
pub(super) async fn endpoints(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if !request_allowed(&st, &headers, host::PUBLIC_HOSTS) {
        return error::ArmError::refused_web_request().respond();
    }
    if let Err(e) = error::api_version(uri.query()) {
        return e.respond();
    }
    let (login, resource_manager) = if host::via_public_host(&headers) {
        (
            "https://login.microsoftonline.com/".to_string(),
            "https://management.azure.com/".to_string(),
        )
    } else {
        let base = st.base_url(&headers);
        (format!("{base}/"), format!("{base}{}/", prefix::ARM))
    };
    let mut resp = axum::Json(metadata(&login, &resource_manager)).into_response();
    error::ids(resp.headers_mut());
    resp
}

/// The public cloud's metadata with `login` and `resource_manager` filled in.
fn metadata(login: &str, resource_manager: &str) -> Value {
    json!({
        "portal": "https://portal.azure.com",
        "authentication": {
            "loginEndpoint": login,
            "audiences": [
                "https://management.core.windows.net/",
                "https://management.azure.com/",
            ],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "media": "https://rest.media.azure.net",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "name": "AzureCloud",
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net",
        },
        "batch": "https://batch.core.windows.net/",
        "resourceManager": resource_manager,
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/quickstart-templates/aliases.json",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
    })
}
