//! The client-credentials grant: secrets, certificates, federated assertions, and the
//! token endpoint's errors.

use crate::common::*;

#[tokio::test]
async fn secret_gives_a_v2_app_token_with_roles() {
    let env = Env::start().await;
    let (status, body) = env
        .token(
            "contoso.onmicrosoft.com",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DAEMON),
                ("client_secret", DAEMON_SECRET),
                ("scope", "api://contoso-api/.default"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let claims = env.verify(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["iss"], format!("{}/{CONTOSO}/v2.0", env.base));
    assert_eq!(claims["roles"], serde_json::json!(["Data.Read.All"]));
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["azpacr"], "1");
    assert_eq!(claims["ver"], "2.0");
    env.stop().await;
}

#[tokio::test]
async fn basic_auth_and_v1_endpoint() {
    let env = Env::start().await;
    let resp = env
        .http
        .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
        .basic_auth(DAEMON, Some(DAEMON_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "api://contoso-api/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // v1: resource, string numbers, expires_on; Graph is a v1 resource.
    let resp = env
        .http
        .post(env.url(&format!("/{CONTOSO}/oauth2/token")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("resource", "https://graph.microsoft.com"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["expires_in"].is_string() && body["expires_on"].is_string(),
        "{body}"
    );
    assert_eq!(body["resource"], "https://graph.microsoft.com");
    let claims = env.verify(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["iss"], format!("{}/{CONTOSO}/", env.base));
    assert_eq!(claims["appidacr"], "1");
    env.stop().await;
}

#[tokio::test]
async fn certificate_assertions_rs256_and_ps256() {
    let env = Env::start().await;
    let pem = std::fs::read_to_string(&env.ready().daemon_certificate).unwrap();
    let key_b64: String = pem
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .unwrap()
        .split("-----END")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let key =
        entra_jose::RsaSigningKey::from_pkcs8_der(&entra_jose::b64std_decode(&key_b64).unwrap())
            .unwrap();
    let cert_b64: String = pem
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .unwrap()
        .split("-----END")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let cert_der = entra_jose::b64std_decode(&cert_b64).unwrap();
    let aud = env.url(&format!("/{CONTOSO}/oauth2/v2.0/token"));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({"aud": aud, "iss": DAEMON, "sub": DAEMON, "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "exp": now + 600});
    for (alg, header) in [
        (
            entra_jose::Algorithm::RS256,
            serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": entra_jose::x5t_sha1(&cert_der)}),
        ),
        (
            entra_jose::Algorithm::PS256,
            serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": entra_jose::x5t_sha256(&cert_der)}),
        ),
    ] {
        let jwt = key
            .sign_compact(
                alg,
                &entra_jose::b64url(header.to_string()),
                claims.to_string().as_bytes(),
            )
            .unwrap();
        let (status, body) = env
            .token(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", DAEMON),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &jwt),
                    ("scope", "api://contoso-api/.default"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{alg:?}: {body}");
        assert_eq!(
            env.verify(body["access_token"].as_str().unwrap()).await["azpacr"],
            "2"
        );
    }
    // Expired assertion: AADSTS700024. Tampered: AADSTS700027.
    let stale = serde_json::json!({"aud": aud, "iss": DAEMON, "sub": DAEMON, "jti": "x", "nbf": now - 7200, "exp": now - 3600});
    let header = entra_jose::b64url(
        serde_json::json!({"alg": "RS256", "x5t": entra_jose::x5t_sha1(&cert_der)}).to_string(),
    );
    let jwt = key
        .sign_compact(
            entra_jose::Algorithm::RS256,
            &header,
            stale.to_string().as_bytes(),
        )
        .unwrap();
    let form = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", DAEMON.to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion", a.to_string()),
            ("scope", "api://contoso-api/.default".into()),
        ]
    };
    let resp: Value = env
        .http
        .post(&aud)
        .form(&form(&jwt))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code_of(&resp), 700024);
    let good = key
        .sign_compact(
            entra_jose::Algorithm::RS256,
            &header,
            claims.to_string().as_bytes(),
        )
        .unwrap();
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    parts[1] = entra_jose::b64url(serde_json::json!({"aud": aud, "iss": DAEMON, "sub": DAEMON, "jti": "y", "nbf": now, "exp": now + 9999}).to_string());
    let resp: Value = env
        .http
        .post(&aud)
        .form(&form(&parts.join(".")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code_of(&resp), 700027);
    env.stop().await;
}

#[tokio::test]
async fn federated_assertion_from_the_emulator_issuer() {
    let env = Env::start().await;
    let state_dir = std::path::Path::new(&env.ready().ca_file)
        .parent()
        .unwrap()
        .to_path_buf();
    let issuer = format!("{}/federation", env.base);
    let token = entra_emulator::mint_federated(
        &state_dir,
        &issuer,
        "system:serviceaccount:default:workload",
        "api://AzureADTokenExchange",
        600,
    )
    .unwrap();
    let form = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", DAEMON.to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion", a.to_string()),
            ("scope", "api://contoso-api/.default".into()),
        ]
    };
    assert_eq!(env.token(CONTOSO, &form(&token)).await.0, 200);
    let wrong = entra_emulator::mint_federated(
        &state_dir,
        &issuer,
        "system:serviceaccount:default:other",
        "api://AzureADTokenExchange",
        600,
    )
    .unwrap();
    let body: Value = env.token(CONTOSO, &form(&wrong)).await.1;
    assert_eq!(code_of(&body), 70021, "{body}");
    let stale = entra_emulator::mint_federated(
        &state_dir,
        &issuer,
        "system:serviceaccount:default:workload",
        "api://AzureADTokenExchange",
        -600,
    )
    .unwrap();
    let body: Value = env.token(CONTOSO, &form(&stale)).await.1;
    assert_eq!(code_of(&body), 700024, "{body}");
    env.stop().await;
}

#[tokio::test]
async fn error_paths_carry_entras_codes() {
    let env = Env::start().await;
    let cc = |id: &'static str, secret: &'static str, scope: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", scope),
        ]
    };
    let cases: Vec<ErrorCase> = vec![
        (
            CONTOSO,
            cc(DAEMON, "nope", "api://contoso-api/.default"),
            401,
            "invalid_client",
            7000215,
        ),
        (
            CONTOSO,
            cc(
                DAEMON,
                "daemon-expired-secret",
                "api://contoso-api/.default",
            ),
            401,
            "invalid_client",
            7000222,
        ),
        (
            CONTOSO,
            cc(
                "99999999-0000-4000-8000-000000000000",
                "x",
                "api://contoso-api/.default",
            ),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "fab00000-0000-4000-8000-000000000002",
            cc(DAEMON, DAEMON_SECRET, "api://contoso-api/.default"),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            CONTOSO,
            cc(DAEMON, DAEMON_SECRET, "api://contoso-api/Data.Read"),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            CONTOSO,
            cc(DAEMON, DAEMON_SECRET, "api://nothing-here/.default"),
            400,
            "invalid_resource",
            500011,
        ),
        (
            CONTOSO,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", DAEMON),
                ("scope", "api://contoso-api/.default"),
            ],
            401,
            "invalid_client",
            7000218,
        ),
        (
            CONTOSO,
            vec![("grant_type", "magic"), ("client_id", DAEMON)],
            400,
            "unsupported_grant_type",
            70003,
        ),
        (
            CONTOSO,
            vec![("client_id", DAEMON)],
            400,
            "invalid_request",
            900144,
        ),
        (
            "common",
            cc(DAEMON, DAEMON_SECRET, "api://contoso-api/.default"),
            400,
            "invalid_request",
            50059,
        ),
    ];
    for (tenant, form, status, error, code) in cases {
        let (s, body) = env.token(tenant, &form).await;
        assert_eq!(
            (s, body["error"].as_str().unwrap(), code_of(&body)),
            (status, error, code),
            "{form:?}: {body}"
        );
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with(&format!("AADSTS{code}:"))
        );
        for k in ["trace_id", "correlation_id", "timestamp", "error_uri"] {
            assert!(body[k].is_string(), "{k} missing");
        }
    }
    // Not a form, and a malformed form.
    let resp = env
        .http
        .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let resp = env
        .http
        .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', 0x80])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Oversized body: refused, the server stays up.
    let resp = env
        .http
        .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error_codes"][0],
        9002313
    );
    let (s, _) = env
        .token(
            CONTOSO,
            &cc(DAEMON, DAEMON_SECRET, "api://contoso-api/.default"),
        )
        .await;
    assert_eq!(s, 200);
    env.stop().await;
}
