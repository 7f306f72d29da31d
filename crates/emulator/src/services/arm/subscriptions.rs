//! `GET /subscriptions`, `GET /subscriptions/{id}` and `GET /tenants`: what the Azure CLI
//! reads on every `az login` and `az account list`. A caller sees the subscriptions of
//! its token's tenant on which it holds a role (ARM's RBAC); a service principal with no
//! role sees an empty list, as in Azure.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::{self, ArmError};
use super::host::{login_base, via_public_host};
use super::request::authenticate;
use crate::directory::{Subscription, Tenant};
use crate::state::AppState;

/// A subscription as `Subscriptions - List`/`Get` (api-version 2022-12-01) show it.
fn subscription_json(s: &Subscription) -> Value {
    json!({
        "id": format!("/subscriptions/{}", s.id),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": s.id,
        "tenantId": s.tenant_id,
        "displayName": s.name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    })
}

/// A tenant as `Tenants - List` (api-version 2022-12-01) shows it.
fn tenant_json(t: &Tenant) -> Value {
    json!({
        "id": format!("/tenants/{}", t.id),
        "tenantId": t.id,
        "countryCode": "US",
        "displayName": t.name,
        "domains": [t.domain],
        "tenantCategory": "Home",
        "defaultDomain": t.domain,
        "tenantType": "AAD",
    })
}

/// A 200 with ARM's id headers.
fn ok(body: Value) -> Response {
    let mut resp = axum::Json(body).into_response();
    error::ids(resp.headers_mut());
    resp
}

fn answer(result: Result<Value, ArmError>) -> Response {
    match result {
        Ok(body) => ok(body),
        Err(e) => e.respond(),
    }
}

/// `GET /subscriptions?api-version=…`.
pub(super) async fn list(State(st): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    answer(
        async {
            let p = authenticate(&st, &headers).await?;
            error::api_version(uri.query())?;
            let oid = p.object_id().unwrap_or_default();
            let dir = st.dir();
            let value: Vec<Value> = dir
                .subscriptions
                .iter()
                .filter(|s| s.tenant_id == p.tenant_id() && s.roles_of(oid).next().is_some())
                .map(subscription_json)
                .collect();
            let count = value.len();
            Ok(json!({ "value": value, "count": { "type": "Total", "value": count } }))
        }
        .await,
    )
}

/// `GET /subscriptions/{id}?api-version=…`.
pub(super) async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    answer(
        async {
            let p = authenticate(&st, &headers).await?;
            error::api_version(uri.query())?;
            if !crate::directory::is_guid(&id) {
                return Err(ArmError::invalid_subscription_id(&id));
            }
            let dir = st.dir();
            let s = dir
                .subscription(&id)
                .ok_or_else(|| ArmError::subscription_not_found(&id))?;
            if s.tenant_id != p.tenant_id() {
                let login = login_base(&st, &headers);
                let issuer_base = if via_public_host(&headers) {
                    "https://sts.windows.net"
                } else {
                    login.as_str()
                };
                return Err(ArmError::wrong_tenant(
                    p.tenant_id(),
                    &s.tenant_id,
                    &login,
                    issuer_base,
                ));
            }
            let oid = p.object_id().unwrap_or_default();
            if s.roles_of(oid).next().is_none() {
                return Err(ArmError::authorization_failed(oid, &s.id));
            }
            Ok(subscription_json(s))
        }
        .await,
    )
}

/// `GET /tenants?api-version=…`: the token's tenant (the emulator has no guest users, so
/// a caller belongs to its home tenant only).
pub(super) async fn tenants(State(st): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    answer(
        async {
            let p = authenticate(&st, &headers).await?;
            error::api_version(uri.query())?;
            let dir = st.dir();
            let value: Vec<Value> = dir
                .tenant(p.tenant_id())
                .map(tenant_json)
                .into_iter()
                .collect();
            Ok(json!({ "value": value }))
        }
        .await,
    )
}
