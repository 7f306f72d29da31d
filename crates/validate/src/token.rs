//! Strict, bounded parsing of a compact JWS before any key is looked up: [`parse_token`].
//!
//! Strict means: exactly three parts; base64url without padding and without non-zero
//! trailing bits (one spelling per token); JSON objects with no duplicate member at any
//! depth (serde_json would silently keep the last one, and a second parser could keep
//! the first); nesting at most [`MAX_JSON_DEPTH`]; `alg` `none` (any casing) and HMAC
//! refused here, before a key is ever touched; `kid` required and bounded; any `crit`
//! refused (this validator implements no JWS extension). `jku`, `x5u`, `jwk` and `x5c`
//! are ignored: keys only ever come from the configured issuer's JWKS.

use std::fmt;

use entra_jose::Algorithm;
use jiter::Peek;
use serde::Deserialize;
use serde::de::{SeqAccess, Visitor};

use crate::error::{NotAJwt, ValidationError};
pub use crate::json::MAX_JSON_DEPTH;
use crate::json::{Fail, StrAt, Walker};

/// The longest `kid` accepted (Entra's are 27 to 43 characters).
pub const MAX_KID_LEN: usize = 256;

/// Access-token versions: the `ver` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVersion {
    /// `ver` `1.0`: issuer `https://sts.windows.net/{tid}/`, `appid`, `upn`.
    V1,
    /// `ver` `2.0`: issuer `https://login.microsoftonline.com/{tid}/v2.0`, `azp`.
    V2,
}

impl TokenVersion {
    /// `v1` or `v2`.
    pub fn label(self) -> &'static str {
        match self {
            TokenVersion::V1 => "v1",
            TokenVersion::V2 => "v2",
        }
    }
}

/// The JOSE header members the validator reads (the `kid` is [`ParsedToken::kid`]).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Header {
    /// The signature algorithm (only RS256 and PS256 get this far).
    pub alg: Algorithm,
}

/// One or several audiences.
#[derive(Debug, Clone)]
pub enum Audience {
    /// `"aud": "x"` (what Entra sends).
    One(String),
    /// `"aud": ["x", "y"]`.
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::One(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut all = Vec::new();
                while let Some(a) = seq.next_element::<String>()? {
                    all.push(a);
                }
                Ok(Audience::Many(all))
            }
        }
        d.deserialize_any(V)
    }
}

impl Audience {
    /// Every audience named.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            Audience::One(a) => std::slice::from_ref(a),
            Audience::Many(v) => v,
        };
        slice.iter().map(String::as_str)
    }
}

/// A string's place in [`Claims`]' buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// Set on [`Span::start`] while parsing: the string is in the decoded-strings buffer,
/// not (yet) in the claims buffer.
const DECODED: u32 = 1 << 31;

/// The strings of an array claim (`aud`, `roles`): up to [`Spans::INLINE`] without an
/// allocation.
#[derive(Debug, Clone)]
enum Spans {
    Inline(u8, [Span; Spans::INLINE]),
    Heap(Vec<Span>),
}

impl Default for Spans {
    fn default() -> Self {
        Spans::Inline(0, [Span::default(); Spans::INLINE])
    }
}

impl Spans {
    const INLINE: usize = 3;

    fn one(s: Span) -> Self {
        let mut all = [Span::default(); Spans::INLINE];
        all[0] = s;
        Spans::Inline(1, all)
    }

    fn push(&mut self, s: Span) {
        match self {
            Spans::Inline(n, all) if (*n as usize) < Spans::INLINE => {
                all[*n as usize] = s;
                *n += 1;
            }
            Spans::Inline(_, all) => {
                let mut v = all.to_vec();
                v.push(s);
                *self = Spans::Heap(v);
            }
            Spans::Heap(v) => v.push(s),
        }
    }

