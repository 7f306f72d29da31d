//! RSA PKCS#1 v1.5 SHA-256 verification of a token-sized message with 2048, 3072 and
//! 4096-bit keys (5, 8 and 10 registers): entra-rsa (IFMA) beside aws-lc with the key
//! parsed once, in one run; for 2048 bits also key preparation, PSS and the bare
//! `s^e mod n`. `cargo bench -p entra-rsa --bench rsa`

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// A generated key, a 1,400-byte message and its RS256 signature.
struct Fixture {
    pair: RsaKeyPair,
    msg: Vec<u8>,
    sig: Vec<u8>,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl Fixture {
    fn new(size: KeySize) -> Self {
        let pair = RsaKeyPair::generate(size).unwrap();
        let msg = vec![b'e'; 1400];
        let sig = Self::sign(&pair, &signature::RSA_PKCS1_SHA256, &msg);
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        Self {
            pair,
            msg,
            sig,
            n,
            e,
        }
    }

    fn sign(
        pair: &RsaKeyPair,
        padding: &'static dyn signature::RsaEncoding,
        msg: &[u8],
    ) -> Vec<u8> {
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(padding, &SystemRandom::new(), msg, &mut sig)
            .unwrap();
        sig
    }

    /// aws-lc's parsed key for `params`.
    fn parsed(&self, params: &'static signature::RsaParameters) -> signature::ParsedPublicKey {
        signature::RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .to_parsed_public_key(params)
        .unwrap()
    }
}

fn benches(c: &mut Criterion) {
    for (bits, size) in [
        (2048, KeySize::Rsa2048),
        (3072, KeySize::Rsa3072),
        (4096, KeySize::Rsa4096),
    ] {
        let fx = Fixture::new(size);
        let (n, e, msg, sig) = (&fx.n[..], &fx.e[..], &fx.msg[..], &fx.sig[..]);
        let parsed = fx.parsed(&signature::RSA_PKCS1_2048_8192_SHA256);
        let mut g = c.benchmark_group(format!("rsa{bits}"));
        if bits == 2048 {
            g.bench_function("aws_lc_prepare_key", |b| {
                b.iter(|| {
                    signature::RsaPublicKeyComponents {
                        n: black_box(n),
                        e: black_box(e),
                    }
                    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                    .unwrap()
                })
            });
        }
        g.bench_function("aws_lc_verify", |b| {
            b.iter(|| parsed.verify_sig(black_box(msg), black_box(sig)).unwrap())
        });
        if !entra_rsa::available() {
            g.finish();
            continue;
        }
        let key = entra_rsa::PublicKey::new(n, e).unwrap();
        g.bench_function("entra_rsa_verify", |b| {
            b.iter(|| {
                let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(msg));
                key.verify_pkcs1v15(entra_rsa::Hash::Sha256, d.as_ref(), black_box(sig))
                    .unwrap()
            })
        });
        if bits == 2048 {
            g.bench_function("entra_rsa_prepare_key", |b| {
                b.iter(|| entra_rsa::PublicKey::new(black_box(n), black_box(e)).unwrap())
            });
            let pss = Fixture::sign(&fx.pair, &signature::RSA_PSS_SHA256, msg);
            let parsed_pss = fx.parsed(&signature::RSA_PSS_2048_8192_SHA256);
            g.bench_function("aws_lc_verify_pss", |b| {
                b.iter(|| {
                    parsed_pss
                        .verify_sig(black_box(msg), black_box(&pss))
                        .unwrap()
                })
            });
            g.bench_function("entra_rsa_verify_pss", |b| {
                b.iter(|| {
                    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(msg));
                    key.verify_pss(entra_rsa::Hash::Sha256, d.as_ref(), black_box(&pss))
                        .unwrap()
                })
            });
            let mut out = vec![0u8; sig.len()];
            g.bench_function("entra_rsa_public_op", |b| {
                b.iter(|| key.public_op(black_box(sig), &mut out).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group!(rsa, benches);
criterion_main!(rsa);
