//! A driver for counting instructions with callgrind (bench/validate/instructions.sh):
//! `validate_count MODE N` prepares 256 tokens, then does N of one thing: `floor` (aws-lc
//! RSA-2048 verify, key parsed once), `fresh` (entra-validate on tokens it has not seen),
//! `jsonwebtoken` (the same checks with jsonwebtoken 11 on aws-lc-rs), `cached` (a repeat
//! token), or `none` (only the setup, to subtract). Instruction counts do not depend on
//! what else the machine is doing, unlike the criterion timings.

use std::hint::black_box;

use entra_jose::Algorithm;

#[path = "../benches/fixture.rs"]
mod fixture;

use fixture::{AUDIENCE, TENANT, fixture};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "none".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(256);
    let fx = fixture(n);
    let (key, jwk, tokens) = (&fx.key, &fx.jwk, &fx.tokens);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let validator = || fixture::validator(&fx.jwks);
    match mode.as_str() {
        "none" => {}
        "floor" => {
            let v = key.public_key().verifying_key(Algorithm::RS256).unwrap();
            for t in tokens.iter().cycle().take(n) {
                let (input, sig) = t.rsplit_once('.').unwrap();
                let sig = entra_jose::b64url_decode(sig).unwrap();
                v.verify(black_box(input.as_bytes()), &sig).unwrap();
            }
        }
        "fresh" => {
            let v = validator();
            rt.block_on(async {
                for t in tokens.iter().take(n) {
                    black_box(v.validate(t).await.unwrap());
                }
            });
        }
        "cached" => {
            let v = validator();
            rt.block_on(v.validate(&tokens[0])).unwrap();
            for _ in 0..n {
                black_box(v.validate_cached(&tokens[0]).unwrap());
            }
        }
        "jsonwebtoken" => {
            #[derive(serde::Deserialize)]
            struct C {
                tid: String,
                ver: String,
                scp: Option<String>,
            }
            let key = jsonwebtoken::DecodingKey::from_rsa_components(
                jwk["n"].as_str().unwrap(),
                jwk["e"].as_str().unwrap(),
            )
            .unwrap();
            let mut val = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            val.set_audience(&[AUDIENCE]);
            val.set_issuer(&[format!("https://login.microsoftonline.com/{TENANT}/v2.0")]);
            val.leeway = 300;
            val.validate_nbf = true;
            for t in tokens.iter().cycle().take(n) {
                let c = jsonwebtoken::decode::<C>(t, &key, &val).unwrap().claims;
                assert!(c.tid == TENANT && c.ver == "2.0");
                assert!(
                    c.scp
                        .unwrap_or_default()
                        .split(' ')
                        .any(|s| s == "Data.Read")
                );
            }
        }
        other => panic!("unknown mode {other}"),
    }
}
