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
use serde::de::{IgnoredAny, SeqAccess, Visitor};

use crate::error::{NotAJwt, ValidationError};
pub use crate::json::MAX_JSON_DEPTH;
use crate::json::{Fail, Walker};

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

/// The JOSE header members the validator reads.
#[derive(Debug, Clone)]
pub struct Header {
    /// The signature algorithm (only RS256 and PS256 get this far).
    pub alg: Algorithm,
    /// The key id.
    pub kid: String,
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

/// The claims the validator checks or hands to the [`Principal`](crate::Principal).
/// Every other claim stays in the raw payload.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Claims {
    /// Issuer.
    pub iss: Option<String>,
    /// Audience.
    pub aud: Option<Audience>,
    /// Expiry (seconds since the epoch).
    pub exp: Option<f64>,
    /// Not before.
    pub nbf: Option<f64>,
    /// Issued at.
    pub iat: Option<f64>,
    /// Tenant id.
    pub tid: Option<String>,
    /// Object id of the user or service principal.
    pub oid: Option<String>,
    /// Subject.
    pub sub: Option<String>,
    /// v2 client id.
    pub azp: Option<String>,
    /// v1 client id.
    pub appid: Option<String>,
    /// Delegated scopes, space-separated.
    pub scp: Option<String>,
    /// App roles.
    pub roles: Option<Vec<String>>,
    /// `1.0` or `2.0`.
    pub ver: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// v2 sign-in name.
    pub preferred_username: Option<String>,
    /// v1 user principal name.
    pub upn: Option<String>,
    /// v1 sign-in name.
    pub unique_name: Option<String>,
    /// `app` on app-only tokens (optional claim).
    pub idtyp: Option<String>,
    /// Only ID tokens carry these.
    pub nonce: Option<IgnoredAny>,
    /// See `nonce`.
    pub at_hash: Option<IgnoredAny>,
    /// See `nonce`.
    pub c_hash: Option<IgnoredAny>,
}

impl Claims {
    /// The token version from `ver`.
    pub fn version(&self) -> Option<TokenVersion> {
        match self.ver.as_deref() {
            Some("1.0") => Some(TokenVersion::V1),
            Some("2.0") => Some(TokenVersion::V2),
            _ => None,
        }
    }
}

/// A token split, decoded and checked for shape; the signature is not verified yet.
#[derive(Debug)]
pub struct ParsedToken<'a> {
    /// The header.
    pub header: Header,
    /// The claims the validator reads.
    pub claims: Claims,
    /// The decoded payload JSON (for the raw claims, parsed only when asked for).
    pub payload: Vec<u8>,
    /// `header.payload` as sent: what the signature covers.
    pub signing_input: &'a [u8],
    /// The decoded signature.
    pub signature: Vec<u8>,
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
    let mut parts = token.splitn(6, '.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(match token.splitn(6, '.').count() {
            5 => ValidationError::NotAJwt(NotAJwt::Encrypted),
            _ => ValidationError::Malformed("a JWS has exactly three dot-separated parts"),
        });
    };
    let header_json = decode_part(h)?;
    let header = parse_header(&header_json)?;
    let payload = decode_part(p)?;
    let claims = parse_claims(&payload)?;
    let signature = decode_part(s)?;
    if signature.is_empty() {
        return Err(ValidationError::Malformed("the signature is empty"));
    }
    Ok(ParsedToken {
        header,
        claims,
        payload,
        signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
        signature,
    })
}

/// Strict base64url: no padding, no characters outside the URL-safe alphabet, and no
/// set bits in the unused tail of the last character (one spelling per value).
fn decode_part(part: &str) -> Result<Vec<u8>, ValidationError> {
    const BAD: ValidationError =
        ValidationError::Malformed("not strict base64url (no padding, canonical)");
    let b = part.as_bytes();
    let tail_mask = match b.len() % 4 {
        0 => 0,
        1 => return Err(BAD),
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
            _ => return Err(BAD),
        };
        if value & tail_mask != 0 {
            return Err(BAD);
        }
    }
    base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(b)
        .map_err(|_| BAD)
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

