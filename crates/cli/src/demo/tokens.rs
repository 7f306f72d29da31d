//! Steps 1 to 6 of `entra demo`: tokens through entra-identity's credentials (client
//! credentials, a browser sign-in with PKCE, a device code, a silent refresh, on-behalf-of,
//! managed identity), each against the demo's emulator.

use std::sync::Arc;
use std::time::Duration;

use entra_identity::{
    ClientSecretCredential, DeviceCodeInfo, Env, InteractiveOptions, ManagedIdentityCredential,
    ManagedIdentityId, ManagedIdentityOptions, OnBehalfOfCredential, PublicClient, TokenCredential,
    TokenRequest,
};
use serde_json::Value;

use super::context::{Ctx, claims, err, minutes};
use super::driver::{Browser, enter_device_code, sign_in};
use crate::dev::{ALICE, BOB, DAEMON, DAEMON_SECRET, PUBLIC_CLIENT, TENANT, WEB, WEB_SECRET};

pub(super) async fn service_principal(ctx: Arc<Ctx>) -> Result<String, String> {
    let cred =
        ClientSecretCredential::new(TENANT, DAEMON, DAEMON_SECRET, ctx.options()).map_err(err)?;
    let t = cred
        .get_token(&TokenRequest::new(["api://contoso-api/.default"]))
        .await
        .map_err(err)?;
    let c = claims(&t.token);
    let again = cred
        .get_token(&TokenRequest::new(["api://contoso-api/.default"]))
        .await
        .map_err(err)?;
    if again.token != t.token {
        return Err("the second call was not served from the cache".into());
    }
    let roles: Vec<&str> = c
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Ok(format!(
        "app token for api://contoso-api (roles {}), {} min left; the second call came from the cache",
        roles.join(", "),
        minutes(t.expires_on)
    ))
}

pub(super) async fn browser_sign_in(ctx: Arc<Ctx>) -> Result<String, String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let options = InteractiveOptions {
        timeout: Duration::from_secs(30),
        open_browser: false,
        on_url: Some(Arc::new(move |url: &str| {
            let _ = tx.send(url.to_string());
        })),
        ..Default::default()
    };
    let request = TokenRequest::new(["api://contoso-api/Data.Read"]);
    let browser = async {
        let url = rx.recv().await.ok_or("no sign-in URL")?;
        if !url.contains("code_challenge_method=S256") {
            return Err("the sign-in URL has no PKCE challenge".to_string());
        }
        let mut b = Browser::new(&ctx.h);
        let back = sign_in(&mut b, &url, ALICE.0, ALICE.1).await?;
        let page = b.get(&back).await?;
        Ok::<_, String>(page.status)
    };
    let (signed_in, shown) =
        tokio::join!(ctx.public.sign_in_interactive(&request, &options), browser);
    let signed_in = signed_in.map_err(err)?;
    let status = shown?;
    let c = claims(&signed_in.token.token);
    ctx.shared().account = Some(signed_in.account.clone());
    Ok(format!(
        "{} signed in via the loopback listener (page {status}); scp {}; PKCE S256, state and nonce checked",
        signed_in.account.username,
        c.get("scp").and_then(Value::as_str).unwrap_or("?")
    ))
}

pub(super) async fn device_code(ctx: Arc<Ctx>) -> Result<String, String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DeviceCodeInfo>();
    let on_code = move |i: &DeviceCodeInfo| {
        let _ = tx.send(i.clone());
    };
    let client = PublicClient::new(TENANT, PUBLIC_CLIENT, ctx.options()).map_err(err)?;
    let request = TokenRequest::new(["api://contoso-api/Data.Read"]);
    let typed = async {
        let info = rx.recv().await.ok_or("no device code")?;
        let mut b = Browser::new(&ctx.h);
        enter_device_code(&mut b, &info.user_code, BOB.0, BOB.1).await?;
        Ok::<_, String>(info.user_code)
    };
    let (signed_in, code) = tokio::join!(
        client.sign_in_with_device_code(
            &request,
            &on_code,
            tokio::time::sleep(Duration::from_secs(60))
        ),
        typed
    );
    let signed_in = signed_in.map_err(err)?;
    Ok(format!(
        "code {} entered in the browser; {} signed in while the CLI polled",
        code?, signed_in.account.username
    ))
}

pub(super) async fn silent_refresh(ctx: Arc<Ctx>) -> Result<String, String> {
    let account = ctx.account()?;
    let before = ctx.h.counter("grant:refresh_token").await?;
    let write = ctx
        .public
        .get_token_silent(
            &account,
            &TokenRequest::new(["api://contoso-api/Data.Write"]),
        )
        .await
        .map_err(err)?;
    // The first refresh rotated the refresh token; a second refresh works only with the
    // new one (the emulator, like Entra, revokes the family when an old one is replayed).
    let web = ctx
        .public
        .get_token_silent(
            &account,
            &TokenRequest::new(["api://contoso-web/access_as_user"]),
        )
        .await
        .map_err(err)?;
    let refreshes = ctx.h.counter("grant:refresh_token").await? - before;
    ctx.shared().user_token = Some(web.token.clone());
    Ok(format!(
        "Data.Write (scp {}) and a token for the web API, {refreshes} refresh grants, no user interaction; the rotated refresh token was used",
        claims(&write.token)
            .get("scp")
            .and_then(Value::as_str)
            .unwrap_or("?")
    ))
}

pub(super) async fn on_behalf_of(ctx: Arc<Ctx>) -> Result<String, String> {
    let user = ctx
        .shared()
        .user_token
        .clone()
        .ok_or("needs the user's token for the web API (step 4)")?;
    let obo =
        OnBehalfOfCredential::with_secret(TENANT, WEB, WEB_SECRET, ctx.options()).map_err(err)?;
    let t = obo
        .get_token_for(&user, &TokenRequest::new(["api://contoso-api/Data.Read"]))
        .await
        .map_err(err)?;
    let c = claims(&t.token);
    if c.get("azp").and_then(Value::as_str) != Some(WEB) {
        return Err("the downstream token does not name the web API as its client".into());
    }
    Ok(format!(
        "the web API got a token for contoso-api as {} (azp = the web API, scp {})",
        c.get("preferred_username")
            .and_then(Value::as_str)
            .unwrap_or("?"),
        c.get("scp").and_then(Value::as_str).unwrap_or("?")
    ))
}

pub(super) async fn managed_identity(ctx: Arc<Ctx>) -> Result<String, String> {
    let mut env = Env::new();
    for (k, v) in ctx.h.ready().environment() {
        env = env.with(k, v);
    }
    let cred = ManagedIdentityCredential::new(
        ManagedIdentityId::System,
        ManagedIdentityOptions {
            client: ctx.options(),
            env: Some(env),
            ..Default::default()
        },
    )
    .map_err(err)?;
    let t = cred
        .get_token(&TokenRequest::new(["api://contoso-api/.default"]))
        .await
        .map_err(err)?;
    let c = claims(&t.token);
    Ok(format!(
        "App Service protocol (IDENTITY_ENDPOINT + X-IDENTITY-HEADER): token for {} as the system-assigned identity {}",
        c.get("aud").and_then(Value::as_str).unwrap_or("?"),
        c.get("oid").and_then(Value::as_str).unwrap_or("?")
    ))
}
