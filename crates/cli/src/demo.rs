//! `entra demo`: the user scenarios end to end against an emulator started in this
//! process (temporary directory, free port, no network, no setup), each step through the
//! real libraries: entra-identity gets the tokens, entra-validate guards an API, and a
//! scripted stand-in browser (the emulator's test helpers) signs the user in. A table of
//! step, result and time is printed; `--json` prints the same as data.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use entra_identity::{
    Account, ClientOptions, ClientSecretCredential, DeviceCodeInfo, Env, InteractiveOptions,
    ManagedIdentityCredential, ManagedIdentityId, ManagedIdentityOptions, OnBehalfOfCredential,
    PublicClient, Secret, TokenCredential, TokenRequest,
};
use entra_testkit::{Browser, Harness, enter_device_code, query_param, sign_in};
use serde_json::{Value, json};

use crate::{EXIT_FAILURE, emulator::wait_for_stop_signal};

use entra_testkit::dev::{API, DAEMON, DAEMON_SECRET, PUBLIC_CLIENT as PUBLIC, TENANT, TENANT_ID};

/// The other tenant of the development directory.
const FABRIKAM_ID: &str = "fab00000-0000-4000-8000-000000000002";
/// The web API that calls contoso-api on the user's behalf.
const WEB: &str = "e0000000-0000-4000-8000-0000000000e1";
const ALICE: (&str, &str) = (
    entra_testkit::dev::ALICE,
    entra_testkit::dev::ALICE_PASSWORD,
);

/// Flags of `entra demo`.
#[derive(clap::Args)]
#[command(after_help = "\
Runs, against an emulator started inside this process (nothing to install, no network):
  1. a service principal's token (client credentials)
  2. a browser sign-in with PKCE (the browser is automated)
  3. a device-code sign-in (the code is entered by the automated browser)
  4. a silent refresh, with refresh-token rotation
  5. on-behalf-of: a web API exchanges the user's token for one to a downstream API
  6. managed identity (the App Service protocol)
  7. the token broker: three managed-identity clients share one upstream token through
     it, and a caller asking beyond its policy gets a 403
  8. a protected API validating tokens: 200, the 403 for a missing scope, the 403 for an
     X-Tenant-ID that is not the token's tenant
  9. the classic mistake: an authorization code sent as a bearer token, caught and explained

Exit code: 0 when every step did what it should, 1 otherwise.

Examples:
  entra demo
  entra demo --json | jq '.steps[] | select(.ok | not)'
  entra demo --keep-running   # then point curl, MSAL or azure-identity at it")]
pub(crate) struct DemoArgs {
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// Keep the emulator running after the steps (until Ctrl-C) and print how to reach it.
    #[arg(long)]
    keep_running: bool,
}

/// What steps hand to later steps.
#[derive(Default)]
struct Shared {
    account: Option<Account>,
    user_token: Option<Secret>,
}

struct Ctx {
    h: Harness,
    shared: Mutex<Shared>,
    public: PublicClient,
}

impl Ctx {
    fn options(&self) -> ClientOptions {
        ClientOptions::for_emulator(&self.h.ready().authority, &self.h.ready().ca_file)
    }
}

/// A step's future: its one-line detail, or why it failed.
type StepFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send>>;
type StepFn = fn(Arc<Ctx>) -> StepFuture;

const STEPS: [(&str, StepFn); 9] = [
    ("Service principal token", |c| {
        Box::pin(service_principal(c))
    }),
    ("Browser sign-in with PKCE", |c| {
        Box::pin(browser_sign_in(c))
    }),
    ("Device code sign-in", |c| Box::pin(device_code(c))),
    ("Silent refresh, rotation", |c| Box::pin(silent_refresh(c))),
    ("On-behalf-of", |c| Box::pin(on_behalf_of(c))),
    ("Managed identity", |c| Box::pin(managed_identity(c))),
    ("Token broker", |c| Box::pin(token_broker(c))),
    ("Protected API", |c| Box::pin(protected_api(c))),
    ("Code sent as a bearer", |c| Box::pin(code_as_bearer(c))),
];

