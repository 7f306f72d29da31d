//! The route table: every endpoint, the browser guard and admin guard where they apply,
//! and Entra-shaped answers for axum's own rejections.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::body_limit::{self, MAX_BODY_BYTES};
use crate::state::AppState;
use crate::{
    admin, authorize, browser_guard, discovery, errors, grants, managed_identity, recorder,
};

/// Extractor rejections (a body over the limit) come back from axum as plain text; give
/// them Entra's error shape like every other failure.
async fn entra_shaped_rejections(resp: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let plain = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !plain || !(resp.status().is_client_error() || resp.status().is_server_error()) {
        return resp;
    }
    let status = resp.status();
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return body_limit::body_too_large_response();
    }
    errors::EntraError::new(
        "invalid_request",
        9002313,
        "Invalid request. Request is malformed or invalid.",
    )
    .status(status)
    .into_response()
}

/// All routes.
// One route table, read as a whole: it is long because the emulator has many endpoints.
pub(crate) fn router(state: AppState) -> Router {
    // The browser guard runs first, and also for methods a route does not have (a CORS
    // preflight is refused by it, not answered 405).
    let admin = admin::router()
        .merge(recorder::router())
        .merge(crate::dashboard::admin_router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            browser_guard::admin,
        ));
    let managed_identity = Router::new()
        .route(
            "/metadata/identity/oauth2/token",
            get(managed_identity::imds),
        )
        // msal-node (and so @azure/identity for Node) asks with a trailing slash.
        .route(
            "/metadata/identity/oauth2/token/",
            get(managed_identity::imds),
        )
        .route("/msi/token", get(managed_identity::app_service))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            browser_guard::managed_identity,
        ));
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery::openid_configuration_v1),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys_v2))
        .route("/{tenant}/discovery/keys", get(discovery::keys_v1))
        .route(
            "/common/discovery/instance",
            get(discovery::instance_discovery),
        )
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::authorize_v2).post(authorize::authorize_v2),
        )
        .route("/{tenant}/oauth2/authorize", get(authorize::authorize_v1))
        .route("/{tenant}/oauth2/v2.0/token", post(grants::token_v2))
        .route("/{tenant}/oauth2/token", post(grants::token_v1))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(authorize::devicecode),
        )
        .route("/{tenant}/oauth2/devicecode", post(authorize::devicecode))
        .route("/{tenant}/oauth2/v2.0/logout", get(authorize::logout))
        .route("/{tenant}/oauth2/logout", get(authorize::logout))
        .route(
            "/oidc/userinfo",
            get(discovery::userinfo).post(discovery::userinfo),
        )
        .route("/login", post(authorize::login))
        .route("/mfa", post(authorize::mfa))
        .route("/consent", post(authorize::consent))
        .route("/select", post(authorize::select))
        .route(
            "/devicelogin",
            get(authorize::devicelogin_page).post(authorize::devicelogin_submit),
        )
        .route("/device/confirm", post(authorize::device_confirm))
        .merge(managed_identity)
        .route(
            "/federation/.well-known/openid-configuration",
            get(discovery::federation_configuration),
        )
        .route("/federation/keys", get(discovery::federation_keys))
        .nest("/admin", admin)
        .merge(crate::dashboard::router())
        .route("/common/userrealm/{user}", get(discovery::user_realm))
        .merge(crate::services::router())
        .fallback(discovery::not_found)
        .layer(axum::middleware::map_response(entra_shaped_rejections))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
