//! The fast JSON reader: one pass over a payload of the usual shape (no escapes, no
//! nested objects), reading the claims as [`Walker`](super::Walker) would, without
//! jiter. Anything else is left to the walker.

use crate::token::claims::{Claims, Span, Spans};

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
pub(crate) fn fast_claims(payload: &[u8], c: &mut Claims) -> Option<()> {
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
            store(c, name, f.value()?)?;
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

/// Keeps the value `v` of the member `name` in the claims, if it is one they keep;
/// `None` when its type is not the claim's.
#[inline(always)]
fn store(c: &mut Claims, name: &[u8], v: FastValue) -> Option<()> {
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
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