pub(crate) fn run(args: DemoArgs) -> ExitCode {
    let runtime = match crate::term::multi_thread_runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> ExitCode {
    let started = Instant::now();
    let h = match start_emulator().await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: the emulator did not start: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let public = {
        let options = ClientOptions::for_emulator(&h.ready().authority, &h.ready().ca_file);
        match PublicClient::new(TENANT, PUBLIC, options) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    };
    let authority = h.ready().authority.clone();
    let ctx = Arc::new(Ctx {
        h,
        shared: Mutex::new(Shared::default()),
        public,
    });
    if !args.json {
        println!(
            "entra demo: the user scenarios against an emulator in this process ({authority}, started in {} ms)\n",
            started.elapsed().as_millis()
        );
        println!("  #  {:<27} {:<6} {:>8}  detail", "step", "result", "time");
    }
    let mut results = Vec::new();
    for (i, (name, step)) in STEPS.iter().enumerate() {
        let t = Instant::now();
        // Each step in its own task: a step that panics is a failed step, not a crash.
        let outcome = match tokio::spawn(step(ctx.clone())).await {
            Ok(r) => r,
            Err(e) => Err(panic_text(e)),
        };
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if !args.json {
            let (mark, detail) = match &outcome {
                Ok(d) => ("ok", d.as_str()),
                Err(e) => ("FAILED", e.as_str()),
            };
            println!("  {}  {name:<27} {mark:<6} {:>5.0} ms  {detail}", i + 1, ms);
        }
        results.push(json!({
            "step": i + 1,
            "name": name,
            "ok": outcome.is_ok(),
            "ms": (ms * 10.0).round() / 10.0,
            "detail": match &outcome { Ok(d) => d, Err(e) => e },
        }));
    }
    let failed = results.iter().filter(|r| r["ok"] == false).count();
    let total = started.elapsed();
    if args.json {
        println!(
            "{}",
            json!({"authority": authority, "steps": results, "failed": failed, "total_ms": total.as_millis()})
        );
    } else {
        println!(
            "\n{} of {} steps ok in {:.1} s{}",
            STEPS.len() - failed,
            STEPS.len(),
            total.as_secs_f64(),
            if failed == 0 {
                ""
            } else {
                " (see the FAILED lines)"
            }
        );
    }
    let Ok(ctx) = Arc::try_unwrap(ctx) else {
        return ExitCode::from(EXIT_FAILURE);
    };
    if args.keep_running {
        eprintln!("\nThe emulator keeps running; point clients at it:");
        for (k, v) in ctx.h.ready().environment() {
            eprintln!("  export {k}={}", crate::emulator::shell_quote(&v));
        }
        eprintln!("Ctrl-C stops it (and deletes its temporary directory).");
        wait_for_stop_signal().await;
    }
    ctx.h.stop().await;
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}

/// An emulator in a temporary directory with a 1-second device-code interval (so the
/// device-code step does not sit through Entra's usual 5 seconds).
async fn start_emulator() -> Result<Harness, String> {
    let dir = std::env::temp_dir().join(format!("entra-demo-{}", uuid_like()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (mut directory, _, _) =
        entra_emulator::directory::load(None, &dir).map_err(|e| e.to_string())?;
    directory.settings.device_code_interval_seconds = 1;
    let file = dir.join("directory.toml");
    std::fs::write(&file, directory.to_toml()).map_err(|e| e.to_string())?;
    let harness = tokio::spawn(async move {
        Harness::start_with(entra_emulator::Options {
            config: Some(file),
            ..Default::default()
        })
        .await
    })
    .await
    .map_err(panic_text);
    let _ = std::fs::remove_dir_all(&dir);
    harness
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}

fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the step panicked".into()),
        Err(e) => e.to_string(),
    }
}

fn claims(token: &Secret) -> serde_json::Map<String, Value> {
    entra_jose::decode_unverified(token.expose())
        .map(|t| t.claims)
        .unwrap_or_default()
}

fn minutes(expires_on: i64) -> i64 {
    (expires_on - entra_identity::token::now()) / 60
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

// --- The steps --------------------------------------------------------------------

async fn service_principal(ctx: Arc<Ctx>) -> Result<String, String> {
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

async fn browser_sign_in(ctx: Arc<Ctx>) -> Result<String, String> {
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
        let back = sign_in(&mut b, &url, ALICE.0, ALICE.1, "accept").await;
        let page = b.get(&back).await;
        Ok::<_, String>(page.status().as_u16())
    };
    let (signed_in, shown) =
        tokio::join!(ctx.public.sign_in_interactive(&request, &options), browser);
    let signed_in = signed_in.map_err(err)?;
    let status = shown?;
    let c = claims(&signed_in.token.token);
    ctx.shared.lock().expect("demo state").account = Some(signed_in.account.clone());
    Ok(format!(
        "{} signed in via the loopback listener (page {status}); scp {}; PKCE S256, state and nonce checked",
        signed_in.account.username,
        c.get("scp").and_then(Value::as_str).unwrap_or("?")
    ))
}

async fn device_code(ctx: Arc<Ctx>) -> Result<String, String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DeviceCodeInfo>();
    let on_code = move |i: &DeviceCodeInfo| {
        let _ = tx.send(i.clone());
    };
    let client = PublicClient::new(TENANT, PUBLIC, ctx.options()).map_err(err)?;
    let request = TokenRequest::new(["api://contoso-api/Data.Read"]);
    let typed = async {
        let info = rx.recv().await.ok_or("no device code")?;
        let mut b = Browser::new(&ctx.h);
        enter_device_code(
            &mut b,
            &info.user_code,
            "bob@contoso.onmicrosoft.com",
            "bob-dev-password",
            "accept",
        )
        .await;
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

async fn silent_refresh(ctx: Arc<Ctx>) -> Result<String, String> {
    let account = ctx
        .shared
        .lock()
        .expect("demo state")
        .account
        .clone()
        .ok_or("needs the browser sign-in (step 2)")?;
    let before = ctx.h.counter("grant:refresh_token").await;
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
    let refreshes = ctx.h.counter("grant:refresh_token").await - before;
    ctx.shared.lock().expect("demo state").user_token = Some(web.token.clone());
    Ok(format!(
        "Data.Write (scp {}) and a token for the web API, {refreshes} refresh grants, no user interaction; the rotated refresh token was used",
        claims(&write.token)
            .get("scp")
            .and_then(Value::as_str)
            .unwrap_or("?")
    ))
}

async fn on_behalf_of(ctx: Arc<Ctx>) -> Result<String, String> {
    let user = ctx
        .shared
        .lock()
        .expect("demo state")
        .user_token
        .clone()
        .ok_or("needs the user's token for the web API (step 4)")?;
    let obo = OnBehalfOfCredential::with_secret(TENANT, WEB, "web-dev-secret", ctx.options())
        .map_err(err)?;
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

async fn managed_identity(ctx: Arc<Ctx>) -> Result<String, String> {
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

/// A broker holding the daemon app's credentials: three unmodified managed-identity
/// clients (App Service protocol) share one upstream token; a caller allowed only
/// `api://contoso-api` is refused Graph.
async fn token_broker(ctx: Arc<Ctx>) -> Result<String, String> {
    use entra_broker::{BrokerConfig, CallerConfig, IdentityConfig, IdentityKind};
    let ready = ctx.h.ready();
    let secret = entra_broker::policy::generate_secret();
    let mut config = BrokerConfig::default();
    config.broker.listen = "127.0.0.1:0".into();
    config.broker.audit_log = Some("off".into());
    config.broker.threads = Some(0);
    config.identities.push(IdentityConfig {
        tenant: Some(TENANT_ID.into()),
        authority: Some(ready.authority.clone()),
        ca_file: Some(ready.ca_file.clone().into()),
        ..IdentityConfig::new("daemon", IdentityKind::EmulatorDev)
    });
    config.callers.push(CallerConfig {
        secret: Some(secret.clone().into()),
        danger_allow_secret_in_config: true,
        identities: vec!["daemon".into()],
        resources: vec!["api://contoso-api".into()],
        ..CallerConfig::new("billing")
    });
    let broker = entra_broker::start(config, Default::default())
        .await
        .map_err(err)?;
    let env = Env::new()
        .with("IDENTITY_ENDPOINT", broker.identity_endpoint())
        .with("IDENTITY_HEADER", secret.clone());
    let client = || {
        ManagedIdentityCredential::new(
            ManagedIdentityId::System,
            ManagedIdentityOptions {
                env: Some(env.clone()),
                ..Default::default()
            },
        )
    };
    let before = ctx.h.counter("grant:client_credentials").await;
    let result = async {
        let mut audiences = Vec::new();
        for _ in 0..3 {
            let t = client()
                .map_err(err)?
                .get_token(&TokenRequest::new(["api://contoso-api/.default"]))
                .await
                .map_err(err)?;
            let c = claims(&t.token);
            audiences.push(c.get("azp").or(c.get("appid")).and_then(Value::as_str).map(str::to_string));
        }
        if audiences.iter().any(|a| a.as_deref() != Some(DAEMON)) {
            return Err(format!("the broker's tokens are not the daemon app's: {audiences:?}"));
        }
        let refused = client()
            .map_err(err)?
            .get_token(&TokenRequest::new(["https://graph.microsoft.com/.default"]))
            .await;
        let why = match refused {
            Ok(_) => return Err("the broker gave a Graph token to a caller limited to api://contoso-api".into()),
            Err(e) => e.to_string(),
        };
        if !why.contains("may not have tokens for resource") {
            return Err(format!("the refusal does not say why: {why}"));
        }
        // What reached the authority, by its own count.
        let upstream = ctx.h.counter("grant:client_credentials").await - before;
        Ok(format!(
            "3 managed-identity clients (App Service protocol) shared the daemon app's token through the broker ({upstream} upstream request); a caller limited to api://contoso-api asking for Graph got 403"
        ))
    }
    .await;
    broker.shutdown().await;
    result
}

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
        .audience("api://contoso-api")
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

async fn call(
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
        .body(axum::body::Body::empty())
        .expect("a valid request");
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

async fn protected_api(ctx: Arc<Ctx>) -> Result<String, String> {
    let app = api(&ctx)?;
    let account = ctx
        .shared
        .lock()
        .expect("demo state")
        .account
        .clone()
        .ok_or("needs the browser sign-in (step 2)")?;
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
    let expect = |what: &str, got: &(u16, String), status: u16, needle: &str| {
        if got.0 == status && got.1.contains(needle) {
            Ok(())
        } else {
            Err(format!(
                "{what}: expected {status} with {needle:?}, got {} {:?}",
                got.0, got.1
            ))
        }
    };
    expect("the owner", &ok, 200, "")?;
    expect("a missing scope", &scope, 403, "scope=\"Data.Write\"")?;
    expect(
        "another tenant's X-Tenant-ID",
        &tenant,
        403,
        "insufficient_scope",
    )?;
    Ok("200 for a good token; 403 insufficient_scope naming Data.Write; 403 when X-Tenant-ID is another tenant".into())
}

async fn code_as_bearer(ctx: Arc<Ctx>) -> Result<String, String> {
    // A real authorization code, as a browser would bring back to an app...
    let authorize = format!(
        "{}/{TENANT}/oauth2/v2.0/authorize?client_id={PUBLIC}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A8400&scope=api%3A%2F%2Fcontoso-api%2FData.Read&state=demo",
        ctx.h.ready().authority
    );
    let mut b = Browser::new(&ctx.h);
    let back = sign_in(&mut b, &authorize, ALICE.0, ALICE.1, "accept").await;
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
