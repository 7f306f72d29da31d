//! The tower layer and axum extractor through a real axum router, driven with
//! `tower::ServiceExt::oneshot`: statuses, exact `WWW-Authenticate` values, JSON bodies.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use entra_validate::{
    EntraAuthLayer, Principal, RequireLayer, Requirement, Validator, ValidatorConfig,
};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::common::*;

async fn me(p: Principal) -> axum::Json<Value> {
    axum::Json(json!({
        "tenant": p.tenant_id(), "oid": p.object_id(), "app": p.app_id(),
        "scopes": p.scopes(), "roles": p.roles(),
    }))
}

fn app(validator: Validator) -> Router {
    let protected = Router::new()
        .route("/account/me", get(me))
        .route(
            "/data",
            get(me).layer(
                RequireLayer::new(Requirement::scope("Data.Write").or_role("Data.Write.All"))
                    .realm("contoso-api"),
            ),
        )
        .route(
            "/admin",
            get(me).layer(RequireLayer::new(
                Requirement::scope("Data.Read").and(Requirement::role("Admin")),
            )),
        )
        .layer(EntraAuthLayer::new(validator));
    // A route someone forgot to protect: the extractor still refuses.
    protected.route("/forgot", get(me))
}

fn validator(forge: &Forge) -> Validator {
    Validator::new(
        builder(forge)
            .tenant_header("X-Tenant-ID")
            .realm("contoso-api")
            .build()
            .unwrap(),
    )
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    retry_after: Option<String>,
    body: Value,
    raw: String,
}

async fn call(app: &Router, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let header = |n| {
        resp.headers()
            .get(n)
            .map(|v: &http::HeaderValue| v.to_str().unwrap().to_string())
    };
    let challenge = header(http::header::WWW_AUTHENTICATE);
    let retry_after = header(http::header::RETRY_AFTER);
    if status != StatusCode::OK {
        assert_eq!(
            resp.headers()[http::header::CONTENT_TYPE],
            "application/json",
            "{path}"
        );
    }
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let raw = String::from_utf8(bytes.to_vec()).unwrap();
    Answer {
        status,
        challenge,
        retry_after,
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
    }
}

#[tokio::test]
async fn missing_and_other_schemes_get_a_bare_challenge() {
    let forge = Forge::test_key();
    let app = app(validator(&forge));
    for headers in [
        vec![],
        vec![("authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")],
        vec![("authorization", "Bearer")],
        vec![("authorization", "Bearer    ")],
    ] {
        let a = call(&app, "/account/me", &headers).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        // RFC 6750 §3.1: no error code when the request has no credentials.
        assert_eq!(a.challenge.as_deref(), Some("Bearer realm=\"contoso-api\""));
        assert_eq!(a.body["error"], "unauthorized");
        assert_eq!(a.body["code"], "token_missing");
        assert!(
            a.body["error_description"]
                .as_str()
                .unwrap()
                .contains("Authorization: Bearer")
        );
    }
}

/// The audience trap: a token for another audience is answered with the audiences this
/// API accepts (its configuration) in the JSON body and in `WWW-Authenticate`, and never
/// with the token's own `aud`.
#[tokio::test]
async fn a_wrong_audience_names_the_accepted_ones() {
    let forge = Forge::test_key();
    let app = app(validator(&forge));
    let token = forge.token(&with(v2_claims(), json!({ "aud": "api://not-this-api" })));
    let a = call(
        &app,
        "/account/me",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("x-tenant-id", TENANT),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["code"], "wrong_audience");
    let expected =
        format!("the token was issued for another audience; this API accepts {API} or {API_URI}");
    assert_eq!(a.body["error_description"], expected.as_str());
    let challenge = a.challenge.unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(
        challenge.contains(&format!("error_description=\"{expected}\"")),
        "{challenge}"
    );
    assert!(!a.raw.contains("not-this-api") && !challenge.contains("not-this-api"));
}

