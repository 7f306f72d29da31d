//! Signing-key rollover as Entra does it: `POST /admin/keys/rotate` publishes the next key
//! in both JWKS at once and signs with it only after `key_rollover_delay_seconds`; the
//! immediate switch is `?danger_immediate=true`.

use crate::common::*;

async fn kids(env: &Env, path: &str) -> Vec<String> {
    let keys: Value = env
        .http
        .get(env.url(&format!("/{CONTOSO}/{path}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

async fn daemon_kid(env: &Env) -> String {
    let token = env.daemon_token("api://contoso-api/.default").await;
    decode_unverified(&token)
        .unwrap()
        .header_str("kid")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn rotation_announces_the_next_key_before_it_signs() {
    let env = Env::start().await;
    let old = daemon_kid(&env).await;
    let r = env.admin_post("/keys/rotate", Value::Null).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let new = body["kid"].as_str().unwrap().to_string();
    assert_eq!(body["mode"], "announced");
    assert_eq!(body["signing_kid"], old.as_str());
    assert_eq!(body["activates_in_seconds"], 600, "the default delay");

    // Published in the v2 and the v1 key sets at once, next to the signing key.
    for path in ["discovery/v2.0/keys", "discovery/keys"] {
        assert_eq!(kids(&env, path).await, [new.clone(), old.clone()], "{path}");
    }
    // Tokens keep the old kid until the delay passes...
    assert_eq!(daemon_kid(&env).await, old);
    // (Margins of seconds around each edge: the real clock runs on under the offset.)
    env.advance_clock(590).await;
    assert_eq!(daemon_kid(&env).await, old);
    let status = env.admin().get("/keys").await;
    assert_eq!(status["keys"][0]["phase"], "announced");
    assert_eq!(status["keys"][1]["phase"], "signing");
    // ...and then carry the new one.
    env.advance_clock(20).await;
    assert_eq!(daemon_kid(&env).await, new);
    let status = env.admin().get("/keys").await;
    assert_eq!(status["keys"][0]["phase"], "signing");
    assert_eq!(status["keys"][1]["phase"], "retired");
    // The old key stays published for key_grace_seconds after it stopped signing.
    env.advance_clock(86_400 - 60).await;
    assert_eq!(kids(&env, "discovery/v2.0/keys").await, [new.clone(), old]);
    env.advance_clock(120).await;
    assert_eq!(kids(&env, "discovery/v2.0/keys").await, [new]);
    env.stop().await;
}

#[tokio::test]
async fn a_second_announcement_waits_and_the_danger_switch_replaces_it() {
    let env = Env::start().await;
    let old = daemon_kid(&env).await;
    let first: Value = env
        .admin_post("/keys/rotate", Value::Null)
        .await
        .json()
        .await
        .unwrap();
    let again = env.admin_post("/keys/rotate", Value::Null).await;
    assert_eq!(again.status(), 409);
    let text = again.text().await.unwrap();
    assert!(text.contains("already announced"), "{text}");
    let bad = env
        .admin_post("/keys/rotate?danger_immediate=yes", Value::Null)
        .await;
    assert_eq!(bad.status(), 400);

    let now: Value = env
        .admin_post("/keys/rotate?danger_immediate=true", Value::Null)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["mode"], "danger_immediate");
    assert!(now["warning"].as_str().unwrap().contains("unknown kid"));
    let kid = now["kid"].as_str().unwrap().to_string();
    assert_eq!(daemon_kid(&env).await, kid, "signs at once");
    // The announced key never signed; it is withdrawn, the old one stays for grace.
    let published = kids(&env, "discovery/v2.0/keys").await;
    assert_eq!(published, [kid.clone(), old]);
    assert!(!published.contains(&first["kid"].as_str().unwrap().to_string()));
    env.advance_clock(3600).await;
    assert_eq!(daemon_kid(&env).await, kid);
    env.stop().await;
}

#[tokio::test]
async fn a_pending_switch_survives_a_restart_and_the_delay_is_an_option() {
    // What the harness does for its client: reqwest has no bundled crypto provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("entra-rollover-{}", uuid::Uuid::new_v4()));
    let start = || {
        Emulator::start(Options {
            state_dir: dir.clone(),
            port: 0,
            key_rollover_delay: Some(30),
            ..Default::default()
        })
    };
    let admin = |emu: &Emulator, method: reqwest::Method, path: &str| {
        entra_testkit::client_trusting(&emu.ready.ca_file)
            .request(method, format!("{}/admin{path}", emu.ready.authority))
            .bearer_auth(&emu.ready.admin_token)
            .send()
    };
    let emu = start().await.unwrap();
    let body: Value = admin(&emu, reqwest::Method::POST, "/keys/rotate")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["activates_in_seconds"], 30);
    let new = body["kid"].as_str().unwrap().to_string();
    emu.shutdown().await;

    let emu = start().await.unwrap();
    let status: Value = admin(&emu, reqwest::Method::GET, "/keys")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["key_rollover_delay_seconds"], 30);
    assert_eq!(status["keys"][0]["kid"], new.as_str());
    assert_eq!(status["keys"][0]["phase"], "announced");
    assert_eq!(status["keys"][0]["activates"], body["activates_at"]);
    emu.shutdown().await;
    std::fs::remove_dir_all(dir).ok();
}
