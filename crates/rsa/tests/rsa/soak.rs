//! The differential soak: many random moduli of 2048, 3072 and 4096 bits (and the sizes
//! at the register-count boundaries), each checked two ways.
//!
//! - The raw operation `s^e mod n` on random odd moduli, random bases and random
//!   exponents, against the slow reference of common.rs, which shares no code or
//!   method with entra-rsa.
//! - Verdicts against aws-lc on keys aws-lc generates: every signature aws-lc makes
//!   (PKCS#1 v1.5 and PSS, SHA-256/384/512, random message lengths) verifies, and every
//!   corrupted one (a flipped bit, a random byte, a random number below `n`, `s ± 1`,
//!   `n - s`, zero, one, `n - 1`, `n`, all ones, one byte short or long) gets aws-lc's
//!   verdict, for both encodings. Random signatures on the random moduli too.
//!
//! `ENTRA_RSA_DIFF_ROUNDS=N` sets the rounds (default 1, a few seconds); scripts/test's
//! soak section runs enough for about two minutes. Every round starts from its own seed,
//! printed on failure, so a failure replays. On a CPU without AVX-512 IFMA there is no
//! engine to soak (differential.rs checks that this is really the CPU's doing).

use crate::common::{Rng, below, cpu_has_ifma, e_bytes, modulus, reference_pow, rounds};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use entra_rsa::{Hash, PublicKey};

/// Register-count boundaries: 40 limbs hold up to 2078 bits, 64 up to 3326, 80 more.
const RAW_SIZES: [usize; 8] = [2048, 2078, 2079, 3072, 3326, 3327, 4095, 4096];

#[test]
fn soak_random_moduli_against_the_reference_and_aws_lc() {
    if !cpu_has_ifma() {
        return;
    }
    let rounds = rounds();
    let started = std::time::Instant::now();
    let (mut raw, mut verdicts) = (0u64, 0u64);
    for round in 0..rounds {
        let seed = 0x50a6_0000 + round;
        let mut rng = Rng(seed);
        raw += raw_round(&mut rng, seed);
        // A new aws-lc key every round: 2048 bits twice as often as 3072 and 4096
        // (generating 4096-bit keys is most of a round's time).
        let size = match round % 4 {
            0 | 2 => aws_lc_rs::rsa::KeySize::Rsa2048,
            1 => aws_lc_rs::rsa::KeySize::Rsa3072,
            _ => aws_lc_rs::rsa::KeySize::Rsa4096,
        };
        verdicts += aws_lc_round(&mut rng, seed, size);
    }
    eprintln!(
        "entra-rsa soak: {rounds} rounds, {raw} raw operations against the reference, \
         {verdicts} verdicts against aws-lc, {:.1?}",
        started.elapsed()
    );
    assert!(raw >= 8 * rounds && verdicts >= 100 * rounds);
}

/// Random odd moduli of every size: `s^e mod n` equals the reference's. Returns how
/// many operations it compared.
fn raw_round(rng: &mut Rng, seed: u64) -> u64 {
    let mut count = 0;
    for bits in RAW_SIZES {
        let n = modulus(rng, bits);
        // e = 65537 (what every JWKS has), 3, and a random odd exponent below 2^33.
        let odd = (rng.next() % (1 << 33)) | 1;
        let e = [65537, 3, odd.max(3)][count as usize % 3];
        let s = below(rng, &n);
        let key = PublicKey::new(&n, &e_bytes(e)).expect("a valid key");
        let mut out = vec![0u8; n.len()];
        key.public_op(&s, &mut out).expect("s < n");
        assert_eq!(
            out,
            reference_pow(&s, e, &n),
            "seed {seed}: {bits}-bit modulus, e = {e}"
        );
        // A random signature on this random modulus: aws-lc and entra-rsa both refuse.
        let sig = below(rng, &n);
        let digest = [0x5a; 32];
        let mine = key.verify_pkcs1v15(Hash::Sha256, &digest, &sig).is_ok();
        let peer = signature::RsaPublicKeyComponents {
            n: &n[..],
            e: &e_bytes(e)[..],
        };
        let theirs = peer
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, b"msg", &sig)
            .is_ok();
        assert!(!mine && !theirs, "seed {seed}: a random signature verified");
        count += 1;
    }
    count
}

/// (hash, aws-lc digest, PKCS#1 signing and verifying, PSS signing and verifying)
type Scheme = (
    Hash,
    &'static aws_lc_rs::digest::Algorithm,
    &'static dyn signature::RsaEncoding,
    &'static signature::RsaParameters,
    &'static dyn signature::RsaEncoding,
    &'static signature::RsaParameters,
);

const SCHEMES: [Scheme; 3] = [
    (
        Hash::Sha256,
        &aws_lc_rs::digest::SHA256,
        &signature::RSA_PKCS1_SHA256,
        &signature::RSA_PKCS1_2048_8192_SHA256,
        &signature::RSA_PSS_SHA256,
        &signature::RSA_PSS_2048_8192_SHA256,
    ),
    (
        Hash::Sha384,
        &aws_lc_rs::digest::SHA384,
        &signature::RSA_PKCS1_SHA384,
        &signature::RSA_PKCS1_2048_8192_SHA384,
        &signature::RSA_PSS_SHA384,
        &signature::RSA_PSS_2048_8192_SHA384,
    ),
    (
        Hash::Sha512,
        &aws_lc_rs::digest::SHA512,
        &signature::RSA_PKCS1_SHA512,
        &signature::RSA_PKCS1_2048_8192_SHA512,
        &signature::RSA_PSS_SHA512,
        &signature::RSA_PSS_2048_8192_SHA512,
    ),
];

