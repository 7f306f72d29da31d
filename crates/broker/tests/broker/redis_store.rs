//! `RedisStore` against a real `redis-server` (each test starts its own on a free
//! loopback port and kills it at the end). `redis-server` must be on PATH: on Debian,
//! `apt-get install redis-server`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::redis::RedisServer;

use entra_broker::{
    EncryptionKey, LockToken, RedisOptions, RedisStore, SharedStore, StoreError, StoreKey, Stored,
};
use tokio::sync::broadcast;

const KEY: [u8; 32] = [0x42; 32];

fn store(server: &RedisServer) -> RedisStore {
    store_with_key(server, KEY)
}

fn store_with_key(server: &RedisServer, key: [u8; 32]) -> RedisStore {
    RedisStore::new(RedisOptions::new(server.url(), EncryptionKey::new(key))).expect("store")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn key(identity: &str, scopes: &str) -> StoreKey {
    StoreKey {
        identity: identity.into(),
        scopes: scopes.into(),
    }
}

fn token(secret: &str) -> Stored {
    let now = now();
    Stored {
        token: secret.into(),
        expires_on: now + 3600,
        refresh_at: now + 1800,
        fetched_at: now,
        token_id: "uti:abc123".into(),
        client_id: Some("11111111-2222-3333-4444-555555555555".into()),
    }
}

async fn raw_get(server: &RedisServer, name: &str) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(name)
        .query_async(&mut server.raw().await)
        .await
        .unwrap()
}

async fn raw_set(server: &RedisServer, name: &str, value: &[u8]) {
    redis::cmd("SET")
        .arg(name)
        .arg(value)
        .query_async::<()>(&mut server.raw().await)
        .await
        .unwrap();
}

/// Purges `identity` through `from` until `rx` hears of it (the listener subscribes in
/// the background, and after a restart only once it has reconnected). At most 15 s.
async fn purge_until_heard(
    from: &RedisStore,
    rx: &mut broadcast::Receiver<String>,
    identity: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(
            Instant::now() < deadline,
            "no purge notice for {identity} within 15 s"
        );
        if from.purge(identity).await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let listen_until = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(heard) = tokio::time::timeout_at(listen_until, rx.recv()).await {
            if heard.as_deref() == Ok(identity) {
                return;
            }
        }
    }
}