    fn as_slice(&self) -> &[Span] {
        match self {
            Spans::Inline(n, all) => &all[..*n as usize],
            Spans::Heap(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Span] {
        match self {
            Spans::Inline(n, all) => &mut all[..*n as usize],
            Spans::Heap(v) => v,
        }
    }
}

/// The claims the validator checks or hands to the [`Principal`](crate::Principal),
/// read in the same pass that checks the payload, and the payload itself (every other
/// claim stays there, parsed only when asked for).
///
/// One buffer holds the decoded payload, then the few strings that had JSON escapes
/// (decoded), then the header's `kid`; each claim is a place in it: parsing a token
/// allocates this buffer and nothing per claim.
#[derive(Clone, Default)]
pub struct Claims {
    buf: String,
    json_len: usize,
    kid: Span,
    /// The whole token, when the validator keeps it for its cache's full compare.
    token: Option<Span>,
    iss: Option<Span>,
    aud: Option<Spans>,
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    tid: Option<Span>,
    oid: Option<Span>,
    sub: Option<Span>,
    azp: Option<Span>,
    appid: Option<Span>,
    scp: Option<Span>,
    roles: Option<Spans>,
    ver: Option<Span>,
    name: Option<Span>,
    preferred_username: Option<Span>,
    upn: Option<Span>,
    unique_name: Option<Span>,
    idtyp: Option<Span>,
    /// `nonce`, `at_hash` or `c_hash` is present: only ID tokens carry these.
    id_token_member: bool,
}

/// `pub fn NAME(&self) -> Option<&str>` for each string claim kept as a place.
macro_rules! string_claims {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self) -> Option<&str> {
                self.opt(self.$name)
            }
        )*
    };
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The payload only: never the kept token (a bearer credential).
        f.debug_struct("Claims")
            .field("payload", &String::from_utf8_lossy(self.payload()))
            .finish_non_exhaustive()
    }
}

impl Claims {
    /// The field of the string claim `name`, if it is one the claims keep.
    #[inline]
    fn string_slot(&mut self, name: &[u8]) -> Option<&mut Option<Span>> {
        Some(match name {
            b"iss" => &mut self.iss,
            b"tid" => &mut self.tid,
            b"oid" => &mut self.oid,
            b"sub" => &mut self.sub,
            b"azp" => &mut self.azp,
            b"appid" => &mut self.appid,
            b"scp" => &mut self.scp,
            b"ver" => &mut self.ver,
            b"name" => &mut self.name,
            b"preferred_username" => &mut self.preferred_username,
            b"upn" => &mut self.upn,
            b"unique_name" => &mut self.unique_name,
            b"idtyp" => &mut self.idtyp,
            _ => return None,
        })
    }

    /// Appends `token` to the buffer (room for it was reserved when parsing): what the
    /// validated-token cache compares a later bearer with.
    pub(crate) fn keep_token(&mut self, token: &str) {
        let start = self.buf.len() as u32;
        self.buf.push_str(token);
        self.token = Some(Span {
            start,
            len: token.len() as u32,
        });
    }

    /// The token kept by [`Claims::keep_token`].
    #[inline]
    pub(crate) fn kept_token(&self) -> Option<&str> {
        self.opt(self.token)
    }

    #[inline]
    fn str(&self, s: Span) -> &str {
        // Every span is a whole JSON string or a decoded copy of one: char boundaries.
        self.buf
            .get(s.start as usize..(s.start + s.len) as usize)
            .unwrap_or_default()
    }

    #[inline]
    fn opt(&self, s: Option<Span>) -> Option<&str> {
        s.map(|s| self.str(s))
    }

    /// The decoded payload: the JSON text as signed.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_bytes()[..self.json_len]
    }

    /// Audiences (`aud` as a string or an array of strings); `None` without `aud`.
    pub fn aud(&self) -> Option<impl Iterator<Item = &str> + '_> {
        self.aud
            .as_ref()
            .map(|a| a.as_slice().iter().map(|s| self.str(*s)))
    }
    /// Expiry (seconds since the epoch).
    pub fn exp(&self) -> Option<f64> {
        self.exp
    }
    /// Not before.
    pub fn nbf(&self) -> Option<f64> {
        self.nbf
    }
    /// Issued at.
    pub fn iat(&self) -> Option<f64> {
        self.iat
    }
    /// App roles; `None` without `roles`.
    pub fn roles(&self) -> Option<impl Iterator<Item = &str> + '_> {
        self.roles
            .as_ref()
            .map(|a| a.as_slice().iter().map(|s| self.str(*s)))
    }
    string_claims! {
        /// Issuer.
        iss,
        /// Tenant id.
        tid,
        /// Object id of the user or service principal.
        oid,
        /// Subject.
        sub,
        /// v2 client id.
        azp,
        /// v1 client id.
        appid,
        /// Delegated scopes, space-separated.
        scp,
        /// `ver`: `1.0` or `2.0`.
        ver,
        /// Display name.
        name,
        /// v2 sign-in name.
        preferred_username,
        /// v1 user principal name.
        upn,
        /// v1 sign-in name.
        unique_name,
        /// `app` on app-only tokens (optional claim).
        idtyp,
    }

    /// Whether `nonce`, `at_hash` or `c_hash` is present (any value): only ID tokens
    /// carry these.
    pub fn has_id_token_member(&self) -> bool {
        self.id_token_member
    }

    /// The token version from `ver`.
    pub fn version(&self) -> Option<TokenVersion> {
        match self.ver() {
            Some("1.0") => Some(TokenVersion::V1),
            Some("2.0") => Some(TokenVersion::V2),
            _ => None,
        }
    }
}

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