/// `a + delta` (delta = 1 or -1) as a big-endian number of the same length, wrapping.
fn step(a: &[u8], up: bool) -> Vec<u8> {
    let mut v = a.to_vec();
    for b in v.iter_mut().rev() {
        let (x, carry) = if up {
            b.overflowing_add(1)
        } else {
            b.overflowing_sub(1)
        };
        *b = x;
        if !carry {
            break;
        }
    }
    v
}

/// `n - s` for `s <= n`, both big-endian and as long.
fn minus(n: &[u8], s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; n.len()];
    let mut borrow = 0i16;
    for i in (0..n.len()).rev() {
        let d = i16::from(n[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        out[i] = d.rem_euclid(256) as u8;
    }
    out
}

/// Corrupted versions of a good signature `sig` under modulus `n`.
fn corruptions(rng: &mut Rng, sig: &[u8], n: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let k = n.len();
    let mut flipped = sig.to_vec();
    let bit = rng.next() as usize % (k * 8);
    flipped[bit / 8] ^= 1 << (bit % 8);
    let mut byte = sig.to_vec();
    // A different value (xor with 1..=255), so the signature really changes.
    byte[rng.next() as usize % k] ^= 1 + (rng.next() % 255) as u8;
    let mut one = vec![0u8; k];
    one[k - 1] = 1;
    let mut longer = vec![0u8];
    longer.extend_from_slice(sig);
    vec![
        ("a flipped bit", flipped),
        ("a random byte", byte),
        ("a random number below n", below(rng, n)),
        ("s + 1", step(sig, true)),
        ("s - 1", step(sig, false)),
        ("n - s", minus(n, sig)),
        ("zero", vec![0u8; k]),
        ("one", one),
        ("n - 1", step(n, false)),
        ("n", n.to_vec()),
        ("all ones", vec![0xff; k]),
        ("one byte short", sig[1..].to_vec()),
        ("one byte long", longer),
    ]
}

/// A fresh aws-lc key: signatures of each scheme verify on both sides, and every
/// corruption gets the same verdict from both. Returns how many verdicts it compared.
fn aws_lc_round(rng: &mut Rng, seed: u64, size: aws_lc_rs::rsa::KeySize) -> u64 {
    let pair = RsaKeyPair::generate(size).expect("aws-lc generates a key");
    let public = pair.public_key();
    let (n, e) = (
        public.modulus().big_endian_without_leading_zero(),
        public.exponent().big_endian_without_leading_zero(),
    );
    let key = PublicKey::new(n, e).expect("entra-rsa takes aws-lc's key");
    let peer = signature::RsaPublicKeyComponents { n, e };
    let sys = SystemRandom::new();
    let mut count = 0;
    for (hash, digest_alg, pkcs1_sign, pkcs1, pss_sign, pss) in SCHEMES {
        for use_pss in [false, true] {
            let len = 1 + rng.next() as usize % 1500;
            let msg = rng.bytes(len);
            let mut sig = vec![0u8; pair.public_modulus_len()];
            let encoding = if use_pss { pss_sign } else { pkcs1_sign };
            pair.sign(encoding, &sys, &msg, &mut sig)
                .expect("aws-lc signs");
            let digest = aws_lc_rs::digest::digest(digest_alg, &msg);
            let verdict = |s: &[u8]| {
                let mine = if use_pss {
                    key.verify_pss(hash, digest.as_ref(), s)
                } else {
                    key.verify_pkcs1v15(hash, digest.as_ref(), s)
                };
                let theirs = peer.verify(if use_pss { pss } else { pkcs1 }, &msg, s);
                (mine.is_ok(), theirs.is_ok())
            };
            let what = |c: &str| {
                format!(
                    "seed {seed}: {} bits, {hash:?}, {}, {c}",
                    n.len() * 8,
                    if use_pss { "PSS" } else { "PKCS#1 v1.5" }
                )
            };
            assert_eq!(
                verdict(&sig),
                (true, true),
                "{}",
                what("the good signature")
            );
            // The other encoding's verifier refuses it on both sides.
            let other = if use_pss {
                key.verify_pkcs1v15(hash, digest.as_ref(), &sig)
            } else {
                key.verify_pss(hash, digest.as_ref(), &sig)
            };
            assert!(other.is_err(), "{}", what("the other encoding"));
            count += 2;
            for (name, bad) in corruptions(rng, &sig, n) {
                let (mine, theirs) = verdict(&bad);
                assert_eq!(mine, theirs, "{}", what(name));
                assert!(!mine, "{}", what(name));
                count += 1;
            }
        }
    }
    // Random messages' signatures checked against the wrong message: refused by both.
    for _ in 0..16 {
        let msg = rng.bytes(64);
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(&signature::RSA_PKCS1_SHA256, &sys, &msg, &mut sig)
            .expect("aws-lc signs");
        let wrong = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"another message");
        assert!(
            key.verify_pkcs1v15(Hash::Sha256, wrong.as_ref(), &sig)
                .is_err()
        );
        assert!(
            peer.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                b"another message",
                &sig
            )
            .is_err()
        );
        count += 1;
    }
    count
}
