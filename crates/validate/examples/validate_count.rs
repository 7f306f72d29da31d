//! A driver for counting instructions with callgrind (bench/validate/instructions.sh):
//! `validate_count MODE N` prepares 256 tokens, then does N of one thing: `floor` (aws-lc
//! RSA-2048 verify, key parsed once), `fresh` (entra-validate on tokens it has not seen),
//! `jsonwebtoken` (the same checks with jsonwebtoken 11 on aws-lc-rs), `cached` (a repeat
//! token), or `none` (only the setup, to subtract). Instruction counts do not depend on
//! what else the machine is doing, unlike the criterion timings.

use std::hint::black_box;

use entra_jose::{Algorithm, RsaSigningKey, b64url};
use entra_validate::{Authority, Validator, ValidatorConfig};
use serde_json::json;

const TENANT: &str = "c0ffee00-0000-4000-8000-000000000001";
const AUDIENCE: &str = "api://contoso-api";

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "none".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(256);
    let pk8 = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../jose/testdata/rsa2048.pk8"
    ))
    .unwrap();
    let key = RsaSigningKey::from_pkcs8_der(&pk8).unwrap();
    let jwk = key.public_key().to_jwk(
        json!({"kid": "k1", "use": "sig"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let jwks = json!({ "keys": [jwk.clone()] }).to_string();
    let header = b64url(r#"{"typ":"JWT","alg":"RS256","kid":"k1"}"#);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tokens: Vec<String> = (0..n.clamp(1, 256))
        .map(|i| {
            let claims = json!({
                "aud": AUDIENCE, "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
                "iat": now, "nbf": now, "exp": now + 3600,
                "azp": "c1000000-0000-4000-8000-0000000000c1", "azpacr": "0",
                "name": "Alice Example", "oid": "a11ce000-0000-4000-8000-000000000001",
                "preferred_username": "alice@contoso.onmicrosoft.com",
                "rh": "1.AXkAbench-rh-0123456789abcdefghijklmnopqrstuvwxyz.",
                "roles": ["Data.Reader"], "scp": "Data.Read Data.Write",
                "sid": "00a1b2c3-0000-4000-8000-000000000001",
                "sub": "bench-subject-0123456789abcdefghijklmnopqrs",
                "tid": TENANT, "uti": format!("bench-uti-{i:06}"), "ver": "2.0",
            });
            key.sign_compact(Algorithm::RS256, &header, claims.to_string().as_bytes())
                .unwrap()
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let validator = || {
        Validator::new(
            ValidatorConfig::builder()
                .authority(Authority::public_cloud())
                .tenant(TENANT)
                .audience(AUDIENCE)
                .require_scopes(["Data.Read"])
                .static_jwks(jwks.clone())
                .build()
                .unwrap(),
        )
    };
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
                assert!(c.scp.unwrap_or_default().split(' ').any(|s| s == "Data.Read"));
            }
        }
        other => panic!("unknown mode {other}"),
    }
}
