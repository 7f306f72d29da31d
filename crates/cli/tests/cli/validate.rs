//! `entra validate` as a user runs it, against real tokens from an in-process emulator:
//! the JSON verdict, exit codes 0/1/2, stdin, and an offline JWKS file.

use entra_testkit::dev::{API, API_URI, DAEMON, PUBLIC_CLIENT as PUBLIC, TENANT_ID as TENANT};
use entra_testkit::{Browser, Harness, query_param, sign_in};
use serde_json::Value;

use crate::common::{Out, entra, run, temp_dir};

/// Runs `entra validate ARGS` (with `stdin` piped in, if any) off the async runtime, in
/// the hermetic environment (none of the caller's AZURE_*/SSL_CERT_FILE).
async fn entra_validate(args: Vec<String>, stdin: Option<String>) -> Out {
    entra_validate_with_env(args, stdin, vec![]).await
}

/// [`entra_validate`] with `env` set.
async fn entra_validate_with_env(
    args: Vec<String>,
    stdin: Option<String>,
    env: Vec<(&'static str, String)>,
) -> Out {
    let dir = temp_dir("validate");
    let mut cmd = entra(&dir);
    cmd.arg("validate").args(&args).envs(env);
    run(cmd, stdin.map(String::into_bytes)).await
}

/// The verdict on stdout, checking the exit code and that no token leaks.
fn verdict(out: &Out, exit: i32, secret: &str) -> Value {
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(
        out.status.code(),
        Some(exit),
        "stdout {stdout}\nstderr {stderr}"
    );
    if !secret.is_empty() {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "the token is never printed"
        );
    }
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// `--authority`, `--ca-file`, `--tenant` for the emulator, and `extra` flags.
fn flags(h: &Harness, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "--authority".into(),
        h.base().into(),
        "--ca-file".into(),
        h.ready().ca_file.clone(),
        "--tenant".into(),
        TENANT.into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn with_token(token: &str, flags: Vec<String>) -> Vec<String> {
    let mut v = vec![token.to_string()];
    v.extend(flags);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_and_invalid_tokens_against_the_emulator() {
    let h = Harness::start().await;
    let daemon = h.daemon_token("api://contoso-api/.default").await;

    // A valid app token: exit 0 and the principal.
    let out = entra_validate(
        with_token(
            &daemon,
            flags(&h, &["--audience", API, "--audience", API_URI]),
        ),
        None,
    )
    .await;
    let v = verdict(&out, 0, &daemon);
    assert_eq!(v["valid"], true);
    assert_eq!(v["principal"]["tenant"], TENANT);
    assert_eq!(v["principal"]["app_id"], DAEMON);
    assert_eq!(v["principal"]["roles"][0], "Data.Read.All");
    assert_eq!(v["principal"]["version"], "v2");
    let expires_in = v["expires_in"].as_i64().unwrap();
    assert!((3000..=3600).contains(&expires_in), "{expires_in}");

    // The same token with the role it has, and `--version v1` it does not meet.
    let out = entra_validate(
        with_token(
            &daemon,
            flags(&h, &["--audience", API, "--role", "Data.Read.All"]),
        ),
        None,
    )
    .await;
    verdict(&out, 0, &daemon);
    let out = entra_validate(
        with_token(&daemon, flags(&h, &["--audience", API, "--version", "v1"])),
        None,
    )
    .await;
    assert_eq!(verdict(&out, 1, &daemon)["code"], "wrong_version");

    // Wrong audience: exit 1 with the reason.
    let out = entra_validate(
        with_token(&daemon, flags(&h, &["--audience", "api://another-api"])),
        None,
    )
    .await;
    let v = verdict(&out, 1, &daemon);
    assert_eq!(v["valid"], false);
    assert_eq!(v["error"], "invalid_token");
    assert_eq!(v["code"], "wrong_audience");
    // The refusal names the audiences the API accepts (configuration, not a secret).
    assert_eq!(
        v["reason"],
        "the token was issued for another audience; this API accepts api://another-api"
    );

    // A user token without the scope asked for.
    let reader = h.alice_token("api://contoso-api/Data.Read").await;
    let out = entra_validate(
        with_token(
            &reader,
            flags(&h, &["--audience", API, "--scope", "Data.Write"]),
        ),
        None,
    )
    .await;
    let v = verdict(&out, 1, &reader);
    assert_eq!(v["error"], "insufficient_scope");
    assert_eq!(v["code"], "insufficient_scope");
    assert_eq!(v["scopes"][0], "Data.Write");
    assert!(v["reason"].as_str().unwrap().contains("Data.Write"));
    // ...and with it.
    let out = entra_validate(
        with_token(
            &reader,
            flags(&h, &["--audience", API, "--scope", "Data.Read"]),
        ),
        None,
    )
    .await;
    let v = verdict(&out, 0, &reader);
    assert_eq!(v["principal"]["username"], "alice@contoso.onmicrosoft.com");
    assert_eq!(v["principal"]["scopes"][0], "Data.Read");

    // Several scopes and roles: any one of them by default, every one with --require-all.
    let either = ["--scope", "Data.Read", "--scope", "Data.Write"];
    let out = entra_validate(
        with_token(
            &reader,
            flags(&h, &[&["--audience", API][..], &either].concat()),
        ),
        None,
    )
    .await;
    verdict(&out, 0, &reader);
    let out = entra_validate(
        with_token(
            &reader,
            flags(
                &h,
                &[&["--audience", API, "--require-all"][..], &either].concat(),
            ),
        ),
        None,
    )
    .await;
    let v = verdict(&out, 1, &reader);
    assert_eq!(v["code"], "insufficient_scope");
    assert_eq!(v["scopes"], serde_json::json!(["Data.Write"]));
    // The daemon has the role but no scope: enough for any-of, not for all-of.
    let role_and_scope = [
        "--audience",
        API,
        "--role",
        "Data.Read.All",
        "--scope",
        "Data.Read",
    ];
    let out = entra_validate(with_token(&daemon, flags(&h, &role_and_scope)), None).await;
    verdict(&out, 0, &daemon);
    let out = entra_validate(
        with_token(
            &daemon,
            flags(&h, &[&role_and_scope[..], &["--require-all"]].concat()),
        ),
        None,
    )
    .await;
    let v = verdict(&out, 1, &daemon);
    assert_eq!(v["scopes"], serde_json::json!(["Data.Read"]));

    // Garbage.
    let out = entra_validate(
        with_token("eyJhbGciOi.not-a.token", flags(&h, &["--audience", API])),
        None,
    )
    .await;
    assert_eq!(verdict(&out, 1, "")["code"], "malformed");

    // A real authorization code from the sign-in pages, sent as if it were the token.
    let code = {
        let url = format!(
            "{}/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id={PUBLIC}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost&scope=api%3A%2F%2Fcontoso-api%2FData.Read&state=s",
            h.base()
        );
        let mut b = Browser::new(&h);
        let location = sign_in(
            &mut b,
            &url,
            "alice@contoso.onmicrosoft.com",
            "alice-dev-password",
            "accept",
        )
        .await;
        query_param(&location, "code").unwrap_or_else(|| panic!("no code: {location}"))
    };
    let out = entra_validate(with_token(&code, flags(&h, &["--audience", API])), None).await;
    let v = verdict(&out, 1, &code);
    assert_eq!(v["code"], "authorization_code");
    assert_eq!(
        v["reason"],
        "this looks like an authorization code: exchange it at the token endpoint first"
    );

    // From stdin, as `Bearer <token>` with a newline.
    let out = entra_validate(
        flags(&h, &["-", "--audience", API_URI, "--audience", API]),
        Some(format!("Bearer {daemon}\n")),
    )
    .await;
    assert_eq!(verdict(&out, 0, &daemon)["valid"], true);
    // The authority and the CA from the environment the emulator prints.
    let out = entra_validate_with_env(
        vec![
            "-".into(),
            "--tenant".into(),
            TENANT.into(),
            "--audience".into(),
            API.into(),
        ],
        Some(daemon.clone()),
        vec![
            ("AZURE_AUTHORITY_HOST", h.base().to_string()),
            ("SSL_CERT_FILE", h.ready().ca_file.clone()),
        ],
    )
    .await;
    assert_eq!(verdict(&out, 0, &daemon)["valid"], true);
    // An empty stdin is no token at all.
    let out = entra_validate(flags(&h, &["-", "--audience", API]), Some("\n".into())).await;
    assert_eq!(verdict(&out, 1, "")["code"], "token_missing");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_jwks_file_validates_offline() {
    let h = Harness::start().await;
    let daemon = h.daemon_token("api://contoso-api/.default").await;
    let jwks = h
        .http
        .get(h.url(&format!("/{TENANT}/discovery/v2.0/keys")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("entra-cli-jwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys.json");
    std::fs::write(&file, jwks).unwrap();
    let base = h.base().to_string();
    h.stop().await;

    // The emulator is gone: only the file can vouch for the key.
    let args = |token: &str| {
        vec![
            token.to_string(),
            "--authority".into(),
            base.clone(),
            "--tenant".into(),
            TENANT.into(),
            "--audience".into(),
            API.into(),
            "--jwks".into(),
            file.display().to_string(),
        ]
    };
    let out = entra_validate(args(&daemon), None).await;
    let v = verdict(&out, 0, &daemon);
    assert_eq!(v["principal"]["app_id"], DAEMON);

    // A tampered signature fails offline too.
    let mut tampered = daemon.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let out = entra_validate(args(&tampered), None).await;
    let code = verdict(&out, 1, &tampered)["code"].clone();
    assert!(
        code == "bad_signature" || code == "malformed",
        "{code}: a changed last character is a bad signature or non-canonical base64url"
    );

    // Without the file (and without the emulator) the keys are unavailable: exit 1.
    let out = entra_validate(
        vec![
            daemon.clone(),
            "--authority".into(),
            base.clone(),
            "--tenant".into(),
            TENANT.into(),
            "--audience".into(),
            API.into(),
        ],
        None,
    )
    .await;
    assert_eq!(verdict(&out, 1, &daemon)["code"], "keys_unavailable");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn usage_and_configuration_errors_exit_2() {
    let tenant = ["--tenant", TENANT];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["x", "--tenant", TENANT], "--audience"),
        (vec!["x", "--audience", API], "--tenant GUID"),
        (vec!["x", "--audience", API, "--bogus"], "--bogus"),
        (
            vec!["x", "--audience", API, "--version", "v3"],
            "possible values",
        ),
        (
            vec![
                "x",
                "--audience",
                API,
                "--tenant",
                TENANT,
                "--issuer",
                "https://issuer.example",
            ],
            "cannot be combined with --issuer",
        ),
        (
            vec![
                "x",
                "--audience",
                API,
                "--issuer",
                "https://issuer.example",
                "--any-tenant",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "x",
                "--audience",
                API,
                "--tenant",
                "contoso.onmicrosoft.com",
            ],
            "not a tenant id",
        ),
        (
            [
                &["x", "--audience", API, "--jwks", "/nonexistent/keys.json"],
                &tenant[..],
            ]
            .concat(),
            "/nonexistent/keys.json",
        ),
        (
            [
                &["x", "--audience", API, "--ca-file", "/nonexistent/ca.pem"],
                &tenant[..],
            ]
            .concat(),
            "/nonexistent/ca.pem",
        ),
        (
            [
                &[
                    "x",
                    "--audience",
                    API,
                    "--authority",
                    "http://login.example",
                ],
                &tenant[..],
            ]
            .concat(),
            "not an https URL",
        ),
    ];
    for (args, message) in cases {
        let out = entra_validate(args.iter().map(|s| s.to_string()).collect(), None).await;
        let stderr = &out.stderr;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: no verdict on stdout");
    }
    // An unreadable JWKS file content is a configuration error too.
    let dir = std::env::temp_dir().join(format!("entra-cli-badjwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys.json");
    std::fs::write(&file, "{\"keys\": 42}").unwrap();
    let out = entra_validate(
        vec![
            "x".into(),
            "--audience".into(),
            API.into(),
            "--tenant".into(),
            TENANT.into(),
            "--jwks".into(),
            file.display().to_string(),
        ],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(dir).ok();
}
