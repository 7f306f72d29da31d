//! Tokens of issuers that sign with other algorithms than Entra's RS256: RS/PS 384 and
//! 512, ECDSA on P-256/384/521 and Ed25519, each accepted only when allowed and only
//! with a key of its type.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use entra_jose::{Algorithm, b64url};
use entra_validate::{ValidationError as E, Validator, parse_jwks};
use serde_json::{Value, json};

use crate::common::*;

/// An EC or Ed25519 signing key with its JWK.
enum Signer {
    Ec(EcdsaKeyPair, &'static str),
    Ed(Ed25519KeyPair),
}

impl Signer {
    fn generate(alg: Algorithm) -> Self {
        let ec = |a: &'static signature::EcdsaSigningAlgorithm, crv| {
            Signer::Ec(EcdsaKeyPair::generate(a).unwrap(), crv)
        };
        match alg {
            Algorithm::ES256 => ec(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256"),
            Algorithm::ES384 => ec(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384"),
            Algorithm::ES512 => ec(&signature::ECDSA_P521_SHA512_FIXED_SIGNING, "P-521"),
            Algorithm::EdDSA => Signer::Ed(Ed25519KeyPair::generate().unwrap()),
            other => panic!("{other} is not an EC or EdDSA algorithm"),
        }
    }

    fn jwk(&self, kid: &str) -> Value {
        match self {
            Signer::Ec(pair, crv) => {
                let point = pair.public_key().as_ref();
                let len = (point.len() - 1) / 2;
                json!({
                    "kty": "EC", "crv": crv, "kid": kid, "use": "sig",
                    "x": b64url(&point[1..1 + len]), "y": b64url(&point[1 + len..]),
                })
            }
            Signer::Ed(pair) => json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": b64url(pair.public_key().as_ref()),
            }),
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Signer::Ec(pair, _) => pair
                .sign(&SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .to_vec(),
            Signer::Ed(pair) => pair.sign(message).as_ref().to_vec(),
        }
    }

    /// A compact JWS of `claims` with header `alg` and `kid`.
    fn token(&self, alg: &str, kid: &str, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(json!({ "alg": alg, "kid": kid, "typ": "JWT" }).to_string()),
            b64url(claims.to_string())
        );
        let sig = self.sign(input.as_bytes());
        format!("{input}.{}", b64url(sig))
    }
}

const NON_RSA: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::EdDSA,
];

#[test]
fn ec_and_ed25519_tokens_verify_only_when_their_algorithm_is_allowed() {
    let forge = Forge::test_key();
    for alg in NON_RSA {
        let signer = Signer::generate(alg);
        let keys = [forge.jwk(json!({})), signer.jwk("other")];
        let token = signer.token(alg.name(), "other", &v2_claims());

        // The default (RS256, Entra's) refuses it before looking at keys.
        let default = Validator::new(builder_with_keys(&keys).build().unwrap());
        assert_eq!(
            check(&default, &token).unwrap_err(),
            E::AlgNotAllowed,
            "{alg}"
        );

        let allowed = Validator::new(
            builder_with_keys(&keys)
                .algorithms([Algorithm::RS256, alg])
                .build()
                .unwrap(),
        );
        let p = check(&allowed, &token).unwrap();
        assert_eq!(p.tenant_id(), TENANT, "{alg}");
        assert_eq!(p.scopes(), ["Data.Read", "Data.Write"]);
        // Entra's own tokens still pass beside it.
        check(&allowed, &forge.token(&v2_claims())).unwrap();

        // A changed payload, a signature of another key, a truncated signature.
        let (input, sig) = token.rsplit_once('.').unwrap();
        let (header, _) = input.split_once('.').unwrap();
        let forged = format!(
            "{header}.{}.{sig}",
            b64url(with(v2_claims(), json!({ "scp": "Data.Admin" })).to_string())
        );
        assert_eq!(
            check(&allowed, &forged).unwrap_err(),
            E::BadSignature,
            "{alg}"
        );
        let stranger = Signer::generate(alg).token(alg.name(), "other", &v2_claims());
        assert_eq!(
            check(&allowed, &stranger).unwrap_err(),
            E::BadSignature,
            "{alg}"
        );
        let short = &token[..token.len() - 4];
        assert!(check(&allowed, short).is_err(), "{alg}");
    }
}

