//! Fleet mode: two broker replicas, one real Redis, the emulator upstream.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::redis::RedisServer;
use crate::common::*;
use entra_broker::{RedisSection, RunningBroker, StartOptions};
use entra_testkit::Harness;
use serde_json::{Value, json};

async fn replica(h: &Harness, redis: &RedisServer, dir: &std::path::Path, n: u32) -> RunningBroker {
    replica_with(h, redis, dir, n, |c| c).await
}

async fn replica_with(
    h: &Harness,
    redis: &RedisServer,
    dir: &std::path::Path,
    n: u32,
    tune: impl FnOnce(entra_broker::BrokerConfig) -> entra_broker::BrokerConfig,
) -> RunningBroker {
    let key_file = dir.join("redis.key");
    // The same key on every replica (base64 of 32 bytes).
    std::fs::write(&key_file, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=\n").unwrap();
    let mut c = config(h, &dir.join(format!("audit-{n}.jsonl")));
    c.redis = Some(RedisSection {
        url: redis.url(),
        key_env: None,
        key_file: Some(key_file),
        previous_key_env: None,
        previous_key_file: None,
        prefix: Some("fleet-test".into()),
        timeout_ms: Some(250),
        ca_file: None,
        password_env: None,
        password_file: None,
        danger_allow_secret_in_config: false,
        danger_allow_plain_redis: false,
    });
    c.broker.admin_token_file = Some({
        let p = dir.join("admin.token");
        std::fs::write(&p, "fleet-admin-token-0123456789abcdef").unwrap();
        p
    });
    entra_broker::start(tune(c), StartOptions::default())
        .await
        .expect("replica starts")
}

async fn get(url: &str) -> (u16, Value) {
    get_with_header(url, DEV_SECRET).await
}

/// The identities of the tokens `b` holds in memory, from `GET /admin/tokens`.
async fn held_identities(b: &RunningBroker) -> Vec<String> {
    let r: Value = client()
        .get(format!("{}/admin/tokens", b.imds_endpoint()))
        .bearer_auth("fleet-admin-token-0123456789abcdef")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["identity"].as_str().unwrap().to_owned())
        .collect()
}

