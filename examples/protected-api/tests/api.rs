//! The example API with real emulator tokens: the router driven with `tower::oneshot`,
//! and the binary once over loopback.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use entra_testkit::{Browser, Harness, query_param, sign_in};
use entra_validate::{Clock, Validator};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use protected_api::ApiSettings;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use entra_testkit::dev::{
    ALICE_OID, API, API_URI, DAEMON, OTHER_TENANT_ID as OTHER_TENANT, PUBLIC_CLIENT as PUBLIC,
    TENANT_ID as TENANT,
};

fn settings(h: &Harness) -> ApiSettings {
    ApiSettings {
        authority: h.base().to_string(),
        tenant: TENANT.into(),
        audiences: vec![API.into(), API_URI.into()],
        ca_file: Some(h.ready().ca_file.clone().into()),
    }
}

/// A real authorization code for Alice, from the emulator's sign-in pages (not redeemed).
async fn alice_authorization_code(h: &Harness) -> String {
    let url = format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/authorize?{}",
        h.base(),
        [
            ("client_id", PUBLIC),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost"),
            ("scope", "api://contoso-api/Data.Read"),
            ("state", "s"),
            (
                "code_challenge",
                "0123456789012345678901234567890123456789abc"
            ),
            ("code_challenge_method", "plain"),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(':', "%3A").replace('/', "%2F")))
        .collect::<Vec<_>>()
        .join("&")
    );
    let mut browser = Browser::new(h);
    let location = sign_in(
        &mut browser,
        &url,
        "alice@contoso.onmicrosoft.com",
        "alice-dev-password",
        "accept",
    )
    .await;
    query_param(&location, "code").unwrap_or_else(|| panic!("no code in {location}"))
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

