//! JOSE helpers shared by the entrakit emulator (which signs) and validator (which verifies).
//!
//! Only what Entra ID uses: compact JWS with RS256 and PS256, RSA JWKs, and SHA-1 /
//! SHA-256 certificate thumbprints (`x5t`, `x5t#S256`). Keys are parsed once into
//! [`RsaSigningKey`] / [`RsaPublicKey`]; signing never re-parses DER, which is what makes
//! token issuance cheap.
//!
//! Parsing is bounded: [`decode_unverified`] refuses tokens larger than
//! [`MAX_TOKEN_LEN`] and anything that is not three base64url segments of JSON.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The largest compact token this crate will look at (Entra tokens are a few KiB).
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// What went wrong with a key or a token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoseError {
    /// The private key is not an RSA PKCS#8 key ring accepts (2048 to 4096 bits).
    #[error("the RSA private key could not be parsed: {0}")]
    BadPrivateKey(String),
    /// The public key is not a usable RSA key.
    #[error("the RSA public key could not be parsed")]
    BadPublicKey,
    /// The token is not `header.payload.signature` in base64url with JSON parts.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The token is over [`MAX_TOKEN_LEN`].
    #[error("token too large ({0} bytes)")]
    TooLarge(usize),
    /// The header names an algorithm this crate does not verify.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The signature does not verify with the given key.
    #[error("signature invalid")]
    BadSignature,
    /// The signing operation failed (should not happen with a valid key).
    #[error("signing failed")]
    SigningFailed,
}

/// The signature algorithms Entra uses for tokens and client assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
}

impl Algorithm {
    /// The JOSE `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::PS256 => "PS256",
        }
    }

    /// Parses a JOSE `alg` name; anything else (including `none` and HMAC) is `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Algorithm::RS256),
            "PS256" => Some(Algorithm::PS256),
            _ => None,
        }
    }
}

/// base64url without padding.
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, tolerating padding (some producers add it).
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| JoseError::Malformed("invalid base64url"))
}

/// Decodes base64url strictly, as a validator must: no padding, no characters outside
/// the URL-safe alphabet, and no non-zero trailing bits (so every byte string has exactly
/// one accepted encoding and a token cannot be altered without changing its bytes).
pub fn b64url_decode_strict(text: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JoseError::Malformed("invalid base64url"))
}

/// Standard base64 (with padding), as used by `x5c`.
pub fn b64std(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64.
pub fn b64std_decode(text: &str) -> Result<Vec<u8>, JoseError> {
    STANDARD
        .decode(text)
        .map_err(|_| JoseError::Malformed("invalid base64"))
}

/// SHA-1 of `der`, base64url: the `x5t` header of a certificate.
pub fn x5t_sha1(der: &[u8]) -> String {
    b64url(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        der,
    ))
}

/// SHA-256 of `der`, base64url: the `x5t#S256` header of a certificate.
pub fn x5t_sha256(der: &[u8]) -> String {
    b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der))
}

/// Upper-case hex SHA-1 of `der`: the thumbprint Entra and MSAL show for a certificate.
pub fn thumbprint_sha1_hex(der: &[u8]) -> String {
    hex_upper(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref())
}

/// Upper-case hex SHA-256 of `der`.
pub fn thumbprint_sha256_hex(der: &[u8]) -> String {
    hex_upper(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// An RSA private key, parsed once, that signs compact JWS.
pub struct RsaSigningKey {
    pair: RsaKeyPair,
    rng: SystemRandom,
    public: RsaPublicKey,
}

impl std::fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaSigningKey")
            .field("private", &"[redacted]")
            .field("bits", &(self.public.n.len() * 8))
            .finish()
    }
}

