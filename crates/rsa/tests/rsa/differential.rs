//! entra-rsa against two independent peers (Project Wycheproof's vectors are in
//! wycheproof.rs): a slow, obviously-correct modular exponentiation written here
//! (shift-and-add, no Montgomery), for the raw operation on random and edge-case moduli
//! and bases; and aws-lc, which signs (and verifies) real
//! RS256/RS384/RS512 signatures for 2048, 3072 and 4096-bit keys.
//!
//! On a CPU without AVX-512 IFMA the crate refuses every key with `Unsupported`; these
//! tests then check exactly that, so they still fail if the refusal goes wrong. Whether
//! the CPU has IFMA is asked of the CPU itself ([`crate::common::cpu_has_ifma`]), so a crate
//! that refuses to start on a CPU that has it fails here instead of skipping.
//! The long randomized run against aws-lc is soak.rs.

use crate::common::{Rng, below, cpu_has_ifma, e_bytes, modulus, reference_pow, rounds};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _};
use entra_rsa::{Error, Hash, PublicKey};

fn ours(n: &[u8], e: u64, s: &[u8]) -> Result<Vec<u8>, Error> {
    let key = PublicKey::new(n, &e_bytes(e))?;
    let mut out = vec![0u8; n.len()];
    key.public_op(s, &mut out)?;
    Ok(out)
}

/// Every other test here skips on a CPU without IFMA; this one makes sure that skip
/// means the CPU, not an engine that refused to start (which would leave the accelerated
/// path untested while aws-lc quietly did the work).
#[test]
fn ifma_engine_starts_when_cpu_has_ifma() {
    let mut rng = Rng(1);
    let n = modulus(&mut rng, 2048);
    let got = PublicKey::new(&n, &e_bytes(65537));
    if cpu_has_ifma() {
        assert!(
            entra_rsa::available(),
            "this CPU has AVX-512F and IFMA but entra_rsa::available() says no"
        );
        let key = got.expect("this CPU has AVX-512 IFMA: the engine must start");
        assert_eq!(key.bits(), 2048);
    } else {
        assert!(!entra_rsa::available());
        assert_eq!(got.unwrap_err(), Error::Unsupported);
    }
}

#[test]
fn raw_operation_matches_the_reference_on_random_inputs() {
    if !cpu_has_ifma() {
        return; // covered by ifma_engine_starts_when_cpu_has_ifma
    }
    // `ENTRA_RSA_DIFF_ROUNDS=N` repeats this with new inputs N times (scripts/test's
    // soak section does).
    for round in 0..rounds() {
        random_round(0x5eed + round);
    }
}

fn random_round(seed: u64) {
    let mut rng = Rng(seed);
    // Sizes around each register-count boundary: 40 limbs hold up to 2078 bits, 64 up
    // to 3326, 80 up to 4158 (4096 is the crate's limit).
    let sizes = [
        (2048, 12),
        (2050, 2),
        (2078, 2),
        (2079, 2),
        (3072, 3),
        (3326, 1),
        (3327, 1),
        (4096, 2),
    ];
    for (bits, cases) in sizes {
        for case in 0..cases {
            let n = modulus(&mut rng, bits);
            for e in [3u64, 65537, (1 << 33) - 1] {
                let s = below(&mut rng, &n);
                assert_eq!(
                    ours(&n, e, &s).unwrap(),
                    reference_pow(&s, e, &n),
                    "seed {seed} bits {bits} case {case} e {e}"
                );
            }
        }
    }
}

#[test]
fn raw_operation_edge_values() {
    if !cpu_has_ifma() {
        return;
    }
    let mut rng = Rng(7);
    // All-ones moduli make every limb of n - 1 all ones: the longest carry chains.
    let all_ones = vec![0xffu8; 256];
    let mut n_minus_1 = all_ones.clone();
    n_minus_1[255] = 0xfe;
    let mut small = vec![0u8; 256];
    small[255] = 2;
    for n in [all_ones.clone(), modulus(&mut rng, 2048), {
        // 2^2047 + 1: the smallest 2048-bit odd modulus
        let mut v = vec![0u8; 256];
        v[0] = 0x80;
        v[255] = 1;
        v
    }] {
        let mut n1 = n.clone();
        *n1.last_mut().unwrap() -= 1; // n - 1 (n is odd)
        let mut one = vec![0u8; 256];
        one[255] = 1;
        for s in [vec![0u8; 256], one, small.clone(), n1] {
            assert_eq!(
                ours(&n, 65537, &s).unwrap(),
                reference_pow(&s, 65537, &n),
                "n {:02x?}.. s {:02x?}..",
                &n[..4],
                &s[..4]
            );
        }
    }
    assert_eq!(
        ours(&all_ones, 65537, &n_minus_1).unwrap(),
        n_minus_1,
        "(-1)^odd = -1"
    );
}

