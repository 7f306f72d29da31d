//! The cache's bound, through its own API with a credential the tests control: no
//! maintenance task runs, so only inserts keep the bound.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use entra_identity::{AccessToken, BoxFuture, Error as IdentityError, TokenCredential};

use super::{Cache, FetchError, Source, Tuning};
use crate::config::{IdentityConfig, IdentityKind};
use crate::metrics::Metrics;
use crate::upstream::Identity;

/// Answers at once, except for scopes starting `slow:`, which wait for a permit of
/// `gate`, and `bad:`, which are refused.
struct Fake {
    gate: tokio::sync::Semaphore,
    started: Mutex<Vec<String>>,
}

impl Default for Fake {
    fn default() -> Self {
        Self {
            gate: tokio::sync::Semaphore::new(0),
            started: Mutex::default(),
        }
    }
}

impl Fake {
    fn started(&self, scope: &str) -> usize {
        let s = self.started.lock().unwrap();
        s.iter().filter(|x| *x == scope).count()
    }

    async fn wait_started(&self, scope: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.started(scope) == 0 {
            assert!(Instant::now() < deadline, "{scope} never reached upstream");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl TokenCredential for Fake {
    fn get_token<'a>(
        &'a self,
        request: &'a entra_identity::TokenRequest,
    ) -> BoxFuture<'a, Result<AccessToken, IdentityError>> {
        Box::pin(async move {
            let scope = request.scopes[0].clone();
            self.started.lock().unwrap().push(scope.clone());
            if scope.starts_with("slow:") {
                self.gate.acquire().await.expect("gate open").forget();
            }
            if scope.starts_with("bad:") {
                return Err(IdentityError::Config(format!("no such resource {scope}")));
            }
            Ok(AccessToken {
                token: entra_identity::Secret::new(format!("token-for-{scope}")),
                expires_on: super::now() + 3600,
                refresh_on: None,
                token_type: "Bearer".into(),
            })
        })
    }

    fn name(&self) -> &'static str {
        "fake"
    }
}

fn identity(fake: &Arc<Fake>) -> Arc<Identity> {
    Arc::new(Identity {
        name: "id".into(),
        client_id: Some("c0000000-0000-4000-8000-000000000001".into()),
        object_id: None,
        resource_id: None,
        credential: fake.clone(),
        config: IdentityConfig::new("id", IdentityKind::ClientSecret),
    })
}

fn cache(max_tokens: usize) -> (Arc<Cache>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let tuning = Tuning {
        min_remaining: 300,
        refresh_before: 900,
        max_tokens,
    };
    (Arc::new(Cache::new(tuning, None, metrics.clone())), metrics)
}

async fn get(
    cache: &Cache,
    id: &Arc<Identity>,
    key: &str,
) -> Result<(Arc<super::Cached>, Source), FetchError> {
    let scope = key.to_string();
    cache.get(id, key, move || vec![scope]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_cache_bounded_at_insert() {
    const MAX: usize = 3;
    let fake = Arc::new(Fake::default());
    let id = identity(&fake);
    let (cache, metrics) = cache(MAX);

    // One caller, one distinct scope after another, refused ones among them (their
    // slots, with the failure's back-off, count as well).
    for i in 0..200 {
        let key = if i % 3 == 0 {
            format!("bad:r{i}")
        } else {
            format!("api://r{i}")
        };
        let r = get(&cache, &id, &key).await;
        assert_eq!(r.is_ok(), i % 3 != 0, "{key}: {r:?}");
        assert!(
            cache.slot_count() <= MAX,
            "{} slots after {key}",
            cache.slot_count()
        );
        assert!(cache.len() <= MAX);
    }
    assert_eq!(get(&cache, &id, "api://r199").await.unwrap().1, Source::Hit);
    assert_eq!(metrics.evictions.get(), 200 - MAX as u64);

    // Eight callers at once, each with fifty new scopes, while another thread watches.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let cache = cache.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut most = 0;
            while !stop.load(Ordering::Relaxed) {
                most = most.max(cache.slot_count());
                std::thread::yield_now();
            }
            most
        })
    };
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let cache = cache.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut ok = 0;
                for j in 0..50 {
                    match get(&cache, &id, &format!("api://t{t}-{j}")).await {
                        Ok(_) => ok += 1,
                        // Every slot had a request in flight at that moment.
                        Err(FetchError::CacheFull { max }) => assert_eq!(max, MAX),
                        Err(e) => panic!("{e:?}"),
                    }
                    assert!(cache.slot_count() <= MAX);
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let most = watcher.join().unwrap();
    assert!(most <= MAX, "{most} slots at once");
    assert!(ok > 0);
    assert!(cache.slot_count() <= MAX);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_cache_never_evicts_in_flight() {
    let fake = Arc::new(Fake::default());
    let id = identity(&fake);
    let (cache, metrics) = cache(2);
    get(&cache, &id, "api://idle").await.unwrap();

    // A request in flight for `slow:a`, and a second caller waiting for the same token.
    let spawn = |key: &'static str| {
        let cache = cache.clone();
        let id = id.clone();
        tokio::spawn(async move { get(&cache, &id, key).await })
    };
    let a = spawn("slow:a");
    fake.wait_started("slow:a").await;
    let a_waiter = spawn("slow:a");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // `slow:b` needs a slot: the idle one goes, not `slow:a`.
    let b = spawn("slow:b");
    fake.wait_started("slow:b").await;
    assert_eq!(cache.slot_count(), 2);
    assert_eq!(metrics.evictions.get(), 1);

    // Both slots are busy: a new scope is refused rather than one of them evicted.
    match get(&cache, &id, "api://new").await {
        Err(FetchError::CacheFull { max: 2 }) => {}
        other => panic!("expected CacheFull, got {other:?}"),
    }
    assert_eq!(metrics.cache_full.get(), 1);
    assert_eq!(fake.started("api://new"), 0);
    // Maintenance under a bound lowered by a reload leaves busy slots alone too.
    cache.set_tuning(Tuning {
        min_remaining: 300,
        refresh_before: 900,
        max_tokens: 1,
    });
    cache.maintain();
    assert_eq!(cache.slot_count(), 2);

    // Released, both fetches finish into slots still in the cache: one upstream
    // request for `slow:a` served both of its callers, and both tokens are hits now.
    fake.gate.add_permits(2);
    let (ta, _) = a.await.unwrap().unwrap();
    let (tw, _) = a_waiter.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&ta, &tw));
    assert_eq!(fake.started("slow:a"), 1);
    assert_eq!(get(&cache, &id, "slow:a").await.unwrap().1, Source::Hit);
    assert_eq!(get(&cache, &id, "slow:b").await.unwrap().1, Source::Hit);
    assert_eq!(fake.started("slow:b"), 1);

    // Idle now, so the lowered bound applies at the next pass.
    cache.maintain();
    assert_eq!(cache.slot_count(), 1);
    assert_eq!(metrics.evictions.get(), 2);
}
