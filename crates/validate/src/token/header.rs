//! The JOSE header: the members the validator reads, and the rules a header must keep
//! (`alg` never `none` or HMAC, a bounded `kid`, no `crit`, a JWT `typ`).

use entra_jose::Algorithm;

use super::json_error::json_error;
use crate::error::ValidationError;
use crate::json::Walker;

/// The longest `kid` accepted (Entra's are 27 to 43 characters).
pub const MAX_KID_LEN: usize = 256;

/// The JOSE header members the validator reads (the `kid` is [`ParsedToken::kid`](crate::ParsedToken::kid)).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Header {
    /// The signature algorithm (only RS256 and PS256 get this far).
    pub alg: Algorithm,
}
/// The algorithm names a header may carry, and how they are refused.
fn header_alg(alg: &str) -> Result<Algorithm, ValidationError> {
    if alg.eq_ignore_ascii_case("none") {
        return Err(ValidationError::AlgNone);
    }
    // Bytes, not `&alg[..2]`: a multi-byte character there must not panic (found by
    // fuzz/fuzz_targets/token.rs).
    if alg
        .as_bytes()
        .get(..2)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"HS"))
    {
        return Err(ValidationError::AlgHmac);
    }
    Algorithm::from_name(alg).ok_or(ValidationError::AlgNotAllowed)
}

/// Reads and checks the header; the `kid` goes to `kid` (its length is returned).
pub(crate) fn parse_header(
    json: &[u8],
    kid: &mut [u8; MAX_KID_LEN],
) -> Result<(Header, usize), ValidationError> {
    // `alg` is judged after the walk (a later duplicate or syntax error wins, as before),
    // but jiter's scratch buffer only lives until the next read: keep the verdict.
    let mut alg: Option<Result<Algorithm, ValidationError>> = None;
    // None: no kid; Some(n): n bytes in `kid`; Some(usize::MAX): empty or too long.
    let mut kid_len: Option<usize> = None;
    let mut typ_ok: Option<bool> = None;
    let mut crit = false;
    Walker::new(json)
        .top_object(&mut |w, name, peek| {
            match name {
                b"alg" => alg = w.string(peek)?.map(|a| header_alg(a.str(json))),
                b"kid" => {
                    kid_len = w.string(peek)?.map(|k| {
                        let k = k.str(json).as_bytes();
                        if k.is_empty() || k.len() > MAX_KID_LEN {
                            usize::MAX
                        } else {
                            kid[..k.len()].copy_from_slice(k);
                            k.len()
                        }
                    })
                }
                b"typ" => {
                    typ_ok = w.string(peek)?.map(|t| {
                        let t = t.str(json);
                        ["JWT", "at+jwt", "application/at+jwt"]
                            .iter()
                            .any(|x| t.eq_ignore_ascii_case(x))
                    })
                }
                b"crit" => {
                    crit = true;
                    w.skip(peek, 1)?;
                }
                _ => w.skip(peek, 1)?,
            }
            Ok(())
        })
        .map_err(|f| json_error(f, "header"))?;
    let alg = alg.ok_or(ValidationError::Malformed("the header has no alg"))??;
    if crit {
        return Err(ValidationError::CritUnsupported);
    }
    if typ_ok == Some(false) {
        return Err(ValidationError::Malformed("the header's typ is not JWT"));
    }
    match kid_len {
        Some(n) if n != usize::MAX => Ok((Header { alg }, n)),
        _ => Err(ValidationError::KidMissing),
    }
}
