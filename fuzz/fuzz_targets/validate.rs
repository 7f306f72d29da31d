//! The whole validator (static keys, fixed clock) on arbitrary bearers: never panics,
//! never accepts a token it was not given a valid signature for.
#![no_main]

use std::sync::OnceLock;

use entra_validate::{Authority, Clock, Validator, ValidatorConfig};
use libfuzzer_sys::fuzz_target;

const TENANT: &str = "c0ffee00-0000-4000-8000-000000000001";

fn validator() -> &'static (Validator, tokio::runtime::Runtime) {
    static V: OnceLock<(Validator, tokio::runtime::Runtime)> = OnceLock::new();
    V.get_or_init(|| {
        let pk8 = include_bytes!("../../crates/jose/testdata/rsa2048.pk8");
        let key = entra_jose::RsaSigningKey::from_pkcs8_der(pk8).unwrap();
        let mut extra = serde_json::Map::new();
        extra.insert("kid".into(), "k1".into());
        let jwks = format!(r#"{{"keys":[{}]}}"#, key.public_key().to_jwk(extra));
        let config = ValidatorConfig::builder()
            .authority(Authority::public_cloud())
            .tenant(TENANT)
            .audience("api://contoso-api")
            .static_jwks(jwks)
            .clock(Clock::manual(1_800_000_000))
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        (Validator::new(config), rt)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (v, rt) = validator();
    // Random bytes never carry a signature by the test key.
    assert!(rt.block_on(v.validate(token)).is_err());
});