async fn call(app: &Router, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = if method == "POST" {
        req = req.header("content-type", "application/json");
        Body::from(json!({ "name": "from a test" }).to_string())
    } else {
        Body::empty()
    };
    let resp = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let challenge = resp
        .headers()
        .get(http::header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Answer {
        status,
        challenge,
        body,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A call with `authorization` and the right `X-Tenant-ID`.
async fn call_as(app: &Router, method: &str, path: &str, authorization: &str) -> Answer {
    call(
        app,
        method,
        path,
        &[("authorization", authorization), ("x-tenant-id", TENANT)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_app_and_user_tokens_get_200() {
    let h = Harness::start().await;
    let app = protected_api::app(settings(&h).validator().unwrap());
    let daemon = bearer(&h.daemon_token("api://contoso-api/.default").await);
    let alice = bearer(&h.alice_token("api://contoso-api/Data.Read").await);
    let writer = bearer(&h.alice_token("api://contoso-api/Data.Write").await);

    // Health needs nothing.
    let a = call(&app, "GET", "/healthz", &[]).await;
    assert_eq!((a.status, a.body), (StatusCode::OK, json!("ok")));

    // The daemon: app role Data.Read.All.
    let a = call_as(&app, "GET", "/account/me", &daemon).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["tenant"], TENANT);
    assert_eq!(a.body["app_id"], DAEMON);
    assert_eq!(a.body["app_only"], true);
    assert_eq!(a.body["roles"], json!(["Data.Read.All"]));
    assert_eq!(a.body["version"], "v2");
    let a = call_as(&app, "GET", "/data", &daemon).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["items"].as_array().unwrap().len(), 2);

    // Alice: delegated scope Data.Read; the tenant header is case-insensitive.
    let a = call(
        &app,
        "GET",
        "/account/me",
        &[
            ("authorization", &alice),
            ("x-tenant-id", &TENANT.to_uppercase()),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["oid"], ALICE_OID);
    assert_eq!(a.body["name"], "Alice Example");
    assert_eq!(a.body["username"], "alice@contoso.onmicrosoft.com");
    assert_eq!(a.body["app_id"], PUBLIC);
    assert_eq!(a.body["scopes"], json!(["Data.Read"]));
    let a = call_as(&app, "GET", "/data", &alice).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    // Alice with Data.Write creates an item, recorded as hers.
    let a = call_as(&app, "POST", "/data", &writer).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["created_by"], ALICE_OID);
    assert_eq!(a.body["id"], 3);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_401_with_a_challenge() {
    let h = Harness::start().await;
    let app = protected_api::app(settings(&h).validator().unwrap());
    let tenant = ("x-tenant-id", TENANT);

    // No token: a bare challenge (RFC 6750 3.1), on every protected route.
    for (method, path) in [("GET", "/account/me"), ("GET", "/data"), ("POST", "/data")] {
        let a = call(&app, method, path, &[tenant]).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(
            a.challenge.as_deref(),
            Some("Bearer realm=\"protected-api\"")
        );
        assert_eq!(a.body["code"], "token_missing");
    }

    // Garbage that looks like a JWT.
    let a = call(
        &app,
        "GET",
        "/data",
        &[("authorization", "Bearer eyJhbGciOi.garbage.x"), tenant],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let challenge = a.challenge.unwrap();
    assert!(
        challenge.starts_with("Bearer realm=\"protected-api\", error=\"invalid_token\""),
        "{challenge}"
    );
    assert_eq!(a.body["code"], "malformed");

    // The authorization code sent as if it were the access token.
    let code = alice_authorization_code(&h).await;
    let a = call(
        &app,
        "GET",
        "/account/me",
        &[("authorization", &bearer(&code)), tenant],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["code"], "authorization_code");
    let challenge = a.challenge.unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(
        challenge.contains("looks like an authorization code: exchange it at the token endpoint"),
        "{challenge}"
    );
    assert!(
        !a.body.to_string().contains(&code),
        "the code is not echoed"
    );

    // A Graph token: signed by the same tenant, for another resource.
    let graph = h.daemon_token("https://graph.microsoft.com/.default").await;
    let a = call(
        &app,
        "GET",
        "/account/me",
        &[("authorization", &bearer(&graph)), tenant],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["code"], "wrong_audience");
    assert!(
        a.challenge.unwrap().contains("Microsoft Graph"),
        "the challenge names the mistake"
    );

    // Expired: the same good token, seen by a validator whose clock is 2 hours ahead
    // (tokens live 1 hour here; the skew is 5 minutes).
    let good = bearer(&h.daemon_token("api://contoso-api/.default").await);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let later = protected_api::app(Validator::new(
        settings(&h)
            .validator_config()
            .clock(Clock::manual(now + 2 * 3600))
            .build()
            .unwrap(),
    ));
    let a = call(&later, "GET", "/data", &[("authorization", &good), tenant]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["code"], "expired");
    assert!(
        a.challenge
            .unwrap()
            .contains("error=\"invalid_token\", error_description=\"the token has expired\"")
    );
    // ...while it is fine now.
    let a = call(&app, "GET", "/data", &[("authorization", &good), tenant]).await;
    assert_eq!(a.status, StatusCode::OK);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_permissions_and_tenant_header_mistakes() {
    let h = Harness::start().await;
    let app = protected_api::app(settings(&h).validator().unwrap());
    let daemon = bearer(&h.daemon_token("api://contoso-api/.default").await);
    let reader = bearer(&h.alice_token("api://contoso-api/Data.Read").await);
    let tenant = ("x-tenant-id", TENANT);

    // The daemon has Data.Read.All but not write: 403 naming the scope (and role).
    for who in [&daemon, &reader] {
        let a = call(&app, "POST", "/data", &[("authorization", who), tenant]).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
        assert_eq!(
            a.challenge.as_deref(),
            Some(
                "Bearer realm=\"protected-api\", error=\"insufficient_scope\", error_description=\"insufficient permissions: the token needs scope Data.Write or role Data.Write.All\", scope=\"Data.Write\""
            )
        );
        assert_eq!(a.body["code"], "insufficient_scope");
        assert_eq!(a.body["scopes"], json!(["Data.Write"]));
        assert_eq!(a.body["roles"], json!(["Data.Write.All"]));
    }
    // A user token with only Data.Write cannot read.
    let writer = bearer(&h.alice_token("api://contoso-api/Data.Write").await);
    let a = call(&app, "GET", "/data", &[("authorization", &writer), tenant]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.challenge.unwrap().ends_with("scope=\"Data.Read\""));

    // X-Tenant-ID: missing is 400, another tenant is 403, twice is 400.
    let a = call(&app, "GET", "/account/me", &[("authorization", &daemon)]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["code"], "tenant_header_missing");
    assert!(a.challenge.unwrap().contains("error=\"invalid_request\""));
    let a = call(
        &app,
        "GET",
        "/account/me",
        &[("authorization", &daemon), ("x-tenant-id", OTHER_TENANT)],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.body["code"], "tenant_header_mismatch");
    let a = call(
        &app,
        "GET",
        "/account/me",
        &[
            ("authorization", &daemon),
            ("x-tenant-id", "contoso.onmicrosoft.com"),
        ],
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "a domain name is not the tenant id"
    );
    let a = call(
        &app,
        "GET",
        "/account/me",
        &[("authorization", &daemon), tenant, tenant],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    h.stop().await;
}

#[tokio::test]
async fn the_benchmark_baseline_has_no_auth_and_no_caller() {
    let app = protected_api::app_without_auth_for_benchmark();
    let a = call(&app, "GET", "/data", &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["items"].as_array().unwrap().len(), 2);
    // Handlers that need the caller refuse: nobody authenticated.
    assert_eq!(
        call(&app, "GET", "/account/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, "POST", "/data", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Stops the child with SIGTERM (graceful shutdown) when dropped, killing it if needed.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_over_loopback() {
    let h = Harness::start().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_protected-api"))
        .args(["--listen", "127.0.0.1:0", "--authority", h.base()])
        .args(["--tenant", TENANT, "--audience", API, "--audience", API_URI])
        .arg("--ca-file")
        .arg(&h.ready().ca_file)
        .env_remove("PROTECTED_API_AUDIENCE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let first_line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    });
    let base = tokio::time::timeout(Duration::from_secs(60), first_line)
        .await
        .expect("the binary prints its address")
        .unwrap()
        .trim()
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base:?}");
    assert!(!base.ends_with(":0"), "{base:?}");

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let token = h.daemon_token("api://contoso-api/.default").await;
    let resp = http
        .get(format!("{base}/data"))
        .bearer_auth(&token)
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 2);

    let resp = http.get(format!("{base}/data")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"protected-api\""
    );
    let resp = http
        .get(format!("{base}/account/me"))
        .bearer_auth(&token)
        .header("x-tenant-id", OTHER_TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    drop(server);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_needs_the_c1_step_up_through_a_claims_challenge() {
    let h = Harness::start().await;
    let app = protected_api::app(settings(&h).validator().unwrap());
    let alice_form = |claims: Option<&str>| {
        let mut form = vec![
            ("grant_type", "password".to_string()),
            ("client_id", PUBLIC.to_string()),
            ("username", "alice@contoso.onmicrosoft.com".to_string()),
            ("password", "alice-dev-password".to_string()),
            ("scope", "api://contoso-api/Data.Write".to_string()),
        ];
        form.extend(claims.map(|c| ("claims", c.to_string())));
        form
    };
    let writer = bearer(&h.access_token(TENANT, &alice_form(None)).await);

    // Data.Write alone: 401 with the claims challenge for c1.
    let a = call_as(&app, "DELETE", "/data/1", &writer).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
    assert_eq!(a.body["code"], "insufficient_claims");
    let challenge = a.challenge.unwrap();
    assert!(
        challenge.starts_with("Bearer realm=\"protected-api\", error=\"insufficient_claims\""),
        "{challenge}"
    );
    let claims = a.body["claims"].as_str().unwrap().to_string();

    // The client asks the emulator again with those claims (as MSAL does with the
    // challenge): the new token carries acrs c1, and the delete goes through.
    let stepped_up = bearer(&h.access_token(TENANT, &alice_form(Some(&claims))).await);
    let a = call_as(&app, "DELETE", "/data/1", &stepped_up).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    let a = call_as(&app, "DELETE", "/data/1", &stepped_up).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // A daemon with the Data.Write.All role has no delegated Data.Write: 403, no
    // step-up to offer (app tokens never carry an authentication context).
    let daemon = bearer(&h.daemon_token("api://contoso-api/.default").await);
    let a = call_as(&app, "DELETE", "/data/2", &daemon).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert_eq!(a.body["code"], "insufficient_scope");
    h.stop().await;
}
