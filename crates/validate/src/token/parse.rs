//! [`parse_token`]: splits a compact JWS, decodes its parts and checks their shape.

use super::base64::{decode_append, decode_into, decoded_len};
pub use super::claims::Claims;
use super::claims::Span;
use super::header::{Header, MAX_KID_LEN, parse_header};
use super::payload::parse_claims;
use crate::error::{NotAJwt, ValidationError};

/// A decoded signature: on the stack up to RSA-4096's 512 bytes.
// Large on purpose: the point is no allocation per token.
#[allow(clippy::large_enum_variant)]
enum Signature {
    Inline(usize, [u8; 512]),
    Heap(Vec<u8>),
}

impl Signature {
    fn as_slice(&self) -> &[u8] {
        match self {
            Signature::Inline(n, b) => &b[..*n],
            Signature::Heap(v) => v,
        }
    }
}

/// A token split, decoded and checked for shape; the signature is not verified yet.
pub struct ParsedToken<'a> {
    /// The header.
    pub header: Header,
    /// The claims the validator reads, and the payload.
    pub claims: Claims,
    /// `header.payload` as sent: what the signature covers.
    pub signing_input: &'a [u8],
    signature: Signature,
}

impl std::fmt::Debug for ParsedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedToken")
            .field("header", &self.header)
            .field("kid", &self.kid())
            .field("claims", &self.claims)
            .field("signature_len", &self.signature().len())
            .finish_non_exhaustive()
    }
}

impl ParsedToken<'_> {
    /// The key id (`kid`, 1 to [`MAX_KID_LEN`] bytes).
    pub fn kid(&self) -> &str {
        self.claims.str(self.claims.kid)
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        self.signature.as_slice()
    }
}

/// What a bearer that is not three dot-separated parts probably is.
pub fn classify_non_jwt(token: &str) -> Option<NotAJwt> {
    let dots = token.bytes().filter(|b| *b == b'.').count();
    let jwt_like = token.starts_with("eyJ");
    if !jwt_like
        && (token.starts_with("0.A")
            || token.starts_with("1.A")
            || token.starts_with("OAQAB")
            || dots == 0)
    {
        return Some(NotAJwt::AuthorizationCode);
    }
    match dots {
        2 => None,
        4 => Some(NotAJwt::Encrypted),
        _ if jwt_like => None,
        _ => Some(NotAJwt::Opaque),
    }
}

/// Splits and checks a compact JWS: the entry point fuzz targets call.
///
/// `max_len` bounds the token (and so every allocation made for it). The returned
/// token has `alg` RS256 or PS256 and a `kid`; nothing about it is trusted yet.
pub fn parse_token(token: &str, max_len: usize) -> Result<ParsedToken<'_>, ValidationError> {
    parse_token_reserving(token, max_len, 0)
}

/// [`parse_token`], with room for `reserve` more bytes in the claims' buffer (the
/// validator keeps the token there for its cache: one allocation for both).
pub(crate) fn parse_token_reserving(
    token: &str,
    max_len: usize,
    reserve: usize,
) -> Result<ParsedToken<'_>, ValidationError> {
    if token.len() > max_len.min(entra_jose::MAX_TOKEN_LEN) {
        return Err(ValidationError::TooLarge { max: max_len });
    }
    if token.is_empty() {
        return Err(ValidationError::Missing);
    }
    // Every JWS header starts `{"` (base64url `eyJ`): anything else is classified (the
    // slow path, which counts dots); a JWS is split once.
    if !token.starts_with("eyJ")
        && let Some(kind) = classify_non_jwt(token)
    {
        return Err(ValidationError::NotAJwt(kind));
    }
    // The dots found with SIMD (`str::splitn` scans a byte at a time).
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (Some(d1), Some(d2), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(match token.splitn(6, '.').count() {
            5 => ValidationError::NotAJwt(NotAJwt::Encrypted),
            _ => ValidationError::Malformed("a JWS has exactly three dot-separated parts"),
        });
    };
    let (h, p, s) = (&token[..d1], &token[d1 + 1..d2], &token[d2 + 1..]);
    // The header on the stack (a JWS header is about 100 bytes; a larger one goes to
    // the heap), then the payload into the buffer the claims keep.
    let mut kid = [0u8; MAX_KID_LEN];
    let mut stack = [0u8; 768];
    let header = if decoded_len(h)? <= stack.len() {
        let json = decode_into(h, &mut stack)?;
        parse_header(json, &mut kid)?
    } else {
        let mut json = Vec::new();
        decode_append(h, &mut json)?;
        parse_header(&json, &mut kid)?
    };
    let (header, kid_len) = header;
    let mut buf = Vec::with_capacity(decoded_len(p)? + kid_len + reserve);
    decode_append(p, &mut buf)?;
    let mut claims = parse_claims(buf)?;
    let kid_at = claims.buf.len() as u32;
    // A whole JSON string's bytes: UTF-8 (checked again here, 1 to 256 bytes).
    claims
        .buf
        .push_str(std::str::from_utf8(&kid[..kid_len]).map_err(|_| ValidationError::KidMissing)?);
    claims.kid = Span {
        start: kid_at,
        len: kid_len as u32,
    };
    let signature = if decoded_len(s)? <= 512 {
        let mut sig = [0u8; 512];
        let n = decode_into(s, &mut sig)?.len();
        Signature::Inline(n, sig)
    } else {
        let mut sig = Vec::new();
        decode_append(s, &mut sig)?;
        Signature::Heap(sig)
    };
    if signature.as_slice().is_empty() {
        return Err(ValidationError::Malformed("the signature is empty"));
    }
    Ok(ParsedToken {
        header,
        claims,
        signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
        signature,
    })
}
