//! No token, caller secret or client secret reaches a log line, at any level, through
//! successes, refusals, upstream failures, stale serving, purge and reload.

use std::time::Duration;

use crate::common::*;
use entra_broker::StartOptions;
use entra_testkit::{Harness, dev};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_reaches_a_log_line() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();

    let h = Harness::start_with(entra_emulator::Options {
        token_lifetime: Some(400),
        ..Default::default()
    })
    .await;
    let dir = temp_dir("logs");
    let audit = dir.join("audit.jsonl");
    let mut c = config(&h, &audit);
    c.broker.min_remaining_secs = 398;
    let admin = dir.join("admin.token");
    std::fs::write(&admin, "log-test-admin-token-0123456789abcdef").unwrap();
    c.broker.admin_token_file = Some(admin);
    let b = entra_broker::start(c.clone(), StartOptions::default())
        .await
        .unwrap();
    let q = |r: &str| {
        format!(
            "{}?resource={r}&api-version=2019-08-01",
            b.identity_endpoint()
        )
    };
    let get =
        |url: String, secret: &'static str| async move { get_with_header(&url, secret).await };
    let mut tokens = Vec::new();
    let (s, v) = get(q("api://contoso-api"), DEV_SECRET).await;
    assert_eq!(s, 200);
    tokens.push(v["access_token"].as_str().unwrap().to_string());
    get(q("https://graph.microsoft.com"), LIMITED_SECRET).await;
    get(q("api://contoso-api"), "wrong-secret-wrong-secret").await;
    get(q("api://nowhere"), DEV_SECRET).await;
    // Upstream failing: stale serving, then a cold resource with nothing to serve.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    h.fault(json!({"endpoint": "token", "status": 503, "count": 1000}))
        .await;
    let (s, v) = get(q("api://contoso-api"), DEV_SECRET).await;
    assert_eq!(s, 200);
    assert_eq!(v["access_token"], tokens[0].as_str());
    get(q("api://contoso-web"), DEV_SECRET).await;
    h.admin()
        .send(reqwest::Method::DELETE, "/faults", None)
        .await;
    // Purge, reload, and a fresh token.
    client()
        .post(format!("{}/admin/purge", b.imds_endpoint()))
        .bearer_auth("log-test-admin-token-0123456789abcdef")
        .json(&json!({"identity": "daemon"}))
        .send()
        .await
        .unwrap();
    b.reload(c).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (s, v) = get(q("api://contoso-api"), DEV_SECRET).await;
    assert_eq!(s, 200, "{v}");
    tokens.push(v["access_token"].as_str().unwrap().to_string());
    b.shutdown().await;
    h.stop().await;

    let text = captured.text();
    assert!(
        text.contains("upstream token request failed"),
        "the failure was logged:\n{text}"
    );
    assert!(text.contains("configuration reloaded"));
    for t in &tokens {
        // Any 24-character window of a token would do; the signature is the rarest part.
        let sig = t.rsplit('.').next().unwrap();
        assert!(!text.contains(&sig[..24]), "a token in the logs");
        assert!(
            !text.contains(&t[..60]),
            "a token header and payload in the logs"
        );
    }
    for secret in [
        DEV_SECRET,
        LIMITED_SECRET,
        dev::DAEMON_SECRET,
        "web-dev-secret",
        "log-test-admin-token",
    ] {
        assert!(!text.contains(secret), "{secret} in the logs");
    }
    let audit = std::fs::read_to_string(&audit).unwrap();
    for t in &tokens {
        assert!(!audit.contains(&t[..60]));
    }
}
