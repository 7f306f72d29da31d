//! Montgomery exponentiation with AVX-512 IFMA.
//!
//! Numbers are `8R` little-endian limbs of 52 bits held in `R` 512-bit registers
//! (2048-bit moduli: 40 limbs in 5 registers). One multiplication is the "almost
//! Montgomery multiplication" (AMM) of Gueron and Krasnov: for each limb `b[i]`,
//! `acc += a*b[i] + m*y` with `y` chosen so that the lowest limb becomes zero, then
//! `acc` moves down one limb. `vpmadd52luq`/`vpmadd52huq` give the low and high 52
//! bits of each 52x52-bit product, added into 64-bit lanes, so carries are left in the
//! lanes (at most 4*8R additions of less than 2^52 each: below 2^61) and resolved
//! once, at the end. With `4n < 2^(52*8R)`, inputs below `2n` give an output below
//! `2n`, so results chain through the exponentiation without reduction; one
//! conditional subtraction at the very end gives `s^e mod n`.
//!
//! Those bounds are checked on every run, release builds included: each multiplication
//! reports its final carry (the part of the result at or above `2^(52*8R)`, zero when
//! the bound holds), the carries of a whole exponentiation are or-ed together, and the
//! result must be below `n` after the last subtraction. A violation (a bug, or a CPU
//! fault) makes the operation return [`Fault`], which verification turns into a refusal;
//! it never panics and never yields a number. The check costs one `or` per
//! multiplication and one comparison per exponentiation.
//!
//! `unsafe` is confined to this module: register <-> array conversions (plain 64-byte
//! values), and the one call into the `#[target_feature]` code, made only after
//! [`detected`] said the CPU has the features.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m512i, _mm_extract_epi64, _mm512_alignr_epi64, _mm512_castsi512_si128, _mm512_madd52hi_epu64,
    _mm512_madd52lo_epu64, _mm512_set1_epi64, _mm512_setzero_si512,
};

use crate::big::{self, LIMB_BITS, MASK};

/// True when the CPU has AVX-512F and AVX-512 IFMA (the result is cached by std).
pub(crate) fn detected() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512ifma")
}

/// `8R` limbs of 52 bits, little-endian, register-aligned.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Limbs<const R: usize>([[u64; 8]; R]);

impl<const R: usize> Limbs<R> {
    const ZERO: Self = Limbs([[0; 8]; R]);

    fn flat(&self) -> &[u64] {
        self.0.as_flattened()
    }

    fn flat_mut(&mut self) -> &mut [u64] {
        self.0.as_flattened_mut()
    }
}

/// An arithmetic invariant did not hold (see the module documentation): the result is
/// not to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fault;

/// A modulus prepared for AMM with `8R` limbs.
pub(crate) struct Mont<const R: usize> {
    n: Limbs<R>,
    /// `2^(2*52*8R) mod n`: multiplying by it enters the Montgomery domain.
    rr: Limbs<R>,
    /// `-n^-1 mod 2^52`.
    k0: u64,
}

/// The prepared modulus, sized to the key: 5, 8 or 10 registers (up to 2078, 3326 and
/// 4158 bits, which covers 2048, 3072 and 4096-bit keys).
pub(crate) enum Engine {
    W5(Box<Mont<5>>),
    W8(Box<Mont<8>>),
    W10(Box<Mont<10>>),
}

impl Engine {
    /// `n`: big-endian without leading zeros, odd, at most 4096 bits.
    pub(crate) fn new(n: &[u8], bits: usize) -> Result<Self, Fault> {
        assert!(detected(), "Engine::new without AVX-512 IFMA");
        // 4n < 2^(52*8R): the AMM output bound.
        Ok(if bits + 2 <= 52 * 40 {
            Engine::W5(Box::new(Mont::new(n)?))
        } else if bits + 2 <= 52 * 64 {
            Engine::W8(Box::new(Mont::new(n)?))
        } else {
            Engine::W10(Box::new(Mont::new(n)?))
        })
    }

    /// `out = sig^e mod n`, big-endian; `sig < n`, both as long as `n`. On a [`Fault`]
    /// `out` is left all zeros.
    pub(crate) fn pow(&self, sig: &[u8], e: u64, out: &mut [u8]) -> Result<(), Fault> {
        match self {
            Engine::W5(m) => m.pow(sig, e, out),
            Engine::W8(m) => m.pow(sig, e, out),
            Engine::W10(m) => m.pow(sig, e, out),
        }
    }
}

