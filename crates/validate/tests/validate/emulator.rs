//! Real tokens from the entrakit emulator: v1 and v2 resources, app and user tokens,
//! discovery, key rotation through the admin API, faults, counters, single flight.

use std::time::Duration;

use entra_testkit::Harness;
use entra_validate::{
    AcceptedVersions, Authority, Clock, JwksSettings, TokenVersion, ValidationError as E,
    Validator, ValidatorConfig, ValidatorConfigBuilder,
};
use serde_json::{Value, json};

use crate::common::{API, API_URI, OTHER_TENANT, TENANT, accepted};

use entra_testkit::dev::{DAEMON, PUBLIC_CLIENT as PUBLIC};
const V1_API: &str = "f1000000-0000-4000-8000-0000000000f1";
const V1_API_URI: &str = "api://contoso-v1";

fn quiet() -> JwksSettings {
    JwksSettings {
        background_interval: None,
        ..JwksSettings::default()
    }
}

/// A validator config for the emulator's Contoso tenant and the Contoso API.
fn emu_builder(h: &Harness) -> ValidatorConfigBuilder {
    ValidatorConfig::builder()
        .authority(Authority::custom(h.base()))
        .tenant(TENANT)
        .audience(API)
        .audience(API_URI)
        .extra_ca_file(&h.ready().ca_file)
        .jwks_settings(quiet())
}

async fn token_response(h: &Harness, form: &[(&str, &str)]) -> Value {
    h.token_ok(TENANT, form).await
}

/// Alice's tokens (password grant, public client) for `scope`: access and ID token.
async fn user_tokens(h: &Harness, scope: &str) -> (String, String) {
    let body = token_response(
        h,
        &[
            ("grant_type", "password"),
            ("client_id", PUBLIC),
            ("username", "alice@contoso.onmicrosoft.com"),
            ("password", "alice-dev-password"),
            ("scope", &format!("openid profile {scope}")),
        ],
    )
    .await;
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["id_token"].as_str().unwrap().to_string(),
    )
}

