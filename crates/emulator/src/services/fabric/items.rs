//! `GET /v1/workspaces/{workspaceId}/items` (paged, `?type=` filter).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde::Serialize;

use super::error::FabricError;
use super::paging::{self, Page};
use super::request::{WORKSPACE_READ, caller, link_base, query_param};
use crate::state::AppState;

/// An item as Fabric's `Item` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ItemJson {
    id: String,
    display_name: String,
    description: String,
    #[serde(rename = "type")]
    kind: String,
    workspace_id: String,
}

/// The items of a workspace the caller holds a role in, a page at a time.
pub(super) async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(workspace_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<ItemJson>>, FabricError> {
    let caller = caller(&st, &headers, WORKSPACE_READ).await?;
    let dir = st.dir();
    let w = caller
        .workspace(&dir, &workspace_id)
        .ok_or_else(|| FabricError::workspace_not_found(&workspace_id))?;
    let listing = format!("items/{}", w.id);
    let token = query_param(query.as_deref(), "continuationToken");
    let filter = query_param(query.as_deref(), "type");
    let start = paging::start(&listing, token.as_deref(), filter.as_deref())?;
    let all: Vec<ItemJson> = w
        .items
        .iter()
        .filter(|i| start.filter.as_deref().is_none_or(|t| t == i.kind))
        .map(|i| ItemJson {
            id: i.id.clone(),
            display_name: i.name.clone(),
            description: i.description.clone(),
            kind: i.kind.clone(),
            workspace_id: w.id.clone(),
        })
        .collect();
    let url = format!("{}/v1/workspaces/{}/items", link_base(&st, &headers), w.id);
    let size = dir.settings.fabric_page_size as usize;
    Ok(Json(paging::page(all, &start, size, &listing, &url)?))
}
