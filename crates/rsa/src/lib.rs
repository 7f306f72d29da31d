//! RSA signature verification for entrakit, built for one job: checking the RS256 (or PS256)
//! signature of every fresh Entra token an API receives, faster than a general-purpose
//! RSA library can.
//!
//! The RSA public operation `s^e mod n` is a chain of about 17 Montgomery
//! multiplications (`e` = 65537). On CPUs with AVX-512 IFMA (Intel Ice Lake and later
//! servers, AMD Zen 4 and later) this crate does them with 52-bit limbs in 512-bit
//! registers (`vpmadd52luq`/`vpmadd52huq`, the "almost Montgomery multiplication" of
//! Gueron and Krasnov), about twice as fast as the 64-bit `mulx` code general RSA
//! libraries use for public-key operations.
//!
//! [`PublicKey::new`] answers [`Error::Unsupported`] on other CPUs and for moduli outside
//! 2048–4096 bits; callers keep a general implementation (entra-jose uses aws-lc) for
//! those. Everything here handles public data only (the modulus, the exponent, the
//! signature and the expected encoding), so no step needs to be constant-time.
//!
//! PKCS#1 v1.5 verification is [RFC 8017 §8.2.2]: the signature must be exactly as long
//! as the modulus and smaller than it, and `s^e mod n` must equal, byte for byte, the
//! EMSA-PKCS1-v1_5 encoding of the expected digest (with the `NULL` parameters that
//! every JOSE implementation writes). There is no parsing of the decrypted block, so
//! there is no parser to fool. PSS is [RFC 8017 §8.1.2] with MGF1 over the same hash and
//! a salt as long as the digest, as JOSE's PS256/PS384/PS512 (RFC 7518 §3.5) and aws-lc
//! require.
//!
//! [RFC 8017 §8.2.2]: https://www.rfc-editor.org/rfc/rfc8017#section-8.2.2
//! [RFC 8017 §8.1.2]: https://www.rfc-editor.org/rfc/rfc8017#section-8.1.2

mod big;
#[cfg(target_arch = "x86_64")]
mod ifma;

/// Why a key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// This CPU has no AVX-512 IFMA, or the key is of a size this crate does not
    /// accelerate: use a general RSA implementation.
    #[error("RSA acceleration is not available for this CPU or key size")]
    Unsupported,
    /// The modulus is even, zero or shorter than 2048 bits.
    #[error("the RSA modulus is not a valid 2048-4096-bit odd number")]
    BadModulus,
    /// The public exponent is not an odd number from 3 to 2^33 - 1.
    #[error("the RSA public exponent must be odd, at least 3 and below 2^33")]
    BadExponent,
    /// The signature is not exactly as long as the modulus.
    #[error("the signature is {got} bytes long; this key's signatures are {expected}")]
    SignatureLength {
        /// The modulus length in bytes.
        expected: usize,
        /// The signature's length.
        got: usize,
    },
    /// The signature, as a number, is not smaller than the modulus.
    #[error("the signature is not smaller than the modulus")]
    SignatureOutOfRange,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// An invariant of the IFMA arithmetic did not hold (a final carry out of a
    /// Montgomery multiplication, or a result not below the modulus): a bug or a CPU
    /// fault, never a verdict on the signature. Checked in every build; nothing is
    /// accepted from such a run. Callers should verify with another implementation
    /// (entra-jose falls back to aws-lc) or refuse.
    #[error("entra-rsa's arithmetic check failed; verify with another RSA implementation")]
    ArithmeticFault,
}

/// The digest inside a PKCS#1 v1.5 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256 (RS256).
    Sha256,
    /// SHA-384 (RS384).
    Sha384,
    /// SHA-512 (RS512).
    Sha512,
}

