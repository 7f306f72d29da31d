//! Token issuance through the HTTPS proxy vs straight to the emulator, in the same run.
//!
//! One emulator (its own tokio runtime, 2 workers) with the proxy on; a closed-loop
//! load of `BENCH_CONNECTIONS` (default 16) workers, each with its own reqwest client
//! and so its own keep-alive connection, posting a client-credentials request (daemon
//! app, secret, `api://contoso-api/.default`):
//!
//! - direct: `https://localhost:PORT/{tenant}/oauth2/v2.0/token`, trusting the emulator CA;
//! - proxy: `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` through
//!   `HTTPS_PROXY`, trusting the intercept CA (one CONNECT per connection, then TLS to
//!   the proxy's leaf and the same router).
//!
//! The modes take turns for `BENCH_ROUNDS` rounds (order flipped each round), each run a
//! `BENCH_WARMUP` s warm-up and a `BENCH_SECONDS` s measured run; it prints req/s, p50
//! and p99 per run and the median over rounds. Run: `cargo bench -p entra-emulator --bench proxy`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const TENANT: &str = "c0ffee00-0000-4000-8000-000000000001";
const FORM: &str = "grant_type=client_credentials&client_id=d0000000-0000-4000-8000-0000000000d1&client_secret=daemon-dev-secret&scope=api%3A%2F%2Fcontoso-api%2F.default";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Direct,
    Proxy,
}

struct Setup {
    authority: String,
    ca: Vec<u8>,
    proxy_url: String,
    intercept_ca: Vec<u8>,
}

fn client(s: &Setup, mode: Mode) -> reqwest::Client {
    let b = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30));
    match mode {
        Mode::Direct => b
            .no_proxy()
            .add_root_certificate(reqwest::Certificate::from_pem(&s.ca).expect("CA")),
        Mode::Proxy => b
            .proxy(reqwest::Proxy::https(&s.proxy_url).expect("proxy URL"))
            .add_root_certificate(reqwest::Certificate::from_pem(&s.intercept_ca).expect("CA")),
    }
    .build()
    .expect("client")
}

fn url(s: &Setup, mode: Mode) -> String {
    match mode {
        // `BENCH_DIRECT_HOST=127.0.0.1` skips the `localhost` name (IPv6 first).
        Mode::Direct => {
            let base = match std::env::var("BENCH_DIRECT_HOST") {
                Ok(h) => s.authority.replace("localhost", &h),
                Err(_) => s.authority.clone(),
            };
            format!("{base}/{TENANT}/oauth2/v2.0/token")
        }
        Mode::Proxy => format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"),
    }
}

/// One closed-loop run; returns (requests per second, p50 µs, p99 µs).
async fn run(
    s: &Setup,
    mode: Mode,
    conns: usize,
    warmup: Duration,
    measure: Duration,
) -> (f64, u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let recording = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let c = client(s, mode);
        let u = url(s, mode);
        let (stop, recording) = (stop.clone(), recording.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = c
                    .post(&u)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(FORM)
                    .send()
                    .await
                    .expect("request");
                assert_eq!(r.status(), 200, "token request failed");
                let body = r.bytes().await.expect("body");
                assert!(body.len() > 500);
                if recording.load(Ordering::Relaxed) {
                    lat.push(t.elapsed().as_micros() as u64);
                }
            }
            lat
        }));
    }
    tokio::time::sleep(warmup).await;
    recording.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(measure).await;
    recording.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("worker"));
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    (all.len() as f64 / elapsed, pct(0.50), pct(0.99))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let conns = env_u64("BENCH_CONNECTIONS", 16) as usize;
    let rounds = env_u64("BENCH_ROUNDS", 3);
    let warmup = Duration::from_secs(env_u64("BENCH_WARMUP", 3));
    let measure = Duration::from_secs(env_u64("BENCH_SECONDS", 10));
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let dir = std::env::temp_dir().join(format!("entra-proxy-bench-{}", std::process::id()));
    let emu = server_rt
        .block_on(entra_emulator::Emulator::start(entra_emulator::Options {
            state_dir: dir.clone(),
            port: 0,
            token_lifetime: Some(3600),
            proxy_port: Some(0),
            ..Default::default()
        }))
        .expect("emulator starts");
    let p = emu.ready.proxy.clone().expect("proxy");
    let setup = Setup {
        authority: emu.ready.authority.clone(),
        ca: std::fs::read(&emu.ready.ca_file).expect("CA"),
        proxy_url: p.url.clone(),
        intercept_ca: std::fs::read(&p.ca_file).expect("intercept CA"),
    };
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    println!("connections={conns} rounds={rounds} warmup={warmup:?} measure={measure:?}");
    let (mut direct, mut proxied) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Mode::Direct, Mode::Proxy]
        } else {
            [Mode::Proxy, Mode::Direct]
        };
        for mode in order {
            let (rps, p50, p99) = client_rt.block_on(run(&setup, mode, conns, warmup, measure));
            let name = if mode == Mode::Direct {
                "direct"
            } else {
                "proxy "
            };
            println!(
                "round {round} {name}: {rps:8.0} req/s  p50 {:.2} ms  p99 {:.2} ms",
                p50 as f64 / 1000.0,
                p99 as f64 / 1000.0
            );
            if mode == Mode::Direct {
                direct.push(rps)
            } else {
                proxied.push(rps)
            }
        }
    }
    let (d, pr) = (median(direct), median(proxied));
    println!(
        "median: direct {d:.0} req/s, proxy {pr:.0} req/s, proxy overhead {:.1} %",
        (d - pr) / d * 100.0
    );
    server_rt.block_on(emu.shutdown());
    let _ = std::fs::remove_dir_all(dir);
}