/// Asserts that `call` fails within 2 s (generous: the limit is 250 ms) and that its
/// error names the server.
async fn fails_fast<T: std::fmt::Debug>(
    server: &RedisServer,
    what: &str,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> StoreError {
    let started = Instant::now();
    let error = call.await.expect_err(what);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{what} took {took:?}");
    let place = format!("redis at 127.0.0.1:{}: ", server.port);
    assert!(error.0.starts_with(&place), "{what}: {error}");
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_then_load_round_trips() {
    let server = RedisServer::start();
    let store = store(&server);
    let k = key("app1", "https://vault.azure.net");

    assert_eq!(store.load(&k).await.unwrap(), None);
    let saved = token("eyJ.secret-token.sig");
    store.save(&k, &saved).await.unwrap();
    assert_eq!(store.load(&k).await.unwrap(), Some(saved.clone()));
    assert!(store.connected());
    assert_eq!(store.describe(), format!("127.0.0.1:{}/0", server.port));

    // A newer save replaces it; another scope key is another record.
    let newer = token("eyJ.newer-token.sig");
    store.save(&k, &newer).await.unwrap();
    assert_eq!(store.load(&k).await.unwrap(), Some(newer));
    let other = key("app1", "https://storage.azure.com");
    assert_eq!(store.load(&other).await.unwrap(), None);

    // A second replica with the same key reads it.
    let replica = self::store(&server);
    assert_eq!(
        replica.load(&k).await.unwrap().map(|s| s.token_id.clone()),
        Some("uti:abc123".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_only_ciphertext_with_the_token_lifetime_as_ttl() {
    let server = RedisServer::start();
    let store = store(&server);
    let k = key("app1", "https://vault.azure.net");
    let secret = "eyJ.super-secret-token.sig";
    store.save(&k, &token(secret)).await.unwrap();

    let name = store.token_key(&k);
    assert!(name.starts_with("entra-broker:token:app1:"), "{name}");
    let raw = raw_get(&server, &name)
        .await
        .expect("a value under the token key");
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains(secret), "the token is in Redis in clear");
    assert!(
        !text.contains("uti:abc123"),
        "the record is in Redis in clear"
    );
    assert!(
        !text.contains("expires_on"),
        "the record is in Redis in clear"
    );

    let ttl: i64 = redis::cmd("TTL")
        .arg(&name)
        .query_async(&mut server.raw().await)
        .await
        .unwrap();
    assert!((3500..=3600).contains(&ttl), "ttl {ttl}");

    // Two writes of the same record differ (a fresh nonce each time).
    store.save(&k, &token(secret)).await.unwrap();
    assert_ne!(raw_get(&server, &name).await.unwrap(), raw);

    // An expired token is not stored at all.
    let gone = key("app1", "expired");
    let mut expired = token("eyJ.old.sig");
    expired.expires_on = now() - 5;
    store.save(&gone, &expired).await.unwrap();
    assert_eq!(raw_get(&server, &store.token_key(&gone)).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_do_not_open_read_as_none() {
    let server = RedisServer::start();
    let store = store(&server);
    let a = key("app1", "https://vault.azure.net");
    let b = key("app2", "https://vault.azure.net");
    store.save(&a, &token("eyJ.a.sig")).await.unwrap();
    let sealed = raw_get(&server, &store.token_key(&a)).await.unwrap();

    // Moved under another key: the key name is bound into the ciphertext.
    raw_set(&server, &store.token_key(&b), &sealed).await;
    assert_eq!(store.load(&b).await.unwrap(), None);

    // Another replica configured with another encryption key.
    let stranger = store_with_key(&server, [0x17; 32]);
    assert_eq!(stranger.load(&a).await.unwrap(), None);
    assert!(stranger.connected());

    // Tampered with, truncated, or not ours at all.
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    raw_set(&server, &store.token_key(&a), &tampered).await;
    assert_eq!(store.load(&a).await.unwrap(), None);
    raw_set(&server, &store.token_key(&a), &sealed[..10]).await;
    assert_eq!(store.load(&a).await.unwrap(), None);
    raw_set(&server, &store.token_key(&a), b"not a sealed value at all").await;
    assert_eq!(store.load(&a).await.unwrap(), None);

    // The original bytes, back in place, open again.
    raw_set(&server, &store.token_key(&a), &sealed).await;
    assert!(store.load(&a).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_has_one_holder_only_it_can_release_and_it_expires() {
    let server = RedisServer::start();
    let (one, two) = (store(&server), store(&server));
    let k = key("app1", "https://vault.azure.net");

    let held = one.lock(&k, 30_000).await.unwrap().expect("free lock");
    let pttl: i64 = redis::cmd("PTTL")
        .arg(one.lock_key(&k))
        .query_async(&mut server.raw().await)
        .await
        .unwrap();
    assert!((1..=30_000).contains(&pttl), "lock pttl {pttl}");
    assert_eq!(two.lock(&k, 30_000).await.unwrap(), None);
    assert_eq!(one.lock(&k, 30_000).await.unwrap(), None, "not re-entrant");

    // A lock on another scope is another lock.
    let other = key("app1", "https://storage.azure.com");
    assert!(two.lock(&other, 30_000).await.unwrap().is_some());

    // Someone else's token releases nothing.
    two.unlock(&k, &LockToken("not-the-holder".into()))
        .await
        .unwrap();
    assert_eq!(two.lock(&k, 30_000).await.unwrap(), None);

    // The holder's does (from any replica: the token is what counts).
    one.unlock(&k, &held).await.unwrap();
    let second = two.lock(&k, 30_000).await.unwrap().expect("released lock");
    assert_ne!(second, held);
    // A stale token (the first holder's) leaves the new holder alone.
    one.unlock(&k, &held).await.unwrap();
    assert_eq!(one.lock(&k, 30_000).await.unwrap(), None);
    two.unlock(&k, &second).await.unwrap();

    // A lock nobody releases expires after its ttl.
    let short = key("app1", "short");
    assert!(one.lock(&short, 300).await.unwrap().is_some());
    assert_eq!(two.lock(&short, 300).await.unwrap(), None);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if two.lock(&short, 300).await.unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the lock did not expire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_only_that_identity_and_tells_the_other_replicas() {
    let server = RedisServer::start();
    let (one, two) = (store(&server), store(&server));
    let mut heard = two.purges();
    // Both listeners are subscribed once a notice gets through.
    purge_until_heard(&one, &mut heard, "warm-up").await;

    let records = [
        key("alpha", "https://vault.azure.net"),
        key("alpha", "https://storage.azure.com"),
        key("alpha:extra", "https://vault.azure.net"),
        key("alphabet", "https://vault.azure.net"),
        key("beta", "https://vault.azure.net"),
        key("al*", "https://vault.azure.net"),
        key("al[p]ha", "https://vault.azure.net"),
    ];
    for k in &records {
        one.save(k, &token(&format!("eyJ.{}.sig", k.identity)))
            .await
            .unwrap();
    }
    let present = |k: &StoreKey| {
        let k = k.clone();
        let one = &one;
        async move { one.load(&k).await.unwrap().is_some() }
    };

    // Glob characters in the name are literal: `al*` is one identity, not a pattern.
    assert_eq!(one.purge("al*").await.unwrap(), 1);
    assert_eq!(one.purge("al[p]ha").await.unwrap(), 1);
    for k in &records[..5] {
        assert!(present(k).await, "{} went with al*", k.identity);
    }

    assert_eq!(two.purge("alpha").await.unwrap(), 2);
    assert!(!present(&records[0]).await);
    assert!(!present(&records[1]).await);
    for k in &records[2..5] {
        assert!(present(k).await, "{} went with alpha", k.identity);
    }
    assert_eq!(two.purge("alpha").await.unwrap(), 0, "nothing left");
    assert_eq!(one.purge("nobody").await.unwrap(), 0);

    // The notices arrive in order at the other replica (its own come back too).
    let mut names = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while names.len() < 5 {
        match tokio::time::timeout_at(deadline, heard.recv()).await {
            Ok(Ok(name)) if name != "warm-up" => names.push(name),
            Ok(Ok(_)) => {}
            other => panic!("purge notices stopped after {names:?}: {other:?}"),
        }
    }
    assert_eq!(names, ["al*", "al[p]ha", "alpha", "alpha", "nobody"]);

    // The listener stops with its store: the channel then closes.
    drop(two);
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Err(broadcast::error::RecvError::Closed) = heard.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the purge listener outlived its store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_fails_calls_fast_and_a_restarted_one_is_used_again() {
    let mut server = RedisServer::start();
    let (one, two) = (store(&server), store(&server));
    let mut heard = two.purges();
    let k = key("app1", "https://vault.azure.net");
    one.save(&k, &token("eyJ.before.sig")).await.unwrap();
    purge_until_heard(&one, &mut heard, "warm-up").await;
    assert!(one.connected());

    server.kill();
    // Every kind of call fails, each well within 2 s, and says where.
    for _ in 0..3 {
        fails_fast(&server, "load", one.load(&k)).await;
        fails_fast(&server, "save", one.save(&k, &token("eyJ.during.sig"))).await;
        fails_fast(&server, "lock", one.lock(&k, 1000)).await;
        fails_fast(&server, "unlock", one.unlock(&k, &LockToken("x".into()))).await;
        fails_fast(&server, "purge", one.purge("app1")).await;
        assert!(!one.connected());
    }

    server.restart();
    // The data is gone (no persistence), but the store works again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(found) = one.load(&k).await {
            assert_eq!(found, None);
            break;
        }
        assert!(Instant::now() < deadline, "no reconnect within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(one.connected());
    one.save(&k, &token("eyJ.after.sig")).await.unwrap();
    assert_eq!(
        two.load(&k).await.unwrap().map(|s| s.token.clone()),
        Some("eyJ.after.sig".to_owned())
    );
    assert!(two.connected());
    // The other replica's listener has subscribed again.
    purge_until_heard(&one, &mut heard, "app1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_times_calls_out_and_a_thawed_one_answers_again() {
    let server = RedisServer::start();
    let store = store(&server);
    let k = key("app1", "https://vault.azure.net");
    store.save(&k, &token("eyJ.t.sig")).await.unwrap();

    server.signal("STOP");
    for _ in 0..2 {
        let error = fails_fast(&server, "load", store.load(&k)).await;
        assert!(error.0.ends_with("timed out after 250 ms"), "{error}");
        fails_fast(&server, "lock", store.lock(&k, 1000)).await;
        assert!(!store.connected());
    }

    server.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(found) = store.load(&k).await {
            assert_eq!(found.map(|s| s.token.clone()), Some("eyJ.t.sig".to_owned()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no answer within 10 s of SIGCONT"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(store.connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_made_while_redis_is_down_works_once_it_is_up() {
    let mut server = RedisServer::start();
    server.kill();
    let store = store(&server);
    let k = key("app1", "https://vault.azure.net");
    let started = Instant::now();
    let error = store.load(&k).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        error.0,
        format!("redis at 127.0.0.1:{}: connection refused", server.port)
    );
    assert!(!store.connected());
    let mut heard = store.purges();

    server.spawn();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.save(&k, &token("eyJ.t.sig")).await.is_err() {
        assert!(Instant::now() < deadline, "no connection within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(store.load(&k).await.unwrap().is_some());
    purge_until_heard(&store, &mut heard, "app1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_stay_out_of_descriptions_and_errors() {
    let server = RedisServer::start_with(Some("hunter2-pass"));
    let good = store(&server);
    let k = key("app1", "https://vault.azure.net");
    good.save(&k, &token("eyJ.t.sig")).await.unwrap();
    assert!(good.load(&k).await.unwrap().is_some());
    assert_eq!(good.describe(), format!("127.0.0.1:{}/0", server.port));
    assert!(!format!("{good:?}").contains("hunter2"));

    let wrong = RedisStore::new(RedisOptions::new(
        format!("redis://:wrong-pass-xyz@127.0.0.1:{}/0", server.port),
        EncryptionKey::new(KEY),
    ))
    .unwrap();
    let error = wrong.load(&k).await.unwrap_err();
    assert!(!error.0.contains("wrong-pass-xyz"), "{error}");
    assert!(!wrong.connected());

    let options = RedisOptions::new(server.url(), EncryptionKey::new(KEY));
    let shown = format!("{options:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        !shown.contains("66, 66"),
        "the encryption key shows: {shown}"
    );
}

#[tokio::test]
async fn only_an_unusable_url_fails_construction() {
    for url in ["not a url", "http://:secret-pass@127.0.0.1/"] {
        let error = RedisStore::new(RedisOptions::new(url, EncryptionKey::new(KEY))).unwrap_err();
        assert!(error.0.starts_with("redis url is not usable"), "{error}");
        assert!(!error.0.contains("secret-pass"), "{error}");
    }
    // Nothing listens on port 1: still a store.
    let store = RedisStore::new(RedisOptions::new(
        "redis://127.0.0.1:1/3",
        EncryptionKey::generate().unwrap(),
    ))
    .unwrap();
    assert_eq!(store.describe(), "127.0.0.1:1/3");
}

#[tokio::test]
async fn tls_redis_with_a_ca_file_and_refused_without_it() {
    let server = RedisServer::start_tls();
    let ca = server.tls_ca.clone().unwrap();
    let mut options = RedisOptions::new(server.url(), EncryptionKey::new(KEY));
    options.ca_file = Some(ca.clone());
    let store = RedisStore::new(options).unwrap();
    let k = key("tls", "api://x");
    let value = token("tls-token-value");
    // The first call may race the background connect: allow a few tries (bounded).
    let mut saved = store.save(&k, &value).await;
    for _ in 0..20 {
        if saved.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        saved = store.save(&k, &value).await;
    }
    saved.expect("save over TLS");
    assert_eq!(store.load(&k).await.unwrap(), Some(value));
    assert!(store.connected());
    // The system's roots do not know this CA: every call fails, quickly.
    let untrusted =
        RedisStore::new(RedisOptions::new(server.url(), EncryptionKey::new(KEY))).unwrap();
    let started = Instant::now();
    assert!(untrusted.load(&k).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
    // A CA file with a plain URL is a mistake worth naming.
    let mut plain = RedisOptions::new("redis://127.0.0.1:1/0", EncryptionKey::new(KEY));
    plain.ca_file = Some(ca);
    let e = RedisStore::new(plain).unwrap_err();
    assert!(e.0.contains("rediss://"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_never_replaces_a_token_fetched_later() {
    let server = RedisServer::start();
    let store = store(&server);
    let k = key("app1", "https://vault.azure.net");
    let fresh = token("eyJ.fresh.sig");
    store.save(&k, &fresh).await.unwrap();

    // A replica that fetched earlier but saves later (a slow upstream, a lock that
    // expired under it) does not replace the fresher token.
    let mut stale = token("eyJ.stale.sig");
    stale.fetched_at = fresh.fetched_at - 120;
    stale.expires_on = fresh.expires_on - 120;
    store.save(&k, &stale).await.unwrap();
    assert_eq!(
        store.load(&k).await.unwrap().unwrap().token,
        "eyJ.fresh.sig"
    );

    // One fetched later does.
    let mut newer = token("eyJ.newer.sig");
    newer.fetched_at = fresh.fetched_at + 60;
    store.save(&k, &newer).await.unwrap();
    assert_eq!(
        store.load(&k).await.unwrap().unwrap().token,
        "eyJ.newer.sig"
    );

    // A value with no stamp (garbage, or an older broker's format) is replaced.
    raw_set(&server, &store.token_key(&k), b"not a sealed value at all").await;
    store.save(&k, &stale).await.unwrap();
    assert_eq!(
        store.load(&k).await.unwrap().unwrap().token,
        "eyJ.stale.sig"
    );

    // The stamp is bound into the ciphertext: a value whose stamp was raised (to make
    // it win) no longer opens.
    let name = store.token_key(&k);
    let mut raw = raw_get(&server, &name).await.unwrap();
    assert!(
        raw[..20].iter().all(u8::is_ascii_digit),
        "a 20-digit stamp first"
    );
    raw[0] = b'9';
    raw_set(&server, &name, &raw).await;
    assert_eq!(store.load(&k).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_still_reads_what_the_previous_key_sealed() {
    const NEW_KEY: [u8; 32] = [0x24; 32];
    let server = RedisServer::start();
    let k = key("app1", "https://vault.azure.net");
    let old = store(&server);
    old.save(&k, &token("eyJ.sealed-with-the-old-key.sig"))
        .await
        .unwrap();

    // A replica on the new key with the old one as previous reads it ...
    let mut options = RedisOptions::new(server.url(), EncryptionKey::new(NEW_KEY));
    options.previous_keys = vec![EncryptionKey::new(KEY)];
    assert!(format!("{options:?}").contains("previous_keys: 1"));
    let rotating = RedisStore::new(options).unwrap();
    assert_eq!(
        rotating.load(&k).await.unwrap().unwrap().token,
        "eyJ.sealed-with-the-old-key.sig"
    );
    // ... and one on the new key alone does not.
    let new_only = store_with_key(&server, NEW_KEY);
    assert_eq!(new_only.load(&k).await.unwrap(), None);

    // What the rotating replica writes is sealed with the new key only.
    let mut renewed = token("eyJ.sealed-with-the-new-key.sig");
    renewed.fetched_at += 1;
    rotating.save(&k, &renewed).await.unwrap();
    assert_eq!(
        new_only.load(&k).await.unwrap().unwrap().token,
        "eyJ.sealed-with-the-new-key.sig"
    );
    assert_eq!(old.load(&k).await.unwrap(), None);
}

#[tokio::test]
async fn a_replica_with_the_wrong_key_warns_once_a_minute_not_on_every_load() {
    let captured = crate::common::Captured::default();
    let sink = captured.clone();
    // This test's runtime is single-threaded, so the thread's default subscriber sees
    // every event.
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish(),
    );
    let server = RedisServer::start();
    let k = key("app1", "https://vault.azure.net");
    store(&server).save(&k, &token("eyJ.a.sig")).await.unwrap();
    let stranger = store_with_key(&server, [0x17; 32]);
    for _ in 0..50 {
        assert_eq!(stranger.load(&k).await.unwrap(), None);
    }
    let text = captured.text();
    let warnings = text.matches("ignoring a token stored in redis").count();
    assert_eq!(warnings, 1, "{text}");
    assert!(
        text.contains("does not decrypt") && text.contains("same key"),
        "{text}"
    );
    assert!(!text.contains("eyJ.a.sig"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_missed_while_unsubscribed_is_caught_up_on_resubscribing() {
    let server = RedisServer::start();
    let (one, two) = (store(&server), store(&server));
    let mut heard = two.purges();
    purge_until_heard(&one, &mut heard, "warm-up").await;
    let channel = "entra-broker:purge";
    let subscribers = || async {
        let (_, n): (String, u64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query_async::<(String, u64)>(&mut server.raw().await)
            .await
            .unwrap();
        n
    };
    // Cut every subscriber off, then purge before they are back (they wait 100 ms
    // before resubscribing): the notice reaches nobody. Tried a few times in case a
    // listener was quicker than this test.
    let mut missed = false;
    for _ in 0..5 {
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("pubsub")
            .query_async(&mut server.raw().await)
            .await
            .unwrap();
        if subscribers().await == 0 {
            one.purge("billing-sp").await.unwrap();
            missed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(missed, "the subscribers were never all gone");
    // The replica learns of it when it subscribes again, from the generations.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, heard.recv()).await {
            Ok(Ok(name)) if name == "billing-sp" => break,
            Ok(Ok(_)) => {}
            other => panic!("the missed purge never arrived: {other:?}"),
        }
    }
    // Nothing is repeated for purges it has seen: a live purge arrives once.
    one.purge("other-sp").await.unwrap();
    let mut seen = Vec::new();
    let quiet = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Ok(name)) = tokio::time::timeout_at(quiet, heard.recv()).await {
        seen.push(name);
    }
    assert_eq!(seen, ["other-sp"]);
    let generations: std::collections::HashMap<String, i64> = redis::cmd("HGETALL")
        .arg("entra-broker:purge-generations")
        .query_async(&mut server.raw().await)
        .await
        .unwrap();
    assert_eq!(generations.get("billing-sp"), Some(&1));
    assert_eq!(generations.get("other-sp"), Some(&1));
}
