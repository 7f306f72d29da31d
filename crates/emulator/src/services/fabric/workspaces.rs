//! `GET /v1/workspaces` (paged) and `GET /v1/workspaces/{workspaceId}`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde::Serialize;

use super::error::FabricError;
use super::paging::{self, Page};
use super::request::{WORKSPACE_READ, caller, link_base, query_param};
use crate::directory::Workspace;
use crate::state::AppState;

/// A workspace as Fabric's `Workspace` / `WorkspaceInfo` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WorkspaceJson {
    id: String,
    display_name: String,
    description: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity_region: Option<String>,
}

impl From<&Workspace> for WorkspaceJson {
    fn from(w: &Workspace) -> Self {
        Self {
            id: w.id.clone(),
            display_name: w.name.clone(),
            description: w.description.clone(),
            kind: w.kind.clone(),
            capacity_id: w.capacity_id.clone(),
            capacity_region: w.capacity_region.clone(),
        }
    }
}

/// The workspaces the caller holds a role in, a page at a time.
pub(super) async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<WorkspaceJson>>, FabricError> {
    let caller = caller(&st, &headers, WORKSPACE_READ).await?;
    let token = query_param(query.as_deref(), "continuationToken");
    let start = paging::start("workspaces", token.as_deref(), None)?;
    let dir = st.dir();
    let all: Vec<WorkspaceJson> = caller.workspaces(&dir).map(WorkspaceJson::from).collect();
    let url = format!("{}/v1/workspaces", link_base(&st, &headers));
    let size = dir.settings.fabric_page_size as usize;
    Ok(Json(paging::page(all, &start, size, "workspaces", &url)?))
}

/// One workspace the caller holds a role in.
pub(super) async fn get(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(workspace_id): Path<String>,
) -> Result<Json<WorkspaceJson>, FabricError> {
    let caller = caller(&st, &headers, WORKSPACE_READ).await?;
    let dir = st.dir();
    let w = caller
        .workspace(&dir, &workspace_id)
        .ok_or_else(|| FabricError::workspace_not_found(&workspace_id))?;
    Ok(Json(WorkspaceJson::from(w)))
}
