//! `entra login`, `entra account list`, `entra token --credential user` and `entra
//! logout` against an in-process emulator, as a user runs them: the device code read
//! from the process's stderr and entered on the emulator's page, the browser sign-in
//! (PKCE, loopback redirect) driven from the URL it prints, then silent tokens from the
//! cache file, then signing out.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{ALICE, AZURE_CLI, Entra, TENANT, claims, counters, stderr, stdout};
use entra_emulator::testing::{Browser, Harness, enter_device_code, sign_in};
use serde_json::Value;

const DATA_READ: &str = "api://contoso-api/Data.Read";
const DATA_WRITE: &str = "api://contoso-api/Data.Write";

/// Signs alice in with `entra login --device-code`, entering the code it prints.
async fn device_code_login(h: &Harness, e: &Entra, extra: &[&str]) -> (String, String) {
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
    let page = enter_device_code(
        &mut Browser::new(h),
        &code,
        ALICE,
        "alice-dev-password",
        "accept",
    )
    .await;
    assert!(page.contains("You have signed in"), "{page}");
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
        format!("Signed in as {ALICE} (tenant {TENANT}, client {AZURE_CLI})\n")
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
    let home = format!("a11ce000-0000-4000-8000-000000000001.{TENANT}");
    assert_eq!(
        stdout(&out),
        format!(
            "USER                           TENANT                                AUTHORITY  HOME ACCOUNT ID                                                            CLIENTS\n\
             {ALICE}  {TENANT}  localhost  {home}  {AZURE_CLI} (Azure CLI)\n"
        )
    );
    let out = e.run(&["account", "list", "--json"]).await;
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        list,
        serde_json::json!([{
            "username": ALICE, "tenant_id": TENANT, "home_account_id": home,
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
    assert_eq!(e.run(&["account", "list", "--json"]).await.stdout, b"[]\n");
    let out = e
        .run(&["token", "--credential", "user", "--scope", DATA_READ])
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no account is signed in to client 04b07795"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_with_pkce_and_logout_by_name() {
    let h = Harness::start().await;
    let e = Entra::new(&h, "browser");
    let mut cmd = e.command(&["login", "--no-browser", "--scope", DATA_READ]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (urls, seen) = common::watch_stderr(&mut child, |line| {
        line.trim()
            .starts_with("https://")
            .then(|| line.trim().to_string())
    });
    let url = tokio::task::spawn_blocking(move || urls.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap_or_else(|_| panic!("no sign-in URL on stderr: {}", seen.lock().unwrap()));
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(url.contains(&format!("client_id={AZURE_CLI}")), "{url}");
    let mut browser = Browser::new(&h);
    let redirect = sign_in(&mut browser, &url, ALICE, "alice-dev-password", "accept").await;
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
    assert!(status.success(), "{}", seen.lock().unwrap());
    assert_eq!(
        out,
        format!("Signed in as {ALICE} (tenant {TENANT}, client {AZURE_CLI})\n")
    );
    assert_eq!(
        e.normalise(&seen.lock().unwrap()).lines().next().unwrap(),
        "To sign in, visit:"
    );

    // A name nobody signed in with: exit 1, naming who is.
    let out = e.run(&["logout", "bob@contoso.onmicrosoft.com"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("error: bob@contoso.onmicrosoft.com is not signed in; signed in: {ALICE}\n")
    );
    let out = e.run(&["logout", "ALICE@contoso.onmicrosoft.com"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("Signed out {ALICE} (localhost).\n"));
    let out = e.run(&["logout", "--all"]).await;
    assert_eq!(
        e.normalise(&stdout(&out)),
        "No one is signed in (token cache TMP/token-cache.bin).\n"
    );
    h.stop().await;
}