/// A new signing key that signs at once: what the unknown-`kid` throttle is for (the
/// emulator's default rotation announces the key first; see `announced_key_*` below).
async fn rotate(h: &Harness) -> String {
    let r = h
        .admin()
        .post("/keys/rotate?danger_immediate=true", json!({}))
        .await;
    assert!(r.status().is_success(), "rotation: {}", r.status());
    let body: Value = r.json().await.unwrap();
    body["kid"].as_str().unwrap().to_string()
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_v2_app_and_user_tokens_validate() {
    let h = Harness::start().await;
    let v = Validator::new(emu_builder(&h).build().unwrap());

    let app = v
        .validate(&h.daemon_token("api://contoso-api/.default").await)
        .await
        .unwrap();
    assert_eq!(app.tenant_id(), TENANT);
    assert_eq!(app.app_id(), Some(DAEMON));
    assert_eq!(app.version(), Some(TokenVersion::V2));
    assert!(app.is_app_only());
    assert!(app.has_role("Data.Read.All"));
    assert_eq!(app.claims()["aud"], API);

    let (access, id_token) = user_tokens(&h, "api://contoso-api/Data.Read").await;
    let user = v.validate(&access).await.unwrap();
    assert_eq!(
        user.object_id(),
        Some("a11ce000-0000-4000-8000-000000000001")
    );
    assert_eq!(user.app_id(), Some(PUBLIC));
    assert_eq!(user.scopes(), ["Data.Read"]);
    assert_eq!(user.username(), Some("alice@contoso.onmicrosoft.com"));
    assert_eq!(user.name(), Some("Alice Example"));

    // The ID token is signed by the same keys, and still refused.
    assert_eq!(v.validate(&id_token).await.unwrap_err(), E::IdToken);
    // A Graph token: valid signature and issuer, wrong resource.
    let graph = h.daemon_token("https://graph.microsoft.com/.default").await;
    assert_eq!(
        v.validate(&graph).await.unwrap_err(),
        E::WrongAudience {
            for_graph: true,
            accepted: accepted()
        }
    );
    let (graph_user, _) = user_tokens(&h, "User.Read").await;
    assert_eq!(
        v.validate(&graph_user).await.unwrap_err(),
        E::WrongAudience {
            for_graph: true,
            accepted: accepted()
        }
    );
    // Scope and role requirements (any-of).
    let needs_write = Validator::new(
        emu_builder(&h)
            .require_scopes(["Data.Write"])
            .require_roles(["Data.Write.All"])
            .build()
            .unwrap(),
    );
    let err = needs_write.validate(&access).await.unwrap_err();
    assert_eq!(err.code(), "insufficient_scope");
    let (writer, _) = user_tokens(&h, "api://contoso-api/Data.Write").await;
    needs_write.validate(&writer).await.unwrap();
    // Another tenant's API config refuses Contoso tokens before fetching anything.
    assert_eq!(
        emu_builder(&h).tenant(OTHER_TENANT).build().unwrap_err(),
        entra_validate::ConfigError::ConflictingTenancy
    );
    let fabrikam = Validator::new(
        ValidatorConfig::builder()
            .authority(Authority::custom(h.base()))
            .tenant(OTHER_TENANT)
            .audience(API)
            .extra_ca_file(&h.ready().ca_file)
            .build()
            .unwrap(),
    );
    let before = h.counter("endpoint:jwks").await;
    assert_eq!(
        fabrikam.validate(&access).await.unwrap_err(),
        E::TenantNotAllowed
    );
    assert_eq!(h.counter("endpoint:jwks").await, before);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_resource_tokens_and_version_policy() {
    let h = Harness::start().await;
    let r = h
        .admin()
        .post(
            "/apps",
            json!({
                "client_id": V1_API,
                "name": "Contoso v1 API",
                "tenant": "contoso.onmicrosoft.com",
                "identifier_uris": [V1_API_URI],
                "access_token_accepted_version": 1,
                "app_roles": ["Jobs.Run"],
            }),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let token = h.daemon_token(&format!("{V1_API_URI}/.default")).await;
    let v1_api = |versions| {
        ValidatorConfig::builder()
            .authority(Authority::custom(h.base()))
            .tenant(TENANT)
            .audience(V1_API)
            .audience(V1_API_URI)
            .versions(versions)
            .extra_ca_file(&h.ready().ca_file)
            .jwks_settings(quiet())
            .build()
            .map(Validator::new)
            .unwrap()
    };
    let p = v1_api(AcceptedVersions::Both)
        .validate(&token)
        .await
        .unwrap();
    assert_eq!(p.version(), Some(TokenVersion::V1));
    assert_eq!(p.app_id(), Some(DAEMON));
    assert_eq!(p.claims()["aud"], V1_API_URI);
    assert_eq!(
        p.claims()["iss"].as_str().unwrap(),
        format!("{}/{TENANT}/", h.base())
    );
    v1_api(AcceptedVersions::V1).validate(&token).await.unwrap();
    let err = v1_api(AcceptedVersions::V2)
        .validate(&token)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        E::WrongVersion {
            found: Some(TokenVersion::V1),
            accepted: "v2 tokens"
        }
    );
    // The v2 Contoso API does not take the v1 API's token.
    let v = Validator::new(emu_builder(&h).build().unwrap());
    assert_eq!(
        v.validate(&token).await.unwrap_err(),
        E::WrongAudience {
            for_graph: false,
            accepted: accepted()
        }
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_tenant_exact_issuer_and_direct_jwks_sources() {
    let h = Harness::start().await;
    let token = h.daemon_token("api://contoso-api/.default").await;
    let multi = |allowed: &str| {
        Validator::new(
            ValidatorConfig::builder()
                .authority(Authority::custom(h.base()))
                .multi_tenant([allowed])
                .audience(API)
                .extra_ca_file(&h.ready().ca_file)
                .jwks_settings(quiet())
                .build()
                .unwrap(),
        )
    };
    let v = multi(TENANT);
    v.validate(&token).await.unwrap();
    // The common JWKS names its issuer with the template: the validator substituted tid.
    let keys = v.jwks().keys("common").unwrap();
    let kid = keys.kids().next().unwrap().to_string();
    assert_eq!(
        keys.get(&kid).unwrap().issuer(),
        Some(format!("{}/{{tenantid}}/v2.0", h.base()).as_str())
    );
    assert_eq!(
        multi(OTHER_TENANT).validate(&token).await.unwrap_err(),
        E::TenantNotAllowed
    );
    let any = Validator::new(
        ValidatorConfig::builder()
            .authority(Authority::custom(h.base()))
            .any_tenant()
            .audience(API)
            .extra_ca_file(&h.ready().ca_file)
            .build()
            .unwrap(),
    );
    any.validate(&token).await.unwrap();

    // Any OIDC issuer, by its exact issuer string: discovery at
    // `{issuer}/.well-known/openid-configuration`, no Entra templating.
    let issuer = format!("{}/{TENANT}/v2.0", h.base());
    let by_issuer = |issuer: String| {
        Validator::new(
            ValidatorConfig::builder()
                .issuer(issuer)
                .audience(API)
                .extra_ca_file(&h.ready().ca_file)
                .jwks_settings(quiet())
                .build()
                .unwrap(),
        )
    };
    let exact = by_issuer(issuer);
    let p = exact.validate(&token).await.unwrap();
    assert_eq!(p.tenant_id(), TENANT);
    let other_issuer = by_issuer(format!("{}/{OTHER_TENANT}/v2.0", h.base()));
    assert_eq!(
        other_issuer.validate(&token).await.unwrap_err(),
        E::WrongIssuer
    );
    // A discovery document whose own issuer is not the configured one is not used
    // (OIDC Discovery §4.3): the emulator's `common` document says `{tenantid}`.
    let mixed_up = by_issuer(format!("{}/common/v2.0", h.base()));
    let jwks_fetches = h.counter("endpoint:jwks").await;
    match mixed_up.validate(&token).await.unwrap_err() {
        E::KeysUnavailable(why) => {
            assert!(
                why.contains("issuer is \"")
                    && why.contains("{tenantid}")
                    && why.contains("section 4.3"),
                "{why}"
            );
        }
        other => panic!("expected KeysUnavailable, got {other:?}"),
    }
    assert_eq!(
        h.counter("endpoint:jwks").await,
        jwks_fetches,
        "no key fetch after a refused document"
    );

    // A JWKS URL given directly: no discovery request.
    let discovery = h.counter("endpoint:discovery").await;
    let direct = Validator::new(
        emu_builder(&h)
            .jwks_uri(format!("{}/{TENANT}/discovery/v2.0/keys", h.base()))
            .build()
            .unwrap(),
    );
    direct.validate(&token).await.unwrap();
    assert_eq!(h.counter("endpoint:discovery").await, discovery);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_cold_validations_cost_one_discovery_and_one_jwks_fetch() {
    let h = Harness::start().await;
    let token = h.daemon_token("api://contoso-api/.default").await;
    // No validated-token cache: every one of the 1000 goes to the key cache.
    let v = Validator::new(emu_builder(&h).token_cache_capacity(0).build().unwrap());
    let (d0, j0) = (
        h.counter("endpoint:discovery").await,
        h.counter("endpoint:jwks").await,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let (v, token) = (v.clone(), token.clone());
        tasks.spawn(async move { v.validate(&token).await.map(|_| ()) });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(h.counter("endpoint:discovery").await - d0, 1);
    assert_eq!(h.counter("endpoint:jwks").await - j0, 1);
    assert_eq!(v.jwks().fetch_count(), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_refreshes_once_throttles_and_evicts_retired_keys() {
    let h = Harness::start().await;
    let clock = Clock::manual(system_now());
    let v = Validator::new(emu_builder(&h).clock(clock.clone()).build().unwrap());
    let jwks = || h.counter("endpoint:jwks");

    let t1 = h.daemon_token("api://contoso-api/.default").await;
    v.validate(&t1).await.unwrap();
    assert_eq!(jwks().await, 1);

    // A new key right after the first fetch: the throttle holds (no fetch), and says so.
    rotate(&h).await;
    let t2 = h.daemon_token("api://contoso-api/.default").await;
    assert_eq!(v.validate(&t2).await.unwrap_err(), E::UnknownKey);
    assert_eq!(jwks().await, 1);
    // Five minutes later, the unknown kid triggers exactly one refresh.
    clock.advance(301);
    v.validate(&t2).await.unwrap();
    assert_eq!(jwks().await, 2);
    v.validate(&t2).await.unwrap();
    assert_eq!(jwks().await, 2);
    // A second unknown kid within 5 minutes does not refetch...
    rotate(&h).await;
    let t3 = h.daemon_token("api://contoso-api/.default").await;
    for _ in 0..5 {
        assert_eq!(v.validate(&t3).await.unwrap_err(), E::UnknownKey);
    }
    assert_eq!(jwks().await, 2);
    // ...but after them it does.
    clock.advance(301);
    v.validate(&t3).await.unwrap();
    assert_eq!(jwks().await, 3);

    // t1 and t2 are cached; their keys are still published (rotation grace).
    assert!(v.validate_cached(&t1).is_some());
    assert!(v.validate_cached(&t2).is_some());
    // The grace period passes on the emulator: the old keys leave its JWKS.
    h.advance_clock(86_400 + 60).await;
    v.jwks().refresh(TENANT).await.unwrap();
    assert_eq!(v.jwks().keys(TENANT).unwrap().len(), 1);
    assert!(
        v.validate_cached(&t1).is_none(),
        "retired key evicts cached t1"
    );
    assert!(
        v.validate_cached(&t2).is_none(),
        "retired key evicts cached t2"
    );
    assert_eq!(v.validate(&t1).await.unwrap_err(), E::UnknownKey);
    // t3's key stayed: its cached validation still answers.
    assert!(v.validate_cached(&t3).is_some());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_known_good_keys_survive_jwks_outages() {
    let h = Harness::start().await;
    let clock = Clock::manual(system_now());
    let token = h.daemon_token("api://contoso-api/.default").await;

    // Cold cache and the JWKS endpoint failing: 503-worthy, and failing fast.
    h.fault(json!({ "endpoint": "jwks", "status": 503, "count": 3 }))
        .await;
    let v = Validator::new(
        emu_builder(&h)
            .clock(clock.clone())
            .token_cache_capacity(0)
            .build()
            .unwrap(),
    );
    let err = v.validate(&token).await.unwrap_err();
    assert!(matches!(err, E::KeysUnavailable(_)), "{err:?}");
    assert_eq!(err.status(), 503);
    let j = h.counter("endpoint:jwks").await;
    assert!(matches!(
        v.validate(&token).await.unwrap_err(),
        E::KeysUnavailable(_)
    ));
    assert_eq!(
        h.counter("endpoint:jwks").await,
        j,
        "no retry within the cold-retry interval"
    );
    clock.advance(11);
    assert!(matches!(
        v.validate(&token).await.unwrap_err(),
        E::KeysUnavailable(_)
    ));
    clock.advance(11);
    assert!(matches!(
        v.validate(&token).await.unwrap_err(),
        E::KeysUnavailable(_)
    ));
    // The fault is used up: the next attempt succeeds.
    clock.advance(11);
    v.validate(&token).await.unwrap();

    // Now the keys are known. An outage during a refresh keeps them.
    h.fault(json!({ "endpoint": "jwks", "status": 503, "count": 100 }))
        .await;
    assert!(v.jwks().refresh(TENANT).await.is_err());
    v.validate(&token).await.unwrap();
    // An unknown kid during the outage: the refresh fails, the old set stays.
    rotate(&h).await;
    let fresh = h.daemon_token("api://contoso-api/.default").await;
    clock.advance(301);
    assert_eq!(v.validate(&fresh).await.unwrap_err(), E::UnknownKey);
    v.validate(&token).await.unwrap();
    // The outage ends: the next allowed refresh picks up the new key.
    h.admin()
        .send(reqwest::Method::DELETE, "/faults", None)
        .await;
    clock.advance(301);
    v.validate(&fresh).await.unwrap();
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_refresh_picks_up_new_keys() {
    let h = Harness::start().await;
    let v = Validator::new(
        emu_builder(&h)
            .jwks_settings(JwksSettings {
                background_interval: Some(Duration::from_millis(200)),
                ..JwksSettings::default()
            })
            .build()
            .unwrap(),
    );
    v.warm_up().await.unwrap();
    let kid = rotate(&h).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while v.jwks().keys(TENANT).unwrap().get(&kid).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "background refresh never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The new key validates without any request-time fetch.
    let before = h.counter("endpoint:jwks").await;
    let token = h.daemon_token("api://contoso-api/.default").await;
    let v_quiet_fetches = v.jwks().fetch_count();
    v.validate(&token).await.unwrap();
    assert!(v.jwks().fetch_count() <= v_quiet_fetches + 1);
    assert!(h.counter("endpoint:jwks").await >= before);
    h.stop().await;
}

/// Entra's rollover as the emulator does it by default: a validator that fetched the
/// key set once, right after the announcement, accepts the tokens signed after the
/// switch with no further fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_key_validates_after_the_switch_without_a_refetch() {
    let h = Harness::start().await;
    let clock = Clock::manual(system_now());
    let v = Validator::new(emu_builder(&h).clock(clock.clone()).build().unwrap());

    let before = h.daemon_token("api://contoso-api/.default").await;
    let r = h.admin().post("/keys/rotate", json!({})).await;
    assert_eq!(r.status(), 200);
    let announced: Value = r.json().await.unwrap();
    let delay = announced["activates_in_seconds"].as_u64().unwrap();
    assert!(
        delay > 300,
        "the default delay outlasts the 5-minute throttle"
    );
    // The first (and only) fetch, right after the announcement.
    v.validate(&before).await.unwrap();
    assert_eq!(v.jwks().fetch_count(), 1);

    // Both clocks pass the switch; the emulator now signs with the announced key.
    h.advance_clock(delay).await;
    clock.advance(delay as i64);
    let after = h.daemon_token("api://contoso-api/.default").await;
    let kid = entra_jose::decode_unverified(&after)
        .unwrap()
        .header_str("kid")
        .map(str::to_string);
    assert_eq!(kid.as_deref(), announced["kid"].as_str());
    v.validate(&after).await.unwrap();
    v.validate(&before).await.unwrap();
    assert_eq!(v.jwks().fetch_count(), 1, "no refetch for the new key");
    assert_eq!(v.stats().jwks_fetches, 1);
    h.stop().await;
}
