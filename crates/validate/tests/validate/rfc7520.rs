//! RFC 7520 ("Examples of Protecting Content Using JOSE") known-answer vectors: the RSA
//! key of §3.3/§3.4 (public half), §4.1 (RS256), §4.2 (PS384), and the P-521 key of §3.1
//! with §4.3 (ES512).

use entra_jose::{Algorithm, JwkFields, PublicKey, RsaBackend, RsaPublicKey};
use entra_validate::{ValidationError, parse_token};

/// §3.3 `n`, split for reading.
const N: [&str; 6] = [
    "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRoj",
    "dNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2l",
    "bzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6c",
    "S6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3",
    "-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwU",
    "kRz5iaiQkqgc5gHdrNP5zw",
];
const E: &str = "AQAB";

/// §4 payload (an abridged quote, not JSON), base64url.
const PAYLOAD: &str = "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4";

/// §4.1.2 protected header: `{"alg":"RS256","kid":"bilbo.baggins@hobbiton.example"}`.
const HEADER_4_1: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9";
const SIGNATURE_4_1: [&str; 6] = [
    "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmK",
    "ZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4J",
    "IwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8w",
    "W1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluP",
    "xUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_f",
    "cIe8u9ipH84ogoree7vjbU5y18kDquDg",
];

/// §4.2.2 protected header: `{"alg":"PS384","kid":"bilbo.baggins@hobbiton.example"}`.
const HEADER_4_2: &str = "eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9";
const SIGNATURE_4_2: [&str; 6] = [
    "cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2I",
    "pN6-tPid6VrklHkqsGqDqHCdP6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXU",
    "vdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRX",
    "e8P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT",
    "0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAjVKPbByi7xho0uTOcbH510a",
    "6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw",
];

fn key() -> RsaPublicKey {
    RsaPublicKey::from_jwk_components(&N.concat(), E).unwrap()
}

fn compact(header: &str, signature: &[&str]) -> String {
    format!("{header}.{PAYLOAD}.{}", signature.concat())
}

/// A compact JWS split and decoded (strictly: every part of the RFC's output is
/// canonical, unpadded base64url): header JSON, payload, signature, and the signing
/// input as sent.
fn split(token: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>, &[u8]) {
    let parts: Vec<&str> = token.split('.').collect();
    let decode = |i: usize| entra_jose::b64url_decode_strict(parts[i]).unwrap();
    let message = &token.as_bytes()[..parts[0].len() + 1 + parts[1].len()];
    (decode(0), decode(1), decode(2), message)
}

#[test]
fn rs256_vector_verifies_with_the_rfc_key() {
    let key = key();
    assert_eq!(key.bits(), 2048);
    let token = compact(HEADER_4_1, &SIGNATURE_4_1);
    let (header, payload, signature, message) = split(&token);
    assert_eq!(
        header,
        br#"{"alg":"RS256","kid":"bilbo.baggins@hobbiton.example"}"#
    );
    assert!(
        String::from_utf8(payload)
            .unwrap()
            .starts_with("It\u{2019}s a dangerous business")
    );

    let vk = key.verifying_key(Algorithm::RS256).unwrap();
    vk.verify(message, &signature).unwrap();
    key.verify(Algorithm::RS256, message, &signature).unwrap();
    // RS256 is deterministic: the RFC key's signature is this exact one, and one changed
    // bit anywhere breaks it.
    let mut bad = signature.clone();
    bad[100] ^= 1;
    assert!(vk.verify(message, &bad).is_err());
    let mut bad_message = message.to_vec();
    bad_message[10] ^= 1;
    assert!(vk.verify(&bad_message, &signature).is_err());
    // The wrong padding scheme does not verify it either.
    assert!(
        key.verifying_key(Algorithm::PS256)
            .unwrap()
            .verify(message, &signature)
            .is_err()
    );
}

