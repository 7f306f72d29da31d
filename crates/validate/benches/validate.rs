//! Token validation speed (issue 4's performance targets), all on one thread:
//!
//! - `rsa2048_verify_floor`: aws-lc's RSA-2048 PKCS#1 v1.5 SHA-256 verification of the
//!   same signing input and signature, the key parsed once: the floor of a validator
//!   built on aws-lc (jsonwebtoken's, and ours with `ENTRA_RSA_BACKEND=aws-lc`).
//! - `rsa2048_verify_entra_rsa`: the same verification by entra-rsa (AVX-512 IFMA), what
//!   `fresh_token` uses where the CPU has IFMA.
//! - `fresh_token`: [`Validator::validate`] of a token it has never seen (a new validator
//!   per batch, so every call parses, verifies, checks every claim, builds the principal
//!   and fills the validated-token cache).
//! - `jsonwebtoken`: the jsonwebtoken crate (aws-lc-rs backend) with the same checks:
//!   signature, `iss`, `aud`, `exp`/`nbf` with 5 minutes of leeway, then `tid`, `ver` and
//!   `scp`/`roles` on the typed claims, as an API would have to add by hand.
//! - `repeat_token`: [`Validator::validate_cached`] of a token validated before.
//! - `parse_strict`: [`entra_validate::parse_token`] alone (base64url, strict JSON,
//!   the claims read): most of what `fresh_token` adds to the floor.
//!
//! `bash bench/validate/run.sh` runs this beside `openssl speed rsa2048` and writes
//! the table in BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use entra_jose::{Algorithm, RsaBackend};

#[path = "fixture.rs"]
mod fixture;

use fixture::{AUDIENCE, TENANT, TOKENS, fixture, validator};

/// The claims an API using jsonwebtoken would read to make the same decisions.
#[derive(serde::Deserialize)]
struct JwtClaims {
    tid: String,
    ver: String,
    #[serde(default)]
    scp: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[allow(dead_code)]
    oid: Option<String>,
}

fn benches(c: &mut Criterion) {
    let fx = fixture(TOKENS);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = &fx.tokens[0];
    let (signing_input, sig) = token.rsplit_once('.').unwrap();
    let sig = entra_jose::b64url_decode(sig).unwrap();
    let public = fx.key.public_key().clone();

    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(8));

    g.bench_function("rsa2048_verify_floor", |b| {
        let verifying = public
            .verifying_key_with(Algorithm::RS256, RsaBackend::AwsLc)
            .unwrap();
        b.iter(|| {
            verifying
                .verify(black_box(signing_input.as_bytes()), black_box(&sig))
                .unwrap()
        })
    });

    // Without AVX-512 IFMA there is no entra-rsa path to measure (run.sh says so).
    let fast = public
        .verifying_key_with(Algorithm::RS256, RsaBackend::Auto)
        .unwrap();
    if fast.backend() == RsaBackend::Auto {
        g.bench_function("rsa2048_verify_entra_rsa", |b| {
            b.iter(|| {
                fast.verify(black_box(signing_input.as_bytes()), black_box(&sig))
                    .unwrap()
            })
        });
    }

    g.bench_function("fresh_token", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                // A new validator: none of these tokens is in its cache.
                let v = validator(&fx.jwks);
                rt.block_on(v.warm_up()).unwrap();
                let n = (iters - done).min(TOKENS as u64) as usize;
                // One `block_on` for the batch, as a server's task polls `validate` inside
                // its runtime (a `block_on` per call would time tokio, not validation).
                total += rt.block_on(async {
                    let start = Instant::now();
                    for t in &fx.tokens[..n] {
                        black_box(v.validate(black_box(t)).await.unwrap());
                    }
                    start.elapsed()
                });
                done += n as u64;
            }
            total
        })
    });

    g.bench_function("jsonwebtoken", |b| {
        use jsonwebtoken::{DecodingKey, Validation, decode};
        let (n, e) = (fx.jwk["n"].as_str().unwrap(), fx.jwk["e"].as_str().unwrap());
        let key = DecodingKey::from_rsa_components(n, e).unwrap();
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[format!("https://login.microsoftonline.com/{TENANT}/v2.0")]);
        validation.leeway = 300;
        validation.validate_nbf = true;
        let mut i = 0;
        b.iter(|| {
            let t = &fx.tokens[i % TOKENS];
            i += 1;
            let data = decode::<JwtClaims>(black_box(t), &key, &validation).unwrap();
            let c = data.claims;
            assert!(c.tid == TENANT && c.ver == "2.0");
            assert!(
                c.scp
                    .as_deref()
                    .is_some_and(|s| s.split(' ').any(|s| s == "Data.Read"))
                    || c.roles.iter().any(|r| r == "Data.Read.All")
            );
            black_box(c)
        })
    });

    g.bench_function("parse_strict", |b| {
        let mut i = 0;
        b.iter(|| {
            let t = &fx.tokens[i % TOKENS];
            i += 1;
            black_box(entra_validate::parse_token(black_box(t), 16384).unwrap());
        })
    });
    g.bench_function("repeat_token", |b| {
        let v = validator(&fx.jwks);
        rt.block_on(v.validate(token)).unwrap();
        b.iter(|| black_box(v.validate_cached(black_box(token)).unwrap()))
    });
    g.finish();
}

criterion_group!(validate, benches);
criterion_main!(validate);