impl Hash {
    /// The DER `DigestInfo` prefix of RFC 8017 §9.2 note 1 (parameters `NULL`).
    fn prefix(self) -> &'static [u8] {
        match self {
            Hash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Hash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Hash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// aws-lc's digest algorithm for this hash (what the digest passed in must be).
    pub fn algorithm(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Hash::Sha256 => &aws_lc_rs::digest::SHA256,
            Hash::Sha384 => &aws_lc_rs::digest::SHA384,
            Hash::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
}

/// True when this CPU has what [`PublicKey`] needs (AVX-512F and AVX-512 IFMA).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        ifma::detected()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The largest modulus accelerated, in bits.
pub const MAX_BITS: usize = 4096;
/// The smallest modulus accepted, in bits (what aws-lc and ring accept for signatures).
pub const MIN_BITS: usize = 2048;

/// An RSA public key prepared once for many verifications: the modulus in 52-bit limbs,
/// its Montgomery constants and `R^2 mod n`.
pub struct PublicKey {
    /// The modulus, big-endian, without leading zeros.
    n: Box<[u8]>,
    e: u64,
    #[cfg(target_arch = "x86_64")]
    engine: ifma::Engine,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "entra_rsa::PublicKey({} bits, e={})",
            self.bits(),
            self.e
        )
    }
}