const BAD_BASE64: ValidationError =
    ValidationError::Malformed("not strict base64url (no padding, canonical)");

/// The decoded length of a base64url part, after the strict checks of [`check_part`].
fn decoded_len(part: &str) -> Result<usize, ValidationError> {
    check_part(part)?;
    base64_simd::URL_SAFE_NO_PAD
        .decoded_length(part.as_bytes())
        .map_err(|_| BAD_BASE64)
}

/// Decodes a part (checked by [`decoded_len`]) into `out`, which is large enough.
fn decode_into<'o>(part: &str, out: &'o mut [u8]) -> Result<&'o [u8], ValidationError> {
    use base64_simd::AsOut;
    base64_simd::URL_SAFE_NO_PAD
        .decode(part.as_bytes(), out.as_out())
        .map(|d| &*d)
        .map_err(|_| BAD_BASE64)
}

/// Decodes a part (checked by [`decoded_len`]) at the end of `out`.
fn decode_append(part: &str, out: &mut Vec<u8>) -> Result<(), ValidationError> {
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

/// The error for a refused document in `part` (`header`, `payload`).
fn json_error(fail: Fail, part: &'static str) -> ValidationError {
    let header = part == "header";
    match fail {
        Fail::Duplicate => ValidationError::DuplicateMember(part),
        Fail::TooDeep => ValidationError::TooDeep(part),
        Fail::NotObject if header => ValidationError::Malformed("the header is not a JSON object"),
        Fail::NotObject => ValidationError::Malformed("the payload is not a JSON object"),
        Fail::Type if header => ValidationError::Malformed("a header member has the wrong type"),
        Fail::Type => ValidationError::Malformed("a claim has the wrong type"),
        Fail::Syntax if header => ValidationError::Malformed("the header is not valid JSON"),
        Fail::Syntax => ValidationError::Malformed("the payload is not valid JSON"),
    }
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
fn parse_header(
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
fn parse_claims(payload: Vec<u8>) -> Result<Claims, ValidationError> {
    // JSON text is UTF-8: checked once here, for the walk and the claims' strings alike.
    let payload = String::from_utf8(payload)
        .map_err(|_| ValidationError::Malformed("the payload is not valid JSON"))?;
    read_claims(payload, true)
}

/// [`parse_claims`] after the UTF-8 check; `fast`: try [`fast_claims`] first.
fn read_claims(payload: String, fast: bool) -> Result<Claims, ValidationError> {
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
        let base = c.buf.len() as u32;
        c.buf.push_str(&decoded);
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
    Ok(c)
}

/// A JSON value as [`fast_claims`] reads it.
enum FastValue {
    Str(Span),
    /// A number; `Some` for an integer of at most 15 digits, without sign.
    Num(Option<i64>),
    Null,
    Bool,
    /// An array of scalars: the strings' places when all elements are strings.
    Arr(Option<Spans>),
}

/// Where the first `"`, `\\` or control character of `s` is, eight bytes at a time (the
/// strings of a payload are short: a SIMD search's set-up costs more than it saves).
#[inline]
fn special(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The classic bit tricks: the lowest flagged byte of each mask is exact (a false
    // flag can only sit above a true one), so the lowest of all is the first special.
    let flags = |w: u64| {
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH)
    };
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let f = flags(u64::from_le_bytes(chunk.try_into().ok()?));
        if f != 0 {
            return Some(at + (f.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|c| matches!(c, b'"' | b'\\' | 0..=0x1f))
        .map(|i| at + i)
}

/// A cursor over a payload for [`fast_claims`].
struct Fast<'a> {
    b: &'a [u8],
    i: usize,
}

impl Fast<'_> {
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&c);
        self.i += usize::from(hit);
        hit
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// A string without escapes (the document is known to be UTF-8): its content's place.
    #[inline(always)]
    fn string(&mut self) -> Option<Span> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let end = start + special(&self.b[start..])?;
        // An escape is left to the general walker; control characters are not JSON.
        if self.b[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        Some(Span {
            start: start as u32,
            len: (end - start) as u32,
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// RFC 8259's number grammar; what follows is the caller's to check.
    #[inline(always)]
    fn number(&mut self) -> Option<FastValue> {
        let start = self.i;
        let negative = self.eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        let int_end = self.i;
        let mut integer = true;
        if self.eat(b'.') {
            integer = false;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let digits = &self.b[start..int_end];
        let value = (integer && !negative && digits.len() <= 15).then(|| {
            digits
                .iter()
                .fold(0i64, |v, d| v * 10 + i64::from(d - b'0'))
        });
        Some(FastValue::Num(value))
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self.b[self.i..].starts_with(word);
        if hit {
            self.i += word.len();
        }
        hit
    }

    /// A value that is not an object or an array.
    #[inline(always)]
    fn scalar(&mut self) -> Option<FastValue> {
        match self.peek()? {
            b'"' => self.string().map(FastValue::Str),
            b'-' | b'0'..=b'9' => self.number(),
            b'n' if self.literal(b"null") => Some(FastValue::Null),
            b't' if self.literal(b"true") => Some(FastValue::Bool),
            b'f' if self.literal(b"false") => Some(FastValue::Bool),
            _ => None,
        }
    }

    /// A scalar, or an array of scalars.
    #[inline(always)]
    fn value(&mut self) -> Option<FastValue> {
        if !self.eat(b'[') {
            return self.scalar();
        }
        let mut strings = Some(Spans::default());
        self.ws();
        if self.eat(b']') {
            return Some(FastValue::Arr(strings));
        }
        loop {
            match self.scalar()? {
                FastValue::Str(s) => {
                    if let Some(all) = &mut strings {
                        all.push(s);
                    }
                }
                _ => strings = None,
            }
            self.ws();
            if self.eat(b']') {
                return Some(FastValue::Arr(strings));
            }
            if !self.eat(b',') {
                return None;
            }
            self.ws();
        }
    }
}

/// Reads the claims of a payload of the usual shape (an object of at most 32 members
/// whose names and strings have no escapes and whose values are scalars or arrays of
/// scalars, times as integers) in one pass without jiter; `None` for anything else,
/// which the general walker then reads (and refuses with the precise error, when it
/// is not JSON). What this accepts is strict JSON with no duplicate name, and it reads
/// it as the general walker would. `payload` is known to be UTF-8.
fn fast_claims(payload: &[u8], c: &mut Claims) -> Option<()> {
    const FEW: usize = 32;
    let mut f = Fast { b: payload, i: 0 };
    let mut names = [Span::default(); FEW];
    let mut fingerprints = [0u64; FEW];
    let mut count = 0;
    f.ws();
    if !f.eat(b'{') {
        return None;
    }
    f.ws();
    if !f.eat(b'}') {
        loop {
            let n = f.string()?;
            let name = &payload[n.start as usize..(n.start + n.len) as usize];
            // No escapes here, so equal names are equal bytes. Fingerprints (length and
            // head) are all compared without an early exit; bytes only on a match.
            if count == FEW {
                return None;
            }
            let fp = crate::json::fingerprint(name);
            if fingerprints[..count]
                .iter()
                .fold(false, |hit, g| hit | (*g == fp))
                && names[..count]
                    .iter()
                    .any(|m| &payload[m.start as usize..(m.start + m.len) as usize] == name)
            {
                return None;
            }
            fingerprints[count] = fp;
            names[count] = n;
            count += 1;
            f.ws();
            if !f.eat(b':') {
                return None;
            }
            f.ws();
            let v = f.value()?;
            let text = |v: FastValue| match v {
                FastValue::Str(s) => Some(Some(s)),
                FastValue::Null => Some(None),
                _ => None,
            };
            let time = |v: FastValue| match v {
                FastValue::Num(Some(t)) => Some(Some(t as f64)),
                FastValue::Null => Some(None),
                _ => None,
            };
            match name {
                b"aud" => {
                    c.aud = Some(match v {
                        FastValue::Str(s) => Spans::one(s),
                        FastValue::Arr(all) => all?,
                        _ => return None,
                    })
                }
                b"exp" => c.exp = time(v)?,
                b"nbf" => c.nbf = time(v)?,
                b"iat" => c.iat = time(v)?,
                b"roles" => {
                    c.roles = match v {
                        FastValue::Arr(all) => Some(all?),
                        FastValue::Null => None,
                        _ => return None,
                    }
                }
                b"nonce" | b"at_hash" | b"c_hash" => c.id_token_member = true,
                _ => {
                    if let Some(slot) = c.string_slot(name) {
                        *slot = text(v)?;
                    }
                }
            }
            f.ws();
            if f.eat(b'}') {
                break;
            }
            if !f.eat(b',') {
                return None;
            }
            f.ws();
        }
    }
    f.ws();
    (f.i == payload.len()).then_some(())
}

/// Checks that `json` is one JSON object with no duplicate member and bounded depth.
pub fn check_json(json: &[u8], part: &'static str) -> Result<(), ValidationError> {
    crate::json::check(json).map_err(|f| json_error(f, part))
}

/// Whether `s` is a GUID in the 8-4-4-4-12 hex form (`tid`, `oid`).
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use entra_jose::b64url;

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64url(header), b64url(payload))
    }

    #[test]
    fn classifies_codes_and_opaque_tokens() {
        assert_eq!(
            classify_non_jwt("0.AXkAbCdEf.ghij"),
            Some(NotAJwt::AuthorizationCode)
        );
        assert_eq!(
            classify_non_jwt("de6780bc506a0446309bd9362820ba8aed28aa506c71eedbe1c5c4f9dd350e54"),
            Some(NotAJwt::AuthorizationCode)
        );
        assert_eq!(classify_non_jwt("eyJa.b.c.d.e"), Some(NotAJwt::Encrypted));
        assert_eq!(classify_non_jwt("abc.def"), Some(NotAJwt::Opaque));
        assert_eq!(classify_non_jwt("eyJa.b.c"), None);
    }

    #[test]
    fn duplicate_members_are_found_at_any_depth() {
        assert_eq!(
            check_json(br#"{"a":1,"a":2}"#, "payload"),
            Err(ValidationError::DuplicateMember("payload"))
        );
        assert_eq!(
            check_json(br#"{"a":{"b":[{"c":1,"c":1}]}}"#, "payload"),
            Err(ValidationError::DuplicateMember("payload"))
        );
        // An escaped spelling of the same name is the same member.
        assert_eq!(
            check_json(br#"{"aud":1,"\u0061ud":2}"#, "payload"),
            Err(ValidationError::DuplicateMember("payload"))
        );
        let many: String = (0..200).map(|i| format!("\"k{i}\":{i},")).collect();
        check_json(format!("{{{many}\"z\":0}}").as_bytes(), "payload").unwrap();
        assert_eq!(
            check_json(format!("{{{many}\"k7\":0}}").as_bytes(), "payload"),
            Err(ValidationError::DuplicateMember("payload"))
        );
        check_json(br#"{"a":{"a":1}}"#, "payload").unwrap();
    }

    #[test]
    fn depth_and_shape_are_bounded() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert_eq!(
            check_json(deep.as_bytes(), "payload"),
            Err(ValidationError::TooDeep("payload"))
        );
        let very_deep = format!("{{\"a\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(
            check_json(very_deep.as_bytes(), "payload"),
            Err(ValidationError::TooDeep("payload"))
        );
        assert!(check_json(b"[]", "payload").is_err());
        assert!(check_json(br#"{"a":1} x"#, "payload").is_err());
    }

    #[test]
    fn header_rules() {
        for alg in ["none", "None", "NONE", "nOnE"] {
            let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}");
            assert_eq!(
                parse_token(&t, 16384).unwrap_err(),
                ValidationError::AlgNone
            );
        }
        for alg in ["HS256", "hs384", "Hs512"] {
            let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}");
            assert_eq!(
                parse_token(&t, 16384).unwrap_err(),
                ValidationError::AlgHmac
            );
        }
        // Names no JWS algorithm (or not in RFC 7515's exact spelling).
        for alg in ["ES256K", "RS1", "es256", "Ed25519", "RSA-OAEP"] {
            let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}");
            assert_eq!(
                parse_token(&t, 16384).unwrap_err(),
                ValidationError::AlgNotAllowed,
                "{alg}"
            );
        }
        let t = token(r#"{"alg":"RS256"}"#, "{}");
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::KidMissing
        );
        let t = token(r#"{"alg":"RS256","kid":"k","crit":["exp"],"exp":1}"#, "{}");
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::CritUnsupported
        );
        let t = token(
            r#"{"alg":"RS256","kid":"k","typ":"JWT"}"#,
            r#"{"ver":"2.0"}"#,
        );
        let parsed = parse_token(&t, 16384).unwrap();
        assert_eq!(parsed.kid(), "k");
        assert_eq!(parsed.claims.version(), Some(TokenVersion::V2));
        assert_eq!(
            parse_token(&t, 10).unwrap_err(),
            ValidationError::TooLarge { max: 10 }
        );
    }

    #[test]
    fn regression_multibyte_alg_does_not_panic() {
        // Found by the token fuzz target: slicing `alg` at byte 2 split a character.
        // Raw UTF-8 and JSON `\u` escapes of the same characters.
        for alg in [
            "R\u{303}uR",
            "\u{e9}",
            "H\u{e9}",
            "\u{4e2d}\u{6587}",
            r"R\u0303uR",
        ] {
            let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}");
            assert_eq!(
                parse_token(&t, 16384).unwrap_err(),
                ValidationError::AlgNotAllowed,
                "{alg}"
            );
        }
    }

    #[test]
    fn claims_are_places_in_one_buffer_escapes_decoded() {
        // Escaped strings (decoded after the payload), unescaped ones (places in it), an
        // audience list longer than the inline spans, roles, and an escaped `kid`.
        let payload = r#"{"iss":"https:\/\/login.example\/t\/v2.0","aud":["a","b","c","d\u0065","e"],"tid":"c0ffee00-0000-4000-8000-000000000001","roles":["R\u00e9ad","Write"],"scp":"x y","ver":"2.0","exp":1.5e9,"nbf":1,"iat":null,"name":"Z\u00fc","sub":null,"upn":"u@x","x":{"nested":["\u0061"]}}"#;
        let t = token(r#"{"alg":"RS256","kid":"k\u0031"}"#, payload);
        let p = parse_token(&t, 16384).unwrap();
        assert_eq!(p.kid(), "k1");
        assert_eq!(p.signature(), b"sig");
        let c = &p.claims;
        assert_eq!(c.payload(), payload.as_bytes());
        assert_eq!(c.iss(), Some("https://login.example/t/v2.0"));
        assert_eq!(
            c.aud().unwrap().collect::<Vec<_>>(),
            ["a", "b", "c", "de", "e"]
        );
        assert_eq!(c.tid(), Some("c0ffee00-0000-4000-8000-000000000001"));
        assert_eq!(
            c.roles().unwrap().collect::<Vec<_>>(),
            ["R\u{e9}ad", "Write"]
        );
        assert_eq!(c.scp(), Some("x y"));
        assert_eq!(c.version(), Some(TokenVersion::V2));
        assert_eq!((c.exp(), c.nbf(), c.iat()), (Some(1.5e9), Some(1.0), None));
        assert_eq!(c.name(), Some("Z\u{fc}"));
        assert_eq!((c.sub(), c.upn(), c.oid()), (None, Some("u@x"), None));
        assert!(c.azp().is_none() && c.appid().is_none() && !c.has_id_token_member());

        // A single audience, `roles` null, an ID token member with any value.
        let t = token(
            r#"{"alg":"PS256","kid":"kk"}"#,
            r#"{"aud":"x","roles":null,"nonce":{"a":[1]},"azp":"\u0041"}"#,
        );
        let p = parse_token(&t, 16384).unwrap();
        assert_eq!(p.header.alg, Algorithm::PS256);
        assert_eq!(p.kid(), "kk");
        assert_eq!(p.claims.aud().unwrap().collect::<Vec<_>>(), ["x"]);
        assert!(p.claims.roles().is_none());
        assert!(p.claims.has_id_token_member());
        assert_eq!(p.claims.azp(), Some("A"));

        // Claims of the wrong type are refused as before.
        for bad in [
            r#"{"aud":null}"#,
            r#"{"aud":1}"#,
            r#"{"aud":["a",1]}"#,
            r#"{"roles":"r"}"#,
            r#"{"iss":1}"#,
            r#"{"exp":"1"}"#,
        ] {
            let t = token(r#"{"alg":"RS256","kid":"k"}"#, bad);
            assert_eq!(
                parse_token(&t, 16384).unwrap_err(),
                ValidationError::Malformed("a claim has the wrong type"),
                "{bad}"
            );
        }
    }

    #[test]
    fn large_headers_and_signatures_leave_the_stack() {
        // Headers over the stack buffer and signatures over 512 bytes take the heap path.
        let pad = "x".repeat(2000);
        let t = format!(
            "{}.{}.{}",
            b64url(format!(r#"{{"alg":"RS256","pad":"{pad}","kid":"big"}}"#)),
            b64url(r#"{"ver":"1.0"}"#),
            b64url([7u8; 1024])
        );
        let p = parse_token(&t, 16384).unwrap();
        assert_eq!(p.kid(), "big");
        assert_eq!(p.signature(), [7u8; 1024]);
        assert_eq!(p.claims.version(), Some(TokenVersion::V1));
        for sig_len in [1, 511, 512, 513] {
            let t = format!(
                "{}.{}.{}",
                b64url(r#"{"alg":"RS256","kid":"k"}"#),
                b64url("{}"),
                b64url(vec![1u8; sig_len])
            );
            assert_eq!(parse_token(&t, 16384).unwrap().signature().len(), sig_len);
        }
        // An empty signature, and a kid too long or empty.
        let t = format!(
            "{}.{}.",
            b64url(r#"{"alg":"RS256","kid":"k"}"#),
            b64url("{}")
        );
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::Malformed("the signature is empty")
        );
        for kid in ["".to_string(), "k".repeat(MAX_KID_LEN + 1)] {
            let t = token(&format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#), "{}");
            assert_eq!(
                parse_token(&t, 16384).unwrap_err(),
                ValidationError::KidMissing
            );
        }
        let t = token(
            &format!(r#"{{"alg":"RS256","kid":"{}"}}"#, "k".repeat(MAX_KID_LEN)),
            "{}",
        );
        assert_eq!(parse_token(&t, 16384).unwrap().kid().len(), MAX_KID_LEN);
    }

    #[test]
    fn parts_and_base64_are_strict() {
        let h = b64url(r#"{"alg":"RS256","kid":"k"}"#);
        let p = b64url("{}");
        let three = ValidationError::Malformed("a JWS has exactly three dot-separated parts");
        for (t, e) in [
            (format!("{h}.{p}"), three.clone()),
            (format!("{h}.{p}.c2ln.x"), three),
            (
                format!("{h}.{p}.c2ln.x.y"),
                ValidationError::NotAJwt(NotAJwt::Encrypted),
            ),
            // Padding, a non-canonical tail, a character outside the alphabet, a length
            // no base64 has, in each part.
            (format!("{h}.{p}.c2ln="), BAD_BASE64),
            (format!("{h}.{p}.c2lnYR"), BAD_BASE64),
            (format!("{h}.{p}.c2+n"), BAD_BASE64),
            (format!("{h}.{p}.c2lnY"), BAD_BASE64),
            (format!("{h}.e30=.c2ln"), BAD_BASE64),
            (format!("{h}.e31.c2ln"), BAD_BASE64),
            (format!("{h}x.{p}.c2ln"), BAD_BASE64),
            (format!("{h}.{p}e3/.c2ln"), BAD_BASE64),
        ] {
            assert_eq!(parse_token(&t, 16384).unwrap_err(), e, "{t}");
        }
        assert!(parse_token(&format!("{h}.{p}.c2ln"), 16384).is_ok());
        // Non-ASCII and invalid UTF-8 inside the parts.
        let t = format!("{h}.{}.c2ln", b64url(b"{\"a\":\"\xff\"}"));
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::Malformed("the payload is not valid JSON")
        );
        let t = format!(
            "{}.{p}.c2ln",
            b64url(b"{\"alg\":\"RS256\",\"kid\":\"\xc3\"}")
        );
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::Malformed("the header is not valid JSON")
        );
    }

    /// Every claim field, to compare two readings.
    fn fields(c: &Claims) -> String {
        format!(
            "{:?}",
            (
                (
                    c.iss(),
                    c.aud().map(|a| a.collect::<Vec<_>>()),
                    c.exp(),
                    c.nbf(),
                    c.iat()
                ),
                (c.tid(), c.oid(), c.sub(), c.azp(), c.appid(), c.scp()),
                (c.roles().map(|r| r.collect::<Vec<_>>()), c.ver(), c.name()),
                (c.preferred_username(), c.upn(), c.unique_name(), c.idtyp()),
                (c.has_id_token_member(), c.payload()),
            )
        )
    }

    #[test]
    fn special_bytes_found_as_a_byte_loop_would() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let pool = [
            b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc,
            0xff,
        ];
        for _ in 0..50_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    let r = state.rotate_left(i as u32 * 7) ^ (i as u64).wrapping_mul(0x9e37);
                    // Mostly plain bytes, so the special one lands anywhere.
                    if r.is_multiple_of(9) {
                        pool[(r >> 8) as usize % pool.len()]
                    } else {
                        b'a' + (r % 26) as u8
                    }
                })
                .collect();
            let naive = bytes
                .iter()
                .position(|c| *c == b'"' || *c == b'\\' || *c < 0x20);
            assert_eq!(special(&bytes), naive, "{bytes:?}");
        }
    }

    #[test]
    fn the_fast_reader_agrees_with_the_walker() {
        // Mutations of realistic payloads: whatever the fast reader accepts, the general
        // walker accepts too, with the same claims; and the usual shape is accepted.
        let seeds = [
            r#"{"aud":"api://x","iss":"https://login.microsoftonline.com/t/v2.0","iat":1732186400,"nbf":1732186400,"exp":1732190000,"aio":"AWQAm/8T","azp":"c1","azpacr":"0","name":"Alice É","oid":"a1","preferred_username":"a@x","rh":"1.A.","roles":["Data.Reader","R2"],"scp":"Data.Read Data.Write","sid":"s","sub":"b","tid":"c0ffee00-0000-4000-8000-000000000001","uti":"u","ver":"2.0","xms_ftd":"f"}"#,
            r#" { "aud" : [ "a" , "b" ] , "exp" : 1e3 , "nbf" : null , "x" : [ 1 , -2.5E-3 , true , false , null ] , "nonce" : "n" , "t" : 0 } "#,
            r#"{"appid":"a","upn":"u","unique_name":"n","idtyp":"app","roles":null,"iat":-1,"exp":10.0,"c_hash":[],"k":-0}"#,
        ];
        for seed in seeds {
            read_claims(seed.to_string(), false).unwrap();
            let mut f = Claims {
                json_len: seed.len(),
                ..Claims::default()
            };
            if seed.starts_with(r#"{"aud""#) {
                assert!(fast_claims(seed.as_bytes(), &mut f).is_some());
            }
        }
        let alphabet: Vec<&str> = vec![
            "\"",
            "\\",
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            " ",
            "\n",
            "\t",
            "0",
            "1",
            "9",
            "-",
            "+",
            ".",
            "e",
            "E",
            "n",
            "u",
            "l",
            "t",
            "r",
            "f",
            "a",
            "s",
            "\u{1}",
            "\u{7f}",
            "é",
            "null",
            "true",
            "false",
            "\"aud\"",
            "\"exp\"",
            "\"roles\"",
            "\"tid\"",
            "\"nonce\"",
            "\"x\":1,",
            "[\"r\"]",
            "1e5",
            "01",
            "1.",
            ".5",
            "-0",
            "\\u0061",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut accepted, mut tried) = (0, 0);
        for _ in 0..60_000 {
            let mut doc = seeds[next(seeds.len())].to_string();
            for _ in 0..1 + next(3) {
                let mut at = next(doc.len() + 1);
                while !doc.is_char_boundary(at) {
                    at -= 1;
                }
                let piece = alphabet[next(alphabet.len())];
                match next(3) {
                    0 => doc.insert_str(at, piece),
                    1 => {
                        let mut end = (at + 1 + next(4)).min(doc.len());
                        while !doc.is_char_boundary(end) {
                            end += 1;
                        }
                        doc.replace_range(at..end, "");
                    }
                    _ => {
                        let mut end = (at + 1).min(doc.len());
                        while !doc.is_char_boundary(end) {
                            end += 1;
                        }
                        doc.replace_range(at..end, piece);
                    }
                }
            }
            tried += 1;
            let mut fast = Claims {
                json_len: doc.len(),
                ..Claims::default()
            };
            if fast_claims(doc.as_bytes(), &mut fast).is_none() {
                continue;
            }
            accepted += 1;
            fast.buf = doc.clone();
            let walked = read_claims(doc.clone(), false)
                .unwrap_or_else(|e| panic!("fast accepted, walker refused ({e}): {doc}"));
            assert_eq!(fields(&fast), fields(&walked), "{doc}");
            // And the whole parse agrees with itself.
            assert_eq!(
                fields(&read_claims(doc.clone(), true).unwrap()),
                fields(&walked)
            );
        }
        eprintln!("fast reader: accepted {accepted} of {tried} mutations");
        assert!(accepted > tried / 20, "{accepted} of {tried}");
    }

    #[test]
    fn guids() {
        assert!(is_guid("c0ffee00-0000-4000-8000-000000000001"));
        assert!(is_guid("C0FFEE00-0000-4000-8000-000000000001"));
        assert!(!is_guid("c0ffee00-0000-4000-8000-00000000000"));
        assert!(!is_guid("c0ffee00x0000-4000-8000-000000000001"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
    }
}
