//! Fabric's error answer: the `ErrorResponse` of Fabric's REST specs
//! (`{"requestId","errorCode","message"}`, field order as seed 001's capture shows it),
//! with the `RequestId` and `x-ms-public-api-error-code` headers the service sends.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One refusal of the local Fabric API.
#[derive(Debug)]
pub(crate) struct FabricError {
    status: StatusCode,
    code: &'static str,
    message: String,
    related: Option<(String, &'static str)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    request_id: &'a str,
    error_code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    related_resource: Option<Related<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Related<'a> {
    resource_id: &'a str,
    resource_type: &'a str,
}

impl FabricError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            related: None,
        }
    }

    /// 401 `InvalidToken`: what Fabric answers for a bearer that is not a valid access
    /// token for it (seed 001: an authorization code sent as the bearer).
    pub(crate) fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidToken",
            "Access token is invalid",
        )
    }

    /// 403 `InsufficientScopes`: a delegated token without any of the endpoint's scopes.
    pub(crate) fn insufficient_scopes() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "InsufficientScopes",
            "The caller does not have sufficient scopes to perform this operation",
        )
    }

    /// 404 `WorkspaceNotFound`, for an unknown workspace or one the caller has no role in.
    pub(crate) fn workspace_not_found(id: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "WorkspaceNotFound",
            "The provided workspace was not found.",
        );
        if uuid::Uuid::try_parse(id).is_ok() {
            e.related = Some((id.to_ascii_lowercase(), "Workspace"));
        }
        e
    }

    /// 400 `InvalidItemType`.
    pub(crate) fn invalid_item_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidItemType",
            "Item type is invalid",
        )
    }

    /// 400 for a `continuationToken` this listing did not issue.
    pub(crate) fn invalid_continuation_token() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidContinuationToken",
            "The continuation token is invalid",
        )
    }

    /// 403 for a request a web browser sent (or one for a host this emulator is not).
    pub(crate) fn refused_request() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "RequestDenied",
            "The local Fabric API refuses browser requests and unknown hosts",
        )
    }

    /// 404 for a path the local Fabric API does not serve.
    pub(crate) fn not_served() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "EntityNotFound",
            "The requested resource could not be found.",
        )
    }
}

impl IntoResponse for FabricError {
    fn into_response(self) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let body = Body {
            request_id: &request_id,
            error_code: self.code,
            message: &self.message,
            related_resource: self.related.as_ref().map(|(id, kind)| Related {
                resource_id: id,
                resource_type: kind,
            }),
        };
        let json = serde_json::to_string(&body).unwrap_or_default();
        let mut resp = (self.status, json).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("requestid", v);
        }
        h.insert(
            "x-ms-public-api-error-code",
            HeaderValue::from_static(self.code),
        );
        h.insert(
            "access-control-expose-headers",
            HeaderValue::from_static("RequestId"),
        );
        resp
    }
}