#[test]
fn an_ecdsa_signature_must_be_r_and_s_not_der() {
    // JWS ES256 is the fixed 64-byte r || s (RFC 7518 §3.4); a DER signature, what
    // many libraries produce by default, is refused.
    let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": "der",
        "x": b64url(&point[1..33]), "y": b64url(&point[33..]),
    });
    let input = format!(
        "{}.{}",
        b64url(r#"{"alg":"ES256","kid":"der"}"#),
        b64url(v2_claims().to_string())
    );
    let der = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    let v = Validator::new(
        builder_with_keys(&[jwk])
            .algorithms([Algorithm::ES256])
            .build()
            .unwrap(),
    );
    let token = format!("{input}.{}", b64url(der.as_ref()));
    assert_eq!(check(&v, &token).unwrap_err(), E::BadSignature);
}

#[test]
fn the_algorithm_must_be_for_the_type_of_key() {
    let forge = Forge::test_key();
    let p256 = Signer::generate(Algorithm::ES256);
    let p384 = Signer::generate(Algorithm::ES384);
    let ed = Signer::generate(Algorithm::EdDSA);
    let keys = [
        forge.jwk(json!({})),
        p256.jwk("p256"),
        p384.jwk("p384"),
        ed.jwk("ed"),
    ];
    let all = Validator::new(
        builder_with_keys(&keys)
            .algorithms(Algorithm::ALL)
            .build()
            .unwrap(),
    );
    let claims = v2_claims();
    // Header algorithm for another type of key than the kid's (signed by the kid's key,
    // so only the type check can refuse it).
    let cases = [
        p256.token("ES384", "p256", &claims),
        p256.token("EdDSA", "p256", &claims),
        p256.token("RS256", "p256", &claims),
        p384.token("ES256", "p384", &claims),
        ed.token("ES256", "ed", &claims),
        ed.token("RS256", "ed", &claims),
        forge.sign_raw(
            Algorithm::RS256,
            r#"{"alg":"ES256","kid":"k1"}"#,
            &claims.to_string(),
        ),
        forge.sign_raw(
            Algorithm::RS256,
            r#"{"alg":"EdDSA","kid":"k1"}"#,
            &claims.to_string(),
        ),
    ];
    for token in &cases {
        assert_eq!(check(&all, token).unwrap_err(), E::KeyMismatch, "{token}");
    }
    // Each with its own algorithm passes.
    check(&all, &p256.token("ES256", "p256", &claims)).unwrap();
    check(&all, &p384.token("ES384", "p384", &claims)).unwrap();
    check(&all, &ed.token("EdDSA", "ed", &claims)).unwrap();
    check(&all, &forge.token(&claims)).unwrap();

    // A JWK whose `alg` does not fit its type is not a key at all.
    let mut wrong = p256.jwk("p256");
    wrong["alg"] = "RS256".into();
    let set = parse_jwks(
        json!({ "keys": [forge.jwk(json!({})), wrong] })
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!((set.len(), set.skipped()), (1, 1));
}

#[test]
fn rsa_with_sha384_and_sha512_in_both_paddings() {
    let forge = Forge::test_key();
    let v = Validator::new(
        builder(&forge)
            .algorithms([
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS384,
                Algorithm::PS512,
            ])
            .build()
            .unwrap(),
    );
    let claims = v2_claims().to_string();
    for alg in [
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        let header = format!(r#"{{"alg":"{alg}","kid":"k1","typ":"JWT"}}"#);
        check(&v, &forge.sign_raw(alg, &header, &claims)).unwrap();
        // Signed with another hash or padding than the header says.
        for other in [
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::RS512,
            Algorithm::PS384,
        ] {
            if other != alg {
                let t = forge.sign_raw(other, &header, &claims);
                assert_eq!(
                    check(&v, &t).unwrap_err(),
                    E::BadSignature,
                    "{alg} signed as {other}"
                );
            }
        }
    }
    // RS256 was not in the list.
    assert_eq!(
        check(&v, &forge.token(&v2_claims())).unwrap_err(),
        E::AlgNotAllowed
    );
}

#[test]
fn broken_ec_and_okp_keys_are_skipped_and_named_algorithms_are_exact() {
    let good = Signer::generate(Algorithm::ES256).jwk("good");
    let x = good["x"].as_str().unwrap().to_string();
    let y = good["y"].as_str().unwrap().to_string();
    let mut y_off = entra_jose::b64url_decode(&y).unwrap();
    y_off[31] ^= 1; // no longer on the curve
    let short = b64url(&entra_jose::b64url_decode(&x).unwrap()[1..]);
    let long = b64url([&[0u8][..], &entra_jose::b64url_decode(&x).unwrap()].concat());
    let ec = |crv: &str, x: &str, y: &str| json!({ "kty": "EC", "kid": "bad", "crv": crv, "x": x, "y": y });
    let broken = [
        ec("P-256", &x, &b64url(&y_off)),
        ec("P-256", &short, &y),
        ec("P-256", &long, &y),
        ec("P-256", &format!("{x}="), &y),
        ec("P-384", &x, &y),
        ec("P-192", &x, &y),
        ec("secp256k1", &x, &y),
        ec("p-256", &x, &y),
        json!({ "kty": "EC", "kid": "bad", "crv": "P-256", "x": x }),
        json!({ "kty": "OKP", "kid": "bad", "crv": "Ed448", "x": b64url([7u8; 57]) }),
        json!({ "kty": "OKP", "kid": "bad", "crv": "Ed25519", "x": b64url([7u8; 31]) }),
        json!({ "kty": "OKP", "kid": "bad", "crv": "X25519", "x": b64url([7u8; 32]) }),
        json!({ "kty": "oct", "kid": "bad", "k": b64url([7u8; 32]) }),
        with(good.clone(), json!({ "use": "enc" })),
        // A published private part: anyone could sign with the key.
        with(good.clone(), json!({ "d": b64url([5u8; 32]) })),
        with(good.clone(), json!({ "alg": "es256" })),
        with(good.clone(), json!({ "alg": "ES384" })),
    ];
    let mut keys = vec![good.clone()];
    keys.extend(broken.iter().cloned());
    let set = parse_jwks(json!({ "keys": keys }).to_string().as_bytes()).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.skipped(), broken.len());
    assert!(set.get("good").is_some());
    // With the right `alg` named, the key is kept.
    let named = with(good, json!({ "alg": "ES256" }));
    let set = parse_jwks(json!({ "keys": [named] }).to_string().as_bytes()).unwrap();
    assert_eq!(set.len(), 1);
}

#[test]
fn published_example_keys_of_each_type_are_read() {
    // RFC 7515 A.3 (P-256), RFC 7520 §3.1 (P-521), RFC 8037 A.2 (Ed25519): the seed of
    // the JWKS fuzz target (fuzz/corpus/jwks/mixed) holds the same three.
    let set = parse_jwks(include_bytes!("../../../../fuzz/corpus/jwks/mixed")).unwrap();
    assert_eq!((set.len(), set.skipped()), (3, 0));
    let kinds: Vec<String> = ["p256", "p521", "ed"]
        .iter()
        .map(|kid| set.get(kid).unwrap().public_key().key_type().to_string())
        .collect();
    assert_eq!(kinds, ["EC P-256", "EC P-521", "OKP Ed25519"]);
}

#[test]
fn a_key_set_that_publishes_private_keys_is_not_trusted() {
    let forge = Forge::test_key();
    let ed = Signer::generate(Algorithm::EdDSA).jwk("ed");
    for (what, key) in [
        ("RSA d", forge.jwk(json!({ "d": b64url([1u8; 256]) }))),
        ("RSA p", forge.jwk(json!({ "p": b64url([1u8; 128]) }))),
        ("OKP d", with(ed.clone(), json!({ "d": b64url([1u8; 32]) }))),
        (
            "oct k",
            json!({ "kty": "oct", "kid": "s", "k": b64url([1u8; 32]) }),
        ),
    ] {
        assert_eq!(
            parse_jwks(json!({ "keys": [key] }).to_string().as_bytes()).unwrap_err(),
            entra_validate::JwksError::NoUsableKey,
            "{what}"
        );
    }
    // Without them, the same keys are used.
    let set = parse_jwks(
        json!({ "keys": [forge.jwk(json!({})), ed] })
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(set.len(), 2);
}
