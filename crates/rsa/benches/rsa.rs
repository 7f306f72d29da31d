//! RSA-2048 PKCS#1 v1.5 SHA-256 verification of a token-sized message: entra-rsa (IFMA)
//! beside aws-lc with the key parsed once, in one run.
//! `cargo bench -p entra-rsa --bench rsa`

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let pair = signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let msg = vec![b'e'; 1400];
    let mut sig = vec![0u8; 256];
    pair.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        &msg,
        &mut sig,
    )
    .unwrap();
    let public = pair.public_key();
    let (n, e) = (
        public.modulus().big_endian_without_leading_zero(),
        public.exponent().big_endian_without_leading_zero(),
    );
    let parsed = signature::RsaPublicKeyComponents { n, e }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .unwrap();
    let mut g = c.benchmark_group("rsa2048");
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
    g.bench_function("aws_lc_verify", |b| {
        b.iter(|| parsed.verify_sig(black_box(&msg), black_box(&sig)).unwrap())
    });
    if entra_rsa::available() {
        let key = entra_rsa::PublicKey::new(n, e).unwrap();
        g.bench_function("entra_rsa_verify", |b| {
            b.iter(|| {
                let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(&msg));
                key.verify_pkcs1v15(entra_rsa::Hash::Sha256, d.as_ref(), black_box(&sig))
                    .unwrap()
            })
        });
        g.bench_function("entra_rsa_prepare_key", |b| {
            b.iter(|| entra_rsa::PublicKey::new(black_box(n), black_box(e)).unwrap())
        });
        let mut pss = vec![0u8; 256];
        pair.sign(
            &signature::RSA_PSS_SHA256,
            &SystemRandom::new(),
            &msg,
            &mut pss,
        )
        .unwrap();
        let parsed_pss = signature::RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(&signature::RSA_PSS_2048_8192_SHA256)
            .unwrap();
        g.bench_function("aws_lc_verify_pss", |b| {
            b.iter(|| {
                parsed_pss
                    .verify_sig(black_box(&msg), black_box(&pss))
                    .unwrap()
            })
        });
        g.bench_function("entra_rsa_verify_pss", |b| {
            b.iter(|| {
                let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(&msg));
                key.verify_pss(entra_rsa::Hash::Sha256, d.as_ref(), black_box(&pss))
                    .unwrap()
            })
        });
        let mut out = [0u8; 256];
        g.bench_function("entra_rsa_public_op", |b| {
            b.iter(|| key.public_op(black_box(&sig), &mut out).unwrap())
        });
    }
    g.finish();
}

/// 3072 and 4096-bit keys (8 and 10 registers): verify, aws-lc beside entra-rsa.
fn larger_keys(c: &mut Criterion) {
    let msg = vec![b'e'; 1400];
    for (bits, size) in [
        (3072, aws_lc_rs::rsa::KeySize::Rsa3072),
        (4096, aws_lc_rs::rsa::KeySize::Rsa4096),
    ] {
        let pair = signature::RsaKeyPair::generate(size).unwrap();
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            &msg,
            &mut sig,
        )
        .unwrap();
        let public = pair.public_key();
        let (n, e) = (
            public.modulus().big_endian_without_leading_zero(),
            public.exponent().big_endian_without_leading_zero(),
        );
        let parsed = signature::RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
            .unwrap();
        let mut g = c.benchmark_group(format!("rsa{bits}"));
        g.bench_function("aws_lc_verify", |b| {
            b.iter(|| parsed.verify_sig(black_box(&msg), black_box(&sig)).unwrap())
        });
        if entra_rsa::available() {
            let key = entra_rsa::PublicKey::new(n, e).unwrap();
            g.bench_function("entra_rsa_verify", |b| {
                b.iter(|| {
                    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(&msg));
                    key.verify_pkcs1v15(entra_rsa::Hash::Sha256, d.as_ref(), black_box(&sig))
                        .unwrap()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(rsa, benches, larger_keys);
criterion_main!(rsa);
