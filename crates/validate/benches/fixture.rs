//! The benchmark fixture shared by `benches/validate.rs` and `examples/validate_count.rs`:
//! a realistic Entra v2 user token set signed with the test key, its JWKS, and the
//! validator both measure.

use entra_jose::{Algorithm, RsaSigningKey, b64url};
use entra_validate::{Authority, Validator, ValidatorConfig, ValidatorConfigBuilder};
use serde_json::json;

pub const TENANT: &str = "c0ffee00-0000-4000-8000-000000000001";
pub const AUDIENCE: &str = "api://contoso-api";
pub const TOKENS: usize = 256;

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub struct Fixture {
    pub key: RsaSigningKey,
    /// The JWK (with `kid` `bench-key`).
    pub jwk: serde_json::Value,
    pub jwks: String,
    pub tokens: Vec<String>,
}

/// `count` tokens (at most [`TOKENS`]), each with its own `uti`.
pub fn fixture(count: usize) -> Fixture {
    let pk8 = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../jose/testdata/rsa2048.pk8"
    ))
    .unwrap();
    let key = RsaSigningKey::from_pkcs8_der(&pk8).unwrap();
    let jwk = key.public_key().to_jwk(
        json!({"kid": "bench-key", "use": "sig"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let jwks = json!({ "keys": [jwk.clone()] }).to_string();
    let header = b64url(r#"{"typ":"JWT","alg":"RS256","kid":"bench-key"}"#);
    let t = now();
    let tokens = (0..count.clamp(1, TOKENS))
        .map(|i| {
            key.sign_compact(
                Algorithm::RS256,
                &header,
                claims(i, t).to_string().as_bytes(),
            )
            .unwrap()
        })
        .collect();
    Fixture {
        key,
        jwk,
        jwks,
        tokens,
    }
}

/// A realistic Entra v2 user token's claims (about 1.4 KB signed), issued at `t`, its
/// `uti` numbered `i`.
pub fn claims(i: usize, t: u64) -> serde_json::Value {
    json!({
        "aud": AUDIENCE,
        "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
        "iat": t, "nbf": t, "exp": t + 3600,
        "aio": "AWQAm/8TAAAAbench0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP",
        "azp": "c1000000-0000-4000-8000-0000000000c1", "azpacr": "0",
        "name": "Alice Example", "oid": "a11ce000-0000-4000-8000-000000000001",
        "preferred_username": "alice@contoso.onmicrosoft.com",
        "rh": "1.AXkAbench-rh-0123456789abcdefghijklmnopqrstuvwxyz.",
        "roles": ["Data.Reader"], "scp": "Data.Read Data.Write",
        "sid": "00a1b2c3-0000-4000-8000-000000000001",
        "sub": "bench-subject-0123456789abcdefghijklmnopqrs",
        "tid": TENANT, "uti": format!("bench-uti-{i:06}"), "ver": "2.0",
        "xms_ftd": "bench-ftd-0123456789abcdefghijklmnopqrstuvwxyz",
    })
}

/// The configuration under test: one tenant, one audience, a required scope, static
/// keys.
pub fn builder(jwks: &str) -> ValidatorConfigBuilder {
    ValidatorConfig::builder()
        .authority(Authority::public_cloud())
        .tenant(TENANT)
        .audience(AUDIENCE)
        .require_scopes(["Data.Read"])
        .static_jwks(jwks.to_string())
}

/// The validator under test (RS256, [`builder`]).
pub fn validator(jwks: &str) -> Validator {
    Validator::new(builder(jwks).build().unwrap())
}
