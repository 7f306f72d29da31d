//! JOSE helpers shared by the entrakit emulator (which signs) and validator (which verifies).
//!
//! Signing is what Entra ID uses: compact JWS with RS256 and PS256 (and RS/PS 384/512),
//! plus SHA-1 / SHA-256 certificate thumbprints (`x5t`, `x5t#S256`). Verification also
//! takes ES256/384/512 and EdDSA (Ed25519), with keys from JWKs ([`PublicKey::from_jwk`]),
//! for tokens of other OIDC issuers. Keys are parsed once into [`RsaSigningKey`] /
//! [`VerifyingKey`]; signing never re-parses DER, which is what makes token issuance
//! cheap.
//!
//! Parsing is bounded: [`decode_unverified`] refuses tokens larger than
//! [`MAX_TOKEN_LEN`] and anything that is not three base64url segments of JSON.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod public;
pub use public::{EcPublicKey, Ed25519PublicKey, JwkFields, PublicKey};

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
    /// The algorithm needs another type of key (ES256 with an RSA key, say).
    #[error("{alg} needs an {needs} key, not {key}")]
    WrongKeyType {
        /// The algorithm.
        alg: Algorithm,
        /// What it needs.
        needs: KeyType,
        /// What the key is.
        key: KeyType,
    },
}

/// The JWS signature algorithms (RFC 7518 §3, and RFC 8037's `EdDSA` with Ed25519).
///
/// Entra signs tokens with RS256 and takes RS256 or PS256 client assertions; the others
/// are for verifying tokens of other OIDC issuers (a Kubernetes cluster with EC keys,
/// Keycloak, ...). Validators accept only what they are configured for (RS256 by
/// default), and the key must be of the algorithm's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 (MGF1 with SHA-256, salt as long as the hash).
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256, signature `r || s` (64 bytes).
    ES256,
    /// ECDSA on P-384 with SHA-384 (96 bytes).
    ES384,
    /// ECDSA on P-521 with SHA-512 (132 bytes).
    ES512,
    /// EdDSA with an Ed25519 key (RFC 8037; Ed448 is not supported).
    EdDSA,
}

impl Algorithm {
    /// Every algorithm, in a fixed order ([`Self::index`]).
    pub const ALL: [Algorithm; 10] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
    ];

    /// The JOSE `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE `alg` name (exact, case-sensitive as RFC 7515 says); anything else
    /// (including `none` and HMAC) is `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The position in [`Self::ALL`] (for tables indexed by algorithm).
    pub fn index(self) -> usize {
        // ALL lists the variants in declaration order (a test checks it).
        self as usize
    }

    /// The type of key this algorithm needs.
    pub fn key_type(self) -> KeyType {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyType::Rsa,
            Algorithm::ES256 => KeyType::Ec(Curve::P256),
            Algorithm::ES384 => KeyType::Ec(Curve::P384),
            Algorithm::ES512 => KeyType::Ec(Curve::P521),
            Algorithm::EdDSA => KeyType::Ed25519,
        }
    }

    /// aws-lc's verification parameters for the RSA algorithms (2048 to 8192 bits).
    fn rsa_params(self) -> Option<&'static signature::RsaParameters> {
        use entra_rsa::Hash::{Sha256, Sha384, Sha512};
        Some(match self.rsa_scheme()? {
            (Sha256, false) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (Sha384, false) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (Sha512, false) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (Sha256, true) => &signature::RSA_PSS_2048_8192_SHA256,
            (Sha384, true) => &signature::RSA_PSS_2048_8192_SHA384,
            (Sha512, true) => &signature::RSA_PSS_2048_8192_SHA512,
        })
    }

    /// For the RSA algorithms: the hash, and whether the padding is PSS.
    fn rsa_scheme(self) -> Option<(entra_rsa::Hash, bool)> {
        use entra_rsa::Hash::{Sha256, Sha384, Sha512};
        Some(match self {
            Algorithm::RS256 => (Sha256, false),
            Algorithm::RS384 => (Sha384, false),
            Algorithm::RS512 => (Sha512, false),
            Algorithm::PS256 => (Sha256, true),
            Algorithm::PS384 => (Sha384, true),
            Algorithm::PS512 => (Sha512, true),
            _ => return None,
        })
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The NIST curves of JWK `EC` keys (RFC 7518 §6.2.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// P-256 (ES256).
    P256,
    /// P-384 (ES384).
    P384,
    /// P-521 (ES512).
    P521,
}

impl Curve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// Parses a JWK `crv` name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Curve::P256, Curve::P384, Curve::P521]
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// Bytes in one coordinate (JWK `x`/`y` are exactly this long, RFC 7518 §6.2.1.2).
    pub fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
}

