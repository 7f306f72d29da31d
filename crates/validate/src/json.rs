//! Strict JSON walking for token headers, payloads and JWKS documents, on the `jiter`
//! iterator: one pass, no tree, no allocation beyond the values the caller keeps.
//!
//! Strict means what the rest of the crate relies on: RFC 8259 syntax (jiter refuses
//! `NaN`/`Infinity`, control characters and lone surrogates in strings, and trailing
//! bytes after [`Walker::finish`]); no object with two members of the same name at any
//! depth, names compared after unescaping (`"aud"` and `"\u0061ud"` are one name); and
//! nesting at most [`MAX_JSON_DEPTH`] deep, checked before descending, so a hostile
//! document cannot exhaust the stack.

use std::collections::HashSet;

use jiter::{Jiter, Peek};

pub(crate) mod fast;

/// How deep JSON may nest in a token's header or payload, or a JWKS (Entra claims nest
/// two levels).
pub const MAX_JSON_DEPTH: usize = 16;

/// Why a document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// Not JSON (or trailing bytes).
    Syntax,
    /// The top level is not an object.
    NotObject,
    /// A member the caller reads has another type than it needs.
    Type,
    /// Two members of one object share a name.
    Duplicate,
    /// Nested deeper than [`MAX_JSON_DEPTH`].
    TooDeep,
}

impl From<jiter::JiterError> for Fail {
    fn from(_: jiter::JiterError) -> Self {
        Fail::Syntax
    }
}

/// Where a member name is: in the input (no escapes, the usual case), or decoded into
/// [`Seen::decoded`] (index).
#[derive(Clone, Copy)]
enum NameAt {
    Raw(u32, u32),
    Decoded(u32),
}

/// How many names an object keeps in [`Seen`]'s inline arrays before it switches to a
/// set (an Entra payload has about 20 claims).
const FEW: usize = 32;

/// The names of one object so far: refuses the second of two equal names. Lives on the
/// stack: no allocation unless a name has escapes or the object has more than [`FEW`]
/// members.
struct Seen<'j> {
    data: &'j [u8],
    len: usize,
    /// The fingerprint (length and first bytes) of each name, which spares most
    /// comparisons...
    fingerprints: [u64; FEW],
    /// ...and where the name is.
    names: [NameAt; FEW],
    /// Names that had escapes, decoded.
    decoded: Vec<Box<[u8]>>,
    /// Objects with many members switch to a set, so that a payload of thousands of
    /// members stays linear.
    many: Option<HashSet<Box<[u8]>>>,
}

pub(crate) fn fingerprint(name: &[u8]) -> u64 {
    // The first four bytes as one load (a byte copy into a stack array stalled on the
    // store-to-load forward: measurable per member).
    let head = match name {
        [a, b, c, d, ..] => u32::from_le_bytes([*a, *b, *c, *d]),
        short => short.iter().rev().fold(0, |h, b| (h << 8) | u32::from(*b)),
    };
    ((name.len() as u64) << 32) | u64::from(head)
}

impl<'j> Seen<'j> {
    fn new(data: &'j [u8]) -> Self {
        Self {
            data,
            len: 0,
            fingerprints: [0; FEW],
            names: [NameAt::Raw(0, 0); FEW],
            decoded: Vec::new(),
            many: None,
        }
    }

    fn bytes(&self, at: NameAt) -> &[u8] {
        match at {
            NameAt::Raw(start, len) => &self.data[start as usize..(start + len) as usize],
            NameAt::Decoded(i) => &self.decoded[i as usize],
        }
    }

    /// Records `key` (as jiter handed it out), refusing a name seen before.
    fn insert(&mut self, key: &str) -> Result<(), Fail> {
        let key_bytes = key.as_bytes();
        if let Some(set) = &mut self.many {
            return if set.insert(key_bytes.into()) {
                Ok(())
            } else {
                Err(Fail::Duplicate)
            };
        }
        let f = fingerprint(key_bytes);
        // All fingerprints compared without an early exit (vectorised); names only
        // compared on a fingerprint match (a duplicate, or the same length and head).
        let fingerprints = &self.fingerprints[..self.len];
        if fingerprints.iter().fold(false, |hit, g| hit | (*g == f)) {
            for (g, at) in fingerprints.iter().zip(&self.names) {
                if *g == f && self.bytes(*at) == key_bytes {
                    return Err(Fail::Duplicate);
                }
            }
        }
        if self.len == FEW {
            let mut set: HashSet<Box<[u8]>> =
                (0..FEW).map(|i| self.bytes(self.names[i]).into()).collect();
            set.insert(key_bytes.into());
            self.many = Some(set);
            return Ok(());
        }
        // jiter hands out names without escapes as slices of the input and decoded ones
        // from its scratch buffer: keep the first kind as a place in the input.
        let at = match raw_at(self.data, key) {
            Some((start, len)) => NameAt::Raw(start as u32, len as u32),
            None => {
                self.decoded.push(key_bytes.into());
                NameAt::Decoded((self.decoded.len() - 1) as u32)
            }
        };
        self.fingerprints[self.len] = f;
        self.names[self.len] = at;
        self.len += 1;
        Ok(())
    }
}