impl RsaSigningKey {
    /// Parses a PKCS#8 DER RSA private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, JoseError> {
        Self::from_pair(
            RsaKeyPair::from_pkcs8(der).map_err(|e| JoseError::BadPrivateKey(e.to_string()))?,
        )
    }

    /// Parses a PKCS#1 DER RSA private key (`RSA PRIVATE KEY`, what `openssl genrsa` writes).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, JoseError> {
        Self::from_pair(
            RsaKeyPair::from_der(der).map_err(|e| JoseError::BadPrivateKey(e.to_string()))?,
        )
    }

    fn from_pair(pair: RsaKeyPair) -> Result<Self, JoseError> {
        let components = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let public = RsaPublicKey {
            n: strip_zeros(components.n),
            e: strip_zeros(components.e),
        };
        Ok(Self {
            pair,
            rng: SystemRandom::new(),
            public,
        })
    }

    /// The public half.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public
    }

    /// Raw signature over `message`.
    pub fn sign(&self, alg: Algorithm, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        let padding: &dyn signature::RsaEncoding = match alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
            Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        };
        self.pair
            .sign(padding, &self.rng, message, &mut sig)
            .map_err(|_| JoseError::SigningFailed)?;
        Ok(sig)
    }

    /// Signs `header.payload` where `header_b64` is already base64url-encoded (it rarely
    /// changes, so callers precompute it) and returns the compact JWS.
    pub fn sign_compact(
        &self,
        alg: Algorithm,
        header_b64: &str,
        payload_json: &[u8],
    ) -> Result<String, JoseError> {
        let payload_len = payload_json.len().div_ceil(3) * 4;
        let mut out = String::with_capacity(header_b64.len() + payload_len + 2 + 350);
        out.push_str(header_b64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(payload_json, &mut out);
        let sig = self.sign(alg, out.as_bytes())?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut out);
        Ok(out)
    }
}

/// An RSA public key as big-endian modulus and exponent.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// Modulus, big-endian, no leading zeros.
    pub n: Vec<u8>,
    /// Public exponent, big-endian, no leading zeros.
    pub e: Vec<u8>,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublicKey({} bits)", self.n.len() * 8)
    }
}

impl RsaPublicKey {
    /// From a JWK's `n` and `e` (base64url).
    pub fn from_jwk_components(n: &str, e: &str) -> Result<Self, JoseError> {
        let n = b64url_decode(n).map_err(|_| JoseError::BadPublicKey)?;
        let e = b64url_decode(e).map_err(|_| JoseError::BadPublicKey)?;
        if n.is_empty() || e.is_empty() {
            return Err(JoseError::BadPublicKey);
        }
        Ok(Self {
            n: strip_zeros(n),
            e: strip_zeros(e),
        })
    }

    /// From a DER `RSAPublicKey` (PKCS#1): the bit string inside an X.509 SPKI.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, JoseError> {
        let (n, e) = parse_pkcs1_public(der).ok_or(JoseError::BadPublicKey)?;
        Ok(Self {
            n: strip_zeros(n.to_vec()),
            e: strip_zeros(e.to_vec()),
        })
    }

    /// Verifies a raw signature.
    pub fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        let params = match alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        };
        signature::RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(params, message, sig)
        .map_err(|_| JoseError::BadSignature)
    }

    /// Parses this key once for `alg`, for many fast verifications, with the RSA
    /// implementation [`RsaBackend::from_env`] chooses.
    pub fn verifying_key(&self, alg: Algorithm) -> Result<VerifyingKey, JoseError> {
        self.verifying_key_with(alg, RsaBackend::from_env())
    }

    /// As [`Self::verifying_key`], with the RSA implementation named.
    pub fn verifying_key_with(
        &self,
        alg: Algorithm,
        backend: RsaBackend,
    ) -> Result<VerifyingKey, JoseError> {
        let params = match alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        };
        // aws-lc checks the key first, so both paths accept exactly the same keys.
        let parsed = signature::RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .to_parsed_public_key(params)
        .map_err(|_| JoseError::BadPublicKey)?;
        // A key entra-rsa does not take (a CPU without IFMA, over 4096 bits) stays with
        // aws-lc.
        let fast = match backend {
            RsaBackend::Auto => entra_rsa::PublicKey::new(&self.n, &self.e).ok(),
            RsaBackend::AwsLc => None,
        };
        Ok(VerifyingKey { alg, parsed, fast })
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        let lead = self.n.first().map_or(8, |b| b.leading_zeros() as usize);
        self.n.len() * 8 - lead
    }

    /// Verifies a compact JWS already split by [`decode_unverified`].
    pub fn verify_token(&self, token: &DecodedToken) -> Result<(), JoseError> {
        let alg = Algorithm::from_name(&token.alg)
            .ok_or_else(|| JoseError::UnsupportedAlgorithm(token.alg.clone()))?;
        self.verify(alg, token.signing_input.as_bytes(), &token.signature)
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn jwk_thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            b64url(&self.e),
            b64url(&self.n)
        );
        b64url(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            canonical.as_bytes(),
        ))
    }

    /// A JWK object for this key with the given extra members (kid, x5t, x5c, issuer...).
    pub fn to_jwk(&self, extra: Map<String, Value>) -> Value {
        let mut jwk = Map::new();
        jwk.insert("kty".into(), "RSA".into());
        jwk.insert("use".into(), "sig".into());
        jwk.insert("n".into(), b64url(&self.n).into());
        jwk.insert("e".into(), b64url(&self.e).into());
        jwk.extend(extra);
        Value::Object(jwk)
    }
}