impl PublicKey {
    /// Prepares `n` and `e` (big-endian, leading zeros allowed). Refuses, in this order:
    /// a CPU without IFMA ([`Error::Unsupported`]), a modulus that is even or outside
    /// 2048–4096 bits ([`Error::BadModulus`], or `Unsupported` above 4096), an
    /// exponent that is even, below 3 or from 2^33 on ([`Error::BadExponent`]), and a
    /// failed arithmetic check while computing `R^2 mod n` ([`Error::ArithmeticFault`]).
    pub fn new(n: &[u8], e: &[u8]) -> Result<Self, Error> {
        if !available() {
            return Err(Error::Unsupported);
        }
        let n = big::strip_zeros(n);
        let bits = big::bit_len(n);
        if bits > MAX_BITS {
            return Err(Error::Unsupported);
        }
        if bits < MIN_BITS || n[n.len() - 1] & 1 == 0 {
            return Err(Error::BadModulus);
        }
        let e = big::strip_zeros(e);
        if e.len() > 8 {
            return Err(Error::BadExponent);
        }
        let e = e.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        if e < 3 || e & 1 == 0 || e >= 1 << 33 {
            return Err(Error::BadExponent);
        }
        #[cfg(target_arch = "x86_64")]
        {
            let engine = ifma::Engine::new(n, bits).map_err(|_| Error::ArithmeticFault)?;
            Ok(Self {
                n: n.into(),
                e,
                engine,
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            unreachable!("available() is false off x86_64")
        }
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        big::bit_len(&self.n)
    }

    /// The length of this key's signatures in bytes.
    pub fn modulus_len(&self) -> usize {
        self.n.len()
    }

    /// The RSA public operation: writes `sig^e mod n` into `out` as big-endian bytes.
    /// `sig` and `out` must both be [`Self::modulus_len`] bytes long, and `sig` must
    /// be smaller than the modulus. [`Error::ArithmeticFault`] (with `out` all zeros) when
    /// the arithmetic's own check fails.
    pub fn public_op(&self, sig: &[u8], out: &mut [u8]) -> Result<(), Error> {
        let k = self.n.len();
        if sig.len() != k {
            return Err(Error::SignatureLength {
                expected: k,
                got: sig.len(),
            });
        }
        assert_eq!(out.len(), k, "the output must be as long as the modulus");
        // Big-endian byte strings of one length compare as numbers.
        if sig >= &self.n[..] {
            return Err(Error::SignatureOutOfRange);
        }
        #[cfg(target_arch = "x86_64")]
        self.engine
            .pow(sig, self.e, out)
            .map_err(|_| Error::ArithmeticFault)?;
        Ok(())
    }

    /// Verifies an RSASSA-PKCS1-v1_5 signature over a message whose `hash` digest is
    /// `digest` (RFC 8017 §8.2.2).
    pub fn verify_pkcs1v15(&self, hash: Hash, digest: &[u8], sig: &[u8]) -> Result<(), Error> {
        if digest.len() != hash.digest_len() {
            return Err(Error::BadSignature);
        }
        let mut em = [0u8; MAX_BITS / 8];
        let em = &mut em[..self.n.len()];
        self.public_op(sig, em)?;
        if encoding_matches(em, hash, digest) {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }
}

impl PublicKey {
    /// Verifies an RSASSA-PSS signature (MGF1 with `hash`, a salt of the digest's
    /// length) over a message whose `hash` digest is `digest` (RFC 8017 §8.1.2).
    pub fn verify_pss(&self, hash: Hash, digest: &[u8], sig: &[u8]) -> Result<(), Error> {
        if digest.len() != hash.digest_len() {
            return Err(Error::BadSignature);
        }
        let k = self.n.len();
        let mut m = [0u8; MAX_BITS / 8];
        let m = &mut m[..k];
        self.public_op(sig, m)?;
        // EM is emLen = ceil((modBits - 1) / 8) bytes: one less than the modulus when
        // modBits = 8j + 1, and then the extra leading byte must be zero (I2OSP).
        let em_bits = self.bits() - 1;
        let (lead, em) = m.split_at(k - em_bits.div_ceil(8));
        if lead.iter().all(|b| *b == 0) && pss_matches(em, em_bits, hash, digest) {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with MGF1 over `hash` and `sLen = hLen`.
fn pss_matches(em: &[u8], em_bits: usize, hash: Hash, m_hash: &[u8]) -> bool {
    let h_len = hash.digest_len();
    let s_len = h_len;
    let em_len = em.len();
    if em_len < h_len + s_len + 2 || em[em_len - 1] != 0xbc {
        return false;
    }
    let (masked_db, rest) = em.split_at(em_len - h_len - 1);
    let h = &rest[..h_len];
    // The bits of EM above emBits must be zero.
    let top = 0xffu8 >> (8 * em_len - em_bits);
    if masked_db[0] & !top != 0 {
        return false;
    }
    let mut db = [0u8; MAX_BITS / 8];
    let db = &mut db[..masked_db.len()];
    mgf1(hash, h, db);
    for (d, m) in db.iter_mut().zip(masked_db) {
        *d ^= m;
    }
    db[0] &= top;
    // DB = PS (zeros) || 0x01 || salt.
    let ps_len = em_len - h_len - s_len - 2;
    if db[..ps_len].iter().any(|b| *b != 0) || db[ps_len] != 0x01 {
        return false;
    }
    let salt = &db[ps_len + 1..];
    let mut ctx = aws_lc_rs::digest::Context::new(hash.algorithm());
    ctx.update(&[0u8; 8]);
    ctx.update(m_hash);
    ctx.update(salt);
    ctx.finish().as_ref() == h
}

/// MGF1 (RFC 8017 B.2.1): `out` = the first `out.len()` bytes of
/// `Hash(seed || 0) || Hash(seed || 1) || ...` (counters as 4 big-endian bytes).
fn mgf1(hash: Hash, seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in out.chunks_mut(hash.digest_len()).enumerate() {
        let mut ctx = aws_lc_rs::digest::Context::new(hash.algorithm());
        ctx.update(seed);
        ctx.update(&(counter as u32).to_be_bytes());
        let block = ctx.finish();
        chunk.copy_from_slice(&block.as_ref()[..chunk.len()]);
    }
}

/// Whether `em` is exactly the EMSA-PKCS1-v1_5 encoding of `digest`:
/// `0x00 || 0x01 || PS (0xff, at least 8) || 0x00 || DigestInfo prefix || digest`.
fn encoding_matches(em: &[u8], hash: Hash, digest: &[u8]) -> bool {
    let prefix = hash.prefix();
    let t = prefix.len() + digest.len();
    let Some(ps) = em.len().checked_sub(3 + t).filter(|ps| *ps >= 8) else {
        return false;
    };
    em[0] == 0
        && em[1] == 1
        && em[2..2 + ps].iter().all(|b| *b == 0xff)
        && em[2 + ps] == 0
        && &em[3 + ps..3 + ps + prefix.len()] == prefix
        && &em[3 + ps + prefix.len()..] == digest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good(k: usize, hash: Hash, digest: &[u8]) -> Vec<u8> {
        let t = hash.prefix().len() + digest.len();
        let mut em = vec![0u8, 1];
        em.extend(std::iter::repeat_n(0xff, k - 3 - t));
        em.push(0);
        em.extend_from_slice(hash.prefix());
        em.extend_from_slice(digest);
        em
    }

    #[test]
    fn only_the_exact_encoding_matches() {
        let digest = [0x5au8; 32];
        let em = good(256, Hash::Sha256, &digest);
        assert!(encoding_matches(&em, Hash::Sha256, &digest));
        assert!(!encoding_matches(&em, Hash::Sha384, &[0x5a; 48]));
        // Every single-byte change anywhere is refused.
        for i in 0..em.len() {
            let mut bad = em.clone();
            bad[i] ^= 0x01;
            assert!(!encoding_matches(&bad, Hash::Sha256, &digest), "byte {i}");
        }
        // Lax-parser forgeries: block type 2, a short padding with the digest moved
        // left and garbage after it, DigestInfo without the NULL parameters.
        let mut bt2 = em.clone();
        bt2[1] = 2;
        assert!(!encoding_matches(&bt2, Hash::Sha256, &digest));
        let mut garbage = vec![0u8, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0];
        garbage.extend_from_slice(Hash::Sha256.prefix());
        garbage.extend_from_slice(&digest);
        garbage.resize(256, 0x42);
        assert!(!encoding_matches(&garbage, Hash::Sha256, &digest));
        let no_null: Vec<u8> = {
            let mut p = vec![0x30, 0x2f, 0x30, 0x0b];
            p.extend_from_slice(&Hash::Sha256.prefix()[4..15]);
            p.extend_from_slice(&[0x04, 0x20]);
            let mut em = vec![0u8, 1];
            em.extend(std::iter::repeat_n(0xff, 256 - 3 - p.len() - 32));
            em.push(0);
            em.extend_from_slice(&p);
            em.extend_from_slice(&digest);
            em
        };
        assert_eq!(no_null.len(), 256);
        assert!(!encoding_matches(&no_null, Hash::Sha256, &digest));
        // Too short for 8 bytes of padding.
        assert!(!encoding_matches(
            &good(61, Hash::Sha256, &digest),
            Hash::Sha256,
            &digest
        ));
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod fault_tests {
    use super::*;

    #[test]
    fn a_broken_arithmetic_invariant_fails_verification_closed() {
        if !available() {
            return; // no IFMA: PublicKey::new answers Unsupported (tested in differential.rs)
        }
        let mut n = [0xc3u8; 256];
        n[0] = 0xd1;
        let mut key = PublicKey::new(&n, &[1, 0, 1]).unwrap();
        let sig = [0x11u8; 256];
        let mut out = [0u8; 256];
        key.public_op(&sig, &mut out).unwrap();
        assert_ne!(out, [0u8; 256]);
        key.engine.break_bound_for_test();
        // A fault is an error, never a panic and never a number to compare.
        assert_eq!(key.public_op(&sig, &mut out), Err(Error::ArithmeticFault));
        assert_eq!(out, [0u8; 256]);
        let digest = [0u8; 32];
        assert_eq!(
            key.verify_pkcs1v15(Hash::Sha256, &digest, &sig),
            Err(Error::ArithmeticFault)
        );
        assert_eq!(
            key.verify_pss(Hash::Sha256, &digest, &sig),
            Err(Error::ArithmeticFault)
        );
    }
}