impl<const R: usize> Mont<R> {
    fn new(n: &[u8]) -> Result<Self, Fault> {
        let mut limbs = Limbs::ZERO;
        big::to_limbs52(n, limbs.flat_mut());
        let k0 = big::mont_k0(limbs.0[0][0]);
        let mut m = Mont {
            n: limbs,
            rr: Limbs::ZERO,
            k0,
        };
        // R^2 mod n, with R = 2^w and w = 52 * 8R = 32 * 13R: start from
        // 2^(w + 13R) mod n, which is 2^(13R) in the Montgomery domain, and square it
        // five times there (2^(13R * 32) = 2^w = R, whose Montgomery form is R^2).
        let w = LIMB_BITS as usize * 8 * R;
        let mut x = Limbs::ZERO;
        big::to_limbs52(&big::pow2_mod(w + 13 * R, n), x.flat_mut());
        let mut carries = 0;
        for _ in 0..5 {
            // SAFETY: as in `pow`: a `Mont` is only built once `detected()` said yes.
            let (y, c) = unsafe { amm(&x, &x, &m) };
            (x, carries) = (y, carries | c);
        }
        m.rr = m.reduce(x, carries)?;
        Ok(m)
    }

    /// `x` (below `2n`) fully reduced, or a [`Fault`] when a multiplication that made it
    /// had a final carry or `x` is not below `n` after one subtraction.
    fn reduce(&self, mut x: Limbs<R>, carries: u64) -> Result<Limbs<R>, Fault> {
        if carries != 0 {
            return Err(Fault);
        }
        if big::ge(x.flat(), self.n.flat()) {
            big::sub52(x.flat_mut(), self.n.flat());
            if big::ge(x.flat(), self.n.flat()) {
                return Err(Fault);
            }
        }
        Ok(x)
    }

