//! The opt-in request recorder (`Options::record_requests`, `GET /admin/requests`): off
//! by default, behind the admin guard, bounded, and never holding a secret or a raw
//! token: secrets are redacted, a client assertion is kept as its decoded header and
//! claims only.

use crate::common::*;

fn cc_form(secret: &str) -> [(&'static str, String); 4] {
    [
        ("grant_type", "client_credentials".into()),
        ("client_id", DAEMON.into()),
        ("client_secret", secret.into()),
        ("scope", "api://contoso-api/.default".into()),
    ]
}

#[tokio::test]
async fn off_by_default_and_behind_the_admin_guard() {
    let env = Env::start().await;
    let off = env
        .admin()
        .send(reqwest::Method::GET, "/requests", None)
        .await;
    assert_eq!(off.status(), 404);
    let text = off.text().await.unwrap();
    assert!(text.contains("--record-requests"), "{text}");
    env.stop().await;

    let h = Harness::start_with(Options {
        record_requests: 3,
        ..Default::default()
    })
    .await;
    let anonymous = h.url("/admin/requests");
    let resp = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&h.ready().ca_file).unwrap()).unwrap(),
        )
        .build()
        .unwrap()
        .get(&anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    h.stop().await;
}

#[tokio::test]
async fn records_are_redacted_bounded_and_cleared() {
    let h = Harness::start_with(Options {
        record_requests: 3,
        ..Default::default()
    })
    .await;
    // A wrong secret (401) and a right one (200); the answers' statuses are kept.
    let (bad, _) = h.token_response(CONTOSO, &cc_form("not-the-secret")).await;
    assert_eq!(bad, 401);
    let token = h.token_ok(CONTOSO, &cc_form(DAEMON_SECRET)).await;
    let access_token = token["access_token"].as_str().unwrap().to_string();
    // A client assertion (its signature does not matter here): kept decoded, the
    // signature dropped.
    let header = entra_jose::b64url(r#"{"alg":"RS256","typ":"JWT","x5t":"abc"}"#);
    let claims = serde_json::json!({"iss": DAEMON, "sub": DAEMON, "jti": "j1"});
    let jws = format!(
        "{header}.{}.c2lnbmF0dXJlLW5vdC1rZXB0",
        entra_jose::b64url(claims.to_string())
    );
    h.token_response(
        CONTOSO,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &jws),
            ("scope", "api://contoso-api/.default"),
        ],
    )
    .await;
    // Not recorded: discovery.
    h.admin().get("/counters").await;
    let all = h.admin().get("/requests").await;
    let text = all.to_string();
    for secret in ["not-the-secret", DAEMON_SECRET, &access_token, &jws] {
        assert!(!text.contains(secret), "a secret or token in {text}");
    }
    let sig = jws.rsplit('.').next().unwrap();
    assert!(!text.contains(sig));
    let records = all["requests"].as_array().unwrap();
    assert_eq!(records.len(), 3, "{all}");
    assert_eq!(all["last_seq"], 3);
    let form = |r: &Value, k: &str| {
        r["form"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p[0] == k)
            .map(|p| p[1].clone())
    };
    assert_eq!(records[0]["status"], 401);
    assert_eq!(records[1]["status"], 200);
    assert_eq!(
        form(&records[1], "client_secret"),
        Some("[redacted]".into())
    );
    assert_eq!(
        form(&records[1], "grant_type"),
        Some("client_credentials".into())
    );
    assert_eq!(records[1]["endpoint"], "token");
    assert_eq!(records[1]["method"], "POST");
    assert_eq!(records[2]["client_assertion"]["header"]["x5t"], "abc");
    assert_eq!(records[2]["client_assertion"]["claims"]["iss"], DAEMON);
    assert_eq!(
        form(&records[2], "client_assertion"),
        Some("[redacted]".into())
    );
    // Bounded: a fourth request pushes the first out; `after` filters.
    h.token_ok(CONTOSO, &cc_form(DAEMON_SECRET)).await;
    let newest = h.admin().get("/requests?after=3").await;
    assert_eq!(newest["requests"].as_array().unwrap().len(), 1);
    let all = h.admin().get("/requests").await;
    assert_eq!(all["requests"][0]["seq"], 2);
    // Cleared.
    let cleared = h
        .admin()
        .send(reqwest::Method::DELETE, "/requests", None)
        .await;
    assert_eq!(cleared.status(), 204);
    assert_eq!(
        h.admin().get("/requests").await["requests"],
        serde_json::json!([])
    );
    h.stop().await;
}
