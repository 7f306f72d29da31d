//! The local Power BI REST API (`api.powerbi.com`, mounted at `/powerbi`):
//! `GET /v1.0/myorg/groups`, `/v1.0/myorg/datasets` and `/v1.0/myorg/groups/{id}/datasets`,
//! over the directory's `[[workspaces]]` (a Power BI group is a Fabric workspace; a
//! dataset is a `SemanticModel` item; "My workspace" is a `Personal` workspace and is not
//! a group).
//!
//! As Power BI: a bearer that is not a valid token for Power BI Service gets 401 with an
//! empty body, an expired one 403 `TokenExpired`, a delegated token without the
//! endpoint's scope 401; users and service principals see the groups they hold a role
//! in. Shapes, and what is uncertain: docs/local-apis.md.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use entra_validate::ValidationError;
use serde::Serialize;
use serde_json::json;

use super::ServiceAuth;
use super::workspace_access::{Caller, POWER_BI_SERVICE, public_base, request_allowed};
use crate::directory::Workspace;
use crate::state::AppState;

/// Power BI's public hostname (what the proxy forwards here).
const PUBLIC_HOSTS: &[&str] = &["api.powerbi.com"];

/// Required scopes of Get Groups.
const GROUPS_READ: &[&str] = &["Workspace.Read.All", "Workspace.ReadWrite.All"];
/// Required scopes of Get Datasets (and Get Datasets In Group).
const DATASETS_READ: &[&str] = &["Dataset.Read.All", "Dataset.ReadWrite.All"];

/// The Power BI routes (relative to `/powerbi`).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1.0/myorg/groups", get(groups))
        .route("/v1.0/myorg/datasets", get(my_datasets))
        .route(
            "/v1.0/myorg/groups/{group_id}/datasets",
            get(group_datasets),
        )
        .fallback(|| async { PowerBiError::NotFound })
}

/// A refusal of the local Power BI API.
#[derive(Debug)]
enum PowerBiError {
    /// 401, empty body: no valid bearer, or a delegated token without the scope.
    Unauthorized,
    /// 403 `TokenExpired`.
    TokenExpired,
    /// 404 `PowerBIEntityNotFound`: an unknown group, or one the caller is not in.
    NotFound,
    /// 403 for a browser's request or a foreign `Host`.
    Refused,
}

impl IntoResponse for PowerBiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, None),
            Self::TokenExpired => (
                StatusCode::FORBIDDEN,
                Some(json!({"error": {
                    "code": "TokenExpired",
                    "message": "Access token has expired, resubmit with a new access token"
                }})),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                Some(json!({"error": {
                    "code": "PowerBIEntityNotFound",
                    "pbi.error": {"code": "PowerBIEntityNotFound", "parameters": {}, "details": [], "exceptionCulprit": 1}
                }})),
            ),
            Self::Refused => (
                StatusCode::FORBIDDEN,
                Some(json!({"error": {
                    "code": "RequestDenied",
                    "message": "The local Power BI API refuses browser requests and unknown hosts"
                }})),
            ),
        };
        let mut resp = match body {
            Some(b) => (status, Json(b)).into_response(),
            None => status.into_response(),
        };
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            h.insert("requestid", v);
        }
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("RequestId"),
        );
        resp
    }
}

/// The caller, once the request is not a browser's (nor for a foreign `Host`) and its
/// bearer is valid for Power BI Service and (delegated) carries one of `scopes`.
async fn caller(
    st: &AppState,
    headers: &HeaderMap,
    scopes: &[&str],
) -> Result<Caller, PowerBiError> {
    if !request_allowed(st, headers, PUBLIC_HOSTS) {
        st.count("refused", "service-browser");
        return Err(PowerBiError::Refused);
    }
    let dir = st.dir();
    let app = dir
        .app(POWER_BI_SERVICE)
        .ok_or(PowerBiError::Unauthorized)?;
    let principal = ServiceAuth::check(st, headers, app).await.map_err(|e| {
        tracing::info!(reason = e.code(), "power bi: bearer refused");
        match e {
            ValidationError::Expired => PowerBiError::TokenExpired,
            _ => PowerBiError::Unauthorized,
        }
    })?;
    let caller = Caller::new(principal);
    if !caller.is_app_only() && !caller.has_any_scope(scopes) {
        return Err(PowerBiError::Unauthorized);
    }
    Ok(caller)
}

