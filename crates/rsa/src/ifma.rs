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
    pub(crate) fn new(n: &[u8], bits: usize) -> Self {
        assert!(detected(), "Engine::new without AVX-512 IFMA");
        // 4n < 2^(52*8R): the AMM output bound.
        if bits + 2 <= 52 * 40 {
            Engine::W5(Box::new(Mont::new(n)))
        } else if bits + 2 <= 52 * 64 {
            Engine::W8(Box::new(Mont::new(n)))
        } else {
            Engine::W10(Box::new(Mont::new(n)))
        }
    }

    /// `out = sig^e mod n`, big-endian; `sig < n`, both as long as `n`.
    pub(crate) fn pow(&self, sig: &[u8], e: u64, out: &mut [u8]) {
        match self {
            Engine::W5(m) => m.pow(sig, e, out),
            Engine::W8(m) => m.pow(sig, e, out),
            Engine::W10(m) => m.pow(sig, e, out),
        }
    }
}

impl<const R: usize> Mont<R> {
    fn new(n: &[u8]) -> Self {
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
        for _ in 0..5 {
            // SAFETY: as in `pow`: a `Mont` is only built once `detected()` said yes.
            x = unsafe { amm(&x, &x, &m) };
        }
        if big::ge(x.flat(), m.n.flat()) {
            big::sub52(x.flat_mut(), m.n.flat());
        }
        m.rr = x;
        m
    }

    fn pow(&self, sig: &[u8], e: u64, out: &mut [u8]) {
        let mut s = Limbs::ZERO;
        big::to_limbs52(sig, s.flat_mut());
        // SAFETY: an `Engine` (and so a `Mont`) is only built after `detected()` said
        // this CPU has AVX-512F and AVX-512 IFMA (asserted in `Engine::new`).
        let mut x = unsafe { pow_ifma(self, &s, e) };
        // x <= n here (see `pow_ifma`); make it fully reduced.
        if big::ge(x.flat(), self.n.flat()) {
            big::sub52(x.flat_mut(), self.n.flat());
        }
        big::from_limbs52(x.flat(), out);
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
/// `x < 2n` and `y < 2^k`).
#[target_feature(enable = "avx512f,avx512ifma")]
fn pow_ifma<const R: usize>(m: &Mont<R>, s: &Limbs<R>, e: u64) -> Limbs<R> {
    let base = amm(s, &m.rr, m);
    let mut x = base;
    let top = 63 - e.leading_zeros();
    for bit in (0..top).rev() {
        x = amm(&x, &x, m);
        if e >> bit & 1 == 1 {
            x = amm(&x, &base, m);
        }
    }
    let mut one = Limbs::ZERO;
    one.0[0][0] = 1;
    amm(&x, &one, m)
}

/// `(x * y) >> 52` for `x` and `y` below 2^52, given `x_12 = x << 12`.
#[inline(always)]
fn hi52(x_12: u64, y: u64) -> u64 {
    ((u128::from(x_12) * u128::from(y)) >> 64) as u64
}

/// Almost Montgomery multiplication: `a * b / 2^(52*8R) mod n`, below `2n` when `a`
/// and `b` are, with every limb normalized below 2^52.
// Indexing keeps the three register arrays (acc, a, n) visibly in step.
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "avx512f,avx512ifma")]
fn amm<const R: usize>(a: &Limbs<R>, b: &Limbs<R>, m: &Mont<R>) -> Limbs<R> {
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
    debug_assert_eq!(c, 0, "AMM result above 2^(52*8R)");
    out
}
