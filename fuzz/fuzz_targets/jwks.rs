//! The JWKS parser on arbitrary input: never panics, stays within its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = entra_validate::parse_jwks(data) {
        assert!(data.len() <= entra_validate::MAX_JWKS_BYTES);
        let _ = set;
    }
});