fn base(st: &AppState, headers: &HeaderMap) -> String {
    public_base(st, headers, PUBLIC_HOSTS, super::prefix::POWER_BI)
}

/// A group as Power BI's `Group` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupJson {
    id: String,
    is_read_only: bool,
    is_on_dedicated_capacity: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity_id: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
}

/// `GET /v1.0/myorg/groups` (with `$top` and `$skip`).
async fn groups(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PowerBiError> {
    let caller = caller(&st, &headers, GROUPS_READ).await?;
    let dir = st.dir();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let number = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let all: Vec<GroupJson> = caller
        .workspaces(&dir)
        .filter(|w| w.kind != "Personal")
        .map(|w| GroupJson {
            id: w.id.clone(),
            is_read_only: caller.role_in(w) == Some("Viewer"),
            is_on_dedicated_capacity: w.capacity_id.is_some(),
            capacity_id: w.capacity_id.clone(),
            kind: "Workspace",
            name: w.name.clone(),
        })
        .collect();
    let count = all.len();
    let value: Vec<GroupJson> = all
        .into_iter()
        .skip(number("$skip").unwrap_or(0))
        .take(number("$top").unwrap_or(usize::MAX))
        .collect();
    Ok(Json(json!({
        "@odata.context": format!("{}/v1.0/myorg/$metadata#groups", base(&st, &headers)),
        "@odata.count": count,
        "value": value,
    }))
    .into_response())
}

/// `GET /v1.0/myorg/datasets`: the datasets of the caller's "My workspace".
async fn my_datasets(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PowerBiError> {
    let caller = caller(&st, &headers, DATASETS_READ).await?;
    let dir = st.dir();
    let value: Vec<serde_json::Value> = caller
        .workspaces(&dir)
        .filter(|w| w.kind == "Personal")
        .flat_map(datasets_of)
        .collect();
    let context = format!("{}/v1.0/myorg/$metadata#datasets", base(&st, &headers));
    Ok(Json(json!({"@odata.context": context, "value": value})).into_response())
}

/// `GET /v1.0/myorg/groups/{groupId}/datasets`.
async fn group_datasets(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(group_id): Path<String>,
) -> Result<Response, PowerBiError> {
    let caller = caller(&st, &headers, DATASETS_READ).await?;
    let dir = st.dir();
    let w = caller
        .workspace(&dir, &group_id)
        .filter(|w| w.kind != "Personal")
        .ok_or(PowerBiError::NotFound)?;
    let context = format!(
        "{}/v1.0/myorg/groups/{}/$metadata#datasets",
        base(&st, &headers),
        w.id
    );
    let value: Vec<serde_json::Value> = datasets_of(w).collect();
    Ok(Json(json!({"@odata.context": context, "value": value})).into_response())
}

/// A workspace's semantic models as Power BI's `Dataset`s.
fn datasets_of(w: &Workspace) -> impl Iterator<Item = serde_json::Value> + '_ {
    let group = if w.kind == "Personal" {
        "me"
    } else {
        w.id.as_str()
    };
    w.items
        .iter()
        .filter(|i| i.kind == "SemanticModel")
        .map(move |i| {
            json!({
                "id": i.id,
                "name": i.name,
                "webUrl": format!("https://app.powerbi.com/groups/{group}/datasets/{}", i.id),
                "addRowsAPIEnabled": false,
                "isRefreshable": true,
                "isEffectiveIdentityRequired": false,
                "isEffectiveIdentityRolesRequired": false,
                "isOnPremGatewayRequired": false,
                "targetStorageMode": "Abf",
            })
        })
}
