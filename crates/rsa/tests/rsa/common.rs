//! What the differential and soak tests share: a reproducible generator, random moduli,
//! a slow but obviously correct modular exponentiation (shift-and-add, no Montgomery)
//! and the independent CPU check.

/// Whether this CPU has what entra-rsa needs, asked of the CPU directly rather than
/// of `entra_rsa::available()`: tests that skip without IFMA skip only when the CPU
/// lacks it, never because the crate refused to start.
pub fn cpu_has_ifma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512ifma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Rounds of the randomized tests: `ENTRA_RSA_DIFF_ROUNDS` (default 1; scripts/test
/// runs a soak with more).
pub fn rounds() -> u64 {
    std::env::var("ENTRA_RSA_DIFF_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// SplitMix64: reproducible inputs, so a failure can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A random odd modulus of exactly `bits` bits, big-endian.
pub fn modulus(rng: &mut Rng, bits: usize) -> Vec<u8> {
    let mut n = rng.bytes(bits.div_ceil(8));
    let top = (bits - 1) % 8;
    n[0] &= ((1u16 << (top + 1)) - 1) as u8;
    n[0] |= 1 << top;
    *n.last_mut().unwrap() |= 1;
    n
}

/// A random number below `n`, as long as `n`.
pub fn below(rng: &mut Rng, n: &[u8]) -> Vec<u8> {
    let mut s = rng.bytes(n.len());
    s[0] = rng.next() as u8 % n[0].max(1);
    s
}

// ---- the reference: little-endian u64 limbs, shift-and-add modular arithmetic ----

pub fn to_words(be: &[u8], words: usize) -> Vec<u64> {
    let mut w = vec![0u64; words];
    for (i, b) in be.iter().rev().enumerate() {
        w[i / 8] |= u64::from(*b) << (8 * (i % 8));
    }
    w
}

pub fn to_be(w: &[u64], len: usize) -> Vec<u8> {
    (0..len)
        .rev()
        .map(|i| (w[i / 8] >> (8 * (i % 8))) as u8)
        .collect()
}

pub fn geq(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

pub fn sub_in(a: &mut [u64], b: &[u64]) {
    let mut borrow = false;
    for (x, y) in a.iter_mut().zip(b) {
        let (d1, b1) = x.overflowing_sub(*y);
        let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
        *x = d2;
        borrow = b1 | b2;
    }
}

/// `(x + y) mod n` for `x, y < n`; one spare word absorbs the carry.
pub fn add_mod(x: &mut [u64], y: &[u64], n: &[u64]) {
    let mut carry = false;
    for (a, b) in x.iter_mut().zip(y) {
        let (s1, c1) = a.overflowing_add(*b);
        let (s2, c2) = s1.overflowing_add(u64::from(carry));
        *a = s2;
        carry = c1 | c2;
    }
    if carry || geq(x, n) {
        sub_in(x, n);
    }
}

pub fn mul_mod(a: &[u64], b: &[u64], n: &[u64]) -> Vec<u64> {
    let mut acc = vec![0u64; n.len()];
    for i in (0..b.len() * 64).rev() {
        let acc2 = acc.clone();
        add_mod(&mut acc, &acc2, n);
        if b[i / 64] >> (i % 64) & 1 == 1 {
            add_mod(&mut acc, a, n);
        }
    }
    acc
}

pub fn reference_pow(s: &[u8], e: u64, n: &[u8]) -> Vec<u8> {
    let words = n.len().div_ceil(8);
    let (s, n64) = (to_words(s, words), to_words(n, words));
    let mut x = vec![0u64; words];
    x[0] = 1;
    for bit in (0..64 - e.leading_zeros()).rev() {
        x = mul_mod(&x, &x, &n64);
        if e >> bit & 1 == 1 {
            x = mul_mod(&x, &s, &n64);
        }
    }
    to_be(&x, n.len())
}

pub fn e_bytes(e: u64) -> Vec<u8> {
    e.to_be_bytes().to_vec()
}