/// Which RSA implementation a [`VerifyingKey`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaBackend {
    /// entra-rsa (AVX-512 IFMA, about twice aws-lc's speed) where the CPU has IFMA and
    /// the key is 2048 to 4096 bits; aws-lc otherwise.
    Auto,
    /// aws-lc for everything.
    AwsLc,
}

impl RsaBackend {
    /// `AwsLc` when the environment variable `ENTRA_RSA_BACKEND` is `aws-lc` (read once
    /// per process), `Auto` otherwise: a switch for comparing the two, or for a machine
    /// where the accelerated path is suspected of anything.
    pub fn from_env() -> Self {
        static CHOSEN: std::sync::OnceLock<RsaBackend> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| match std::env::var("ENTRA_RSA_BACKEND").as_deref() {
            Ok("aws-lc") => RsaBackend::AwsLc,
            _ => RsaBackend::Auto,
        })
    }

    /// What [`RsaPublicKey::verifying_key`] gives a 2048 to 4096-bit key in this
    /// process: `Auto` when [`Self::from_env`] allows it and the CPU has AVX-512 IFMA.
    pub fn effective() -> Self {
        match Self::from_env() {
            RsaBackend::Auto if entra_rsa::available() => RsaBackend::Auto,
            _ => RsaBackend::AwsLc,
        }
    }

    /// One line for diagnostics (`entra doctor`): who checks RS256/PS256 signatures
    /// here, and why.
    pub fn describe() -> &'static str {
        match (Self::from_env(), Self::effective()) {
            (_, RsaBackend::Auto) => {
                "entra-rsa checks RS256/PS256 signatures (AVX-512 IFMA, about twice aws-lc's speed)"
            }
            (RsaBackend::AwsLc, _) => {
                "aws-lc checks RS256/PS256 signatures (ENTRA_RSA_BACKEND=aws-lc)"
            }
            _ => {
                "aws-lc checks RS256/PS256 signatures (this CPU has no AVX-512 IFMA for entra-rsa)"
            }
        }
    }
}

/// An RSA public key parsed once for one algorithm: verification does not rebuild the
/// key, which is most of the cost of [`RsaPublicKey::verify`] beyond the RSA operation.
pub struct VerifyingKey {
    alg: Algorithm,
    parsed: signature::ParsedPublicKey,
    /// The same key prepared for entra-rsa, when [`RsaBackend::Auto`] could use it.
    fast: Option<entra_rsa::PublicKey>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifyingKey({}, {:?})", self.alg.name(), self.backend())
    }
}

impl VerifyingKey {
    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The implementation verifications use: `Auto` when entra-rsa does them.
    pub fn backend(&self) -> RsaBackend {
        if self.fast.is_some() {
            RsaBackend::Auto
        } else {
            RsaBackend::AwsLc
        }
    }

    /// Verifies `sig` over `message` (for a JWS: the `header.payload` bytes as sent).
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        match &self.fast {
            Some(fast) => {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
                let digest = digest.as_ref();
                match self.alg {
                    Algorithm::RS256 => fast.verify_pkcs1v15(entra_rsa::Hash::Sha256, digest, sig),
                    Algorithm::PS256 => fast.verify_pss(entra_rsa::Hash::Sha256, digest, sig),
                }
                .map_err(|_| JoseError::BadSignature)
            }
            None => self
                .parsed
                .verify_sig(message, sig)
                .map_err(|_| JoseError::BadSignature),
        }
    }
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let lead = v.iter().take_while(|b| **b == 0).count();
    if lead == v.len() {
        return vec![0];
    }
    v.drain(..lead);
    v
}

/// Minimal DER reader for `SEQUENCE { INTEGER n, INTEGER e }`.
fn parse_pkcs1_public(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, body, rest) = der_tlv(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (t1, n, rest) = der_tlv(body)?;
    let (t2, e, rest) = der_tlv(rest)?;
    (t1 == 0x02 && t2 == 0x02 && rest.is_empty()).then_some((n, e))
}

fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// A compact JWS split and decoded, signature not yet checked.
#[derive(Debug, Clone)]
pub struct DecodedToken {
    /// The header's `alg`.
    pub alg: String,
    /// The whole header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    /// `header.payload` as it appeared, for signature checks.
    pub signing_input: String,
    /// The raw signature bytes.
    pub signature: Vec<u8>,
}

