//! What the test modules share: the API's settings against a harness, a real
//! authorization code for Alice, and calls through the router with `tower::oneshot`.
//! The development identities come from `entra_testkit::dev`.

use axum::Router;
use axum::body::Body;
pub(crate) use entra_testkit::dev::{
    ALICE, ALICE_OID, ALICE_PASSWORD, API, API_DEFAULT, API_READ, API_URI, API_WRITE, DAEMON,
    OTHER_TENANT_ID, PUBLIC_CLIENT, TENANT_ID,
};
use entra_testkit::{Browser, Harness, query_param, sign_in};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use protected_api::ApiSettings;
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub(crate) fn settings(h: &Harness) -> ApiSettings {
    ApiSettings {
        authority: h.base().to_string(),
        tenant: TENANT_ID.into(),
        audiences: vec![API.into(), API_URI.into()],
        ca_file: Some(h.ready().ca_file.clone().into()),
    }
}

/// A real authorization code for Alice, from the emulator's sign-in pages (not redeemed).
pub(crate) async fn alice_authorization_code(h: &Harness) -> String {
    let url = format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/authorize?{}",
        h.base(),
        [
            ("client_id", PUBLIC_CLIENT),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost"),
            ("scope", API_READ),
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
    let location = sign_in(&mut browser, &url, ALICE, ALICE_PASSWORD, "accept").await;
    query_param(&location, "code").unwrap_or_else(|| panic!("no code in {location}"))
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) challenge: Option<String>,
    pub(crate) body: Value,
}

pub(crate) async fn call(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
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

pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A call with `authorization` and the right `X-Tenant-ID`.
pub(crate) async fn call_as(app: &Router, method: &str, path: &str, authorization: &str) -> Answer {
    call(
        app,
        method,
        path,
        &[("authorization", authorization), ("x-tenant-id", TENANT_ID)],
    )
    .await
}
