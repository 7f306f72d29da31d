//! RFC 7520 ("Examples of Protecting Content Using JOSE") known-answer vectors: the RSA
//! key of §3.3/§3.4 (public half), §4.1 (RS256) and §4.2 (which is PS384, not PS256).

use entra_jose::{Algorithm, RsaPublicKey};
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

#[test]
fn rs256_vector_verifies_with_the_rfc_key() {
    let key = key();
    assert_eq!(key.bits(), 2048);
    let token = compact(HEADER_4_1, &SIGNATURE_4_1);
    // Every part of the RFC's output is canonical, unpadded base64url.
    let parts: Vec<&str> = token.split('.').collect();
    let header = entra_jose::b64url_decode_strict(parts[0]).unwrap();
    assert_eq!(
        header,
        br#"{"alg":"RS256","kid":"bilbo.baggins@hobbiton.example"}"#
    );
    let payload = entra_jose::b64url_decode_strict(parts[1]).unwrap();
    assert!(
        String::from_utf8(payload)
            .unwrap()
            .starts_with("It\u{2019}s a dangerous business")
    );
    let signature = entra_jose::b64url_decode_strict(parts[2]).unwrap();
    let message = &token.as_bytes()[..parts[0].len() + 1 + parts[1].len()];

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
fn section_4_2_is_ps384_which_the_validator_refuses() {
    // RFC 7520 §4.2 is RSASSA-PSS with SHA-384 (PSS signatures are randomized, so the
    // cookbook has no PS256 known answer). The vector itself verifies with PS384...
    let token = compact(HEADER_4_2, &SIGNATURE_4_2);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(
        entra_jose::b64url_decode_strict(parts[0]).unwrap(),
        br#"{"alg":"PS384","kid":"bilbo.baggins@hobbiton.example"}"#
    );
    let signature = entra_jose::b64url_decode_strict(parts[2]).unwrap();
    let message = &token.as_bytes()[..parts[0].len() + 1 + parts[1].len()];
    let key = key();
    aws_lc_rs::signature::RsaPublicKeyComponents {
        n: &key.n,
        e: &key.e,
    }
    .verify(
        &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA384,
        message,
        &signature,
    )
    .unwrap();
    // ...and is not a PS256 signature, and the validator's parser refuses its alg.
    assert!(key.verify(Algorithm::PS256, message, &signature).is_err());
    assert_eq!(
        parse_token(&token, 16 * 1024).unwrap_err(),
        ValidationError::AlgNotAllowed
    );
}
