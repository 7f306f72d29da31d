//! `entra call` against a small local API (plain HTTP on loopback) that validates every
//! bearer with entra-validate against the emulator, and can answer with a claims
//! challenge: success, -i, -d @file, raw and JSON bodies, the one retry with claims,
//! exit codes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use entra_validate::{Authority, Validator, ValidatorConfig};
use serde_json::json;

use entra_testkit::dev::*;

use crate::common::*;

const CLAIMS: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;

#[derive(Clone)]
struct Api {
    validator: Arc<Validator>,
    /// (method, path, bearer) of every request with a valid token.
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
    challenged: Arc<AtomicBool>,
}

fn challenge() -> Response {
    let header = format!(
        "Bearer realm=\"\", error=\"insufficient_claims\", claims=\"{}\"",
        entra_jose::b64std(CLAIMS)
    );
    (
        StatusCode::UNAUTHORIZED,
        [("www-authenticate", header)],
        axum::Json(json!({"error": "insufficient_claims"})),
    )
        .into_response()
}

async fn handle(
    State(api): State<Api>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let principal = match api.validator.validate(&bearer).await {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "invalid_token", "why": e.to_string()})),
            )
                .into_response();
        }
    };
    api.seen
        .lock()
        .unwrap()
        .push((method.to_string(), uri.path().to_string(), bearer));
    match uri.path() {
        "/data" => axum::Json(json!({
            "items": [1, 2],
            "tenant": principal.tenant_id(),
        }))
        .into_response(),
        "/challenge-once" => {
            if api.challenged.swap(true, Ordering::SeqCst) {
                axum::Json(json!({"ok": true})).into_response()
            } else {
                challenge()
            }
        }
        "/challenge-always" => challenge(),
        "/echo" => axum::Json(json!({
            "method": method.as_str(),
            "content_type": headers.get("content-type").and_then(|v| v.to_str().ok()),
            "x_test": headers.get("x-test").and_then(|v| v.to_str().ok()),
            "body": String::from_utf8_lossy(&body),
        }))
        .into_response(),
        "/text" => ([("content-type", "text/plain")], "plain text, not JSON\n").into_response(),
        "/forbidden" => (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"error": "insufficient_scope"})),
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The API on a loopback port; its base URL and what it saw.
async fn start_api(h: &Harness) -> (String, Api) {
    let config = ValidatorConfig::builder()
        .authority(Authority::custom(h.base()))
        .tenant(TENANT_ID)
        .audience(API)
        .audience("api://contoso-api")
        .extra_ca_file(&h.ready().ca_file)
        .build()
        .unwrap();
    let api = Api {
        validator: Arc::new(Validator::new(config)),
        seen: Arc::default(),
        challenged: Arc::default(),
    };
    let app = axum::Router::new().fallback(handle).with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, api)
}

fn call(h: &Harness, dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut cmd = entra_at(h, dir);
    as_daemon(&mut cmd);
    cmd.arg("call")
        .args(args)
        .args(["--scope", "api://contoso-api/.default"]);
    cmd
}