/// Where a string value is: `At(start, len)` in the input when it had no escapes (the
/// usual case), or decoded (in jiter's scratch buffer, valid until the next read).
pub(crate) enum StrAt<'s> {
    At(u32, u32),
    Decoded(&'s str),
}

impl<'s> StrAt<'s> {
    /// The string, given the document it was read from.
    pub(crate) fn str<'d: 's>(&self, data: &'d [u8]) -> &'s str {
        match *self {
            // A whole JSON string of a document checked to be UTF-8.
            StrAt::At(start, len) => {
                std::str::from_utf8(&data[start as usize..(start + len) as usize])
                    .unwrap_or_default()
            }
            StrAt::Decoded(s) => s,
        }
    }
}

/// Where `s` (handed out by jiter) lies in `data`, if it is a slice of it (jiter hands
/// out strings without escapes as slices of the input, decoded ones from its scratch
/// buffer).
#[inline]
fn raw_at(data: &[u8], s: &str) -> Option<(usize, usize)> {
    let start = (s.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
    match data.get(start..start.wrapping_add(s.len())) {
        Some(raw) if raw.as_ptr() == s.as_ptr() => Some((start, s.len())),
        _ => None,
    }
}

/// Called with each member's (unescaped) name and the kind of its value, which it must
/// consume.
pub(crate) type OnMember<'a, 'j> = dyn FnMut(&mut Walker<'j>, &[u8], Peek) -> Result<(), Fail> + 'a;

/// Walks one JSON document.
pub(crate) struct Walker<'j> {
    j: Jiter<'j>,
    data: &'j [u8],
    /// The document is known to be UTF-8 (it came as a `str`).
    utf8: bool,
}

impl<'j> Walker<'j> {
    pub(crate) fn new(data: &'j [u8]) -> Self {
        Self {
            j: Jiter::new(data),
            data,
            utf8: false,
        }
    }

    /// A walker over a document already known to be UTF-8.
    pub(crate) fn new_str(data: &'j str) -> Self {
        Self {
            j: Jiter::new(data.as_bytes()),
            data: data.as_bytes(),
            utf8: true,
        }
    }

    /// Walks the top-level object, calling `member` with each member's (unescaped) name
    /// and the kind of its value, which `member` must consume (with the readers below,
    /// or [`Walker::skip`] at depth 1); then checks nothing follows it.
    pub(crate) fn top_object(&mut self, member: &mut OnMember<'_, 'j>) -> Result<(), Fail> {
        // JSON text is UTF-8; jiter checks the strings it decodes but not the ones it
        // skips. One pass over the whole document (fast on ASCII) covers both.
        if !self.utf8 && std::str::from_utf8(self.data).is_err() {
            return Err(Fail::Syntax);
        }
        // Places in the document are kept as `u32`s (tokens and JWKS are far smaller).
        if u32::try_from(self.data.len()).is_err() {
            return Err(Fail::Syntax);
        }
        if self.j.peek()? != Peek::Object {
            return Err(Fail::NotObject);
        }
        self.object(0, member)?;
        self.j.finish()?;
        Ok(())
    }

    /// An object at `depth` (its `{` peeked), every name checked for duplicates.
    fn object(&mut self, depth: usize, member: &mut OnMember<'_, 'j>) -> Result<(), Fail> {
        if depth >= MAX_JSON_DEPTH {
            return Err(Fail::TooDeep);
        }
        let data = self.data;
        let mut seen = Seen::new(data);
        let mut key = self.j.known_object()?;
        // A name with escapes lives in jiter's scratch buffer, which the member's value
        // may overwrite: the callback gets a copy of it.
        let mut copy: Vec<u8> = Vec::new();
        while let Some(k) = key {
            seen.insert(k)?;
            let current: &[u8] = match raw_at(data, k) {
                Some((start, len)) => &data[start..start + len],
                None => {
                    copy.clear();
                    copy.extend_from_slice(k.as_bytes());
                    &copy
                }
            };
            let peek = self.j.peek()?;
            member(self, current, peek)?;
            key = self.j.next_key()?;
        }
        Ok(())
    }

    /// Consumes any value at `depth` (what `peek` announced), checking the objects
    /// inside it.
    pub(crate) fn skip(&mut self, peek: Peek, depth: usize) -> Result<(), Fail> {
        match peek {
            Peek::Object => self.object(depth, &mut |w, _, p| w.skip(p, depth + 1)),
            Peek::Array => {
                if depth >= MAX_JSON_DEPTH {
                    return Err(Fail::TooDeep);
                }
                let mut next = self.j.known_array()?;
                while let Some(p) = next {
                    self.skip(p, depth + 1)?;
                    next = self.j.array_step()?;
                }
                Ok(())
            }
            scalar => Ok(self.j.known_skip(scalar)?),
        }
    }

    /// A string member (`null` counts as absent), where it is.
    #[inline(always)]
    pub(crate) fn string(&mut self, peek: Peek) -> Result<Option<StrAt<'_>>, Fail> {
        match peek {
            Peek::String => {
                let data = self.data;
                let s = self.j.known_str()?;
                Ok(Some(match raw_at(data, s) {
                    Some((start, len)) => StrAt::At(start as u32, len as u32),
                    None => StrAt::Decoded(s),
                }))
            }
            Peek::Null => {
                self.j.known_null()?;
                Ok(None)
            }
            _ => Err(Fail::Type),
        }
    }

    /// An array of strings (`null` counts as absent): `each` gets every element, and
    /// the result says whether there was an array.
    #[inline]
    pub(crate) fn strings(
        &mut self,
        peek: Peek,
        each: &mut dyn FnMut(StrAt<'_>),
    ) -> Result<bool, Fail> {
        match peek {
            Peek::Array => {
                let data = self.data;
                let mut next = self.j.known_array()?;
                while let Some(p) = next {
                    if p != Peek::String {
                        return Err(Fail::Type);
                    }
                    let s = self.j.known_str()?;
                    each(match raw_at(data, s) {
                        Some((start, len)) => StrAt::At(start as u32, len as u32),
                        None => StrAt::Decoded(s),
                    });
                    next = self.j.array_step()?;
                }
                Ok(true)
            }
            Peek::Null => {
                self.j.known_null()?;
                Ok(false)
            }
            _ => Err(Fail::Type),
        }
    }

    /// A number member (`null` counts as absent).
    pub(crate) fn number(&mut self, peek: Peek) -> Result<Option<f64>, Fail> {
        match peek {
            Peek::Null => {
                self.j.known_null()?;
                Ok(None)
            }
            p if p.is_num() => Ok(Some(self.j.known_float(p)?)),
            _ => Err(Fail::Type),
        }
    }
}

/// Checks that `json` is one object with no duplicate name at any depth and bounded
/// nesting.
pub(crate) fn check(json: &[u8]) -> Result<(), Fail> {
    Walker::new(json).top_object(&mut |w, _, p| w.skip(p, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_syntax() {
        for bad in [
            &b"{"[..],
            b"{\"a\":1,}",
            b"{\"a\":NaN}",
            b"{\"a\":Infinity}",
            b"{\"a\":01}",
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":1} x",
            b"{'a':1}",
            b"{\"a\":tru}",
            b"{\"a\":\"\xff\"}",
        ] {
            assert_eq!(
                check(bad),
                Err(Fail::Syntax),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(check(b"[]"), Err(Fail::NotObject));
        assert_eq!(check(b"1"), Err(Fail::NotObject));
        check(br#" { "a" : [1, -2.5e3, true, false, null, "x\n\u00e9", {}] } "#).unwrap();
    }

    #[test]
    fn duplicates_past_the_inline_names_and_short_names() {
        // Past the 32 names kept on the stack the set takes over, with escaped names.
        let many: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        check(format!("{{{many}\"z\":0}}").as_bytes()).unwrap();
        for dup in ["k7", "k39", "\\u006b7", "k3\\u0039"] {
            assert_eq!(
                check(format!("{{{many}\"{dup}\":0}}").as_bytes()),
                Err(Fail::Duplicate),
                "{dup}"
            );
        }
        // An escaped name among the first 32, repeated after them.
        let t = format!("{{\"\\u0071\":1,{many}\"q\":0}}");
        assert_eq!(check(t.as_bytes()), Err(Fail::Duplicate));
        // Names shorter than the four-byte fingerprint head, and ones sharing it.
        check(br#"{"a":1,"b":2,"ab":3,"ba":4,"":5,"abcd":6,"abce":7,"abcd1":8}"#).unwrap();
        for bad in [
            &br#"{"ab":1,"a\u0062":2}"#[..],
            br#"{"abcd":1,"abce":2,"abcd":3}"#,
            br#"{"x":{"p":1,"q":{"r":[{"s":1,"s":2}]}}}"#,
        ] {
            assert_eq!(check(bad), Err(Fail::Duplicate));
        }
    }

    #[test]
    fn names_compare_after_unescaping() {
        assert_eq!(check(br#"{"aud":1,"\u0061ud":2}"#), Err(Fail::Duplicate));
        assert_eq!(check(br#"{"\u0061ud":1,"aud":2}"#), Err(Fail::Duplicate));
        assert_eq!(
            check(br#"{"\u0061ud":1,"a\u0075d":2}"#),
            Err(Fail::Duplicate)
        );
        check(br#"{"aud":1,"audience":2,"":3}"#).unwrap();
        assert_eq!(check(br#"{"":1,"":2}"#), Err(Fail::Duplicate));
    }
}
