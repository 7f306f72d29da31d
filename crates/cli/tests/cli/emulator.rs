//! `entra emulator` as a user runs it: --print-config, a bad directory file, mint-federated,
//! ready.json and SIGTERM, and approve-device-code against the admin API's contract.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{entra, temp_dir};

#[test]
fn print_config_prints_the_effective_directory() {
    let dir = temp_dir("print");
    let out = entra(&dir)
        .args([
            "emulator",
            "--print-config",
            "--token-lifetime",
            "1234",
            "--state-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("contoso.onmicrosoft.com"));
    assert!(text.contains("token_lifetime_seconds = 1234"));
    // What it prints is itself a valid directory file.
    let file = dir.join("printed.toml");
    std::fs::write(&file, &text).unwrap();
    let again = entra(&dir)
        .args(["emulator", "--print-config", "--config"])
        .arg(&file)
        .arg("--state-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn bad_config_exits_2_naming_file_line_and_key() {
    let dir = temp_dir("bad");
    let file = dir.join("directory.toml");
    std::fs::write(
        &file,
        "[[tenants]]\nid = \"not-a-guid\"\ndomain = \"x.example\"\n",
    )
    .unwrap();
    let out = entra(&dir)
        .args(["emulator", "--print-config", "--config"])
        .arg(&file)
        .arg("--state-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("directory.toml:2: tenants[0].id"), "{err}");
}

#[test]
fn mint_federated_needs_a_running_emulator_or_an_issuer() {
    let dir = temp_dir("mint");
    let out = entra(&dir)
        .args([
            "emulator",
            "mint-federated",
            "--subject",
            "s",
            "--state-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ready.json"));
    let token_file = dir.join("token");
    let out = entra(&dir)
        .args([
            "emulator",
            "mint-federated",
            "--subject",
            "s",
            "--issuer",
            "https://issuer.example",
            "--out",
        ])
        .arg(&token_file)
        .arg("--state-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(&token_file)
            .unwrap()
            .split('.')
            .count(),
        3
    );
}

#[test]
fn emulator_writes_ready_json_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("run");
    let mut child = entra(&dir)
        .args(["emulator", "--port", "0", "--state-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = dir.join("ready.json");
    let start = Instant::now();
    while !ready.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&ready).unwrap_or_default();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        text.contains("\"authority\": \"https://localhost:"),
        "{text}"
    );
    for key in [
        "ca_file",
        "admin_token",
        "identity_endpoint",
        "identity_header",
        "imds_endpoint",
    ] {
        assert!(text.contains(key), "ready.json lacks {key}");
    }
    assert!(
        exit.is_some_and(|s| s.success()),
        "SIGTERM should stop it cleanly"
    );
    assert!(!ready.exists(), "ready.json is removed on shutdown");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("tls-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // The CA's key is not kept (nothing more can be issued under the trusted CA).
        assert!(!dir.join("ca-key.pem").exists());
    }
}

/// `approve-device-code` finds the running emulator through ready.json; without one it
/// says so (exit 2), and it refuses to run without --user.
#[test]
fn approve_device_code_needs_a_running_emulator_and_a_user() {
    let dir = temp_dir("approve");
    let out = entra(&dir)
        .args(["emulator", "approve-device-code", "ABCD-EFGH", "--user"])
        .arg("alice@contoso.onmicrosoft.com")
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no running emulator") && err.contains("ready.json"),
        "{err}"
    );
    let out = entra(&dir)
        .args(["emulator", "approve-device-code", "ABCD-EFGH"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--user"));
}

/// `approve-device-code` end to end against a stand-in for the emulator's admin API
/// (the contract: `POST /admin/device-codes/{user_code}/approve`, `{"user": UPN}`, the
/// admin token as a bearer; 200 `{user_code, user, client_id}`, 404 for an unknown or
/// expired code, 400 for an unknown user, errors as `{error, error_description}`),
/// found through a ready.json as the running emulator writes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_device_code_speaks_the_admin_api_contract() {
    use axum::extract::Path;
    use axum::http::{HeaderMap, StatusCode};
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};

    let h = crate::common::Harness::start().await;
    let seen: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/admin/device-codes/{code}/approve",
        axum::routing::post(
            move |Path(code): Path<String>, headers: HeaderMap, body: String| {
                let log = log.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    log.lock().unwrap().push((code.clone(), auth, body.clone()));
                    let user = body["user"].as_str().unwrap_or("");
                    match (code.as_str(), user) {
                        ("ABCDEFGH", "alice@contoso.onmicrosoft.com") => (
                            StatusCode::OK,
                            axum::Json(json!({"user_code": "ABCDEFGH", "user": user, "client_id": "c1"})),
                        ),
                        ("ABCDEFGH", _) => (
                            StatusCode::BAD_REQUEST,
                            axum::Json(json!({"error": "invalid_request", "error_description": format!("no user {user:?}")})),
                        ),
                        _ => (
                            StatusCode::NOT_FOUND,
                            axum::Json(json!({"error": "not_found", "error_description": "no pending device code"})),
                        ),
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = temp_dir("approve-api");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let mut ready = serde_json::to_value(h.ready()).unwrap();
    ready["authority"] = format!("http://{addr}").into();
    ready["admin_token"] = "admin-test-token".into();
    std::fs::write(state.join("ready.json"), ready.to_string()).unwrap();
    let approve = |code: &str, user: &str| {
        let mut cmd = entra(&dir);
        cmd.args([
            "emulator",
            "approve-device-code",
            code,
            "--user",
            user,
            "--state-dir",
        ])
        .arg(&state);
        crate::common::run(cmd, None)
    };

    let out = approve("ABCDEFGH", "alice@contoso.onmicrosoft.com").await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout,
        "Approved device code ABCDEFGH for alice@contoso.onmicrosoft.com (client c1): the waiting client gets its tokens at its next poll.\n"
    );
    let (code, auth, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(code, "ABCDEFGH");
    assert_eq!(auth, "Bearer admin-test-token");
    assert_eq!(body, json!({"user": "alice@contoso.onmicrosoft.com"}));

    let out = approve("ABCDEFGH", "mallory").await;
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(
        out.stderr,
        "error: the emulator refused: invalid_request: no user \"mallory\"\n"
    );
    let out = approve("WRONG-CODE", "alice@contoso.onmicrosoft.com").await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.starts_with(
            "error: device code WRONG-CODE is unknown or has expired (not_found: no pending device code)\nhint: "
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("admin-test-token") && !out.stderr.contains("admin-test-token"));
    h.stop().await;
}
