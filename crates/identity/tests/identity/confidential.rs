//! entra-identity against a real emulator over HTTPS: every confidential credential, the
//! cache (single-flight proven with the emulator's counters), retries under injected
//! faults, and errors that carry Entra's codes but never a secret.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{Emu, claims};
use entra_identity::{
    ClientAssertionCredential, ClientCertificate, ClientCertificateCredential, ClientOptions,
    ClientSecretCredential, Error, Secret, TokenCredential, TokenRequest,
};
use entra_testkit::dev::{API_DEFAULT, DAEMON, TENANT};

#[tokio::test]
async fn client_secret_and_the_cache() {
    let env = Emu::start().await;
    let cred =
        ClientSecretCredential::new(TENANT, DAEMON, "daemon-dev-secret", env.options()).unwrap();
    let req = TokenRequest::new([API_DEFAULT]);
    let t = cred.get_token(&req).await.unwrap();
    let c = claims(&t.token);
    assert_eq!(c["aud"], "a0000000-0000-4000-8000-0000000000a1");
    assert_eq!(c["roles"], serde_json::json!(["Data.Read.All"]));
    assert!(t.expires_on > entra_identity::unix_time::now() + 3000);
    // Served from the cache: no second token request.
    let again = cred
        .get_token(&TokenRequest::new(["API://CONTOSO-API/.default"]))
        .await
        .unwrap();
    assert_eq!(again.token, t.token);
    assert_eq!(env.counter("grant:client_credentials").await, 1);
    // A claims challenge goes to the authority.
    cred.get_token(
        &req.clone()
            .claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#),
    )
    .await
    .unwrap();
    assert_eq!(env.counter("grant:client_credentials").await, 2);
    // Debug shows no secret.
    let shown = format!("{cred:?}");
    assert!(
        !shown.contains("daemon-dev-secret") && shown.contains("[redacted]"),
        "{shown}"
    );
    assert!(!format!("{t:?}").contains(t.token.expose()));
    env.stop().await;
}

