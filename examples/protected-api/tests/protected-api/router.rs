//! The router driven with `tower::oneshot` and real emulator tokens: good tokens, bad
//! tokens, missing permissions, the tenant header, the benchmark baseline and the `c1`
//! step-up.

use std::time::{SystemTime, UNIX_EPOCH};

use entra_testkit::Harness;
use entra_validate::{Clock, Validator};
use http::StatusCode;
use serde_json::json;

use crate::common::{
    ALICE, ALICE_OID, ALICE_PASSWORD, API_DEFAULT, API_READ, API_WRITE, DAEMON, OTHER_TENANT_ID,
    PUBLIC_CLIENT, TENANT_ID, alice_authorization_code, bearer, call, call_as, settings,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_app_and_user_tokens_get_200() {
    let h = Harness::start().await;
    let app = protected_api::app(settings(&h).validator().unwrap());
    let daemon = bearer(&h.daemon_token(API_DEFAULT).await);
    let alice = bearer(&h.alice_token(API_READ).await);
    let writer = bearer(&h.alice_token(API_WRITE).await);

    // Health needs nothing.
    let a = call(&app, "GET", "/healthz", &[]).await;
    assert_eq!((a.status, a.body), (StatusCode::OK, json!("ok")));

    // The daemon: app role Data.Read.All.
    let a = call_as(&app, "GET", "/account/me", &daemon).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["tenant"], TENANT_ID);
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
            ("x-tenant-id", &TENANT_ID.to_uppercase()),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["oid"], ALICE_OID);
    assert_eq!(a.body["name"], "Alice Example");
    assert_eq!(a.body["username"], ALICE);
    assert_eq!(a.body["app_id"], PUBLIC_CLIENT);
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
    let tenant = ("x-tenant-id", TENANT_ID);

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
    let good = bearer(&h.daemon_token(API_DEFAULT).await);
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
    let daemon = bearer(&h.daemon_token(API_DEFAULT).await);
    let reader = bearer(&h.alice_token(API_READ).await);
    let tenant = ("x-tenant-id", TENANT_ID);

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
    let writer = bearer(&h.alice_token(API_WRITE).await);
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
        &[("authorization", &daemon), ("x-tenant-id", OTHER_TENANT_ID)],
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_needs_the_c1_step_up_through_a_claims_challenge() {
    let h = Harness::start().await;
    let app = protected_api::app(settings(&h).validator().unwrap());
    let alice_form = |claims: Option<&str>| {
        let mut form = vec![
            ("grant_type", "password".to_string()),
            ("client_id", PUBLIC_CLIENT.to_string()),
            ("username", ALICE.to_string()),
            ("password", ALICE_PASSWORD.to_string()),
            ("scope", API_WRITE.to_string()),
        ];
        form.extend(claims.map(|c| ("claims", c.to_string())));
        form
    };
    let writer = bearer(&h.access_token(TENANT_ID, &alice_form(None)).await);

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
    let stepped_up = bearer(&h.access_token(TENANT_ID, &alice_form(Some(&claims))).await);
    let a = call_as(&app, "DELETE", "/data/1", &stepped_up).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    let a = call_as(&app, "DELETE", "/data/1", &stepped_up).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // A daemon with the Data.Write.All role has no delegated Data.Write: 403, no
    // step-up to offer (app tokens never carry an authentication context).
    let daemon = bearer(&h.daemon_token(API_DEFAULT).await);
    let a = call_as(&app, "DELETE", "/data/2", &daemon).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert_eq!(a.body["code"], "insufficient_scope");
    h.stop().await;
}
