//! Strict base64url for the three parts of a compact JWS: one spelling per value.

use crate::error::ValidationError;

pub(crate) const BAD_BASE64: ValidationError =
    ValidationError::Malformed("not strict base64url (no padding, canonical)");

/// The decoded length of a base64url part, after the strict checks of [`check_part`].
pub(crate) fn decoded_len(part: &str) -> Result<usize, ValidationError> {
    check_part(part)?;
    base64_simd::URL_SAFE_NO_PAD
        .decoded_length(part.as_bytes())
        .map_err(|_| BAD_BASE64)
}

/// Decodes a part (checked by [`decoded_len`]) into `out`, which is large enough.
pub(crate) fn decode_into<'o>(part: &str, out: &'o mut [u8]) -> Result<&'o [u8], ValidationError> {
    use base64_simd::AsOut;
    base64_simd::URL_SAFE_NO_PAD
        .decode(part.as_bytes(), out.as_out())
        .map(|d| &*d)
        .map_err(|_| BAD_BASE64)
}

/// Decodes a part (checked by [`decoded_len`]) at the end of `out`.
pub(crate) fn decode_append(part: &str, out: &mut Vec<u8>) -> Result<(), ValidationError> {
    base64_simd::URL_SAFE_NO_PAD
        .decode_append(part.as_bytes(), out)
        .map_err(|_| BAD_BASE64)
}

/// Strict base64url: no padding, no characters outside the URL-safe alphabet (the
/// decoder refuses those), and no set bits in the unused tail of the last character (one
/// spelling per value).
fn check_part(part: &str) -> Result<(), ValidationError> {
    let b = part.as_bytes();
    let tail_mask = match b.len() % 4 {
        0 => 0,
        1 => return Err(BAD_BASE64),
        2 => 0x0f,
        _ => 0x03,
    };
    if tail_mask != 0 {
        let last = b[b.len() - 1];
        let value = match last {
            b'A'..=b'Z' => last - b'A',
            b'a'..=b'z' => last - b'a' + 26,
            b'0'..=b'9' => last - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return Err(BAD_BASE64),
        };
        if value & tail_mask != 0 {
            return Err(BAD_BASE64);
        }
    }
    Ok(())
}
