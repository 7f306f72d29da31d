//! [`Claims`]: the claims the validator reads, each a place in one buffer, and the
//! payload itself.

use std::fmt;

use serde::Deserialize;
use serde::de::{SeqAccess, Visitor};

use super::version::TokenVersion;

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
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

/// Set on [`Span::start`] while parsing: the string is in the decoded-strings buffer,
/// not (yet) in the claims buffer.
pub(crate) const DECODED: u32 = 1 << 31;

/// The strings of an array claim (`aud`, `roles`): up to [`Spans::INLINE`] without an
/// allocation.
#[derive(Debug, Clone)]
pub(crate) enum Spans {
    Inline(u8, [Span; Spans::INLINE]),
    Heap(Vec<Span>),
}

impl Default for Spans {
    fn default() -> Self {
        Spans::Inline(0, [Span::default(); Spans::INLINE])
    }
}

impl Spans {
    pub(crate) const INLINE: usize = 3;

    pub(crate) fn one(s: Span) -> Self {
        let mut all = [Span::default(); Spans::INLINE];
        all[0] = s;
        Spans::Inline(1, all)
    }

    pub(crate) fn push(&mut self, s: Span) {
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

    pub(crate) fn as_slice(&self) -> &[Span] {
        match self {
            Spans::Inline(n, all) => &all[..*n as usize],
            Spans::Heap(v) => v,
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [Span] {
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
    pub(crate) buf: String,
    pub(crate) json_len: usize,
    pub(crate) kid: Span,
    /// The whole token, when the validator keeps it for its cache's full compare.
    pub(crate) token: Option<Span>,
    pub(crate) iss: Option<Span>,
    pub(crate) aud: Option<Spans>,
    pub(crate) exp: Option<f64>,
    pub(crate) nbf: Option<f64>,
    pub(crate) iat: Option<f64>,
    pub(crate) tid: Option<Span>,
    pub(crate) oid: Option<Span>,
    pub(crate) sub: Option<Span>,
    pub(crate) azp: Option<Span>,
    pub(crate) appid: Option<Span>,
    pub(crate) scp: Option<Span>,
    pub(crate) roles: Option<Spans>,
    pub(crate) ver: Option<Span>,
    pub(crate) name: Option<Span>,
    pub(crate) preferred_username: Option<Span>,
    pub(crate) upn: Option<Span>,
    pub(crate) unique_name: Option<Span>,
    pub(crate) idtyp: Option<Span>,
    /// `nonce`, `at_hash` or `c_hash` is present: only ID tokens carry these.
    pub(crate) id_token_member: bool,
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
    pub(crate) fn string_slot(&mut self, name: &[u8]) -> Option<&mut Option<Span>> {
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
    pub(crate) fn str(&self, s: Span) -> &str {
        // Every span is a whole JSON string or a decoded copy of one: char boundaries.
        self.buf
            .get(s.start as usize..(s.start + s.len) as usize)
            .unwrap_or_default()
    }

    #[inline]
    pub(crate) fn opt(&self, s: Option<Span>) -> Option<&str> {
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

/// Whether `s` is a GUID in the 8-4-4-4-12 hex form (`tid`, `oid`).
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}
