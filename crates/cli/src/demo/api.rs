//! Steps 8 and 9 of `entra demo`: an API behind entra-validate (scopes, X-Tenant-ID),
//! and the classic mistake of sending an authorization code as a bearer token.

use std::sync::Arc;

use entra_identity::TokenRequest;

use super::context::{Ctx, err};
use super::driver::{Browser, query_param, sign_in};
use crate::dev::{ALICE, API, API_URI, FABRIKAM_ID, PUBLIC_CLIENT, TENANT, TENANT_ID};

/// The API of the seed scenario: `GET /account/me` needs a token of the tenant named in
/// `X-Tenant-ID`; `POST /data` needs the `Data.Write` scope.
fn api(ctx: &Ctx) -> Result<axum::Router, String> {
    use entra_validate::{
        Authority, EntraAuthLayer, Principal, RequireLayer, Requirement, Validator, ValidatorConfig,
    };
    let config = ValidatorConfig::builder()
        .authority(Authority::custom(&ctx.h.ready().authority))
        .tenant(TENANT_ID)
        .audience(API)
        .audience(API_URI)
        .tenant_header("X-Tenant-ID")
        .extra_ca_file(&ctx.h.ready().ca_file)
        .build()
        .map_err(err)?;
    async fn me(p: Principal) -> String {
        p.username().unwrap_or("?").to_string()
    }
    Ok(axum::Router::new()
        .route("/account/me", axum::routing::get(me))
        .route(
            "/data",
            axum::routing::post(me).layer(RequireLayer::new(Requirement::scope("Data.Write"))),
        )
        .layer(EntraAuthLayer::new(Validator::new(config))))
}

pub(super) async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    bearer: &str,
    tenant: &str,
) -> (u16, String) {
    use tower::ServiceExt;
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {bearer}"))
        .header("x-tenant-id", tenant)
        .body(axum::body::Body::empty());
    let request = match request {
        Ok(r) => r,
        Err(e) => return (0, e.to_string()),
    };
    match app.clone().oneshot(request).await {
        Ok(resp) => {
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            (resp.status().as_u16(), challenge)
        }
        Err(e) => (0, e.to_string()),
    }
}

pub(super) async fn protected_api(ctx: Arc<Ctx>) -> Result<String, String> {
    let app = api(&ctx)?;
    let account = ctx.account()?;
    let read = ctx
        .public
        .get_token_silent(
            &account,
            &TokenRequest::new(["api://contoso-api/Data.Read"]),
        )
        .await
        .map_err(err)?;
    let token = read.token.expose();
    let ok = call(&app, "GET", "/account/me", token, TENANT_ID).await;
    let scope = call(&app, "POST", "/data", token, TENANT_ID).await;
    let tenant = call(&app, "GET", "/account/me", token, FABRIKAM_ID).await;
    let want = |what: &str, got: &(u16, String), status: u16, needle: &str| {
        if got.0 == status && got.1.contains(needle) {
            Ok(())
        } else {
            Err(format!(
                "{what}: expected {status} with {needle:?}, got {} {:?}",
                got.0, got.1
            ))
        }
    };
    want("the owner", &ok, 200, "")?;
    want("a missing scope", &scope, 403, "scope=\"Data.Write\"")?;
    want(
        "another tenant's X-Tenant-ID",
        &tenant,
        403,
        "insufficient_scope",
    )?;
    Ok("200 for a good token; 403 insufficient_scope naming Data.Write; 403 when X-Tenant-ID is another tenant".into())
}

pub(super) async fn code_as_bearer(ctx: Arc<Ctx>) -> Result<String, String> {
    // A real authorization code, as a browser would bring back to an app...
    let authorize = format!(
        "{}/{TENANT}/oauth2/v2.0/authorize?client_id={PUBLIC_CLIENT}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A8400&scope=api%3A%2F%2Fcontoso-api%2FData.Read&state=demo",
        ctx.h.ready().authority
    );
    let mut b = Browser::new(&ctx.h);
    let back = sign_in(&mut b, &authorize, ALICE.0, ALICE.1).await?;
    let code = query_param(&back, "code").ok_or("the sign-in returned no code")?;
    // ...sent to the API as if it were an access token.
    let app = api(&ctx)?;
    let (status, challenge) = call(&app, "GET", "/account/me", &code, TENANT_ID).await;
    if status != 401 || !challenge.contains("authorization code") {
        return Err(format!(
            "expected a 401 naming the mistake, got {status} {challenge:?}"
        ));
    }
    if challenge.contains(&code) {
        return Err("the API echoed the code back".into());
    }
    let description = challenge
        .split("error_description=\"")
        .nth(1)
        .and_then(|d| d.split('"').next())
        .unwrap_or("");
    Ok(format!("401: \"{description}\""))
}
