//! `entra login`, `entra account list`, `entra token --credential user` and `entra
//! logout` against an in-process emulator, as a user runs them: the device code read
//! from the process's stderr and entered on the emulator's page, the browser sign-in
//! (PKCE, loopback redirect) driven from the URL it prints, then silent tokens from the
//! cache file, then signing out.

use std::process::Stdio;
use std::time::Duration;

use entra_testkit::dev::{
    ALICE, ALICE_PASSWORD, API, API_READ as DATA_READ, API_WRITE as DATA_WRITE, TENANT_ID,
};
use entra_testkit::{Browser, Harness, enter_device_code, sign_in};
use serde_json::Value;

use crate::common::{self, Entra, claims, counters, stderr, stdout};

/// The Azure CLI's well-known public client, `entra login`'s default.
const AZURE_CLI: &str = entra_identity::DEFAULT_PUBLIC_CLIENT_ID;

/// How the device code `entra login --device-code` prints gets entered.
#[derive(Clone, Copy)]
enum Enter {
    /// On the emulator's page, by the scripted browser.
    Browser,
    /// With `entra emulator approve-device-code CODE --user alice` (the admin API).
    Command,
}

/// Signs alice in with `entra login --device-code`, entering the code it prints.
async fn device_code_login(h: &Harness, e: &Entra, extra: &[&str]) -> (String, String) {
    device_code_login_entered(h, e, extra, Enter::Browser).await
}

