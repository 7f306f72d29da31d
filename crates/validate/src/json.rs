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

/// A member name: borrowed from the input when it had no escapes (the usual case),
/// decoded into its own buffer otherwise.
#[derive(PartialEq, Eq, Hash)]
enum Name<'j> {
    Raw(&'j [u8]),
    Decoded(Box<[u8]>),
}

impl Name<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Name::Raw(b) => b,
            Name::Decoded(b) => b,
        }
    }
}

/// jiter hands out names without escapes as slices of the input and decoded ones from
/// its scratch buffer: keep the first kind borrowed for the whole walk.
fn name<'j>(data: &'j [u8], key: &str) -> Name<'j> {
    let start = (key.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
    match data.get(start..start.wrapping_add(key.len())) {
        Some(raw) if raw.as_ptr() == key.as_ptr() => Name::Raw(raw),
        _ => Name::Decoded(key.as_bytes().into()),
    }
}

/// The names of one object so far: refuses the second of two equal names.
#[derive(Default)]
struct Seen<'j> {
    /// (fingerprint, name): the fingerprint (length and first bytes) spares most
    /// comparisons. Small objects (all real ones) scan this vector...
    few: Vec<(u64, Name<'j>)>,
    /// ...and objects with many members switch to a set, so that a payload of
    /// thousands of members stays linear.
    many: Option<HashSet<Name<'j>>>,
}

fn fingerprint(name: &[u8]) -> u64 {
    let mut head = [0u8; 4];
    let n = name.len().min(4);
    head[..n].copy_from_slice(&name[..n]);
    ((name.len() as u64) << 32) | u64::from(u32::from_le_bytes(head))
}

impl<'j> Seen<'j> {
    fn insert(&mut self, key: Name<'j>) -> Result<(), Fail> {
        let fresh = match &mut self.many {
            Some(set) => set.insert(key),
            None if self.few.len() < 32 => {
                let f = fingerprint(key.bytes());
                let fresh = !self
                    .few
                    .iter()
                    .any(|(g, k)| *g == f && k.bytes() == key.bytes());
                self.few.push((f, key));
                fresh
            }
            None => {
                let mut set: HashSet<_> = self.few.drain(..).map(|(_, k)| k).collect();
                let fresh = set.insert(key);
                self.many = Some(set);
                fresh
            }
        };
        if fresh { Ok(()) } else { Err(Fail::Duplicate) }
    }
}

/// Called with each member's (unescaped) name and the kind of its value, which it must
/// consume.
pub(crate) type OnMember<'a, 'j> = dyn FnMut(&mut Walker<'j>, &[u8], Peek) -> Result<(), Fail> + 'a;

/// Walks one JSON document.
pub(crate) struct Walker<'j> {
    j: Jiter<'j>,
    data: &'j [u8],
}

impl<'j> Walker<'j> {
    pub(crate) fn new(data: &'j [u8]) -> Self {
        Self {
            j: Jiter::new(data),
            data,
        }
    }

    /// Walks the top-level object, calling `member` with each member's (unescaped) name
    /// and the kind of its value, which `member` must consume (with the readers below,
    /// or [`Walker::skip`] at depth 1); then checks nothing follows it.
    pub(crate) fn top_object(&mut self, member: &mut OnMember<'_, 'j>) -> Result<(), Fail> {
        // JSON text is UTF-8; jiter checks the strings it decodes but not the ones it
        // skips. One pass over the whole document (fast on ASCII) covers both.
        if std::str::from_utf8(self.data).is_err() {
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
        // Sized for an Entra payload (about 20 claims): one allocation, no regrowth.
        let mut seen = Seen {
            few: Vec::with_capacity(if depth == 0 { 32 } else { 4 }),
            many: None,
        };
        let mut key = self.j.known_object()?.map(|k| name(data, k));
        while let Some(k) = key {
            // Names without escapes are read from the input after `seen` took them.
            let bytes: Box<[u8]>;
            let current: &[u8] = match &k {
                Name::Raw(b) => b,
                Name::Decoded(b) => {
                    bytes = b.clone();
                    &bytes
                }
            };
            seen.insert(k)?;
            let peek = self.j.peek()?;
            member(self, current, peek)?;
            key = self.j.next_key()?.map(|k| name(data, k));
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

    /// A string member (`null` counts as absent).
    pub(crate) fn string(&mut self, peek: Peek) -> Result<Option<String>, Fail> {
        match peek {
            Peek::String => Ok(Some(self.j.known_str()?.to_owned())),
            Peek::Null => {
                self.j.known_null()?;
                Ok(None)
            }
            _ => Err(Fail::Type),
        }
    }

    /// An array of strings (`null` counts as absent).
    pub(crate) fn strings(&mut self, peek: Peek) -> Result<Option<Vec<String>>, Fail> {
        match peek {
            Peek::Array => {
                let mut all = Vec::new();
                let mut next = self.j.known_array()?;
                while let Some(p) = next {
                    if p != Peek::String {
                        return Err(Fail::Type);
                    }
                    all.push(self.j.known_str()?.to_owned());
                    next = self.j.array_step()?;
                }
                Ok(Some(all))
            }
            Peek::Null => {
                self.j.known_null()?;
                Ok(None)
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