/// `POST /admin/purge` of `identity` on `b`: its own copies go at once (the fleet's too,
/// when Redis answers).
async fn purge(b: &RunningBroker, identity: &str) {
    let s = client()
        .post(format!("{}/admin/purge", b.imds_endpoint()))
        .bearer_auth("fleet-admin-token-0123456789abcdef")
        .json(&json!({ "identity": identity }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 200);
}

fn url(b: &RunningBroker, resource: &str) -> String {
    format!(
        "{}?resource={resource}&api-version=2019-08-01",
        b.identity_endpoint()
    )
}

async fn metric(b: &RunningBroker, name: &str) -> f64 {
    let text = metrics_text(b).await;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// `n` concurrent callers spread over `replicas`: every answer's status and token.
async fn burst(replicas: &[&RunningBroker], resource: &str, n: usize) -> Vec<(u16, String)> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let u = url(replicas[i % replicas.len()], resource);
            tokio::spawn(async move {
                let (s, v) = get(&u).await;
                (
                    s,
                    v["access_token"].as_str().unwrap_or_default().to_string(),
                )
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_make_one_upstream_request_for_two_hundred_cold_callers() {
    let redis = RedisServer::start();
    let h = Harness::start().await;
    let dir = temp_dir("fleet");
    let a = replica(&h, &redis, &dir, 1).await;
    let b = replica(&h, &redis, &dir, 2).await;
    // A slow authority, so both replicas are cold at the same time.
    h.fault(json!({"endpoint": "token", "latency_ms": 400}))
        .await;
    let answers = burst(&[&a, &b], "api://contoso-api", 200).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    let tokens: HashSet<&String> = answers.iter().map(|(_, t)| t).collect();
    assert_eq!(tokens.len(), 1, "one token for the whole fleet");
    assert_eq!(
        h.counter("grant:client_credentials").await,
        1,
        "one upstream request"
    );
    let fleet = metric(&a, "entra_broker_fleet_tokens_total").await
        + metric(&b, "entra_broker_fleet_tokens_total").await;
    assert_eq!(fleet, 1.0, "one replica took the other's token from Redis");
    // Redis holds it encrypted: no token in any value.
    let mut raw = redis.raw().await;
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("fleet-test:*")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    for k in keys.iter().filter(|k| k.contains(":token:")) {
        let v: Vec<u8> = ::redis::cmd("GET")
            .arg(k)
            .query_async(&mut raw)
            .await
            .unwrap();
        let token = tokens.iter().next().unwrap();
        assert!(
            !v.windows(20).any(|w| w == &token.as_bytes()[..20]),
            "a token in Redis"
        );
    }

    // A purge on one replica reaches the other.
    let r: Value = client()
        .post(format!("{}/admin/purge", a.imds_endpoint()))
        .bearer_auth("fleet-admin-token-0123456789abcdef")
        .json(&json!({"identity": "daemon"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["fleet"]["purged"], 1, "{r}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while held_identities(&b).await.iter().any(|i| i == "daemon") {
        assert!(
            Instant::now() < deadline,
            "replica b dropped its copy after the purge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.admin()
        .send(reqwest::Method::DELETE, "/faults", None)
        .await;
    let (s, _) = get(&url(&b, "api://contoso-api")).await;
    assert_eq!(s, 200);
    assert_eq!(
        h.counter("grant:client_credentials").await,
        2,
        "purged: fetched again"
    );
    a.shutdown().await;
    b.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_see_no_errors_when_redis_dies_mid_run() {
    let mut redis = RedisServer::start();
    let h = Harness::start().await;
    let dir = temp_dir("fleet-down");
    let a = replica(&h, &redis, &dir, 1).await;
    let b = replica(&h, &redis, &dir, 2).await;
    let warm = burst(&[&a, &b], "api://contoso-api", 20).await;
    assert!(warm.iter().all(|(s, _)| *s == 200));
    assert_eq!(h.counter("grant:client_credentials").await, 1);

    // Requests keep flowing while Redis is killed under them.
    let flow = {
        let urls = [url(&a, "api://contoso-api"), url(&b, "api://contoso-api")];
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..300 {
                statuses.push(get(&urls[i % 2]).await.0);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    redis.kill();
    // A resource nobody has yet: each replica falls back to asking upstream itself.
    let cold = burst(&[&a, &b], "https://graph.microsoft.com", 40).await;
    assert!(cold.iter().all(|(s, _)| *s == 200), "{cold:?}");
    let statuses = flow.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let upstream = h.counter("grant:client_credentials").await;
    assert!(
        (2..=3).contains(&upstream),
        "at most one upstream request per replica: {upstream}"
    );
    assert!(
        metric(&a, "entra_broker_store_errors_total").await
            + metric(&b, "entra_broker_store_errors_total").await
            >= 1.0
    );
    let ready: Value = client()
        .get(format!("{}/readyz", a.imds_endpoint()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["status"], "ready",
        "still ready without Redis: {ready}"
    );

    // Redis back: the fleet shares again.
    redis.spawn();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut shared = false;
    while Instant::now() < deadline {
        // A resource new to both on a, then on b: b should find a's token in Redis.
        let before = h.counter("grant:client_credentials").await;
        let (sa, _) = get(&url(&a, "api://contoso-web")).await;
        let (sb, _) = get(&url(&b, "api://contoso-web")).await;
        assert_eq!((sa, sb), (200, 200));
        let after = h.counter("grant:client_credentials").await;
        if after - before == 1 && metric(&b, "entra_broker_store_connected").await == 1.0 {
            shared = true;
            break;
        }
        // Not yet reconnected: forget it everywhere and try again.
        purge(&a, "daemon").await;
        purge(&b, "daemon").await;
        let mut raw = redis.raw().await;
        let _: () = ::redis::cmd("FLUSHALL")
            .query_async(&mut raw)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(shared, "replicas share tokens again once Redis is back");
    a.shutdown().await;
    b.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_renews_a_token_once_not_once_per_replica() {
    // 12-second tokens renewed at half-life: both replicas have callers, both
    // background refreshers come due together, one upstream request renews it for both.
    let redis = RedisServer::start();
    let h = Harness::start_with(entra_emulator::Options {
        token_lifetime: Some(12),
        ..Default::default()
    })
    .await;
    let dir = temp_dir("fleet-renew");
    let tuned = |mut c: entra_broker::BrokerConfig| {
        c.broker.min_remaining_secs = 1;
        c.broker.refresh_before_secs = 6;
        c
    };
    let a = replica_with(&h, &redis, &dir, 1, tuned).await;
    let b = replica_with(&h, &redis, &dir, 2, tuned).await;
    let first = burst(&[&a, &b], "api://contoso-api", 20).await;
    assert!(first.iter().all(|(s, _)| *s == 200));
    assert_eq!(h.counter("grant:client_credentials").await, 1);
    // Callers on both replicas after the fetch, until well past the renewal time.
    let deadline = Instant::now() + Duration::from_secs(9);
    let mut renewed = HashSet::new();
    while Instant::now() < deadline {
        for (s, t) in burst(&[&a, &b], "api://contoso-api", 2).await {
            assert_eq!(s, 200);
            renewed.insert(t);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(renewed.len(), 2, "the first token, then its renewal");
    assert_eq!(
        h.counter("grant:client_credentials").await,
        2,
        "one renewal for the fleet"
    );
    a.shutdown().await;
    b.shutdown().await;
    h.stop().await;
}