#[tokio::test]
async fn invalid_tokens_get_invalid_token() {
    let forge = Forge::test_key();
    let app = app(validator(&forge));
    let expired = forge.token(&with(v2_claims(), json!({ "exp": NOW - 3600 })));
    let a = call(
        &app,
        "/account/me",
        &[
            ("authorization", &format!("Bearer {expired}")),
            ("x-tenant-id", TENANT),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.challenge.as_deref(),
        Some(
            "Bearer realm=\"contoso-api\", error=\"invalid_token\", error_description=\"the token has expired\""
        )
    );
    assert_eq!(
        a.body,
        json!({ "error": "invalid_token", "error_description": "the token has expired", "code": "expired" })
    );
    assert!(!a.raw.contains(&expired[expired.len() - 40..]));

    let code = "0.AXkA3Qk7bNq2nk2K0zGk3qRZt1bHvQ.AgABAAEAAAD--DLA3VO7QrddgJg7Wevr";
    let a = call(
        &app,
        "/account/me",
        &[("authorization", &format!("bearer {code}"))],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.challenge.as_deref(),
        Some(
            "Bearer realm=\"contoso-api\", error=\"invalid_token\", error_description=\"this looks like an authorization code: exchange it at the token endpoint first\""
        )
    );
    assert_eq!(a.body["code"], "authorization_code");
    assert!(!a.raw.contains(code));

    let good = forge.token(&v2_claims());
    let twice = call(
        &app,
        "/account/me",
        &[
            ("authorization", &format!("Bearer {good}")),
            ("authorization", &format!("Bearer {good}")),
        ],
    )
    .await;
    assert_eq!(twice.status, StatusCode::UNAUTHORIZED);
    assert_eq!(twice.body["code"], "malformed");
}

#[tokio::test]
async fn tenant_header_must_match_the_token() {
    let forge = Forge::test_key();
    let app = app(validator(&forge));
    let bearer = format!("Bearer {}", forge.token(&v2_claims()));
    let a = call(
        &app,
        "/account/me",
        &[("authorization", &bearer), ("x-tenant-id", TENANT)],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.raw);
    assert_eq!(a.body["tenant"], TENANT);
    assert_eq!(a.body["oid"], "a11ce000-0000-4000-8000-000000000001");
    // The header is compared case-insensitively.
    let upper = TENANT.to_ascii_uppercase();
    let a = call(
        &app,
        "/account/me",
        &[("authorization", &bearer), ("x-tenant-id", &upper)],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);

    let a = call(
        &app,
        "/account/me",
        &[("authorization", &bearer), ("x-tenant-id", OTHER_TENANT)],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        a.challenge.as_deref(),
        Some(
            "Bearer realm=\"contoso-api\", error=\"insufficient_scope\", error_description=\"the x-tenant-id header does not match the token's tenant\""
        )
    );
    assert_eq!(a.body["code"], "tenant_header_mismatch");

    let a = call(&app, "/account/me", &[("authorization", &bearer)]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.challenge.as_deref(),
        Some(
            "Bearer realm=\"contoso-api\", error=\"invalid_request\", error_description=\"the request has no x-tenant-id header\""
        )
    );
}

#[tokio::test]
async fn per_route_scopes_and_roles() {
    let forge = Forge::test_key();
    let app = app(validator(&forge));
    let reader = forge.token(&with(v2_claims(), json!({ "scp": "Data.Read" })));
    let a = call(
        &app,
        "/data",
        &[
            ("authorization", &format!("Bearer {reader}")),
            ("x-tenant-id", TENANT),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        a.challenge.as_deref(),
        Some(
            "Bearer realm=\"contoso-api\", error=\"insufficient_scope\", error_description=\"insufficient permissions: the token needs scope Data.Write or role Data.Write.All\", scope=\"Data.Write\""
        )
    );
    assert_eq!(
        a.body,
        json!({
            "error": "insufficient_scope",
            "error_description": "insufficient permissions: the token needs scope Data.Write or role Data.Write.All",
            "code": "insufficient_scope",
            "scopes": ["Data.Write"],
            "roles": ["Data.Write.All"],
        })
    );
    // The user with the scope, and the daemon with the role, both pass.
    let writer = forge.token(&with(v2_claims(), json!({ "scp": "Data.Write" })));
    let a = call(
        &app,
        "/data",
        &[
            ("authorization", &format!("Bearer {writer}")),
            ("x-tenant-id", TENANT),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let daemon = forge.token(&with(v1_claims(), json!({ "roles": ["Data.Write.All"] })));
    let a = call(
        &app,
        "/data",
        &[
            ("authorization", &format!("Bearer {daemon}")),
            ("x-tenant-id", TENANT),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["roles"], json!(["Data.Write.All"]));
    // All clauses: the scope and the role.
    let a = call(
        &app,
        "/admin",
        &[
            ("authorization", &format!("Bearer {reader}")),
            ("x-tenant-id", TENANT),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.body["roles"], json!(["Admin"]));
    assert_eq!(
        a.challenge.as_deref(),
        Some(
            "Bearer error=\"insufficient_scope\", error_description=\"insufficient permissions: the token needs role Admin\""
        )
    );
    let admin = forge.token(&with(
        v2_claims(),
        json!({ "scp": "Data.Read", "roles": ["Admin"] }),
    ));
    let a = call(
        &app,
        "/admin",
        &[
            ("authorization", &format!("Bearer {admin}")),
            ("x-tenant-id", TENANT),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn the_extractor_refuses_when_the_layer_did_not_run() {
    let forge = Forge::test_key();
    let app = app(validator(&forge));
    let bearer = format!("Bearer {}", forge.token(&v2_claims()));
    let a = call(
        &app,
        "/forgot",
        &[("authorization", &bearer), ("x-tenant-id", TENANT)],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.challenge.as_deref(), Some("Bearer"));
    assert_eq!(a.body["code"], "token_missing");
}

#[tokio::test]
async fn key_outages_are_503_without_a_challenge() {
    // Nothing listens on port 1: the JWKS cannot be fetched.
    let v = Validator::new(
        ValidatorConfig::builder()
            .tenant(TENANT)
            .audience(API)
            .authority(entra_validate::Authority::custom(BASE))
            .jwks_uri("https://127.0.0.1:1/keys")
            .build()
            .unwrap(),
    );
    let app = app(v);
    let token = Forge::test_key().token(&v2_claims());
    let a = call(
        &app,
        "/account/me",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("x-tenant-id", TENANT),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.challenge, None);
    assert_eq!(a.retry_after.as_deref(), Some("10"));
    assert_eq!(a.body["error"], "temporarily_unavailable");
    assert_eq!(a.body["code"], "keys_unavailable");
}

#[tokio::test]
async fn optional_auth_lets_anonymous_callers_through_but_never_a_bad_credential() {
    let forge = Forge::test_key();
    async fn hello(p: Option<Principal>) -> axum::Json<Value> {
        axum::Json(json!({ "caller": p.as_ref().and_then(|p| p.object_id().map(str::to_string)) }))
    }
    let app = Router::new()
        .route("/hello", get(hello))
        .route(
            "/mine",
            get(me).layer(RequireLayer::new(Requirement::scope("Data.Read"))),
        )
        .layer(EntraAuthLayer::optional(validator(&forge)));
    let bearer = format!("Bearer {}", forge.token(&v2_claims()));

    // No Authorization header: through, without a principal.
    let a = call(&app, "/hello", &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.raw);
    assert_eq!(a.body["caller"], Value::Null);
    // A good bearer (and tenant header): the principal.
    let a = call(
        &app,
        "/hello",
        &[("authorization", &bearer), ("x-tenant-id", TENANT)],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.raw);
    assert_eq!(a.body["caller"], "a11ce000-0000-4000-8000-000000000001");

    // A credential that is sent is judged as ever: expired, another scheme, a tenant
    // header for another tenant, an empty bearer.
    let expired = format!(
        "Bearer {}",
        forge.token(&with(v2_claims(), json!({ "exp": NOW - 3600 })))
    );
    for (auth, tenant, status, code) in [
        (
            expired.as_str(),
            TENANT,
            StatusCode::UNAUTHORIZED,
            "expired",
        ),
        (
            "Basic dXNlcjpwYXNz",
            TENANT,
            StatusCode::UNAUTHORIZED,
            "token_missing",
        ),
        ("Bearer", TENANT, StatusCode::UNAUTHORIZED, "token_missing"),
        (
            bearer.as_str(),
            OTHER_TENANT,
            StatusCode::FORBIDDEN,
            "tenant_header_mismatch",
        ),
    ] {
        let a = call(
            &app,
            "/hello",
            &[("authorization", auth), ("x-tenant-id", tenant)],
        )
        .await;
        assert_eq!(a.status, status, "{auth:.20}: {}", a.raw);
        assert_eq!(a.body["code"], code, "{auth:.20}");
    }

    // A route with a requirement still needs a caller.
    let a = call(&app, "/mine", &[]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.challenge.as_deref(), Some("Bearer"));
    let a = call(
        &app,
        "/mine",
        &[("authorization", &bearer), ("x-tenant-id", TENANT)],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.raw);
}

#[tokio::test]
async fn an_auth_context_is_demanded_with_a_claims_challenge() {
    let forge = Forge::test_key();
    let app = Router::new()
        .route(
            "/transfer",
            get(me).layer(RequireLayer::new(
                Requirement::scope("Data.Write").and(Requirement::auth_context("c1")),
            )),
        )
        .layer(EntraAuthLayer::new(validator(&forge)));
    let call_with = |claims: Value| {
        let bearer = format!("Bearer {}", forge.token(&claims));
        let app = app.clone();
        async move {
            call(
                &app,
                "/transfer",
                &[("authorization", &bearer), ("x-tenant-id", TENANT)],
            )
            .await
        }
    };

    // Without `acrs`: 401 with the claims challenge Entra's resources send.
    let a = call_with(v2_claims()).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.raw);
    let challenge = a.challenge.unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_claims\", error_description=\"the token lacks the authentication context c1"),
        "{challenge}"
    );
    let b64 = challenge
        .split("claims=\"")
        .nth(1)
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap();
    let claims: Value = serde_json::from_slice(&entra_jose::b64std_decode(b64).unwrap()).unwrap();
    assert_eq!(
        claims,
        json!({ "access_token": { "acrs": { "essential": true, "value": "c1" } } })
    );
    assert_eq!(a.body["code"], "insufficient_claims");
    assert_eq!(a.body["claims"], claims.to_string());

    // Another context does not count; with c1 (among others) the route answers.
    let a = call_with(with(v2_claims(), json!({ "acrs": ["c2"] }))).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = call_with(with(v2_claims(), json!({ "acrs": ["c2", "c1"] }))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.raw);

    // Permissions are judged first: no scope is a 403, not a step-up.
    let a = call_with(with(v2_claims(), json!({ "scp": "Data.Read" }))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.body["code"], "insufficient_scope");
}

#[tokio::test]
async fn the_validator_counts_what_it_accepted_and_refused() {
    let forge = Forge::test_key();
    let v = Validator::new(
        builder(&forge)
            .tenant_header("X-Tenant-ID")
            .collect_stats(true)
            .build()
            .unwrap(),
    );
    let off = validator(&forge);
    let app = app(v.clone());
    assert_eq!(v.stats(), entra_validate::ValidationStats::default());
    let good = format!("Bearer {}", forge.token(&v2_claims()));
    let expired = format!(
        "Bearer {}",
        forge.token(&with(v2_claims(), json!({ "exp": NOW - 3600 })))
    );
    for _ in 0..3 {
        call(
            &app,
            "/account/me",
            &[("authorization", &good), ("x-tenant-id", TENANT)],
        )
        .await;
    }
    call(
        &app,
        "/account/me",
        &[("authorization", &expired), ("x-tenant-id", TENANT)],
    )
    .await;
    call(
        &app,
        "/account/me",
        &[("authorization", &expired), ("x-tenant-id", TENANT)],
    )
    .await;
    call(&app, "/account/me", &[]).await;
    call(&app, "/account/me", &[("authorization", &good)]).await;
    let stats = v.stats();
    // One full validation; the other three uses of the same token came from the cache.
    assert_eq!((stats.accepted, stats.cache_hits), (1, 3), "{stats:?}");
    assert_eq!(
        stats.refused.into_iter().collect::<Vec<_>>(),
        [
            ("expired", 2),
            ("tenant_header_missing", 1),
            ("token_missing", 1)
        ]
    );
    assert_eq!(v.stats().refused_total(), 4);
    assert_eq!(v.stats().jwks_fetches, 0, "static keys are never fetched");
    // Off by default: nothing counted.
    let app = crate::middleware::app(off.clone());
    call(
        &app,
        "/account/me",
        &[("authorization", &good), ("x-tenant-id", TENANT)],
    )
    .await;
    call(&app, "/account/me", &[]).await;
    assert_eq!(off.stats(), entra_validate::ValidationStats::default());
}

#[tokio::test]
async fn revoked_accounts_get_a_claims_challenge_for_a_newer_token() {
    let forge = Forge::test_key();
    let v = validator(&forge);
    let app = app(v.clone());
    let alice = "a11ce000-0000-4000-8000-000000000001";
    let issued = |iat: i64| {
        format!(
            "Bearer {}",
            forge.token(&with(v2_claims(), json!({ "iat": iat, "nbf": iat })))
        )
    };
    let old = issued(NOW - 600);
    let me = |auth: String| {
        let app = app.clone();
        async move {
            call(
                &app,
                "/account/me",
                &[("authorization", &auth), ("x-tenant-id", TENANT)],
            )
            .await
        }
    };
    // Accepted, and now in the validated-token cache.
    assert_eq!(me(old.clone()).await.status, StatusCode::OK);
    assert_eq!(v.token_cache().len(), 1);

    // The API revokes alice's tokens issued before NOW - 300 (the id in any case).
    v.revoke_tokens_issued_before(&alice.to_ascii_uppercase(), NOW - 300);
    assert_eq!(v.token_cache().len(), 0, "her cached tokens are dropped");
    let a = me(old.clone()).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.raw);
    assert_eq!(a.body["code"], "insufficient_claims");
    let expected = json!({ "access_token": { "nbf": { "essential": true, "value": (NOW - 300).to_string() } } });
    assert_eq!(a.body["claims"], expected.to_string());
    let challenge = a.challenge.unwrap();
    assert!(
        challenge.contains(&format!(
            "claims=\"{}\"",
            entra_jose::b64std(expected.to_string())
        )),
        "{challenge}"
    );
    // Refused every time, never from the cache.
    assert_eq!(me(old).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me(issued(NOW - 301)).await.status, StatusCode::UNAUTHORIZED);

    // A token issued since passes; other accounts are untouched.
    assert_eq!(me(issued(NOW - 300)).await.status, StatusCode::OK);
    let bob = format!(
        "Bearer {}",
        forge.token(&with(
            v2_claims(),
            json!({ "oid": "b0b00000-0000-4000-8000-000000000002", "iat": NOW - 600 })
        ))
    );
    assert_eq!(me(bob).await.status, StatusCode::OK);
    // A token without iat cannot show it is newer.
    let no_iat = format!(
        "Bearer {}",
        forge.token(&with(v2_claims(), json!({ "iat": null })))
    );
    let a = me(no_iat).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("insufficient_claims"))
    );
}