#[derive(Default)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    crit: bool,
}

fn parse_header(json: &[u8]) -> Result<Header, ValidationError> {
    let mut raw = RawHeader::default();
    Walker::new(json)
        .top_object(&mut |w, name, peek| {
            match name {
                b"alg" => raw.alg = w.string(peek)?,
                b"kid" => raw.kid = w.string(peek)?,
                b"typ" => raw.typ = w.string(peek)?,
                b"crit" => {
                    raw.crit = true;
                    w.skip(peek, 1)?;
                }
                _ => w.skip(peek, 1)?,
            }
            Ok(())
        })
        .map_err(|f| json_error(f, "header"))?;
    let alg = raw
        .alg
        .ok_or(ValidationError::Malformed("the header has no alg"))?;
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
    let alg = Algorithm::from_name(&alg).ok_or(ValidationError::AlgNotAllowed)?;
    if raw.crit {
        return Err(ValidationError::CritUnsupported);
    }
    if let Some(typ) = raw.typ
        && !["JWT", "at+jwt", "application/at+jwt"]
            .iter()
            .any(|t| typ.eq_ignore_ascii_case(t))
    {
        return Err(ValidationError::Malformed("the header's typ is not JWT"));
    }
    let kid = raw.kid.ok_or(ValidationError::KidMissing)?;
    if kid.is_empty() || kid.len() > MAX_KID_LEN {
        return Err(ValidationError::KidMissing);
    }
    Ok(Header { alg, kid })
}

/// Reads the claims the validator needs in the same pass that checks the whole payload.
fn parse_claims(json: &[u8]) -> Result<Claims, ValidationError> {
    let mut c = Claims::default();
    Walker::new(json)
        .top_object(&mut |w, name, peek| {
            match name {
                b"iss" => c.iss = w.string(peek)?,
                b"aud" => {
                    c.aud = Some(match peek {
                        Peek::String => Audience::One(w.string(peek)?.unwrap_or_default()),
                        Peek::Array => Audience::Many(w.strings(peek)?.unwrap_or_default()),
                        _ => return Err(Fail::Type),
                    })
                }
                b"exp" => c.exp = w.number(peek)?,
                b"nbf" => c.nbf = w.number(peek)?,
                b"iat" => c.iat = w.number(peek)?,
                b"tid" => c.tid = w.string(peek)?,
                b"oid" => c.oid = w.string(peek)?,
                b"sub" => c.sub = w.string(peek)?,
                b"azp" => c.azp = w.string(peek)?,
                b"appid" => c.appid = w.string(peek)?,
                b"scp" => c.scp = w.string(peek)?,
                b"roles" => c.roles = w.strings(peek)?,
                b"ver" => c.ver = w.string(peek)?,
                b"name" => c.name = w.string(peek)?,
                b"preferred_username" => c.preferred_username = w.string(peek)?,
                b"upn" => c.upn = w.string(peek)?,
                b"unique_name" => c.unique_name = w.string(peek)?,
                b"idtyp" => c.idtyp = w.string(peek)?,
                b"nonce" | b"at_hash" | b"c_hash" => {
                    w.skip(peek, 1)?;
                    let slot = match name {
                        b"nonce" => &mut c.nonce,
                        b"at_hash" => &mut c.at_hash,
                        _ => &mut c.c_hash,
                    };
                    *slot = Some(IgnoredAny);
                }
                _ => w.skip(peek, 1)?,
            }
            Ok(())
        })
        .map_err(|f| json_error(f, "payload"))?;
    Ok(c)
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
        let t = token(r#"{"alg":"ES256","kid":"k"}"#, "{}");
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::AlgNotAllowed
        );
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
        assert_eq!(parsed.header.kid, "k");
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
    fn guids() {
        assert!(is_guid("c0ffee00-0000-4000-8000-000000000001"));
        assert!(is_guid("C0FFEE00-0000-4000-8000-000000000001"));
        assert!(!is_guid("c0ffee00-0000-4000-8000-00000000000"));
        assert!(!is_guid("c0ffee00x0000-4000-8000-000000000001"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
    }
}