fn requests(api: &Api, path: &str) -> Vec<String> {
    api.seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, p, _)| p == path)
        .map(|(_, _, t)| t.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_with_a_valid_token_and_prints_the_body() {
    let h = Harness::start().await;
    let dir = temp_dir("call");
    let (base, api) = start_api(&h).await;

    let out = run(call(&h, &dir, &[&format!("{base}/data")]), None).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_snapshot(
        &out.stdout,
        "{\n  \"items\": [\n    1,\n    2\n  ],\n  \"tenant\": \"c0ffee00-0000-4000-8000-000000000001\"\n}\n",
    );
    assert_eq!(out.stderr, "");
    assert_eq!(requests(&api, "/data").len(), 1);

    // -i: status line and headers first.
    let out = run(
        call(&h, &dir, &["GET", &format!("{base}/data"), "-i"]),
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let text = mask_fields(&out.stdout.replace("date: ", "date  "), &["date"]);
    assert_snapshot(
        &text,
        "\
HTTP 200 OK
content-type: application/json
content-length: 63
date  <date>

{
  \"items\": [
    1,
    2
  ],
  \"tenant\": \"c0ffee00-0000-4000-8000-000000000001\"
}
",
    );

    // -d @file: POST by default, JSON content type guessed, headers passed on.
    let file = dir.join("body.json");
    std::fs::write(&file, "{\"name\": \"x\"}").unwrap();
    let out = run(
        call(
            &h,
            &dir,
            &[
                &format!("{base}/echo"),
                "-d",
                &format!("@{}", file.display()),
                "-H",
                "X-Test: yes",
            ],
        ),
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_snapshot(
        &out.stdout,
        "{\n  \"body\": \"{\\\"name\\\": \\\"x\\\"}\",\n  \"content_type\": \"application/json\",\n  \"method\": \"POST\",\n  \"x_test\": \"yes\"\n}\n",
    );
    // An explicit method and content type win.
    let out = run(
        call(
            &h,
            &dir,
            &[
                "put",
                &format!("{base}/echo"),
                "-d",
                "a=1",
                "-H",
                "Content-Type: text/plain",
            ],
        ),
        None,
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (
            v["method"].as_str(),
            v["content_type"].as_str(),
            v["body"].as_str()
        ),
        (Some("PUT"), Some("text/plain"), Some("a=1"))
    );

    // Not JSON: printed as it is.
    let out = run(call(&h, &dir, &[&format!("{base}/text")]), None).await;
    assert_eq!(out.code, Some(0));
    assert_eq!(out.stdout, "plain text, not JSON\n");

    // A 403: body printed, exit 1, one line on stderr.
    let out = run(call(&h, &dir, &[&format!("{base}/forbidden")]), None).await;
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stdout, "{\n  \"error\": \"insufficient_scope\"\n}\n");
    assert_snapshot(
        &out.stderr.replace(&base, "<api>"),
        "error: HTTP 403 from <api>/forbidden: the token is valid but lacks a permission (scope or app role) for this\n",
    );
    // The token never reaches the output.
    let token = &requests(&api, "/data")[0];
    for o in [&out.stdout, &out.stderr] {
        assert!(!o.contains(token.as_str()));
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claims_challenge_gets_a_new_token_and_exactly_one_retry() {
    let h = Harness::start().await;
    let dir = temp_dir("call-claims");
    let (base, api) = start_api(&h).await;

    let before = h.counter("endpoint:token").await;
    let out = run(call(&h, &dir, &[&format!("{base}/challenge-once")]), None).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "{\n  \"ok\": true\n}\n");
    assert_eq!(
        out.stderr,
        "note: the API asked for more claims (a claims challenge); getting a new token with them and retrying once\n"
    );
    let seen = requests(&api, "/challenge-once");
    assert_eq!(seen.len(), 2, "one call, one retry");
    assert_ne!(seen[0], seen[1], "the retry carries a new token");
    let after = h.counter("endpoint:token").await;
    assert!(
        after >= before + 2,
        "a token, then one more with the claims (token requests {before} -> {after})"
    );

    // A challenge that keeps coming: still exactly one retry, then the 401 as it is.
    let out = run(call(&h, &dir, &[&format!("{base}/challenge-always")]), None).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stdout, "{\n  \"error\": \"insufficient_claims\"\n}\n");
    assert!(
        out.stderr.contains("error: HTTP 401 from"),
        "{}",
        out.stderr
    );
    assert_eq!(requests(&api, "/challenge-always").len(), 2);

    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_sign_in_and_network_errors_have_their_exit_codes() {
    let h = Harness::start().await;
    let dir = temp_dir("call-errors");
    let (base, _api) = start_api(&h).await;

    // No scope and a host entra does not know: 2, asking for --scope.
    let mut cmd = entra_at(&h, &dir);
    as_daemon(&mut cmd).args(["call", &format!("{base}/data")]);
    let out = run(cmd, None).await;
    assert_eq!(out.code, Some(2));
    assert_snapshot(
        &out.stderr,
        "error: which token should go to 127.0.0.1? Pass --scope (for your API: its App ID URI + /.default, e.g. --scope api://<app id>/.default) or --resource\n",
    );
    // A token over plain HTTP to a remote host: 2.
    let out = run(call(&h, &dir, &["http://api.contoso.example/x"]), None).await;
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("plain HTTP"), "{}", out.stderr);
    // Our own Authorization header: 2.
    let out = run(
        call(
            &h,
            &dir,
            &[&format!("{base}/data"), "-H", "Authorization: Bearer x"],
        ),
        None,
    )
    .await;
    assert_eq!(out.code, Some(2));

    // No credential set up (developer credentials only, nobody signed in): 3.
    let mut cmd = entra_at(&h, &dir);
    cmd.env("AZURE_TOKEN_CREDENTIALS", "dev")
        .env("PATH", dir.join("no-az"))
        .args(["call", &format!("{base}/data"), "--resource", "graph"]);
    let out = run(cmd, None).await;
    assert_eq!(out.code, Some(3), "{out:?}");
    assert!(
        out.stderr.contains("hint: sign in with `entra login`"),
        "{}",
        out.stderr
    );

    // The API does not answer: 4.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let out = run(call(&h, &dir, &[&format!("http://{closed}/data")]), None).await;
    assert_eq!(out.code, Some(4), "{out:?}");
    assert!(out.stderr.contains("could not connect"), "{}", out.stderr);

    h.stop().await;
}
