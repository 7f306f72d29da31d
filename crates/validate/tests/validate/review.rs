//! Findings of the security review (issue 12, Low): one test each.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use entra_validate::{
    Authority, Clock, EntraAuthLayer, JwksSettings, ValidationError, Validator, ValidatorConfig,
};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::common::*;

/// An exact-issuer builder trusting `forge`'s key.
fn issuer_builder(forge: &Forge, iss: &str) -> entra_validate::ValidatorConfigBuilder {
    ValidatorConfig::builder()
        .issuer(iss)
        .audience(API)
        .static_jwks(json!({ "keys": [forge.jwk(json!({}))] }).to_string())
        .clock(Clock::manual(NOW))
}

/// Serves `router` on an ephemeral loopback port; the base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// The status and body text of a GET through `EntraAuthLayer`.
async fn through_layer(v: Validator, token: &str) -> (StatusCode, String) {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(EntraAuthLayer::new(v));
    let resp = app
        .oneshot(
            Request::get("/")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[test]
fn exact_issuer_tenant_must_match_tid() {
    let forge = Forge::test_key();
    let contoso_iss = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
    let v1_iss = format!("https://sts.windows.net/{TENANT}/");
    let by_issuer = |iss: &str| Validator::new(issuer_builder(&forge, iss).build().unwrap());
    for iss in [&contoso_iss, &v1_iss] {
        let v = by_issuer(iss);
        let claims = with(v2_claims(), json!({ "iss": iss }));
        // The issuer's own tenant (in any case): accepted.
        let same = forge.token(&with(
            claims.clone(),
            json!({ "tid": TENANT.to_ascii_uppercase() }),
        ));
        assert_eq!(
            check(&v, &same).unwrap().tenant_id(),
            TENANT.to_ascii_uppercase()
        );
        // iss names contoso, tid names fabrikam: refused with its own code.
        let mixed = forge.token(&with(claims.clone(), json!({ "tid": OTHER_TENANT })));
        let e = check(&v, &mixed).unwrap_err();
        assert_eq!(e, ValidationError::IssuerTenantMismatch, "{iss}");
        assert_eq!(e.code(), "issuer_tenant_mismatch");
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        // No tid: nothing to compare.
        let none = forge.token(&with(claims, json!({ "tid": null })));
        assert!(check(&v, &none).is_ok(), "{iss}");
    }
    // A non-Entra issuer carries no tenant in its URL: its tid is not compared.
    let other = "https://idp.example/realms/x";
    let v = by_issuer(other);
    let t = forge.token(&with(
        v2_claims(),
        json!({ "iss": other, "tid": OTHER_TENANT }),
    ));
    assert!(check(&v, &t).is_ok());
}

#[tokio::test]
async fn unavailable_body_names_no_url() {
    // Nothing listens on port 1: neither discovery nor the JWKS can be fetched.
    let token = Forge::test_key().token(&v2_claims());
    let by_jwks_uri = ValidatorConfig::builder()
        .authority(Authority::custom(BASE))
        .tenant(TENANT)
        .audience(API)
        .jwks_uri("https://127.0.0.1:1/secret-path/keys");
    let by_discovery = ValidatorConfig::builder()
        .authority(Authority::custom("https://127.0.0.1:1/secret-path"))
        .tenant(TENANT)
        .audience(API);
    let by_issuer = ValidatorConfig::builder()
        .issuer("https://127.0.0.1:1/secret-path")
        .audience(API);
    for config in [by_jwks_uri, by_discovery, by_issuer] {
        let v = Validator::new(config.build().unwrap());
        // The reason keeps the URL (for logs and `entra validate`)...
        match v.validate(&token).await.unwrap_err() {
            ValidationError::KeysUnavailable(why) => assert!(why.contains("127.0.0.1:1"), "{why}"),
            other => panic!("expected keys_unavailable, got {other:?}"),
        }
        // ...the 503's body does not.
        let (status, body) = through_layer(v.clone(), &token).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["code"], "keys_unavailable");
        for leak in [
            "127.0.0.1",
            "secret-path",
            "https:",
            "http:",
            "well-known",
            "/keys",
        ] {
            assert!(!body.contains(leak), "{leak:?} in {body}");
        }
        let direct: http::Response<String> =
            entra_validate::error_response(&v.validate(&token).await.unwrap_err(), None);
        assert!(!direct.body().contains("127.0.0.1"), "{}", direct.body());
    }
}

#[tokio::test]
async fn jwks_redirect_not_followed() {
    let forge = Forge::test_key();
    // The server a redirect points to serves a valid-looking key set with the issuer's key.
    let jwks = json!({ "keys": [forge.jwk(json!({}))] }).to_string();
    let target = serve(Router::new().route(
        "/keys",
        get(move || {
            let jwks = jwks.clone();
            async move { ([("content-type", "application/json")], jwks) }
        }),
    ))
    .await;
    let location = format!("{target}/keys");
    let redirector = serve(Router::new().route(
        "/keys",
        get(move || {
            let location = location.clone();
            async move { (StatusCode::FOUND, [("location", location)], "") }
        }),
    ))
    .await;
    let config = |client: Option<reqwest::Client>| {
        let mut b = ValidatorConfig::builder()
            .authority(Authority::custom(BASE))
            .tenant(TENANT)
            .audience(API)
            .clock(Clock::manual(NOW))
            .jwks_settings(JwksSettings {
                danger_allow_http: true,
                ..JwksSettings::default()
            })
            .jwks_uri(format!("{redirector}/keys"));
        if let Some(c) = client {
            b = b.http_client(c);
        }
        Validator::new(b.build().unwrap())
    };
    let token = forge.token(&v2_claims());

    // Sanity: the target's keys do validate the token when asked for directly.
    let direct = Validator::new(
        ValidatorConfig::builder()
            .authority(Authority::custom(BASE))
            .tenant(TENANT)
            .audience(API)
            .clock(Clock::manual(NOW))
            .jwks_settings(JwksSettings {
                danger_allow_http: true,
                ..JwksSettings::default()
            })
            .jwks_uri(format!("{target}/keys"))
            .build()
            .unwrap(),
    );
    assert!(direct.validate(&token).await.is_ok());

    // The crate's own client, and an injected client that follows redirects (reqwest's
    // default): both refuse the redirected key set.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    for client in [None, Some(reqwest::Client::new())] {
        let injected = client.is_some();
        let v = config(client);
        match v.validate(&token).await.unwrap_err() {
            ValidationError::KeysUnavailable(why) => {
                assert!(why.contains("redirect"), "injected {injected}: {why}")
            }
            other => panic!("injected {injected}: expected keys_unavailable, got {other:?}"),
        }
        assert!(v.jwks().keys("").is_none(), "no key set was installed");
    }
}

#[test]
fn empty_tenant_header_never_matches_missing_tid() {
    let forge = Forge::test_key();
    let iss = "https://idp.example/realms/x";
    let v = Validator::new(
        issuer_builder(&forge, iss)
            .tenant_header("X-Tenant-ID")
            .build()
            .unwrap(),
    );
    let principal = check(
        &v,
        &forge.token(&with(v2_claims(), json!({ "iss": iss, "tid": null }))),
    )
    .unwrap();
    assert_eq!(principal.tenant_id(), "");
    for value in ["", " ", "\t"] {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-tenant-id", http::HeaderValue::from_str(value).unwrap());
        assert_eq!(
            v.check_tenant_header(&principal, &headers),
            Err(ValidationError::TenantHeaderMismatch("x-tenant-id".into())),
            "{value:?}"
        );
    }
}