/// What kind of key an algorithm needs, or a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// JWK `kty` `RSA`.
    Rsa,
    /// JWK `kty` `EC` on this curve.
    Ec(Curve),
    /// JWK `kty` `OKP` with `crv` `Ed25519`.
    Ed25519,
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyType::Rsa => f.write_str("RSA"),
            KeyType::Ec(c) => write!(f, "EC {}", c.name()),
            KeyType::Ed25519 => f.write_str("OKP Ed25519"),
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
        use entra_rsa::Hash::{Sha256, Sha384, Sha512};
        let scheme = alg
            .rsa_scheme()
            .ok_or_else(|| wrong_key(alg, KeyType::Rsa))?;
        let padding: &dyn signature::RsaEncoding = match scheme {
            (Sha256, false) => &signature::RSA_PKCS1_SHA256,
            (Sha384, false) => &signature::RSA_PKCS1_SHA384,
            (Sha512, false) => &signature::RSA_PKCS1_SHA512,
            (Sha256, true) => &signature::RSA_PSS_SHA256,
            (Sha384, true) => &signature::RSA_PSS_SHA384,
            (Sha512, true) => &signature::RSA_PSS_SHA512,
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
        let params = alg
            .rsa_params()
            .ok_or_else(|| wrong_key(alg, KeyType::Rsa))?;
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
        let params = alg
            .rsa_params()
            .ok_or_else(|| wrong_key(alg, KeyType::Rsa))?;
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

    /// A configured choice (a `ValidatorConfig` option, an `entra.toml` key) combined
    /// with the environment: `AwsLc` when either says `aws-lc`, `Auto` otherwise. Either
    /// switch alone turns entra-rsa off.
    pub fn with_env(self) -> Self {
        match (self, Self::from_env()) {
            (RsaBackend::Auto, RsaBackend::Auto) => RsaBackend::Auto,
            _ => RsaBackend::AwsLc,
        }
    }

    /// What [`RsaPublicKey::verifying_key`] gives a 2048 to 4096-bit key in this
    /// process: `Auto` when [`Self::from_env`] allows it and the CPU has AVX-512 IFMA.
    pub fn effective() -> Self {
        Self::effective_for(RsaBackend::Auto)
    }

    /// As [`Self::effective`], for keys prepared with `configured` (combined with the
    /// environment by [`Self::with_env`]).
    pub fn effective_for(configured: RsaBackend) -> Self {
        match configured.with_env() {
            RsaBackend::Auto if entra_rsa::available() => RsaBackend::Auto,
            _ => RsaBackend::AwsLc,
        }
    }

    /// One line for diagnostics (`entra doctor`): who checks RSA signatures (RS256... PS512)
    /// here, and why.
    pub fn describe() -> &'static str {
        Self::describe_for(RsaBackend::Auto)
    }

    /// As [`Self::describe`], for keys prepared with `configured`: the backend in use and
    /// what decided it (the CPU, `ENTRA_RSA_BACKEND`, or the configured setting).
    pub fn describe_for(configured: RsaBackend) -> &'static str {
        match (
            Self::from_env(),
            configured,
            Self::effective_for(configured),
        ) {
            (_, _, RsaBackend::Auto) => {
                "entra-rsa checks RSA signatures (this CPU has AVX-512 IFMA; about twice aws-lc's speed)"
            }
            (RsaBackend::AwsLc, _, _) => {
                "aws-lc checks RSA signatures (switched off by ENTRA_RSA_BACKEND=aws-lc)"
            }
            (_, RsaBackend::AwsLc, _) => {
                "aws-lc checks RSA signatures (switched off by the configuration: rsa_backend = \"aws-lc\")"
            }
            _ => "aws-lc checks RSA signatures (this CPU has no AVX-512 IFMA for entra-rsa)",
        }
    }

    /// The setting's spelling: `auto` or `aws-lc`.
    pub fn name(self) -> &'static str {
        match self {
            RsaBackend::Auto => "auto",
            RsaBackend::AwsLc => "aws-lc",
        }
    }
}

