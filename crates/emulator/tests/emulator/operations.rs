//! Running the emulator: the admin API, faults, counters, the clock, key rotation,
//! configuration errors.

use crate::common::*;

#[tokio::test]
async fn faults_counters_and_admin_guard() {
    let env = Env::start().await;
    let resp = env
        .http
        .get(env.url("/admin/counters"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let cc = [
        ("grant_type", "client_credentials"),
        ("client_id", DAEMON),
        ("client_secret", DAEMON_SECRET),
        ("scope", "api://contoso-api/.default"),
    ];
    let resp = env
        .admin_post(
            "/faults",
            serde_json::json!({"endpoint": "token", "status": 429, "count": 2, "retry_after": 3}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    for _ in 0..2 {
        let resp = env
            .http
            .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
            .form(&cc)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "3");
    }
    let (status, _) = env.token(CONTOSO, &cc).await;
    assert_eq!(status, 200);
    env.admin_post(
        "/faults",
        serde_json::json!({"endpoint": "token", "drop": 1}),
    )
    .await;
    let dropped = env
        .http
        .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
        .form(&cc)
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection is closed without an answer"
    );
    let (status, _) = env.token(CONTOSO, &cc).await;
    assert_eq!(status, 200);
    let counters: Value = env
        .http
        .get(env.url("/admin/counters"))
        .bearer_auth(&env.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["endpoint:token"], 5); // two 429s, one 200, one dropped, one 200
    assert_eq!(counters["grant:client_credentials"], 2);
    let events: Value = env
        .http
        .get(env.url("/admin/events"))
        .bearer_auth(&env.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!events["events"].as_array().unwrap().is_empty());
    env.stop().await;
}

/// Hostile bodies on every form endpoint: each gets an Entra-shaped 4xx, and the
/// server keeps answering.
#[tokio::test]
async fn random_form_bodies_get_entra_errors() {
    let env = Env::start().await;
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces: [&[u8]; 12] = [
        b"grant_type=",
        b"client_credentials",
        b"&",
        b"=",
        b"%",
        b"%zz",
        b"scope=api://contoso-api/.default",
        b"client_id=",
        DAEMON.as_bytes(),
        b"\xff\xfe",
        b"code=",
        b"+",
    ];
    let paths = [
        "/common/oauth2/v2.0/token",
        "/contoso.onmicrosoft.com/oauth2/token",
        "/contoso.onmicrosoft.com/oauth2/v2.0/devicecode",
        "/login",
        "/consent",
        "/devicelogin",
        "/device/confirm",
    ];
    for round in 0..300 {
        let mut body = Vec::new();
        for _ in 0..(next() % 8) {
            body.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let path = paths[round % paths.len()];
        let resp = env
            .http
            .post(env.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!(
            (400..500).contains(&status),
            "{path} {:?} -> {status}",
            String::from_utf8_lossy(&body)
        );
    }
    let (status, _) = env
        .token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DAEMON),
                ("client_secret", DAEMON_SECRET),
                ("scope", "api://contoso-api/.default"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    env.stop().await;
}

#[tokio::test]
async fn admin_adds_apps_secrets_and_users() {
    let env = Env::start().await;
    let resp = env
        .admin_post("/apps", serde_json::json!({"client_id": "f0000000-0000-4000-8000-0000000000f1", "name": "New daemon", "tenant": "contoso.onmicrosoft.com", "app_role_assignments": ["api://contoso-api/Data.Write.All"]}))
        .await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    let secret: Value = env
        .admin_post(
            "/apps/f0000000-0000-4000-8000-0000000000f1/secrets",
            serde_json::json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let value = secret["value"].as_str().unwrap();
    let (status, body) = env
        .token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "f0000000-0000-4000-8000-0000000000f1"),
                ("client_secret", value),
                ("scope", "api://contoso-api/.default"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        env.verify(body["access_token"].as_str().unwrap()).await["roles"],
        serde_json::json!(["Data.Write.All"])
    );
    let bad = env
        .admin_post(
            "/apps",
            serde_json::json!({"client_id": "not-a-guid", "tenant": "contoso.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let resp = env
        .admin_post(
            "/users",
            serde_json::json!({"upn": "carol@contoso.onmicrosoft.com", "password": "carol-pw"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = env
        .http
        .delete(env.url("/admin/apps/f0000000-0000-4000-8000-0000000000f1"))
        .bearer_auth(&env.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (_, body) = env
        .token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "f0000000-0000-4000-8000-0000000000f1"),
                ("client_secret", value),
                ("scope", "api://contoso-api/.default"),
            ],
        )
        .await;
    assert_eq!(code_of(&body), 700016);
    env.stop().await;
}

#[tokio::test]
async fn bad_config_is_refused_with_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("entra-badcfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("dir.toml");
    std::fs::write(&cfg, "[[tenants]]\nid = \"c0ffee00-0000-4000-8000-000000000001\"\ndomain = \"x.example\"\n[[apps]]\nclient_id = \"a0000000-0000-4000-8000-0000000000a1\"\ntenant = \"y.example\"\n").unwrap();
    let err = Emulator::start(Options {
        state_dir: dir.join("state"),
        port: 0,
        config: Some(cfg.clone()),
        ..Default::default()
    })
    .await
    .err()
    .unwrap();
    assert!(
        matches!(err, entra_emulator::StartError::Directory(_)),
        "{err}"
    );
    let err = err.to_string();
    assert!(err.contains("dir.toml:6: apps[0].tenant"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}
