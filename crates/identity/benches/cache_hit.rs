//! Cache-hit `get_token` latency: a credential whose token is already cached, asked again.
//! Run: `cargo bench -p entra-identity --bench cache_hit` (starts an emulator on loopback
//! once to obtain the first token).

use criterion::{Criterion, criterion_group, criterion_main};
use entra_identity::{ClientOptions, ClientSecretCredential, TokenCredential, TokenRequest};

fn cache_hit(c: &mut Criterion) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("entra-bench-{}", std::process::id()));
    let emu = rt
        .block_on(entra_emulator::Emulator::start(entra_emulator::Options {
            state_dir: dir.clone(),
            port: 0,
            token_lifetime: Some(3600),
            ..Default::default()
        }))
        .unwrap();
    let options = ClientOptions::for_emulator(&emu.ready.authority, &emu.ready.ca_file);
    let cred = ClientSecretCredential::new(
        "contoso.onmicrosoft.com",
        "d0000000-0000-4000-8000-0000000000d1",
        "daemon-dev-secret",
        options,
    )
    .unwrap();
    let request = TokenRequest::new(["api://contoso-api/.default"]);
    rt.block_on(cred.get_token(&request)).unwrap();
    // Through `dyn TokenCredential`, as applications hold credentials.
    let dyn_cred: &dyn TokenCredential = &cred;
    c.bench_function("get_token cache hit (client secret)", |b| {
        b.iter(|| {
            let fut = std::hint::black_box(dyn_cred).get_token(&request);
            // The cached path never awaits anything pending: poll it once.
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            let mut fut = fut;
            match fut.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(r) => r.unwrap(),
                std::task::Poll::Pending => panic!("a cache hit must not wait"),
            }
        })
    });
    // Where the time goes: the pieces of a hit, alone.
    let mut g = c.benchmark_group("cache hit parts");
    g.bench_function("token::now", |b| b.iter(entra_identity::unix_time::now));
    let cache = entra_identity::TokenCache::new();
    let scopes = request.scopes.clone();
    let token = rt.block_on(cred.get_token(&request)).unwrap();
    rt.block_on(cache.get_or_fetch_by_scopes(
        &scopes,
        || {
            entra_identity::CacheKey::new(
                "https://h",
                "t",
                "c",
                "",
                &scopes,
                entra_identity::TokenKind::App,
            )
        },
        false,
        || async { Ok(token.clone()) },
    ))
    .unwrap();
    g.bench_function("TokenCache::fresh_by_scopes", |b| {
        b.iter(|| {
            cache
                .fresh_by_scopes(std::hint::black_box(&scopes))
                .unwrap()
        })
    });
    g.bench_function("AccessToken clone + drop", |b| {
        b.iter(|| std::hint::black_box(&token).clone())
    });
    g.bench_function("Box::pin(ready(Ok(token))) + drop", |b| {
        b.iter(|| {
            let f: entra_identity::BoxFuture<'_, Result<_, entra_identity::Error>> =
                Box::pin(std::future::ready(Ok(std::hint::black_box(&token).clone())));
            f
        })
    });
    g.finish();
    rt.block_on(emu.shutdown());
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, cache_hit);
criterion_main!(benches);
