//! Portable multi-precision helpers for the parts outside the hot loop: byte and limb
//! conversions, the once-per-key constants, the final reduction.

/// Bits per limb of the IFMA representation.
pub(crate) const LIMB_BITS: u32 = 52;
pub(crate) const MASK: u64 = (1 << LIMB_BITS) - 1;

pub(crate) fn strip_zeros(v: &[u8]) -> &[u8] {
    let lead = v.iter().take_while(|b| **b == 0).count();
    &v[lead..]
}

/// The bit length of a big-endian number without leading zero bytes.
pub(crate) fn bit_len(v: &[u8]) -> usize {
    match v.first() {
        None => 0,
        Some(b) => v.len() * 8 - b.leading_zeros() as usize,
    }
}

/// Big-endian bytes into little-endian 52-bit limbs; `out` must be long enough.
pub(crate) fn to_limbs52(be: &[u8], out: &mut [u64]) {
    out.fill(0);
    let (mut buf, mut have, mut i) = (0u128, 0u32, 0usize);
    for &b in be.iter().rev() {
        buf |= u128::from(b) << have;
        have += 8;
        if have >= LIMB_BITS {
            out[i] = buf as u64 & MASK;
            buf >>= LIMB_BITS;
            have -= LIMB_BITS;
            i += 1;
        }
    }
    if have > 0 {
        out[i] = buf as u64;
    }
}

/// Little-endian 52-bit limbs (each below 2^52) into exactly `out.len()` big-endian
/// bytes. The value must fit.
pub(crate) fn from_limbs52(limbs: &[u64], out: &mut [u8]) {
    let k = out.len();
    let (mut buf, mut have, mut written) = (0u128, 0u32, 0usize);
    for &l in limbs {
        debug_assert!(l <= MASK);
        buf |= u128::from(l) << have;
        have += LIMB_BITS;
        while have >= 8 {
            if written < k {
                out[k - 1 - written] = buf as u8;
            } else {
                debug_assert_eq!(buf as u8, 0, "the value does not fit");
            }
            written += 1;
            buf >>= 8;
            have -= 8;
        }
    }
    if have > 0 {
        if written < k {
            out[k - 1 - written] = buf as u8;
        }
        written += 1;
    }
    for b in out.iter_mut().take(k.saturating_sub(written)) {
        *b = 0;
    }
}

/// `a >= b` for equal-length little-endian limb slices.
pub(crate) fn ge(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a -= b` for little-endian 52-bit limbs, `a >= b`.
pub(crate) fn sub52(a: &mut [u64], b: &[u64]) {
    let mut borrow = 0u64;
    for (x, y) in a.iter_mut().zip(b) {
        let d = x.wrapping_sub(*y).wrapping_sub(borrow);
        borrow = d >> 63;
        *x = d & MASK;
    }
    debug_assert_eq!(borrow, 0);
}

/// `-n^-1 mod 2^52` for an odd `n0` (the Montgomery constant of the low limb).
pub(crate) fn mont_k0(n0: u64) -> u64 {
    debug_assert!(n0 & 1 == 1);
    // Newton's iteration doubles the correct low bits: 3 (n0 * n0 = 1 mod 8), 6, ..., 96.
    let mut inv = n0;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inv)));
    }
    debug_assert_eq!(n0.wrapping_mul(inv), 1);
    inv.wrapping_neg() & MASK
}

/// `2^exp mod n` for a big-endian odd `n` of `bit_len(n) >= 2` bits, as big-endian
/// bytes of `n`'s length, by modular doubling from `2^(bits-1)` (already below `n`):
/// `exp - bits + 1` limb passes, run once per key.
pub(crate) fn pow2_mod(exp: usize, n: &[u8]) -> Vec<u8> {
    let words = n.len().div_ceil(8);
    let mut n64 = vec![0u64; words];
    for (i, b) in n.iter().rev().enumerate() {
        n64[i / 8] |= u64::from(*b) << (8 * (i % 8));
    }
    let start = exp.min(bit_len(n) - 1);
    let mut x = vec![0u64; words];
    x[start / 64] = 1 << (start % 64);
    for _ in start..exp {
        let mut carry = 0u64;
        for w in x.iter_mut() {
            let next = *w >> 63;
            *w = *w << 1 | carry;
            carry = next;
        }
        // x < n, so 2x < 2n: one subtraction at most.
        let over = carry == 1 || {
            let mut ge = true;
            for (a, b) in x.iter().rev().zip(n64.iter().rev()) {
                if a != b {
                    ge = a > b;
                    break;
                }
            }
            ge
        };
        if over {
            let mut borrow = 0u64;
            for (a, b) in x.iter_mut().zip(&n64) {
                let (d1, b1) = a.overflowing_sub(*b);
                let (d2, b2) = d1.overflowing_sub(borrow);
                *a = d2;
                borrow = u64::from(b1 | b2);
            }
        }
    }
    let mut out = vec![0u8; n.len()];
    for (i, o) in out.iter_mut().rev().enumerate() {
        *o = (x[i / 8] >> (8 * (i % 8))) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limb_conversions_round_trip() {
        let bytes: Vec<u8> = (0..256u32).map(|i| (i * 37 + 11) as u8).collect();
        let mut limbs = [0u64; 40];
        to_limbs52(&bytes, &mut limbs);
        assert!(limbs.iter().all(|l| *l <= MASK));
        let mut back = vec![0u8; 256];
        from_limbs52(&limbs, &mut back);
        assert_eq!(back, bytes);
    }

    #[test]
    fn k0_is_the_negated_inverse() {
        for n0 in [1u64, 3, 0xffff_ffff_ffff_ffff, 0x1234_5678_9abc_def1] {
            let k0 = mont_k0(n0);
            assert_eq!(n0.wrapping_mul(k0).wrapping_add(1) & MASK, 0, "{n0:x}");
        }
    }

    #[test]
    fn pow2_mod_small() {
        let n = 1_000_003u64.to_be_bytes();
        let n = strip_zeros(&n);
        for exp in [0, 5, 19, 20, 40, 63] {
            let r = pow2_mod(exp, n);
            let v = r.iter().fold(0u64, |a, b| a << 8 | u64::from(*b));
            assert_eq!(u128::from(v), (1u128 << exp) % 1_000_003, "2^{exp}");
        }
    }
}