impl std::str::FromStr for RsaBackend {
    type Err = String;

    /// `auto` or `aws-lc` (the `rsa_backend` setting's values).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(RsaBackend::Auto),
            "aws-lc" => Ok(RsaBackend::AwsLc),
            other => Err(format!(
                "unknown RSA backend {other:?}: use \"auto\" (entra-rsa where the CPU has AVX-512 IFMA, else aws-lc) or \"aws-lc\""
            )),
        }
    }
}

/// A public key parsed once for one algorithm: verification does not rebuild the key,
/// which is most of the cost of [`RsaPublicKey::verify`] beyond the RSA operation. RSA
/// keys come from [`RsaPublicKey::verifying_key`], any key from
/// [`PublicKey::verifying_key`].
pub struct VerifyingKey {
    alg: Algorithm,
    parsed: signature::ParsedPublicKey,
    /// The same key prepared for entra-rsa, when [`RsaBackend::Auto`] could use it (RSA
    /// keys only).
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
    /// Should entra-rsa's own arithmetic check fail ([`entra_rsa::Error::ArithmeticFault`],
    /// a bug or a CPU fault, never seen), nothing is taken from that run: aws-lc
    /// verifies instead and gives the verdict, and [`rsa_arithmetic_faults`] counts it.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        if let (Some(fast), Some((hash, pss))) = (&self.fast, self.alg.rsa_scheme()) {
            let digest = aws_lc_rs::digest::digest(hash.algorithm(), message);
            let digest = digest.as_ref();
            match if pss {
                fast.verify_pss(hash, digest, sig)
            } else {
                fast.verify_pkcs1v15(hash, digest, sig)
            } {
                Ok(()) => return Ok(()),
                Err(entra_rsa::Error::ArithmeticFault) => {
                    RSA_FAULTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(_) => return Err(JoseError::BadSignature),
            }
        }
        self.parsed
            .verify_sig(message, sig)
            .map_err(|_| JoseError::BadSignature)
    }
}

static RSA_FAULTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many verifications in this process found entra-rsa's arithmetic check failed and
/// were verified by aws-lc instead (zero unless something is badly wrong: report it).
pub fn rsa_arithmetic_faults() -> u64 {
    RSA_FAULTS.load(std::sync::atomic::Ordering::Relaxed)
}