impl DecodedToken {
    /// A string header member.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric claim (seconds), accepting integers, floats and numeric strings.
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        match self.claims.get(name)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// Splits and decodes a compact JWS without checking its signature.
pub fn decode_unverified(token: &str) -> Result<DecodedToken, JoseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JoseError::TooLarge(token.len()));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed(
            "a JWS has exactly three dot-separated parts",
        ));
    };
    let header: Map<String, Value> = serde_json::from_slice(&b64url_decode(h)?)
        .map_err(|_| JoseError::Malformed("header is not a JSON object"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&b64url_decode(p)?)
        .map_err(|_| JoseError::Malformed("payload is not a JSON object"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JoseError::Malformed("header has no alg"))?
        .to_string();
    Ok(DecodedToken {
        alg,
        header,
        claims,
        signing_input: token[..h.len() + 1 + p.len()].to_string(),
        signature: b64url_decode(s)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A 2048-bit test key (PKCS#8), generated for these tests only.
    const TEST_KEY: &[u8] = include_bytes!("../testdata/rsa2048.pk8");

    #[test]
    fn sign_then_verify_rs256_and_ps256() {
        let key = RsaSigningKey::from_pkcs8_der(TEST_KEY).unwrap();
        let header = b64url(r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
        let jws = key
            .sign_compact(Algorithm::RS256, &header, br#"{"sub":"x"}"#)
            .unwrap();
        let decoded = decode_unverified(&jws).unwrap();
        assert_eq!(decoded.claim_str("sub"), Some("x"));
        key.public_key().verify_token(&decoded).unwrap();

        let header = b64url(r#"{"alg":"PS256"}"#);
        let jws = key.sign_compact(Algorithm::PS256, &header, b"{}").unwrap();
        key.public_key()
            .verify_token(&decode_unverified(&jws).unwrap())
            .unwrap();
    }

    #[test]
    fn tampered_payload_fails() {
        let key = RsaSigningKey::from_pkcs8_der(TEST_KEY).unwrap();
        let header = b64url(r#"{"alg":"RS256"}"#);
        let jws = key
            .sign_compact(Algorithm::RS256, &header, br#"{"a":1}"#)
            .unwrap();
        let mut parts: Vec<&str> = jws.split('.').collect();
        let forged = b64url(r#"{"a":2}"#);
        parts[1] = &forged;
        let decoded = decode_unverified(&parts.join(".")).unwrap();
        assert_eq!(
            key.public_key().verify_token(&decoded),
            Err(JoseError::BadSignature)
        );
    }

    #[test]
    fn none_and_hmac_are_refused() {
        let key = RsaSigningKey::from_pkcs8_der(TEST_KEY).unwrap();
        for alg in ["none", "HS256"] {
            let token = format!(
                "{}.{}.",
                b64url(format!(r#"{{"alg":"{alg}"}}"#)),
                b64url("{}")
            );
            let decoded = decode_unverified(&token).unwrap();
            assert_eq!(
                key.public_key().verify_token(&decoded),
                Err(JoseError::UnsupportedAlgorithm(alg.into()))
            );
        }
    }

    #[test]
    fn malformed_tokens_are_errors_not_panics() {
        for bad in [
            "", "a", "a.b", "a.b.c.d", "!!.??.##", "e30.e30", "W10.e30.", "e30.e30.",
        ] {
            assert!(decode_unverified(bad).is_err(), "{bad:?} should fail");
        }
        let huge = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(
            decode_unverified(&huge).unwrap_err(),
            JoseError::TooLarge(MAX_TOKEN_LEN + 1)
        );
    }

    /// Random and mutated inputs: every one is an error or a token, never a panic.
    #[test]
    fn arbitrary_inputs_never_panic() {
        let key = RsaSigningKey::from_pkcs8_der(TEST_KEY).unwrap();
        let good = key
            .sign_compact(
                Algorithm::RS256,
                &b64url(r#"{"alg":"RS256"}"#),
                br#"{"a":1}"#,
            )
            .unwrap();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"eyJhbGciOiJSUzI1NiJ9.-_=+/ {}\"\x00\xff";
        for round in 0..20_000 {
            let text: String = if round % 2 == 0 {
                let len = (next() % 120) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                    .collect()
            } else {
                let mut bytes = good.clone().into_bytes();
                for _ in 0..(next() % 4 + 1) {
                    let i = (next() % bytes.len() as u64) as usize;
                    bytes[i] = alphabet[(next() % alphabet.len() as u64) as usize];
                }
                String::from_utf8_lossy(&bytes).into_owned()
            };
            if let Ok(t) = decode_unverified(&text) {
                let _ = key.public_key().verify_token(&t);
                let _ = t.claim_i64("exp");
            }
            let _ = RsaPublicKey::from_pkcs1_der(text.as_bytes());
        }
    }

    #[test]
    fn verifying_key_matches_verify() {
        let key = RsaSigningKey::from_pkcs8_der(TEST_KEY).unwrap();
        assert_eq!(key.public_key().bits(), 2048);
        for alg in [Algorithm::RS256, Algorithm::PS256] {
            let sig = key.sign(alg, b"message").unwrap();
            let vk = key.public_key().verifying_key(alg).unwrap();
            assert_eq!(vk.algorithm(), alg);
            vk.verify(b"message", &sig).unwrap();
            assert_eq!(vk.verify(b"messagE", &sig), Err(JoseError::BadSignature));
        }
    }

    #[test]
    fn both_rsa_backends_give_the_same_verdicts() {
        let key = RsaSigningKey::from_pkcs8_der(TEST_KEY).unwrap();
        let public = key.public_key();
        let expected = if entra_rsa::available() {
            RsaBackend::Auto
        } else {
            RsaBackend::AwsLc
        };
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (alg, other) in [
            (Algorithm::RS256, Algorithm::PS256),
            (Algorithm::PS256, Algorithm::RS256),
        ] {
            let auto = public.verifying_key_with(alg, RsaBackend::Auto).unwrap();
            let aws = public.verifying_key_with(alg, RsaBackend::AwsLc).unwrap();
            assert_eq!(auto.backend(), expected);
            assert_eq!(aws.backend(), RsaBackend::AwsLc);
            let message = vec![b'm'; 1500];
            let sig = key.sign(alg, &message).unwrap();
            let other_sig = key.sign(other, &message).unwrap();
            let mut cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
                (message.clone(), sig.clone()),
                (message.clone(), other_sig),
                (message.clone(), sig[1..].to_vec()),
                (message.clone(), [&[0u8][..], &sig].concat()),
                (message.clone(), vec![0xff; 256]),
                (message.clone(), vec![0; 256]),
                (message[1..].to_vec(), sig.clone()),
                (Vec::new(), sig.clone()),
            ];
            for _ in 0..200 {
                let mut m = message.clone();
                let mut s = sig.clone();
                let bit = next() as usize;
                if bit.is_multiple_of(2) {
                    s[(bit >> 8) % 256] ^= 1 << ((bit >> 4) % 8);
                } else {
                    let i = (bit >> 8) % m.len();
                    m[i] ^= 1 << ((bit >> 4) % 8);
                }
                cases.push((m, s));
            }
            for (i, (m, s)) in cases.iter().enumerate() {
                assert_eq!(auto.verify(m, s), aws.verify(m, s), "{alg:?} case {i}");
            }
            assert!(auto.verify(&message, &sig).is_ok());
            assert!(format!("{auto:?}").starts_with(&format!("VerifyingKey({}", alg.name())));
        }
    }

    #[test]
    fn strict_base64url_refuses_padding_and_trailing_bits() {
        assert_eq!(b64url_decode_strict("YQ").unwrap(), b"a");
        assert!(b64url_decode_strict("YQ==").is_err());
        // "YR" decodes to "a" with non-zero trailing bits: a second spelling of the same byte.
        assert!(b64url_decode_strict("YR").is_err());
        assert!(b64url_decode_strict("Y+").is_err());
        assert_eq!(b64url_decode("YQ==").unwrap(), b"a");
    }

    #[test]
    fn jwk_roundtrip_and_pkcs1() {
        let key = RsaSigningKey::from_pkcs8_der(TEST_KEY).unwrap();
        let public = key.public_key();
        let jwk = public.to_jwk(Map::new());
        let again = RsaPublicKey::from_jwk_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(&again, public);
        assert_eq!(again.jwk_thumbprint().len(), 43);
        assert!(RsaPublicKey::from_pkcs1_der(&[0x30, 0x03, 0x02, 0x01]).is_err());
    }

    #[test]
    fn debug_does_not_print_key_material() {
        let key = RsaSigningKey::from_pkcs8_der(TEST_KEY).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains(&b64url(&key.public_key().n)[..20]));
    }
}
