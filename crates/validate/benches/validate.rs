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
//! - `repeat_token`: [`Validator::validate_cached`] of a token validated before;
//!   `repeat_token_stats` the same with `collect_stats(true)`.
//! - `parse_strict`: [`entra_validate::parse_token`] alone (base64url, strict JSON,
//!   the claims read): most of what `fresh_token` adds to the floor.
//! - `fresh_token_es256` and `jsonwebtoken_es256`: the same claims signed with ES256
//!   (P-256), for issuers with EC keys; both verify with aws-lc's ECDSA.
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
        b.iter_custom(|iters| fresh(&rt, iters, || validator(&fx.jwks), &fx.tokens))
    });

    g.bench_function("jsonwebtoken", |b| {
        use jsonwebtoken::{DecodingKey, decode};
        let (n, e) = (fx.jwk["n"].as_str().unwrap(), fx.jwk["e"].as_str().unwrap());
        let key = DecodingKey::from_rsa_components(n, e).unwrap();
        let validation = jwt_validation(jsonwebtoken::Algorithm::RS256);
        let mut i = 0;
        b.iter(|| {
            let t = &fx.tokens[i % TOKENS];
            i += 1;
            let c = decode::<JwtClaims>(black_box(t), &key, &validation)
                .unwrap()
                .claims;
            black_box(jwt_checks(c))
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
    // The same with `collect_stats(true)`: what counting costs a cache hit.
    g.bench_function("repeat_token_stats", |b| {
        let v = entra_validate::Validator::new(
            fixture::builder(&fx.jwks)
                .collect_stats(true)
                .build()
                .unwrap(),
        );
        rt.block_on(v.validate(token)).unwrap();
        b.iter(|| black_box(v.validate_cached(black_box(token)).unwrap()))
    });
    g.finish();
}

/// jsonwebtoken's own checks for `alg`: `iss`, `aud`, `exp`/`nbf` with 5 minutes of
/// leeway.
fn jwt_validation(alg: jsonwebtoken::Algorithm) -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[format!("https://login.microsoftonline.com/{TENANT}/v2.0")]);
    validation.leeway = 300;
    validation.validate_nbf = true;
    validation
}

/// The checks an API on jsonwebtoken adds by hand: `tid`, `ver`, and a scope or role.
fn jwt_checks(c: JwtClaims) -> JwtClaims {
    assert!(c.tid == TENANT && c.ver == "2.0");
    assert!(
        c.scp
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|s| s == "Data.Read"))
            || c.roles.iter().any(|r| r == "Data.Read.All")
    );
    c
}

/// `iters` validations of tokens the validator has never seen: a new validator from
/// `make` for every batch of [`TOKENS`].
fn fresh(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    make: impl Fn() -> entra_validate::Validator,
    tokens: &[String],
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0u64;
    while done < iters {
        // A new validator: none of these tokens is in its cache.
        let v = make();
        rt.block_on(v.warm_up()).unwrap();
        let n = (iters - done).min(tokens.len() as u64) as usize;
        // One `block_on` for the batch, as a server's task polls `validate` inside its
        // runtime (a `block_on` per call would time tokio, not validation).
        total += rt.block_on(async {
            let start = Instant::now();
            for t in &tokens[..n] {
                black_box(v.validate(black_box(t)).await.unwrap());
            }
            start.elapsed()
        });
        done += n as u64;
    }
    total
}

/// The same claims signed with ES256 (a P-256 key, aws-lc's ECDSA): entra-validate beside
/// jsonwebtoken, for issuers that sign with EC keys.
fn es256(c: &mut Criterion) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use entra_jose::b64url;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref();
    let (x, y) = (b64url(&point[1..33]), b64url(&point[33..]));
    let jwks = serde_json::json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "kid": "bench-ec", "use": "sig", "x": x, "y": y,
    }]})
    .to_string();
    let header = b64url(r#"{"typ":"JWT","alg":"ES256","kid":"bench-ec"}"#);
    let t = fixture::now();
    let tokens: Vec<String> = (0..TOKENS)
        .map(|i| {
            let input = format!("{header}.{}", b64url(fixture::claims(i, t).to_string()));
            let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
            format!("{input}.{}", b64url(sig.as_ref()))
        })
        .collect();
    let make = || {
        entra_validate::Validator::new(
            fixture::builder(&jwks)
                .algorithms([Algorithm::ES256])
                .build()
                .unwrap(),
        )
    };

    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("fresh_token_es256", |b| {
        b.iter_custom(|iters| fresh(&rt, iters, make, &tokens))
    });
    g.bench_function("jsonwebtoken_es256", |b| {
        use jsonwebtoken::{DecodingKey, decode};
        let key = DecodingKey::from_ec_components(&x, &y).unwrap();
        let validation = jwt_validation(jsonwebtoken::Algorithm::ES256);
        let mut i = 0;
        b.iter(|| {
            let t = &tokens[i % TOKENS];
            i += 1;
            let c = decode::<JwtClaims>(black_box(t), &key, &validation)
                .unwrap()
                .claims;
            black_box(jwt_checks(c))
        })
    });
    g.finish();
}

criterion_group!(validate, benches, es256);
criterion_main!(validate);
