//! Steps 10 and 11 of `entra demo`: Microsoft Fabric and Power BI served by the demo's
//! emulator (`/fabric`, `/powerbi`: what the proxy of `entra up` maps
//! api.fabric.microsoft.com and api.powerbi.com to), and seed 001's mistake against
//! Fabric: the authorization code sent as the bearer, Fabric's exact 401, then the fix.

use std::sync::Arc;

use entra_identity::http::{HttpClient as _, ReqwestClient, form_post, get};
use entra_identity::{ClientSecretCredential, TokenCredential as _, TokenRequest};
use serde_json::Value;

use super::context::{Ctx, err};
use super::driver::{Browser, query_param, sign_in};
use crate::dev::{ALICE, DAEMON, DAEMON_SECRET, PUBLIC_CLIENT, TENANT};

/// Fabric's delegated scope for reading workspaces.
const WORKSPACE_READ: &str = "https://api.fabric.microsoft.com/Workspace.Read.All";

/// At most this many pages are followed (the demo's lists have two or three).
const MAX_PAGES: usize = 10;

/// GET `url` with `bearer`: status and JSON body (`Null` when the body is not JSON).
async fn call(ctx: &Ctx, url: &str, bearer: &str) -> Result<(u16, Value, String), String> {
    let ca = std::path::PathBuf::from(&ctx.h.ready().ca_file);
    let client = ReqwestClient::new(Some(&ca)).map_err(err)?;
    let auth = format!("Bearer {bearer}");
    let request = get(url, &[("authorization", auth.as_str())]).map_err(err)?;
    let response = client.send(request).await?;
    let text = String::from_utf8_lossy(response.body()).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok((response.status().as_u16(), body, text))
}

/// Every entry of a Fabric list, following `continuationUri`: (names, pages).
async fn list_all(ctx: &Ctx, url: &str, bearer: &str) -> Result<(Vec<String>, usize), String> {
    let mut names = Vec::new();
    let mut next = Some(url.to_string());
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(format!("{url}: more than {MAX_PAGES} pages"));
        }
        let (status, body, text) = call(ctx, &url, bearer).await?;
        if status != 200 {
            return Err(format!("{url}: HTTP {status} {text}"));
        }
        for entry in body["value"].as_array().into_iter().flatten() {
            let name = entry["displayName"].as_str().or(entry["name"].as_str());
            names.push(name.unwrap_or("?").to_string());
        }
        next = body["continuationUri"].as_str().map(str::to_string);
    }
    Ok((names, pages))
}

pub(super) async fn fabric_and_power_bi(ctx: Arc<Ctx>) -> Result<String, String> {
    let fabric = ctx.h.url("/fabric/v1/workspaces");
    // Alice, silently through step 2's account: the workspaces she has a role in.
    let account = ctx.account()?;
    let user = ctx
        .public
        .get_token_silent(&account, &TokenRequest::new([WORKSPACE_READ]))
        .await
        .map_err(err)?;
    let (mine, pages) = list_all(&ctx, &fabric, user.token.expose()).await?;
    // The daemon, app-only: only the workspaces it is a member of, in Fabric and Power BI.
    let cred =
        ClientSecretCredential::new(TENANT, DAEMON, DAEMON_SECRET, ctx.options()).map_err(err)?;
    let app = cred
        .get_token(&TokenRequest::new([
            "https://analysis.windows.net/powerbi/api/.default",
        ]))
        .await
        .map_err(err)?;
    let (daemon, _) = list_all(&ctx, &fabric, app.token.expose()).await?;
    let groups_url = ctx.h.url("/powerbi/v1.0/myorg/groups");
    let (groups, _) = list_all(&ctx, &groups_url, app.token.expose()).await?;
    if mine.len() < 2 || daemon.is_empty() || groups != daemon {
        return Err(format!(
            "unexpected lists: alice {mine:?}, daemon {daemon:?}, Power BI groups {groups:?}"
        ));
    }
    Ok(format!(
        "alice: {} Fabric workspaces in {pages} pages (continuationUri); the daemon (app-only) only its own: {}; Power BI groups the same",
        mine.len(),
        daemon.join(", ")
    ))
}

pub(super) async fn code_sent_to_fabric(ctx: Arc<Ctx>) -> Result<String, String> {
    // Seed 001: the app sends the user to sign in for Fabric's scopes...
    let redirect = "http://localhost:8400";
    let authorize = format!(
        "{}/{TENANT}/oauth2/v2.0/authorize?client_id={PUBLIC_CLIENT}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A8400&scope=https%3A%2F%2Fapi.fabric.microsoft.com%2FWorkspace.Read.All%20offline_access&state=demo",
        ctx.h.ready().authority
    );
    let mut b = Browser::new(&ctx.h);
    let back = sign_in(&mut b, &authorize, ALICE.0, ALICE.1).await?;
    let code = query_param(&back, "code").ok_or("the sign-in returned no code")?;
    // ...and sends the code it got back to Fabric as the bearer.
    let fabric = ctx.h.url("/fabric/v1/workspaces");
    let (status, body, text) = call(&ctx, &fabric, &code).await?;
    if status != 401 || body["errorCode"] != "InvalidToken" || text.contains(&code) {
        return Err(format!(
            "expected Fabric's 401 InvalidToken, got {status} {text}"
        ));
    }
    // The fix: redeem the code at the token endpoint, send the access token.
    let token_url = ctx.h.url(&format!("/{TENANT}/oauth2/v2.0/token"));
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", PUBLIC_CLIENT),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
    ];
    let ca = std::path::PathBuf::from(&ctx.h.ready().ca_file);
    let client = ReqwestClient::new(Some(&ca)).map_err(err)?;
    let answer = client
        .send(form_post(&token_url, &form).map_err(err)?)
        .await?;
    let tokens: Value = serde_json::from_slice(answer.body()).map_err(err)?;
    let access = tokens["access_token"]
        .as_str()
        .ok_or("the code exchange returned no access_token")?;
    let (names, _) = list_all(&ctx, &fabric, access).await?;
    Ok(format!(
        "the code as bearer: 401 {{\"errorCode\":\"InvalidToken\",\"message\":\"{}\"}}, Fabric's own answer (a code is a one-time ticket for the token endpoint, not a token); redeemed first: 200, {} workspaces",
        body["message"].as_str().unwrap_or("?"),
        names.len()
    ))
}
