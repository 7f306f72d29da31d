//! Validator internals that need a hook inside a validation.

use std::sync::{Arc, Mutex};

use entra_jose::{Algorithm, RsaSigningKey, b64url};
use serde_json::json;

use super::Validator;
use crate::{Authority, Clock, ValidatorConfig};

const TENANT: &str = "c0ffee00-0000-4000-8000-000000000001";
const ALICE: &str = "a11ce000-0000-4000-8000-000000000001";
const BASE: &str = "https://login.test";
const API: &str = "a0000000-0000-4000-8000-0000000000a1";
const NOW: i64 = 1_800_000_000;

fn signed(key: &RsaSigningKey, iat: i64) -> String {
    let header = json!({ "typ": "JWT", "alg": "RS256", "kid": "k1" });
    let claims = json!({
        "aud": API, "iss": format!("{BASE}/{TENANT}/v2.0"),
        "iat": iat, "nbf": iat, "exp": NOW + 3600,
        "azp": "e0000000-0000-4000-8000-0000000000e1", "oid": ALICE,
        "scp": "Data.Read", "sub": "s", "tid": TENANT, "ver": "2.0",
    });
    key.sign_compact(
        Algorithm::RS256,
        &b64url(header.to_string()),
        claims.to_string().as_bytes(),
    )
    .unwrap()
}

/// Finding: the validated-token cache must never hold a revoked token, not even for the
/// moment between a validation's insert and its revocation check (a concurrent request
/// would be answered from the cache then). The hook runs right after the insert and asks
/// the cache as a concurrent request would.
#[test]
fn revoked_token_never_served_from_cache() {
    let key = RsaSigningKey::from_pkcs8_der(include_bytes!("../../../jose/testdata/rsa2048.pk8"))
        .unwrap();
    let mut members = serde_json::Map::new();
    members.insert("kid".into(), "k1".into());
    let jwks = json!({ "keys": [key.public_key().to_jwk(members)] });
    let v = Validator::new(
        ValidatorConfig::builder()
            .authority(Authority::custom(BASE))
            .tenant(TENANT)
            .audience(API)
            .static_jwks(jwks.to_string())
            .clock(Clock::manual(NOW))
            .build()
            .unwrap(),
    );
    let seen: Arc<Mutex<Vec<bool>>> = Arc::default();
    let record = seen.clone();
    let hook: super::AfterInsert = Box::new(move |v: &Validator, token: &str| {
        record
            .lock()
            .unwrap()
            .push(v.validate_cached(token).is_some());
    });
    assert!(v.inner.after_insert.set(hook).is_ok());
    let run = |token: &str| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(v.validate(token))
    };

    // Alice's tokens issued before NOW - 300 are revoked; an older one is refused and a
    // concurrent request never finds it in the cache.
    v.revoke_tokens_issued_before(ALICE, NOW - 300);
    let old = signed(&key, NOW - 600);
    let e = run(&old).unwrap_err();
    assert_eq!(e.code(), "insufficient_claims");
    assert!(
        !seen.lock().unwrap().contains(&true),
        "the revoked token was served from the cache meanwhile"
    );
    assert!(v.validate_cached(&old).is_none());
    assert_eq!(v.token_cache().len(), 0);

    // A token issued since goes in the cache and answers from it.
    let fresh = signed(&key, NOW - 200);
    assert!(run(&fresh).is_ok());
    assert_eq!(*seen.lock().unwrap(), [true]);
    assert!(v.validate_cached(&fresh).is_some());
}
