//! Reading the payload's claims in the pass that checks it: the fast reader for the
//! usual shape, the general walker for everything else.

use jiter::Peek;

use super::claims::{Claims, DECODED, Span, Spans};
use super::json_error::json_error;
use crate::error::ValidationError;
use crate::json::fast::fast_claims;
use crate::json::{Fail, StrAt, Walker};

/// Where a claim's string goes: its place in the payload, or (escapes) its decoded
/// copy's place in `decoded`, marked [`DECODED`].
#[inline(always)]
fn place(decoded: &mut String, at: StrAt<'_>) -> Span {
    match at {
        StrAt::At(start, len) => Span { start, len },
        StrAt::Decoded(s) => {
            let start = decoded.len() as u32 | DECODED;
            decoded.push_str(s);
            Span {
                start,
                len: s.len() as u32,
            }
        }
    }
}

/// Reads the claims the validator needs in the same pass that checks the whole payload
/// (`payload`, which the claims keep).
pub(crate) fn parse_claims(payload: Vec<u8>) -> Result<Claims, ValidationError> {
    // JSON text is UTF-8: checked once here, for the walk and the claims' strings alike.
    let payload = String::from_utf8(payload)
        .map_err(|_| ValidationError::Malformed("the payload is not valid JSON"))?;
    read_claims(payload, true)
}

/// [`parse_claims`] after the UTF-8 check; `fast`: try [`fast_claims`] first.
pub(crate) fn read_claims(payload: String, fast: bool) -> Result<Claims, ValidationError> {
    let mut c = Claims {
        json_len: payload.len(),
        ..Claims::default()
    };
    // The common shape first (no escapes, no nested objects): read without jiter.
    if fast && fast_claims(payload.as_bytes(), &mut c).is_some() {
        c.buf = payload;
        return Ok(c);
    }
    c = Claims {
        json_len: payload.len(),
        ..Claims::default()
    };
    // Strings with escapes, decoded (rare: Entra sends none); moved after the payload.
    let mut decoded = String::new();
    let mut place = |at: StrAt<'_>| place(&mut decoded, at);
    Walker::new_str(&payload)
        .top_object(&mut |w, name, peek| {
            let slot = match name {
                b"aud" => {
                    c.aud = Some(match peek {
                        Peek::String => Spans::one(place(w.string(peek)?.ok_or(Fail::Type)?)),
                        Peek::Array => {
                            let mut all = Spans::default();
                            w.strings(peek, &mut |s| all.push(place(s)))?;
                            all
                        }
                        _ => return Err(Fail::Type),
                    });
                    return Ok(());
                }
                b"exp" => {
                    c.exp = w.number(peek)?;
                    return Ok(());
                }
                b"nbf" => {
                    c.nbf = w.number(peek)?;
                    return Ok(());
                }
                b"iat" => {
                    c.iat = w.number(peek)?;
                    return Ok(());
                }
                b"roles" => {
                    let mut all = Spans::default();
                    c.roles = w.strings(peek, &mut |s| all.push(place(s)))?.then_some(all);
                    return Ok(());
                }
                b"nonce" | b"at_hash" | b"c_hash" => {
                    c.id_token_member = true;
                    return w.skip(peek, 1);
                }
                _ => match c.string_slot(name) {
                    Some(slot) => slot,
                    None => return w.skip(peek, 1),
                },
            };
            *slot = w.string(peek)?.map(&mut place);
            Ok(())
        })
        .map_err(|f| json_error(f, "payload"))?;
    c.buf = payload;
    if !decoded.is_empty() {
        append_decoded(&mut c, &decoded);
    }
    Ok(c)
}

/// Moves the decoded strings (those that had escapes) after the payload in the claims'
/// buffer, and points their places there.
fn append_decoded(c: &mut Claims, decoded: &str) {
    let base = c.buf.len() as u32;
    c.buf.push_str(decoded);
    let fix = |s: &mut Span| {
        if s.start & DECODED != 0 {
            s.start = (s.start & !DECODED) + base;
        }
    };
    for s in [
        &mut c.iss,
        &mut c.tid,
        &mut c.oid,
        &mut c.sub,
        &mut c.azp,
        &mut c.appid,
        &mut c.scp,
        &mut c.ver,
        &mut c.name,
        &mut c.preferred_username,
        &mut c.upn,
        &mut c.unique_name,
        &mut c.idtyp,
    ]
    .into_iter()
    .flatten()
    {
        fix(s);
    }
    for list in [&mut c.aud, &mut c.roles].into_iter().flatten() {
        list.as_mut_slice().iter_mut().for_each(fix);
    }
}
