//! A driver for `perf record`: `profile_fresh MODE SECONDS` repeats one thing for about
//! SECONDS on one thread, with the setup (256 tokens signed, the validator built) a
//! negligible share of the profile: `fresh` (entra-validate on tokens it has not seen: a
//! new validator every 256 tokens), `floor` (aws-lc RSA-2048 verify, key parsed once) or
//! `parse` (`parse_token` alone), or `fresh-one-validator` (one validator, its cache
//! emptied between batches). Prints the time per operation it measured.
//!
//! `perf record -g target/release/examples/profile_fresh fresh 10 && perf report`

use std::hint::black_box;
use std::time::{Duration, Instant};

use entra_jose::Algorithm;

#[path = "../benches/fixture.rs"]
#[allow(dead_code)]
mod fixture;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "fresh".into());
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let fx = fixture::fixture(fixture::TOKENS);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deadline = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut timed = Duration::ZERO;
    let mut ops = 0u64;
    let mut one = None;
    while start.elapsed() < deadline {
        match mode.as_str() {
            "fresh" | "fresh-one-validator" => {
                // `fresh`: a new validator per batch (as benches/validate.rs does).
                // `fresh-one-validator`: one for the whole run (keys parsed once), its
                // cache emptied between batches (not timed).
                let new = || {
                    let v = fixture::validator(&fx.jwks);
                    rt.block_on(v.warm_up()).unwrap();
                    v
                };
                let v = if mode == "fresh" {
                    one.insert(new())
                } else {
                    one.get_or_insert_with(new)
                };
                v.token_cache().clear();
                timed += rt.block_on(async {
                    let t = Instant::now();
                    for token in &fx.tokens {
                        black_box(v.validate(black_box(token)).await.unwrap());
                    }
                    t.elapsed()
                });
            }
            "floor" => {
                let key = fx.key.public_key().verifying_key(Algorithm::RS256).unwrap();
                let t = Instant::now();
                for token in &fx.tokens {
                    let (input, sig) = token.rsplit_once('.').unwrap();
                    let sig = entra_jose::b64url_decode(sig).unwrap();
                    key.verify(black_box(input.as_bytes()), &sig).unwrap();
                }
                timed += t.elapsed();
            }
            "parse" => {
                let t = Instant::now();
                for token in &fx.tokens {
                    black_box(entra_validate::parse_token(black_box(token), 16384).unwrap());
                }
                timed += t.elapsed();
            }
            other => panic!("unknown mode {other}"),
        }
        ops += fx.tokens.len() as u64;
    }
    println!(
        "{mode}: {ops} operations, {:.3} µs each",
        timed.as_secs_f64() * 1e6 / ops as f64
    );
}