fn wrong_key(alg: Algorithm, key: KeyType) -> JoseError {
    JoseError::WrongKeyType {
        alg,
        needs: alg.key_type(),
        key,
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
    fn algorithm_names_indexes_and_key_types() {
        for (i, alg) in Algorithm::ALL.into_iter().enumerate() {
            assert_eq!(alg.index(), i);
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
            assert_eq!(alg.to_string(), alg.name());
        }
        // RFC 7515: names are case-sensitive; and no `none`, HMAC or Ed448 spelling.
        for name in [
            "es256", "Rs256", "EDDSA", "Ed25519", "ES256K", "none", "HS256", "",
        ] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
        assert_eq!(Algorithm::ES384.key_type(), KeyType::Ec(Curve::P384));
        assert_eq!(Algorithm::PS512.key_type(), KeyType::Rsa);
        assert_eq!(KeyType::Ec(Curve::P521).to_string(), "EC P-521");
    }

    #[test]
    fn each_algorithm_needs_its_type_of_key() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let rsa = RsaSigningKey::from_pkcs8_der(TEST_KEY).unwrap();
        // An RSA key signs and verifies no EC or EdDSA algorithm.
        for alg in [Algorithm::ES256, Algorithm::ES512, Algorithm::EdDSA] {
            assert_eq!(
                rsa.sign(alg, b"m").unwrap_err(),
                JoseError::WrongKeyType {
                    alg,
                    needs: alg.key_type(),
                    key: KeyType::Rsa
                }
            );
            assert!(rsa.public_key().verifying_key(alg).is_err());
            assert!(matches!(
                PublicKey::Rsa(rsa.public_key().clone()).verifying_key(alg),
                Err(JoseError::WrongKeyType { .. })
            ));
        }
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref();
        let (x, y) = (b64url(&point[1..33]), b64url(&point[33..]));
        let ec = PublicKey::from_jwk(&JwkFields {
            kty: "EC",
            crv: Some("P-256"),
            x: Some(&x),
            y: Some(&y),
            ..JwkFields::default()
        })
        .unwrap();
        assert_eq!(ec.default_algorithm(), Algorithm::ES256);
        let err = ec.verifying_key(Algorithm::RS256).unwrap_err();
        assert_eq!(err.to_string(), "RS256 needs an RSA key, not EC P-256");
        let sig = pair
            .sign(&aws_lc_rs::rand::SystemRandom::new(), b"message")
            .unwrap();
        ec.verify(Algorithm::ES256, b"message", sig.as_ref())
            .unwrap();
        assert_eq!(
            ec.verify(Algorithm::ES256, b"messagE", sig.as_ref()),
            Err(JoseError::BadSignature)
        );
        // Debug names the type, never the key material.
        let debug = format!("{ec:?}");
        assert!(
            debug.contains("P-256") && !debug.contains(&x[..16]),
            "{debug}"
        );
    }

    #[test]
    fn ec_coordinates_without_their_leading_zeros_are_padded_back() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        // One P-256 key in 256 has an x starting with a zero byte: find one (bounded;
        // the chance of missing in 4,000 tries is about 1e-7).
        let pair = (0..4000)
            .map(|_| EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
            .find(|p| p.public_key().as_ref()[1] == 0)
            .expect("no key with a leading zero in x in 4,000 tries");
        let point = pair.public_key().as_ref();
        let y = b64url(&point[33..]);
        let jwk = |x: &str| {
            PublicKey::from_jwk(&JwkFields {
                kty: "EC",
                crv: Some("P-256"),
                x: Some(x),
                y: Some(&y),
                ..JwkFields::default()
            })
        };
        let full = jwk(&b64url(&point[1..33])).unwrap();
        // Written by a library that strips leading zeros: the same key.
        let stripped = jwk(&b64url(&point[2..33])).unwrap();
        assert_eq!(full, stripped);
        let sig = pair
            .sign(&aws_lc_rs::rand::SystemRandom::new(), b"m")
            .unwrap();
        stripped
            .verify(Algorithm::ES256, b"m", sig.as_ref())
            .unwrap();
        // Longer than the curve's coordinate, even by a zero byte: refused.
        let long = b64url([&[0u8][..], &point[1..33]].concat());
        assert_eq!(jwk(&long), Err(JoseError::BadPublicKey));
        assert_eq!(jwk(""), Err(JoseError::BadPublicKey));
    }

    #[test]
    fn jwk_members_are_checked() {
        let x32 = b64url([9u8; 32]);
        for (what, jwk) in [
            ("no kty", JwkFields::default()),
            (
                "oct",
                JwkFields {
                    kty: "oct",
                    x: Some(&x32),
                    ..JwkFields::default()
                },
            ),
            (
                "RSA without e",
                JwkFields {
                    kty: "RSA",
                    n: Some(&x32),
                    ..JwkFields::default()
                },
            ),
            (
                "EC without crv",
                JwkFields {
                    kty: "EC",
                    x: Some(&x32),
                    y: Some(&x32),
                    ..JwkFields::default()
                },
            ),
            (
                "EC off the curve",
                JwkFields {
                    kty: "EC",
                    crv: Some("P-256"),
                    x: Some(&x32),
                    y: Some(&x32),
                    ..JwkFields::default()
                },
            ),
            (
                "OKP X25519",
                JwkFields {
                    kty: "OKP",
                    crv: Some("X25519"),
                    x: Some(&x32),
                    ..JwkFields::default()
                },
            ),
            (
                "OKP without crv",
                JwkFields {
                    kty: "OKP",
                    x: Some(&x32),
                    ..JwkFields::default()
                },
            ),
            (
                "Ed25519 short",
                JwkFields {
                    kty: "OKP",
                    crv: Some("Ed25519"),
                    x: Some(&x32[1..]),
                    ..JwkFields::default()
                },
            ),
        ] {
            assert_eq!(
                PublicKey::from_jwk(&jwk),
                Err(JoseError::BadPublicKey),
                "{what}"
            );
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
            (Algorithm::RS384, Algorithm::RS256),
            (Algorithm::RS512, Algorithm::PS512),
            (Algorithm::PS384, Algorithm::RS384),
            (Algorithm::PS512, Algorithm::PS384),
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