#[test]
fn keys_and_signatures_out_of_range_are_refused() {
    if !cpu_has_ifma() {
        return;
    }
    let mut rng = Rng(11);
    let n = modulus(&mut rng, 2048);
    let e = e_bytes(65537);
    // Modulus checks.
    let mut even = n.clone();
    *even.last_mut().unwrap() &= 0xfe;
    assert_eq!(PublicKey::new(&even, &e).unwrap_err(), Error::BadModulus);
    assert_eq!(
        PublicKey::new(&modulus(&mut rng, 2047), &e).unwrap_err(),
        Error::BadModulus
    );
    assert_eq!(PublicKey::new(&[], &e).unwrap_err(), Error::BadModulus);
    assert_eq!(
        PublicKey::new(&modulus(&mut rng, 4104), &e).unwrap_err(),
        Error::Unsupported
    );
    // Leading zeros are fine.
    let mut padded = vec![0, 0];
    padded.extend_from_slice(&n);
    let key = PublicKey::new(&padded, &e).unwrap();
    assert_eq!((key.bits(), key.modulus_len()), (2048, 256));
    // Exponent checks.
    for bad in [0u64, 1, 2, 65536, 1 << 33, u64::MAX] {
        assert_eq!(
            PublicKey::new(&n, &e_bytes(bad)).unwrap_err(),
            Error::BadExponent,
            "{bad}"
        );
    }
    assert_eq!(
        PublicKey::new(&n, &[1, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap_err(),
        Error::BadExponent
    );
    // Signature checks: length, then range (s = n, s > n).
    let key = PublicKey::new(&n, &e).unwrap();
    let mut out = vec![0u8; 256];
    assert_eq!(
        key.public_op(&n[1..], &mut out).unwrap_err(),
        Error::SignatureLength {
            expected: 256,
            got: 255
        }
    );
    assert_eq!(
        key.public_op(&n, &mut out).unwrap_err(),
        Error::SignatureOutOfRange
    );
    assert_eq!(
        key.public_op(&[0xff; 256], &mut out).unwrap_err(),
        Error::SignatureOutOfRange
    );
    assert!(format!("{key:?}").contains("2048 bits"));
}

/// One hash as each side names it: ours, aws-lc's digest, and aws-lc's signing
/// encodings and verification parameters for PKCS#1 v1.5 and PSS.
struct Scheme {
    hash: Hash,
    digest: &'static aws_lc_rs::digest::Algorithm,
    pkcs1: (
        &'static dyn signature::RsaEncoding,
        &'static signature::RsaParameters,
    ),
    pss: (
        &'static dyn signature::RsaEncoding,
        &'static signature::RsaParameters,
    ),
}

const SCHEMES: [Scheme; 3] = [
    Scheme {
        hash: Hash::Sha256,
        digest: &aws_lc_rs::digest::SHA256,
        pkcs1: (
            &signature::RSA_PKCS1_SHA256,
            &signature::RSA_PKCS1_2048_8192_SHA256,
        ),
        pss: (
            &signature::RSA_PSS_SHA256,
            &signature::RSA_PSS_2048_8192_SHA256,
        ),
    },
    Scheme {
        hash: Hash::Sha384,
        digest: &aws_lc_rs::digest::SHA384,
        pkcs1: (
            &signature::RSA_PKCS1_SHA384,
            &signature::RSA_PKCS1_2048_8192_SHA384,
        ),
        pss: (
            &signature::RSA_PSS_SHA384,
            &signature::RSA_PSS_2048_8192_SHA384,
        ),
    },
    Scheme {
        hash: Hash::Sha512,
        digest: &aws_lc_rs::digest::SHA512,
        pkcs1: (
            &signature::RSA_PKCS1_SHA512,
            &signature::RSA_PKCS1_2048_8192_SHA512,
        ),
        pss: (
            &signature::RSA_PSS_SHA512,
            &signature::RSA_PSS_2048_8192_SHA512,
        ),
    },
];

/// `sig` with one random bit flipped, and that bit's index.
fn flip_one_bit(prng: &mut Rng, sig: &[u8]) -> (Vec<u8>, usize) {
    let mut bad = sig.to_vec();
    let bit = prng.next() as usize % (bad.len() * 8);
    bad[bit / 8] ^= 1 << (bit % 8);
    (bad, bit)
}

#[test]
fn verifies_what_aws_lc_signs_and_refuses_what_it_refuses_pkcs1_and_pss() {
    if !cpu_has_ifma() {
        return;
    }
    let rng = SystemRandom::new();
    let mut prng = Rng(99);
    for size in [
        aws_lc_rs::rsa::KeySize::Rsa2048,
        aws_lc_rs::rsa::KeySize::Rsa3072,
        aws_lc_rs::rsa::KeySize::Rsa4096,
    ] {
        let pair = signature::RsaKeyPair::generate(size).unwrap();
        let public = pair.public_key();
        let (n, e) = (
            public.modulus().big_endian_without_leading_zero(),
            public.exponent().big_endian_without_leading_zero(),
        );
        let key = PublicKey::new(n, e).unwrap();
        let peer = signature::RsaPublicKeyComponents { n, e };
        for Scheme {
            hash,
            digest: digest_alg,
            pkcs1,
            pss,
        } in SCHEMES
        {
            // PSS (a random salt per signature): aws-lc signs, entra-rsa verifies, and
            // an edited signature is refused by both.
            let msg = prng.bytes(900);
            let mut sig = vec![0u8; pair.public_modulus_len()];
            pair.sign(pss.0, &rng, &msg, &mut sig).unwrap();
            let digest = aws_lc_rs::digest::digest(digest_alg, &msg);
            key.verify_pss(hash, digest.as_ref(), &sig).unwrap();
            assert!(key.verify_pkcs1v15(hash, digest.as_ref(), &sig).is_err());
            for _ in 0..8 {
                let (bad, bit) = flip_one_bit(&mut prng, &sig);
                let theirs = peer.verify(pss.1, &msg, &bad).is_ok();
                let mine = key.verify_pss(hash, digest.as_ref(), &bad).is_ok();
                assert!(
                    !theirs && !mine,
                    "PSS bit {bit}: aws-lc {theirs}, ours {mine}"
                );
            }
            // PKCS#1 v1.5, messages of several lengths.
            for round in 0..4 {
                let msg = prng.bytes(1 + round * 700);
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(pkcs1.0, &rng, &msg, &mut sig).unwrap();
                let digest = aws_lc_rs::digest::digest(digest_alg, &msg);
                key.verify_pkcs1v15(hash, digest.as_ref(), &sig).unwrap();
                // Another message's digest, another hash's encoding, one flipped bit:
                // both sides refuse.
                let other = aws_lc_rs::digest::digest(digest_alg, b"another message");
                assert_eq!(
                    key.verify_pkcs1v15(hash, other.as_ref(), &sig),
                    Err(Error::BadSignature)
                );
                let wrong_hash = if hash == Hash::Sha256 {
                    Hash::Sha384
                } else {
                    Hash::Sha256
                };
                assert!(
                    key.verify_pkcs1v15(wrong_hash, digest.as_ref(), &sig)
                        .is_err()
                );
                for _ in 0..8 {
                    let (bad, bit) = flip_one_bit(&mut prng, &sig);
                    let theirs = peer.verify(pkcs1.1, &msg, &bad).is_ok();
                    let mine = key.verify_pkcs1v15(hash, digest.as_ref(), &bad).is_ok();
                    assert!(!theirs && !mine, "bit {bit}: aws-lc {theirs}, ours {mine}");
                }
            }
        }
    }
}
