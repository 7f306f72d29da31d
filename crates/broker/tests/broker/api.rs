//! The broker against the emulator: every protocol's response shape, caller
//! authentication and policy, single-flight, stale serving under injected faults,
//! background refresh, purge, reload, the audit log and metrics.

use std::time::Duration;

use crate::common::*;
use entra_broker::{RunningBroker, StartOptions};
use entra_testkit::{Harness, dev};
use serde_json::{Value, json};

async fn start(config: entra_broker::BrokerConfig) -> RunningBroker {
    entra_broker::start(config, StartOptions::default())
        .await
        .expect("broker starts")
}

async fn imds(b: &RunningBroker, query: &str) -> (u16, Value) {
    let r = client()
        .get(format!(
            "{}/metadata/identity/oauth2/token?{query}",
            b.imds_endpoint()
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The client a token was issued to (`appid` in v1 tokens, `azp` in v2).
fn app_of(token: &str) -> Value {
    let c = claims(token);
    c.get("appid")
        .or(c.get("azp"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn claims(token: &str) -> Value {
    use base64::Engine;
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_answers_in_its_own_shape() {
    let h = Harness::start().await;
    let dir = temp_dir("shapes");
    let audit = dir.join("audit.jsonl");
    let b = start(config(&h, &audit)).await;

    // App Service 2019-08-01.
    let (s, v) = app_service(&b, DEV_SECRET, CONTOSO_2019).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        keys(&v),
        [
            "access_token",
            "client_id",
            "expires_on",
            "not_before",
            "resource",
            "token_type"
        ]
    );
    assert!(
        v["expires_on"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|c| c.is_ascii_digit())
    );
    assert_eq!(v["resource"], "api://contoso-api");
    assert_eq!(v["client_id"], dev::DAEMON);
    let token = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(app_of(&token), dev::DAEMON);

    // Legacy 2017-09-01: header `secret`, expires_on as a date.
    let r = client()
        .get(format!(
            "{}?resource=api://contoso-api&api-version=2017-09-01",
            b.identity_endpoint()
        ))
        .header("secret", DEV_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let date = v["expires_on"].as_str().unwrap();
    assert!(
        date.ends_with(" +00:00") && (date.contains(" AM ") || date.contains(" PM ")),
        "{date}"
    );
    assert_eq!(v["access_token"], token.as_str(), "the same cached token");

    // IMDS: every value a string.
    let (s, v) = imds(&b, "api-version=2018-02-01&resource=api://contoso-api").await;
    assert_eq!(s, 200, "{v}");
    for (k, val) in v.as_object().unwrap() {
        assert!(val.is_string(), "IMDS {k} is a string: {val}");
    }
    assert_eq!(
        keys(&v),
        [
            "access_token",
            "client_id",
            "expires_in",
            "expires_on",
            "ext_expires_in",
            "not_before",
            "refresh_token",
            "resource",
            "token_type"
        ]
    );
    let expires_in: i64 = v["expires_in"].as_str().unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&expires_in), "{expires_in}");

    // IMDS by client id selects the other identity.
    let (s, v) = imds(
        &b,
        &format!("api-version=2018-02-01&resource=api://contoso-api&client_id={WEB}"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(app_of(v["access_token"].as_str().unwrap()), WEB);

    // msal-node asks with a trailing slash.
    let r = client()
        .get(format!(
            "{}/metadata/identity/oauth2/token/?api-version=2018-02-01&resource=api://contoso-api",
            b.imds_endpoint()
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["access_token"],
        token.as_str()
    );

    // Through a proxy (SSRF): refused, as Azure's IMDS does.
    let r = client()
        .get(format!(
            "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://contoso-api",
            b.imds_endpoint()
        ))
        .header("Metadata", "true")
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("through a proxy"));

    // Cloud Shell.
    let r = client()
        .post(format!("{}/oauth2/token", b.imds_endpoint()))
        .header("Metadata", "true")
        .form(&[("resource", "api://contoso-api")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["access_token"], token.as_str());
    assert!(v["expires_in"].is_string());

    // Native: scopes, numbers.
    let r = client()
        .post(format!("{}/api/v1/token", b.imds_endpoint()))
        .bearer_auth(DEV_SECRET)
        .json(&json!({"scopes": ["api://contoso-api/.default"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["access_token"],
        token.as_str(),
        "R/.default shares R's token"
    );
    assert!(v["expires_on"].is_i64() && v["expires_in"].is_i64());
    assert_eq!(v["identity"], "daemon");
    assert!(v["token_id"].as_str().unwrap().starts_with("uti:"));

    // One upstream request for the daemon's api token, one for the web app's.
    assert_eq!(h.counter("grant:client_credentials").await, 2);

    // Errors, each in the protocol's shape.
    let r = client()
        .get(format!(
            "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x",
            b.imds_endpoint()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"error":"invalid_request","error_description":"Required metadata header not specified"}"#
    );
    let (s, v) = app_service(&b, "not-a-caller-secret", CONTOSO_2019).await;
    assert_eq!(s, 401);
    assert_eq!(v["error"], "unauthorized");
    assert_eq!(v["statusCode"], 401);
    assert_eq!(
        v["message"],
        "the X-IDENTITY-HEADER header matches no caller"
    );
    let (s, v) = app_service(
        &b,
        DEV_SECRET,
        "resource=api://contoso-api&api-version=2021-01-01",
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("2019-08-01")
    );
    let (s, v) = imds(&b, "api-version=2018-02-01&resource=api://contoso-api&client_id=00000000-0000-0000-0000-000000000000").await;
    assert_eq!(
        (s, v["error_description"].as_str()),
        (400, Some("Identity not found"))
    );
    let (s, v) = app_service(
        &b,
        DEV_SECRET,
        "resource=api://does-not-exist&api-version=2019-08-01",
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"], "invalid_resource");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("AADSTS500011"),
        "{v}"
    );
    let r = client()
        .post(format!("{}/api/v1/token", b.imds_endpoint()))
        .json(&json!({"scopes": ["api://contoso-api/.default"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    // Health, readiness, metrics.
    let base = b.imds_endpoint();
    assert_eq!(
        client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready: Value = client()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["identities"], 2);
    let metrics = metrics_text(&b).await;
    for needle in [
        "entra_broker_requests_total{protocol=\"app_service\",outcome=\"ok\"} 1",
        "entra_broker_requests_total{protocol=\"imds\",outcome=\"ok\"} 3",
        "entra_broker_requests_total{protocol=\"imds\",outcome=\"bad_request\"} 3",
        "entra_broker_cache_hits_total 5",
        "entra_broker_upstream_requests_total{identity=\"daemon\",outcome=\"ok\"} 1",
        "entra_broker_request_duration_seconds_bucket",
        "entra_broker_cached_tokens 2",
        "entra_broker_soonest_expiry_seconds",
    ] {
        assert!(
            metrics.contains(needle),
            "metrics lack {needle}:\n{metrics}"
        );
    }

    b.shutdown().await;
    // The audit log: one line per request, never a token.
    let text = std::fs::read_to_string(&audit).unwrap();
    assert!(!text.contains(&token), "no token in the audit log");
    assert!(
        !text.contains(DEV_SECRET),
        "no caller secret in the audit log"
    );
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 14, "{text}");
    let first = &lines[0];
    assert_eq!(first["protocol"], "app_service");
    assert_eq!(first["caller"], "dev");
    assert_eq!(first["identity"], "daemon");
    assert_eq!(first["resource"], "api://contoso-api");
    assert_eq!(first["outcome"], "ok");
    assert_eq!(first["cache"], "miss");
    assert_eq!(
        first["token_id"],
        format!("uti:{}", claims(&token)["uti"].as_str().unwrap())
    );
    assert!(first["latency_us"].is_u64() && first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[1]["cache"], "hit");
    assert_eq!(lines[2]["protocol"], "imds");
    assert_eq!(lines[2]["uid"], my_uid());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_refusals_are_403_and_audited() {
    let h = Harness::start().await;
    let dir = temp_dir("policy");
    let audit = dir.join("audit.jsonl");
    let b = start(config(&h, &audit)).await;

    let (s, _) = app_service(&b, LIMITED_SECRET, CONTOSO_2019).await;
    assert_eq!(s, 200);
    let (s, v) = app_service(
        &b,
        LIMITED_SECRET,
        "resource=https://graph.microsoft.com&api-version=2019-08-01",
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"], "forbidden");
    assert_eq!(
        v["error_description"],
        "caller \"limited\" may not have tokens for resource \"https://graph.microsoft.com\""
    );
    let (s, v) = app_service(
        &b,
        LIMITED_SECRET,
        &format!("resource=api://contoso-api&api-version=2019-08-01&client_id={WEB}"),
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(
        v["error_description"],
        "caller \"limited\" may not use identity \"web\""
    );
    let r = client()
        .post(format!("{}/api/v1/token", b.imds_endpoint()))
        .bearer_auth(LIMITED_SECRET)
        .json(&json!({"scopes": ["api://contoso-api/Data.Read", "https://graph.microsoft.com/User.Read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("https://graph.microsoft.com/User.Read")
    );
    // Nothing refused reached the emulator.
    assert_eq!(h.counter("grant:client_credentials").await, 1);
    let metrics = metrics_text(&b).await;
    for needle in [
        "entra_broker_caller_requests_total{caller=\"limited\",outcome=\"denied\"} 3",
        "entra_broker_caller_requests_total{caller=\"limited\",outcome=\"ok\"} 1",
        "entra_broker_requests_total{protocol=\"native\",outcome=\"denied\"} 1",
    ] {
        assert!(
            metrics.contains(needle),
            "metrics lack {needle}:\n{metrics}"
        );
    }

    b.shutdown().await;
    let lines = audit_lines(&audit);
    let denied: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "denied").collect();
    assert_eq!(denied.len(), 3);
    assert_eq!(denied[0]["status"], 403);
    assert_eq!(denied[0]["caller"], "limited");
    assert_eq!(denied[0]["resource"], "https://graph.microsoft.com");
    assert!(
        denied[0]["reason"]
            .as_str()
            .unwrap()
            .contains("may not have tokens")
    );
    assert!(denied[0].get("token_id").is_none());
    assert_eq!(denied[1]["identity"], "web");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_refuses_scopes_longer_than_4_kib() {
    // A caller chooses its resource and scopes, which key the cache: more than 4 KiB is
    // refused before policy, cache or upstream, in each protocol's shape.
    let h = Harness::start().await;
    let dir = temp_dir("long-scopes");
    let audit = dir.join("audit.jsonl");
    let b = start(config(&h, &audit)).await;
    let long = format!("api://{}", "a".repeat(5000));

    let (s, v) = app_service(
        &b,
        DEV_SECRET,
        &format!("resource={long}&api-version=2019-08-01"),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["statusCode"], 400);
    assert_eq!(v["error"], "invalid_request");
    assert_eq!(
        v["message"],
        "the resource is 5006 bytes long; the broker accepts at most 4096"
    );

    let (s, v) = imds(&b, &format!("api-version=2018-02-01&resource={long}")).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["error_description"],
        "the resource is 5006 bytes long; the broker accepts at most 4096"
    );

    // Many short scopes add up: 100 of 50 bytes, 5,099 bytes space-joined.
    let scopes: Vec<String> = (0..100)
        .map(|i| format!("api://contoso-api/S{i:031}"))
        .collect();
    assert!(scopes.iter().all(|s| s.len() == 50));
    let r = client()
        .post(format!("{}/api/v1/token", b.imds_endpoint()))
        .bearer_auth(DEV_SECRET)
        .json(&json!({ "scopes": scopes }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    assert_eq!(
        v["error_description"],
        "the scope list (space-joined) is 5099 bytes long; the broker accepts at most 4096"
    );
    assert_eq!(h.counter("grant:client_credentials").await, 0);

    // 4096 bytes exactly is let through (here the emulator does not know the resource).
    let at_limit = format!("api://{}", "b".repeat(4090));
    let (s, v) = app_service(
        &b,
        DEV_SECRET,
        &format!("resource={at_limit}&api-version=2019-08-01"),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        !v["message"].as_str().unwrap().contains("accepts at most"),
        "{v}"
    );
    assert_eq!(h.counter("grant:client_credentials").await, 1);

    b.shutdown().await;
    let lines = audit_lines(&audit);
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["reason"]
                .as_str()
                .is_some_and(|r| r.contains("accepts at most 4096"))
        })
        .collect();
    assert_eq!(refused.len(), 3, "{lines:?}");
    for l in refused {
        assert_eq!(l["outcome"], "bad_request");
        assert_eq!(l["status"], 400);
        // The audit line does not repeat the oversized value.
        assert!(l.to_string().len() < 1024, "{l}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imds_callers_are_known_by_uid() {
    let h = Harness::start().await;
    let dir = temp_dir("uid");
    let audit = dir.join("audit.jsonl");
    // Only another user is a caller: this process is refused.
    let mut c = config(&h, &audit);
    c.callers[0].uids = vec![my_uid().wrapping_add(4242)];
    let b = start(c).await;
    let (s, v) = imds(&b, "api-version=2018-02-01&resource=api://contoso-api").await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(
        v["error_description"],
        format!(
            "no caller is configured for local user {}: add it to a caller's uids (or set [imds] caller)",
            my_uid()
        )
    );
    // [imds] caller covers every local process.
    let mut c = config(&h, &audit);
    c.callers[0].uids = vec![my_uid().wrapping_add(4242)];
    c.imds.caller = Some("limited".into());
    b.reload(c).unwrap();
    let (s, _) = imds(&b, "api-version=2018-02-01&resource=api://contoso-api").await;
    assert_eq!(s, 200);
    let (s, _) = imds(
        &b,
        "api-version=2018-02-01&resource=https://graph.microsoft.com",
    )
    .await;
    assert_eq!(s, 403, "the limited caller's policy applies");
    // The Unix socket: the kernel names the peer.
    b.shutdown().await;
    let mut c = config(&h, &audit);
    let sock = dir.join("broker.sock");
    c.broker.unix_socket = Some(sock.clone());
    let b = start(c).await;
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-s", "--max-time", "20", "--unix-socket"])
            .arg(&sock)
            .args(["-H", "Metadata: true", "http://broker/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://contoso-api"])
            .output()
    })
    .await
    .unwrap()
    .expect("curl runs");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON over the unix socket");
    assert!(v["access_token"].is_string(), "{v}");
    b.shutdown().await;
    let lines = audit_lines(&audit);
    let last = lines.last().unwrap();
    assert_eq!(
        (last["peer"].as_str(), last["uid"].as_u64()),
        (Some("unix"), Some(u64::from(my_uid())))
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_cold_callers_make_one_upstream_request() {
    let h = Harness::start().await;
    let dir = temp_dir("flight");
    let b = start(config(&h, &dir.join("audit.jsonl"))).await;
    h.fault(json!({"endpoint": "token", "latency_ms": 300}))
        .await;
    let url = format!(
        "{}?resource=api://contoso-api&api-version=2019-08-01",
        b.identity_endpoint()
    );
    let http = client();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let http = http.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let r = http
                    .get(&url)
                    .header("X-IDENTITY-HEADER", DEV_SECRET)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.json::<Value>().await.unwrap()["access_token"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for t in tasks {
        tokens.insert(t.await.unwrap());
    }
    assert_eq!(tokens.len(), 1);
    assert_eq!(h.counter("grant:client_credentials").await, 1);
    b.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_tokens_are_served_while_the_authority_fails() {
    // 400-second tokens that callers want with 398 s left: after 2 s each request wants
    // a new one, and upstream is broken in three ways in turn.
    let h = Harness::start_with(entra_emulator::Options {
        token_lifetime: Some(400),
        ..Default::default()
    })
    .await;
    let dir = temp_dir("stale");
    let audit = dir.join("audit.jsonl");
    let mut c = config(&h, &audit);
    c.broker.min_remaining_secs = 398;
    let b = start(c).await;
    let q = CONTOSO_2019;
    let (s, v) = app_service(&b, DEV_SECRET, q).await;
    assert_eq!(s, 200);
    let token = v["access_token"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for fault in [
        json!({"endpoint": "token", "status": 503, "count": 100000}),
        json!({"endpoint": "token", "drop": 100000}),
        json!({"endpoint": "token", "latency_ms": 30000}),
    ] {
        h.fault(fault.clone()).await;
        for _ in 0..20 {
            let (s, v) = app_service(&b, DEV_SECRET, q).await;
            assert_eq!(s, 200, "under {fault}: {v}");
            assert_eq!(
                v["access_token"],
                token.as_str(),
                "the cached token, under {fault}"
            );
        }
        h.admin()
            .send(reqwest::Method::DELETE, "/faults", None)
            .await;
    }
    // A resource never fetched has nothing to fall back on: 503, retryable.
    h.fault(json!({"endpoint": "token", "status": 503, "count": 100000}))
        .await;
    let r = client()
        .get(format!(
            "{}?resource=https://graph.microsoft.com&api-version=2019-08-01",
            b.identity_endpoint()
        ))
        .header("X-IDENTITY-HEADER", DEV_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "temporarily_unavailable");
    h.admin()
        .send(reqwest::Method::DELETE, "/faults", None)
        .await;

    // Once the authority is back (and the back-off has passed), a new token.
    let mut fresh = None;
    for _ in 0..100 {
        let (s, v) = app_service(&b, DEV_SECRET, q).await;
        assert_eq!(s, 200);
        if v["access_token"] != token.as_str() {
            fresh = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(fresh.is_some(), "a new token after recovery");
    let metrics = metrics_text(&b).await;
    assert!(
        metrics.contains("entra_broker_cache_stale_total"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("entra_broker_cache_stale_total 0\n"),
        "{metrics}"
    );
    b.shutdown().await;
    let lines = audit_lines(&audit);
    assert!(lines.iter().any(|l| l["cache"] == "stale"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_with_callers_are_renewed_in_the_background() {
    // 10-second tokens renewed 5 s before expiry (at half-life): a caller that keeps
    // asking never waits for the authority.
    let h = Harness::start_with(entra_emulator::Options {
        token_lifetime: Some(10),
        ..Default::default()
    })
    .await;
    let dir = temp_dir("refresh");
    let audit = dir.join("audit.jsonl");
    let mut c = config(&h, &audit);
    c.broker.min_remaining_secs = 1;
    c.broker.refresh_before_secs = 5;
    let b = start(c).await;
    let q = CONTOSO_2019;
    let (_, v) = app_service(&b, DEV_SECRET, q).await;
    let first = v["access_token"].as_str().unwrap().to_string();
    // Used again after it was fetched: it has callers.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app_service(&b, DEV_SECRET, q).await;
    // Unused: the web app's token for the same resource.
    app_service(&b, DEV_SECRET, &format!("{q}&client_id={WEB}")).await;
    let mut renewed = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if h.counter("grant:client_credentials").await >= 3 {
            renewed = true;
            break;
        }
    }
    assert!(renewed, "the daemon's token was renewed without a request");
    let (_, v) = app_service(&b, DEV_SECRET, q).await;
    assert_ne!(v["access_token"], first.as_str());
    b.shutdown().await;
    let lines = audit_lines(&audit);
    assert_eq!(
        lines.last().unwrap()["cache"],
        "hit",
        "the caller did not wait"
    );
    // The web app's token had no caller after it was fetched: not renewed.
    assert_eq!(h.counter("grant:client_credentials").await, 3);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_purge_and_reload_keep_what_they_should() {
    let h = Harness::start().await;
    let dir = temp_dir("admin");
    let mut c = config(&h, &dir.join("audit.jsonl"));
    let admin_file = dir.join("admin.token");
    std::fs::write(&admin_file, "admin-token-0123456789abcdef0123456789\n").unwrap();
    c.broker.admin_token_file = Some(admin_file);
    let b = start(c.clone()).await;
    let q = CONTOSO_2019;
    app_service(&b, DEV_SECRET, q).await;
    app_service(&b, DEV_SECRET, &format!("{q}&client_id={WEB}")).await;
    assert_eq!(h.counter("grant:client_credentials").await, 2);

    // Reload with a new caller: cached tokens stay.
    let mut c2 = c.clone();
    c2.callers.push(caller(
        "ci",
        "ci-caller-secret-0123456789abcdef",
        &["daemon"],
        &["*"],
    ));
    b.reload(c2.clone()).unwrap();
    let (s, _) = app_service(&b, "ci-caller-secret-0123456789abcdef", q).await;
    assert_eq!(s, 200);
    assert_eq!(
        h.counter("grant:client_credentials").await,
        2,
        "the reload kept the cache"
    );
    // A bad configuration is refused and changes nothing.
    let mut bad = c2.clone();
    bad.callers[0].identities = vec!["nope".into()];
    let e = b.reload(bad).unwrap_err().to_string();
    assert!(e.contains("\"nope\", which is not defined"), "{e}");
    let (s, _) = app_service(&b, DEV_SECRET, q).await;
    assert_eq!(s, 200);
    // Changing an identity's table drops its tokens only.
    let mut c3 = c2.clone();
    c3.identities[1].authority = Some(format!("{}/", h.base()));
    b.reload(c3).unwrap();
    app_service(&b, DEV_SECRET, q).await;
    assert_eq!(h.counter("grant:client_credentials").await, 2);
    app_service(&b, DEV_SECRET, &format!("{q}&client_id={WEB}")).await;
    assert_eq!(
        h.counter("grant:client_credentials").await,
        3,
        "the changed identity starts afresh"
    );

    // The admin API.
    let base = b.imds_endpoint();
    let r = client()
        .post(format!("{base}/admin/purge"))
        .bearer_auth("wrong-admin-token")
        .json(&json!({"identity": "daemon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let list: Value = client()
        .get(format!("{base}/admin/tokens"))
        .bearer_auth("admin-token-0123456789abcdef0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 2, "{list}");
    assert!(!list.to_string().contains("eyJ"), "no token in the listing");
    let r: Value = client()
        .post(format!("{base}/admin/purge"))
        .bearer_auth("admin-token-0123456789abcdef0123456789")
        .json(&json!({"identity": "daemon"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["purged"], 1, "{r}");
    app_service(&b, DEV_SECRET, q).await;
    assert_eq!(
        h.counter("grant:client_credentials").await,
        4,
        "purged: asked again"
    );
    let r = client()
        .post(format!("{base}/admin/purge"))
        .bearer_auth("admin-token-0123456789abcdef0123456789")
        .json(&json!({"identity": "nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    b.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_the_config_file_unless_allowed_and_out_of_debug() {
    let h = Harness::start().await;
    let dir = temp_dir("secrets");
    let text = format!(
        r#"
[broker]
listen = "127.0.0.1:0"
audit_log = "off"

[[identity]]
name = "daemon"
kind = "client-secret"
tenant = "{}"
client_id = "{}"
secret = "{}"
authority = "{}"
ca_file = "{}"
"#,
        dev::TENANT_ID,
        dev::DAEMON,
        dev::DAEMON_SECRET,
        h.base(),
        h.ready().ca_file
    );
    let e = entra_broker::BrokerConfig::from_toml(&text, &dir)
        .and_then(|c| c.check())
        .unwrap_err()
        .to_string();
    assert!(e.contains("danger_allow_secret_in_config = true"), "{e}");
    assert!(!e.contains(dev::DAEMON_SECRET));
    // From a file; the broker's Debug output never shows a secret.
    let secret_file = dir.join("daemon.secret");
    std::fs::write(&secret_file, format!("{}\n", dev::DAEMON_SECRET)).unwrap();
    let text = text.replace(
        &format!("secret = \"{}\"", dev::DAEMON_SECRET),
        "secret_file = \"daemon.secret\"",
    ) + "\n[[caller]]\nname = \"app\"\nsecret_env = \"ENTRA_BROKER_TEST_APP_SECRET_UNSET\"\nidentities = [\"*\"]\nresources = [\"*\"]\n";
    let c = entra_broker::BrokerConfig::from_toml(&text, &dir).unwrap();
    c.check().unwrap();
    let e = entra_broker::start(c.clone(), StartOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ENTRA_BROKER_TEST_APP_SECRET_UNSET is not set"),
        "{e}"
    );
    let text = text.replace(
        "secret_env = \"ENTRA_BROKER_TEST_APP_SECRET_UNSET\"",
        "secret_file = \"daemon.secret\"",
    );
    let c = entra_broker::BrokerConfig::from_toml(&text, &dir).unwrap();
    let b = start(c).await;
    let (s, v) = app_service(&b, dev::DAEMON_SECRET, CONTOSO_2019).await;
    assert_eq!(s, 200, "{v}");
    // The running broker's Debug shows its whole state (configuration, identities, cache).
    let debug = format!("{b:?}");
    assert!(!debug.contains(dev::DAEMON_SECRET), "{debug}");
    assert!(
        !debug.contains(v["access_token"].as_str().unwrap()),
        "{debug}"
    );
    b.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_refused_even_with_several_server_threads() {
    let h = Harness::start().await;
    let dir = temp_dir("port");
    let mut c = config(&h, &dir.join("audit.jsonl"));
    c.broker.threads = Some(2);
    let first = start(c.clone()).await;
    c.broker.listen = first.addr().to_string();
    let e = entra_broker::start(c, StartOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("cannot listen on {}", first.addr())),
        "{e}"
    );
    // Both server threads answer.
    for _ in 0..8 {
        let (s, _) = app_service(&first, DEV_SECRET, CONTOSO_2019).await;
        assert_eq!(s, 200);
    }
    first.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_and_workload_identity_upstreams() {
    // The daemon app with its certificate, then through workload identity federation.
    let h = Harness::start().await;
    let dir = temp_dir("kinds");
    let federated = h.workload_token(3600);
    let token_file = dir.join("federated-token");
    std::fs::write(&token_file, federated).unwrap();
    let mut cert = identity(&h, "daemon", dev::DAEMON, "unused");
    cert.kind = entra_broker::IdentityKind::ClientCertificate;
    cert.secret = None;
    cert.danger_allow_secret_in_config = false;
    cert.certificate_file = Some(h.ready().daemon_certificate.clone().into());
    let mut workload = cert.clone();
    workload.kind = entra_broker::IdentityKind::WorkloadIdentity;
    workload.certificate_file = None;
    workload.token_file = Some(token_file);
    for (n, upstream) in [cert, workload].into_iter().enumerate() {
        let mut c = config(&h, &dir.join("audit.jsonl"));
        c.identities = vec![upstream];
        c.callers.truncate(1);
        let b = start(c).await;
        let (s, v) = app_service(&b, DEV_SECRET, CONTOSO_2019).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(app_of(v["access_token"].as_str().unwrap()), dev::DAEMON);
        assert_eq!(h.counter("grant:client_credentials").await, n as u64 + 1);
        b.shutdown().await;
    }
    h.stop().await;
}
