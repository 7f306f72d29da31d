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
        // Beside the RSA key, an EC P-256 key (RFC 7515 A.3) and an Ed25519 key (RFC 8037
        // A.2), with every algorithm allowed: the type checks and the EC and EdDSA paths
        // get random input too.
        let jwks = format!(
            r#"{{"keys":[{},{},{}]}}"#,
            key.public_key().to_jwk(extra),
            r#"{"kty":"EC","kid":"e1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
            r#"{"kty":"OKP","kid":"d1","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
        );
        let config = ValidatorConfig::builder()
            .authority(Authority::public_cloud())
            .tenant(TENANT)
            .audience("api://contoso-api")
            .static_jwks(jwks)
            .algorithms(entra_jose::Algorithm::ALL)
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