#[test]
fn rs256_vector_passes_the_strict_parser_up_to_its_non_json_payload() {
    // The cookbook payload is prose, not claims: the strict parser accepts the header
    // (RS256 with a kid) and refuses the payload as not a JSON object.
    let token = compact(HEADER_4_1, &SIGNATURE_4_1);
    assert_eq!(
        parse_token(&token, 16 * 1024).unwrap_err(),
        ValidationError::Malformed("the payload is not a JSON object")
    );
}

#[test]
fn section_4_2_ps384_verifies_on_both_rsa_paths() {
    // RFC 7520 §4.2 is RSASSA-PSS with SHA-384 (PSS signatures are randomized, so the
    // cookbook has no PS256 known answer; this is the one PSS vector).
    let token = compact(HEADER_4_2, &SIGNATURE_4_2);
    let (header, _, signature, message) = split(&token);
    assert_eq!(
        header,
        br#"{"alg":"PS384","kid":"bilbo.baggins@hobbiton.example"}"#
    );
    let key = key();
    for backend in [RsaBackend::Auto, RsaBackend::AwsLc] {
        let vk = key.verifying_key_with(Algorithm::PS384, backend).unwrap();
        vk.verify(message, &signature).unwrap();
        let mut bad = signature.clone();
        bad[7] ^= 0x80;
        assert!(vk.verify(message, &bad).is_err(), "{backend:?}");
        // Not a PS256 or PS512 signature, nor PKCS#1 v1.5 with SHA-384.
        for other in [Algorithm::PS256, Algorithm::PS512, Algorithm::RS384] {
            let vk = key.verifying_key_with(other, backend).unwrap();
            assert!(vk.verify(message, &signature).is_err(), "{other}");
        }
    }
    // The parser knows PS384 now and stops at the prose payload, as for §4.1.
    assert_eq!(
        parse_token(&token, 16 * 1024).unwrap_err(),
        ValidationError::Malformed("the payload is not a JSON object")
    );
}

/// §3.1 (Figure 1): the P-521 public key.
const EC_X: &str =
    "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt";
const EC_Y: &str =
    "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1";
/// §4.3.2 protected header: `{"alg":"ES512","kid":"bilbo.baggins@hobbiton.example"}`.
const HEADER_4_3: &str = "eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9";
/// §4.3.3: ECDSA is randomized, so this is one signature the key made.
const SIGNATURE_4_3: [&str; 3] = [
    "AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvbu9P",
    "lon7KRTzoNEuT4Va2cmL1eJAQy3mtPBu_u_sDDyYjnAMDxXPn7XrT0lw-kvAD890j",
    "l8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2",
];

#[test]
fn section_4_3_es512_verifies_with_the_p521_jwk() {
    let token = compact(HEADER_4_3, &SIGNATURE_4_3);
    let (header, _, signature, message) = split(&token);
    assert_eq!(
        header,
        br#"{"alg":"ES512","kid":"bilbo.baggins@hobbiton.example"}"#
    );
    assert_eq!(signature.len(), 132, "r || s, 66 bytes each");
    let key = PublicKey::from_jwk(&JwkFields {
        kty: "EC",
        crv: Some("P-521"),
        x: Some(EC_X),
        y: Some(EC_Y),
        ..JwkFields::default()
    })
    .unwrap();
    assert_eq!(key.bits(), 521);
    assert_eq!(key.default_algorithm(), Algorithm::ES512);
    let vk = key.verifying_key(Algorithm::ES512).unwrap();
    vk.verify(message, &signature).unwrap();
    for at in [0, 65, 66, 131] {
        let mut bad = signature.clone();
        bad[at] ^= 1;
        assert!(vk.verify(message, &bad).is_err(), "byte {at}");
    }
    let mut bad_message = message.to_vec();
    bad_message[20] ^= 1;
    assert!(vk.verify(&bad_message, &signature).is_err());
    // Only ES512 for a P-521 key.
    for other in [
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::RS512,
        Algorithm::EdDSA,
    ] {
        assert!(matches!(
            key.verifying_key(other),
            Err(entra_jose::JoseError::WrongKeyType { .. })
        ));
    }
    assert_eq!(
        parse_token(&token, 16 * 1024).unwrap_err(),
        ValidationError::Malformed("the payload is not a JSON object")
    );
}