#[tokio::test]
async fn one_token_request_for_a_thousand_cold_callers() {
    let env = Emu::start().await;
    let cred = Arc::new(
        ClientSecretCredential::new(TENANT, DAEMON, "daemon-dev-secret", env.options()).unwrap(),
    );
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let cred = cred.clone();
        tasks.push(tokio::spawn(async move {
            cred.get_token(&TokenRequest::new([API_DEFAULT]))
                .await
                .map(|t| t.expires_on)
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(env.counter("grant:client_credentials").await, 1);
    assert_eq!(
        env.counter("endpoint:discovery").await,
        1,
        "discovery is fetched once"
    );
    env.stop().await;
}

#[tokio::test]
async fn certificate_rs256_ps256_and_chain() {
    let env = Emu::start().await;
    let pem = std::fs::read_to_string(&env.ready().daemon_certificate).unwrap();
    for (alg, chain) in [
        (entra_jose::Algorithm::RS256, false),
        (entra_jose::Algorithm::PS256, true),
    ] {
        let cert = ClientCertificate::from_pem(&pem).unwrap();
        let cred =
            ClientCertificateCredential::new(TENANT, DAEMON, cert, alg, chain, env.options())
                .unwrap();
        let t = cred
            .get_token(&TokenRequest::new([API_DEFAULT]))
            .await
            .unwrap();
        assert_eq!(claims(&t.token)["azpacr"], "2", "{alg:?}");
    }
    let from_file = ClientCertificateCredential::from_pem_file(
        TENANT,
        DAEMON,
        &env.ready().daemon_certificate,
        env.options(),
    )
    .unwrap();
    from_file
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap();
    assert!(matches!(
        ClientCertificate::from_pem("no pem here"),
        Err(Error::Config(_))
    ));
    // Entra takes RS256 and PS256 assertions only: another algorithm is a configuration
    // error at once, not a failure at the first token request.
    for alg in [entra_jose::Algorithm::RS512, entra_jose::Algorithm::ES256] {
        let cert = ClientCertificate::from_pem(&pem).unwrap();
        match ClientCertificateCredential::new(TENANT, DAEMON, cert, alg, false, env.options()) {
            Err(Error::Config(m)) => assert!(m.contains("RS256 or PS256"), "{m}"),
            other => panic!("{alg}: {:?}", other.map(|_| ())),
        }
    }
    env.stop().await;
}

#[tokio::test]
async fn assertion_callback_with_a_federated_token() {
    let env = Emu::start().await;
    let state_dir = env.dir().to_path_buf();
    let issuer = format!("{}/federation", env.ready().authority);
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = calls.clone();
    let callback: entra_identity::AssertionCallback = Arc::new(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (dir, iss) = (state_dir.clone(), issuer.clone());
        Box::pin(async move {
            entra_emulator::mint_federated(
                &dir,
                &iss,
                "system:serviceaccount:default:workload",
                "api://AzureADTokenExchange",
                600,
            )
            .map(Secret::new)
            .map_err(|e| Error::Config(e.to_string()))
        })
    });
    let cred = ClientAssertionCredential::new(TENANT, DAEMON, callback, env.options()).unwrap();
    let t = cred
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap();
    assert_eq!(claims(&t.token)["azpacr"], "2");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    env.stop().await;
}

#[tokio::test]
async fn retries_through_a_429_storm_503s_and_dropped_connections() {
    let env = Emu::start().await;
    let cred =
        ClientSecretCredential::new(TENANT, DAEMON, "daemon-dev-secret", env.options()).unwrap();
    // Warm discovery so only the token endpoint sees the faults.
    cred.get_token(&TokenRequest::new(["api://contoso-web/.default"]))
        .await
        .unwrap();
    env.fault(
        serde_json::json!({"endpoint": "token", "status": 429, "count": 2, "retry_after": 1}),
    )
    .await;
    let start = std::time::Instant::now();
    cred.get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "Retry-After was honoured"
    );
    env.fault(serde_json::json!({"endpoint": "token", "status": 503, "count": 1}))
        .await;
    cred.get_token(&TokenRequest::new(["https://graph.microsoft.com/.default"]))
        .await
        .unwrap();
    env.fault(serde_json::json!({"endpoint": "token", "drop": 1}))
        .await;
    cred.get_token(&TokenRequest::new([
        "a0000000-0000-4000-8000-0000000000a1/.default",
    ]))
    .await
    .unwrap();
    // 1 warm-up + 3 (two 429s) + 2 (one 503) + 2 (one drop) = 8 token endpoint hits.
    assert_eq!(env.counter("endpoint:token").await, 8);
    // A storm longer than the retry budget fails with the throttling error, not a hang.
    env.fault(
        serde_json::json!({"endpoint": "token", "status": 429, "count": 10, "retry_after": 0}),
    )
    .await;
    let err = cred
        .get_token(&TokenRequest::new(["api://contoso-api/Data.Read"]).claims("{}"))
        .await
        .unwrap_err();
    assert_eq!(err.entra().map(|e| e.status), Some(429), "{err}");
    env.stop().await;
}

#[tokio::test]
async fn errors_keep_codes_add_hints_and_hide_secrets() {
    let env = Emu::start().await;
    let cred =
        ClientSecretCredential::new(TENANT, DAEMON, "a-wrong-secret-value", env.options()).unwrap();
    let err = cred
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap_err();
    let e = err.entra().expect("an Entra error");
    assert_eq!(
        (e.error.as_str(), e.codes.as_slice(), e.status),
        ("invalid_client", &[7000215u32][..], 401)
    );
    assert!(e.trace_id.is_some() && e.correlation_id.is_some());
    let text = format!("{err} {err:?}");
    assert!(text.contains("hint: the secret's ID"), "{text}");
    assert!(!text.contains("a-wrong-secret-value"));
    let good =
        ClientSecretCredential::new(TENANT, DAEMON, "daemon-dev-secret", env.options()).unwrap();
    let err = good
        .get_token(&TokenRequest::new(["api://contoso-api/Data.Read"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/.default"), "{err}");
    let err = good
        .get_token(&TokenRequest::new([API_DEFAULT]).tenant("fabrikam.onmicrosoft.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(_)),
        "tenant switching is opt-in: {err}"
    );
    let unknown =
        ClientSecretCredential::new("nowhere.example", DAEMON, "x", env.options()).unwrap();
    let err = unknown
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap_err();
    assert!(err.entra().is_some_and(|e| e.has_code(90002)), "{err}");
    assert!(ClientSecretCredential::new(TENANT, DAEMON, "", env.options()).is_err());
    assert!(
        ClientSecretCredential::new(
            TENANT,
            DAEMON,
            "x",
            ClientOptions {
                authority_host: Some("http://localhost".into()),
                ..Default::default()
            }
        )
        .is_err()
    );
    env.stop().await;
}

#[tokio::test]
async fn instance_discovery_checks_unknown_hosts_and_can_be_turned_off() {
    use entra_identity::InstanceDiscovery;
    let env = Emu::start().await;
    let discovery = format!("{}/common/discovery/instance", env.ready().authority);

    // The emulator's own host, checked at its discovery endpoint: one instance-discovery
    // request, then the metadata address it named, then the token.
    let checked = ClientOptions {
        instance_discovery: InstanceDiscovery::Endpoint(discovery.clone()),
        ..env.options()
    };
    let cred = ClientSecretCredential::new(TENANT, DAEMON, "daemon-dev-secret", checked).unwrap();
    cred.get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap();
    assert_eq!(env.counter("endpoint:instance_discovery").await, 1);
    assert_eq!(env.counter("endpoint:discovery").await, 1);

    // A host the instance does not know: AADSTS50049 with a hint, and nothing is sent to
    // that host (it does not resolve; the error comes from discovery, not from DNS).
    let unknown = ClientOptions {
        authority_host: Some("https://login.contoso.invalid".into()),
        instance_discovery: InstanceDiscovery::Endpoint(discovery),
        ..env.options()
    };
    let cred = ClientSecretCredential::new(TENANT, DAEMON, "daemon-dev-secret", unknown).unwrap();
    let err = cred
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap_err();
    match &err {
        Error::Entra(e) => assert!(e.has_code(50049), "{err}"),
        other => panic!("expected AADSTS50049, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("InstanceDiscovery::DangerDisabled"), "{text}");
    assert!(!text.contains("daemon-dev-secret"));
    assert_eq!(env.counter("endpoint:instance_discovery").await, 2);
    assert_eq!(env.counter("grant:client_credentials").await, 1);

    // Loopback hosts need no check by default, and the opt-out skips it for any host.
    for setting in [
        InstanceDiscovery::Validate,
        InstanceDiscovery::DangerDisabled,
    ] {
        let opts = ClientOptions {
            instance_discovery: setting,
            ..env.options()
        };
        let cred = ClientSecretCredential::new(TENANT, DAEMON, "daemon-dev-secret", opts).unwrap();
        cred.get_token(&TokenRequest::new([API_DEFAULT]))
            .await
            .unwrap();
    }
    assert_eq!(env.counter("endpoint:instance_discovery").await, 2);
    env.stop().await;
}
