//! The bearer-token parser on arbitrary input: never panics, never accepts what is not a
//! strict compact JWS with an allowed algorithm and a `kid`, and classifies the rest.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let _ = entra_validate::classify_non_jwt(token);
    if let Ok(parsed) = entra_validate::parse_token(token, 16 * 1024) {
        // What the parser accepted has the shape the validator relies on.
        assert!(!parsed.kid().is_empty());
        assert!(parsed.kid().len() <= entra_validate::MAX_KID_LEN);
        assert!(!parsed.signature().is_empty());
        assert_eq!(token.matches('.').count(), 2);
    }
});