    fn pow(&self, sig: &[u8], e: u64, out: &mut [u8]) -> Result<(), Fault> {
        let mut s = Limbs::ZERO;
        big::to_limbs52(sig, s.flat_mut());
        // SAFETY: an `Engine` (and so a `Mont`) is only built after `detected()` said
        // this CPU has AVX-512F and AVX-512 IFMA (asserted in `Engine::new`).
        let (x, carries) = unsafe { pow_ifma(self, &s, e) };
        // x <= n here (see `pow_ifma`); make it fully reduced.
        match self.reduce(x, carries) {
            Ok(x) => {
                big::from_limbs52(x.flat(), out);
                Ok(())
            }
            Err(fault) => {
                out.fill(0);
                Err(fault)
            }
        }
    }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn load(x: &[u64; 8]) -> __m512i {
    // SAFETY: `[u64; 8]` and `__m512i` are both 64 bytes of plain integers.
    unsafe { core::mem::transmute::<[u64; 8], __m512i>(*x) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn store(v: __m512i) -> [u64; 8] {
    // SAFETY: as in `load`.
    unsafe { core::mem::transmute::<__m512i, [u64; 8]>(v) }
}

/// `s^e mod n` by left-to-right square-and-multiply over `e`'s bits (public), in the
/// Montgomery domain. The result is at most `n` (`AMM(x, 1) = (x + y n) / 2^k` with
/// `x < 2n` and `y < 2^k`), with the or of every multiplication's final carry (zero
/// when all the bounds held).
#[target_feature(enable = "avx512f,avx512ifma")]
fn pow_ifma<const R: usize>(m: &Mont<R>, s: &Limbs<R>, e: u64) -> (Limbs<R>, u64) {
    let (base, mut carries) = amm(s, &m.rr, m);
    let mut x = base;
    let top = 63 - e.leading_zeros();
    for bit in (0..top).rev() {
        let (y, c) = amm(&x, &x, m);
        (x, carries) = (y, carries | c);
        if e >> bit & 1 == 1 {
            let (y, c) = amm(&x, &base, m);
            (x, carries) = (y, carries | c);
        }
    }
    let mut one = Limbs::ZERO;
    one.0[0][0] = 1;
    let (x, c) = amm(&x, &one, m);
    (x, carries | c)
}

/// `(x * y) >> 52` for `x` and `y` below 2^52, given `x_12 = x << 12`.
#[inline(always)]
fn hi52(x_12: u64, y: u64) -> u64 {
    ((u128::from(x_12) * u128::from(y)) >> 64) as u64
}

/// Almost Montgomery multiplication: `a * b / 2^(52*8R) mod n`, below `2n` when `a`
/// and `b` are, with every limb normalized below 2^52, and the final carry out of the
/// top limb, which is zero whenever the result is below `2^(52*8R)` (the caller checks).
// Indexing keeps the three register arrays (acc, a, n) visibly in step.
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "avx512f,avx512ifma")]
fn amm<const R: usize>(a: &Limbs<R>, b: &Limbs<R>, m: &Mont<R>) -> (Limbs<R>, u64) {
    let zero = _mm512_setzero_si512();
    let mut av = [zero; R];
    let mut mv = [zero; R];
    for r in 0..R {
        av[r] = load(&a.0[r]);
        mv[r] = load(&m.n.0[r]);
    }
    let (a0, a1, m1, k0) = (a.0[0][0], a.0[0][1], m.n.0[0][1], m.k0);
    // The lowest limbs shifted up 12 bits: the high 64 bits of their product with a limb
    // are then the high 52 bits of the 104-bit product, with no double-width shift.
    let (a0_12, m0_12) = (a0 << 12, m.n.0[0][0] << 12);
    let mut acc = [zero; R];
    // The lowest limb, kept in a general register one step ahead of the vector code: y
    // depends on it, and waiting for it to come out of the vector adds would put
    // the whole multiply-shift-multiply latency on every step's critical path.
    let mut low = 0u64;
    for &bi in b.flat() {
        let lane1 = _mm_extract_epi64::<1>(_mm512_castsi512_si128(acc[0])) as u64;
        let biv = _mm512_set1_epi64(bi as i64);
        let t = low + (a0.wrapping_mul(bi) & MASK);
        let y = t.wrapping_mul(k0) & MASK;
        let yv = _mm512_set1_epi64(y as i64);
        // t + lo(m0 * y) is a multiple of 2^52 by the choice of y, so the carry out of
        // this limb is known without the product.
        let carry = (t >> LIMB_BITS) + u64::from(t & MASK != 0);
        let early = lane1 + (a1.wrapping_mul(bi) & MASK) + hi52(a0_12, bi) + carry;
        for r in 0..R {
            acc[r] = _mm512_madd52lo_epu64(acc[r], av[r], biv);
            acc[r] = _mm512_madd52lo_epu64(acc[r], mv[r], yv);
        }
        // Down one limb: the lowest (now zero mod 2^52) leaves, a zero enters at the top.
        for r in 0..R - 1 {
            acc[r] = _mm512_alignr_epi64::<1>(acc[r + 1], acc[r]);
        }
        acc[R - 1] = _mm512_alignr_epi64::<1>(zero, acc[R - 1]);
        // The high halves belong one limb up, which after the shift is the same index.
        for r in 0..R {
            acc[r] = _mm512_madd52hi_epu64(acc[r], av[r], biv);
            acc[r] = _mm512_madd52hi_epu64(acc[r], mv[r], yv);
        }
        // What the vector code just made of limb 1, now limb 0, plus the carry it lacks.
        // The terms in y last: they are on the loop's critical path.
        low = early + ((m1.wrapping_mul(y) & MASK) + hi52(m0_12, y));
    }
    let mut out = Limbs::ZERO;
    let mut c = 0;
    for (r, (limbs, reg)) in out.0.iter_mut().zip(acc).enumerate() {
        let mut lanes = store(reg);
        if r == 0 {
            lanes[0] = low; // the vector's limb 0 lacks the last carry
        }
        for (o, v) in limbs.iter_mut().zip(lanes) {
            let v = v + c;
            *o = v & MASK;
            c = v >> LIMB_BITS;
        }
    }
    (out, c)
}

#[cfg(test)]
impl Engine {
    /// Breaks the AMM bound `4n < 2^(52*8R)` by setting the modulus's top limb to all
    /// ones, the way a bug or a bit flip in the prepared key would.
    pub(crate) fn break_bound_for_test(&mut self) {
        fn top<const R: usize>(m: &mut Mont<R>) {
            m.n.0[R - 1][7] = MASK;
        }
        match self {
            Engine::W5(m) => top(m),
            Engine::W8(m) => top(m),
            Engine::W10(m) => top(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest odd modulus a 5-register engine takes (2078 bits: 4n < 2^2080).
    fn widest_w5() -> Mont<5> {
        let mut n = vec![0xffu8; 260];
        n[0] = 0x3f;
        Mont::new(&n).expect("a valid modulus prepares without a fault")
    }

    #[test]
    fn amm_reports_its_final_carry_in_release_builds() {
        if !detected() {
            return; // no IFMA: nothing here can run (the differential tests say so loudly)
        }
        let m = widest_w5();
        let mut big = Limbs::<5>::ZERO;
        big.flat_mut().fill(MASK); // 2^2080 - 1, far above the 2n the bound allows
        // SAFETY: `detected()` said this CPU has AVX-512F and AVX-512 IFMA.
        let (_, carry) = unsafe { amm(&big, &big, &m) };
        assert_ne!(carry, 0, "an out-of-bound product must report its carry");
        // Within the bound (both inputs below 2n) there is none.
        let (_, carry) = unsafe { amm(&m.rr, &m.rr, &m) };
        assert_eq!(carry, 0);
    }
}
