//! OpenID discovery, JWKS, instance discovery and the other metadata endpoints.

use crate::common::*;

#[tokio::test]
async fn documents_use_the_host_the_client_used() {
    let env = Env::start().await;
    for tenant in ["contoso.onmicrosoft.com", CONTOSO] {
        let doc: Value = env
            .http
            .get(env.url(&format!("/{tenant}/v2.0/.well-known/openid-configuration")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["issuer"], format!("{}/{CONTOSO}/v2.0", env.base));
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/{tenant}/oauth2/v2.0/token", env.base)
        );
        assert!(
            doc["authorization_endpoint"]
                .as_str()
                .unwrap()
                .starts_with(&env.base)
        );
        assert!(doc["jwks_uri"].as_str().unwrap().starts_with(&env.base));
    }
    let common: Value = env
        .http
        .get(env.url("/common/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(common["issuer"], format!("{}/{{tenantid}}/v2.0", env.base));
    let v1: Value = env
        .http
        .get(env.url(&format!("/{CONTOSO}/.well-known/openid-configuration")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1["issuer"], format!("{}/{CONTOSO}/", env.base));
    let inst: Value = env
        .http
        .get(env.url(&format!("/common/discovery/instance?api-version=1.1&authorization_endpoint={}/contoso.onmicrosoft.com/oauth2/v2.0/authorize", env.base)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        inst["tenant_discovery_endpoint"],
        format!(
            "{}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            env.base
        )
    );
    let (status, body) = env
        .token("nowhere.example", &[("grant_type", "client_credentials")])
        .await;
    assert_eq!((status, code_of(&body)), (400, 90002));
    env.stop().await;
}

#[tokio::test]
async fn immediate_key_rotation_signs_at_once_and_keeps_the_old_key_published() {
    let env = Env::start().await;
    let (_, body) = env
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
    let old_token = body["access_token"].as_str().unwrap().to_string();
    let before = env.jwks().await;
    assert_eq!(before.len(), 1);
    let rotated: Value = env
        .admin_post("/keys/rotate?danger_immediate=true", Value::Null)
        .await
        .json()
        .await
        .unwrap();
    let after = env.jwks().await;
    assert_eq!(after.len(), 2);
    assert_eq!(after[0].0, rotated["kid"].as_str().unwrap());
    env.verify(&old_token).await; // still verifies during the grace period
    let (_, body) = env
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
    let new = decode_unverified(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(new.header_str("kid"), rotated["kid"].as_str());
    env.stop().await;
}