/// [`device_code_login`], the code entered as `how` says.
async fn device_code_login_entered(
    h: &Harness,
    e: &Entra,
    extra: &[&str],
    how: Enter,
) -> (String, String) {
    let mut args = vec!["login", "--device-code"];
    args.extend_from_slice(extra);
    let mut cmd = e.command(&args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (codes, seen) = common::watch_stderr(&mut child, |line| {
        line.split_once("enter the code ")
            .map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_string())
    });
    let code = tokio::task::spawn_blocking(move || codes.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap_or_else(|_| panic!("no device code on stderr: {}", seen.lock().unwrap()));
    match how {
        Enter::Browser => {
            let page =
                enter_device_code(&mut Browser::new(h), &code, ALICE, ALICE_PASSWORD, "accept")
                    .await;
            assert!(page.contains("You have signed in"), "{page}");
        }
        Enter::Command => {
            let mut approve = common::entra(&e.dir);
            approve
                .args(["emulator", "approve-device-code", &code, "--user", "alice"])
                .arg("--state-dir")
                .arg(h.dir());
            let out = common::run(approve, None).await;
            assert_eq!(out.code, Some(0), "{out:?}");
            assert!(
                out.stdout.starts_with("Approved device code ") && out.stdout.contains(ALICE),
                "{}",
                out.stdout
            );
        }
    }
    let (status, out) = tokio::task::spawn_blocking(move || {
        let status = common::wait_bounded(&mut child, Duration::from_secs(90));
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        (status, out)
    })
    .await
    .unwrap();
    // Let the reader thread drain the last lines.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = seen.lock().unwrap().clone();
    assert!(status.success(), "{status}: {err}");
    (out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_login_then_accounts_silent_tokens_and_logout() {
    let h = Harness::start().await;
    let e = Entra::new(&h, "device");
    let (out, err) = device_code_login(&h, &e, &["--scope", DATA_READ]).await;
    assert_eq!(
        out,
        format!("Signed in as {ALICE} (tenant {TENANT_ID}, client {AZURE_CLI})\n")
    );
    // stderr: the authority's sentence, the wait (plain lines off a terminal, one every
    // 10 s, so maybe none), where the account went.
    let err: String = e
        .normalise(&err)
        .lines()
        .filter(|l| !l.starts_with("Waiting for sign-in… "))
        .map(|l| format!("{l}\n"))
        .collect();
    let code_line = err.lines().next().unwrap();
    assert!(
        code_line.starts_with(
            "To sign in, use a web browser to open the page https://EMULATOR/devicelogin and enter the code "
        ),
        "{err}"
    );
    assert_eq!(
        err,
        format!("{code_line}\nAccount and tokens kept in TMP/token-cache.bin\n")
    );

    // account list: the table, and JSON.
    let out = e.run(&["account", "list"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let home = format!("a11ce000-0000-4000-8000-000000000001.{TENANT_ID}");
    assert_eq!(
        stdout(&out),
        format!(
            "USER                           TENANT                                AUTHORITY  HOME ACCOUNT ID                                                            CLIENTS\n\
             {ALICE}  {TENANT_ID}  localhost  {home}  {AZURE_CLI} (Azure CLI)\n"
        )
    );
    let out = e.run(&["account", "list", "--json"]).await;
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        list,
        serde_json::json!([{
            "username": ALICE, "tenant_id": TENANT_ID, "home_account_id": home,
            "environment": "localhost", "local_account_id": "a11ce000-0000-4000-8000-000000000001",
            "clients": [AZURE_CLI],
        }])
    );

    // The token the sign-in got is served from the file: no request at all.
    let before = counters(&h).await;
    let out = e
        .run(&["token", "--credential", "user", "--scope", DATA_READ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let c = claims(stdout(&out).trim_end());
    assert_eq!(c["scp"], "Data.Read");
    assert_eq!(c["preferred_username"], ALICE);
    assert_eq!(counters(&h).await, before, "served from the cache file");

    // Another scope: one refresh-token redemption, then from the file too.
    let out = e
        .run(&["token", "--credential", "user", "--scope", DATA_WRITE])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(claims(stdout(&out).trim_end())["scp"], "Data.Write");
    let after_refresh = counters(&h).await;
    assert_eq!(
        after_refresh["grant:refresh_token"].as_u64().unwrap_or(0)
            - before["grant:refresh_token"].as_u64().unwrap_or(0),
        1
    );
    // The default chain finds the signed-in user when nothing else is set up.
    let out = e.run(&["token", "--scope", DATA_WRITE, "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["credential"], "SharedTokenCacheCredential");
    assert_eq!(counters(&h).await, after_refresh);

    // logout: the only account by default; then nobody, and a token needs a sign-in.
    let out = e.run(&["logout"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("Signed out {ALICE} (localhost).\n"));
    let out = e.run(&["account", "list"]).await;
    assert_eq!(
        e.normalise(&stdout(&out)),
        "No one is signed in (token cache TMP/token-cache.bin).\nSign in with `entra login`.\n"
    );
    assert_eq!(e.run(&["account", "list", "--json"]).await.stdout, "[]\n");
    let out = e
        .run(&["token", "--credential", "user", "--scope", DATA_READ])
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no account is signed in to client 04b07795"));
    h.stop().await;
}

/// How the test's browser learns the sign-in URL.
#[derive(Clone, Copy, PartialEq)]
enum Opener {
    /// `--no-browser`: from the URL entra prints on stderr.
    Printed,
    /// `$BROWSER`: a stub on PATH that writes its argument to a file.
    BrowserVariable,
}

/// Signs `user` in with `entra login`, playing the browser on the sign-in URL; returns
/// stdout and stderr.
async fn browser_login(
    h: &Harness,
    e: &Entra,
    user: &str,
    password: &str,
    opener: Opener,
) -> (String, String) {
    let opened = e.dir.join("opened-url");
    let mut cmd = match opener {
        Opener::Printed => e.command(&["login", "--no-browser", "--scope", DATA_READ]),
        Opener::BrowserVariable => {
            let stub = e.dir.join("bin/test-browser");
            std::fs::write(
                &stub,
                format!(
                    "#!/bin/sh\nprintf '%s' \"$1\" > {}.tmp && /bin/mv {0}.tmp {0}\n",
                    opened.display()
                ),
            )
            .unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            let mut cmd = e.command(&["login", "--scope", DATA_READ]);
            cmd.env("BROWSER", "test-browser");
            cmd
        }
    };
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (urls, seen) = common::watch_stderr(&mut child, |line| {
        line.trim()
            .starts_with("https://")
            .then(|| line.trim().to_string())
    });
    let printed = tokio::task::spawn_blocking(move || urls.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap_or_else(|_| panic!("no sign-in URL on stderr: {}", seen.lock().unwrap()));
    let url = match opener {
        Opener::Printed => printed,
        Opener::BrowserVariable => {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !opened.exists() && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let url = std::fs::read_to_string(&opened).expect("$BROWSER was run with the URL");
            assert_eq!(
                url, printed,
                "the printed fallback is the URL the browser got"
            );
            url
        }
    };
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(url.contains(&format!("client_id={AZURE_CLI}")), "{url}");
    let mut browser = Browser::new(h);
    let redirect = sign_in(&mut browser, &url, user, password, "accept").await;
    // The Azure CLI's registration lists http://localhost (what az sends); other apps
    // get http://127.0.0.1 (the identity crate's tests).
    assert!(redirect.starts_with("http://localhost:"), "{redirect}");
    // The browser follows the redirect to entra's one-shot listener.
    let page = browser.get(&redirect).await;
    assert!(page.status().is_success());
    let (status, out) = tokio::task::spawn_blocking(move || {
        let status = common::wait_bounded(&mut child, Duration::from_secs(60));
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        (status, out)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = seen.lock().unwrap().clone();
    assert!(status.success(), "{err}");
    (out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_logins_of_two_users_and_logout_by_name_or_all() {
    let h = Harness::start().await;
    let e = Entra::new(&h, "browser");
    let (out, err) = browser_login(&h, &e, ALICE, ALICE_PASSWORD, Opener::Printed).await;
    assert_eq!(
        out,
        format!("Signed in as {ALICE} (tenant {TENANT_ID}, client {AZURE_CLI})\n")
    );
    let err = e.normalise(&err);
    let mut lines = err.lines();
    assert_eq!(lines.next(), Some("To sign in, visit:"));
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("  https://EMULATOR/organizations/oauth2/v2.0/authorize?")
    );
    assert_eq!(
        lines.next(),
        Some("Account and tokens kept in TMP/token-cache.bin")
    );
    assert_eq!(lines.next(), None);

    // A name nobody signed in with: exit 1, naming who is.
    let out = e.run(&["logout", "bob@contoso.onmicrosoft.com"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("error: bob@contoso.onmicrosoft.com is not signed in; signed in: {ALICE}\n")
    );

    // Bob too (the Azure CLI app has admin consent: no consent page for him either).
    let bob = "bob@contoso.onmicrosoft.com";
    let (out, err) = browser_login(&h, &e, bob, "bob-dev-password", Opener::BrowserVariable).await;
    assert_eq!(
        out,
        format!("Signed in as {bob} (tenant {TENANT_ID}, client {AZURE_CLI})\n")
    );
    assert_eq!(
        err.lines().next(),
        Some("Opening a browser to sign in. If none opens, visit:")
    );
    let out = e.run(&["account", "list", "--json"]).await;
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, [ALICE, bob]);
    // Two signed in: the silent credential and a bare logout both ask which one.
    let out = e
        .run(&["token", "--credential", "user", "--scope", DATA_READ])
        .await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "pick one: a setting, not a sign-in"
    );
    assert!(
        stderr(&out).contains("2 accounts are signed in (alice@contoso.onmicrosoft.com, bob@contoso.onmicrosoft.com); set AZURE_USERNAME to choose one"),
        "{}",
        stderr(&out)
    );
    let mut as_bob = Entra::new(&h, "as-bob");
    as_bob.cache = e.cache.clone();
    as_bob.env("AZURE_USERNAME", bob);
    let out = as_bob
        .run(&["token", "--credential", "user", "--scope", DATA_READ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(claims(stdout(&out).trim_end())["preferred_username"], bob);
    let out = e.run(&["logout"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: several accounts are signed in ({ALICE}, {bob}): name one, or pass --all\n"
        )
    );

    let out = e.run(&["logout", "ALICE@contoso.onmicrosoft.com"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("Signed out {ALICE} (localhost).\n"));
    let out = e.run(&["logout", "--all"]).await;
    assert_eq!(stdout(&out), format!("Signed out {bob} (localhost).\n"));
    let out = e.run(&["logout", "--all"]).await;
    assert_eq!(
        e.normalise(&stdout(&out)),
        "No one is signed in (token cache TMP/token-cache.bin).\n"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_device_code_sign_in_exits_1_with_entras_answer() {
    let h = Harness::start().await;
    let e = Entra::new(&h, "declined");
    let mut cmd = e.command(&["login", "--device-code"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (codes, seen) = common::watch_stderr(&mut child, |line| {
        line.split_once("enter the code ")
            .map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_string())
    });
    let code = tokio::task::spawn_blocking(move || codes.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap();
    enter_device_code(
        &mut Browser::new(&h),
        &code,
        ALICE,
        ALICE_PASSWORD,
        "cancel",
    )
    .await;
    let status = tokio::task::spawn_blocking(move || {
        common::wait_bounded(&mut child, Duration::from_secs(60))
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = e.normalise(&seen.lock().unwrap());
    assert_eq!(status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("error: authorization_declined (HTTP 400): AADSTS70000:"),
        "{err}"
    );
    assert!(!e.cache.exists() || e.run(&["account", "list", "--json"]).await.stdout == "[]\n");
    h.stop().await;
}

/// The signed-in user calls an API route that demands authentication context `c1`:
/// `entra call` gets the API's claims challenge, asks the emulator for a new token with
/// those claims (its refresh token, no new sign-in), and the retry carries `acrs` and
/// passes. The API is entra-validate's middleware, in process, over loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_call_steps_up_through_an_auth_context_challenge() {
    use entra_validate::{
        Authority, EntraAuthLayer, Principal, RequireLayer, Requirement, Validator, ValidatorConfig,
    };
    let h = Harness::start().await;
    let e = Entra::new(&h, "stepup");
    device_code_login(&h, &e, &["--scope", DATA_WRITE]).await;

    let validator = Validator::new(
        ValidatorConfig::builder()
            .authority(Authority::custom(h.base()))
            .tenant(TENANT_ID)
            .audience(API)
            .audience("api://contoso-api")
            .extra_ca_file(&e.ca_file)
            .build()
            .unwrap(),
    );
    let app = axum::Router::new()
        .route(
            "/transfer",
            axum::routing::get(|p: Principal| async move {
                format!("done for {}", p.username().unwrap_or("?"))
            })
            .layer(RequireLayer::new(
                Requirement::scope("Data.Write").and(Requirement::auth_context("c1")),
            )),
        )
        .layer(EntraAuthLayer::new(validator));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/transfer", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let before = counters(&h).await;
    let out = e.run(&["call", &url, "--scope", DATA_WRITE]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("done for {ALICE}"));
    assert_eq!(
        stderr(&out),
        "note: the API asked for more claims (a claims challenge); getting a new token with them and retrying once\n"
    );
    let after = counters(&h).await;
    assert!(
        after["endpoint:token"].as_u64() > before["endpoint:token"].as_u64(),
        "a new token was requested for the claims ({before} -> {after})"
    );
    server.abort();
    h.stop().await;
}

/// `entra login --device-code` finished by `entra emulator approve-device-code` through
/// the emulator's real admin API, no browser: what a script or another language's test
/// does (issue 13, step 9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_login_approved_from_the_command_line() {
    let h = Harness::start().await;
    let e = Entra::new(&h, "device-approve");
    let (out, _) = device_code_login_entered(&h, &e, &["--scope", DATA_READ], Enter::Command).await;
    assert!(out.starts_with(&format!("Signed in as {ALICE} ")), "{out}");
    let token = e
        .run(&["token", "--scope", DATA_READ, "--credential", "user"])
        .await;
    assert_eq!(token.code, Some(0), "{}", stderr(&token));
    assert_eq!(claims(stdout(&token).trim())["preferred_username"], ALICE);
    h.stop().await;
}
