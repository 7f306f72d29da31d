//! Public keys of every JWK type a JWS verifier meets: RSA, EC (P-256/384/521) and OKP
//! (Ed25519), read from JWK members and checked once, when read.

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};

use crate::{
    Algorithm, Curve, JoseError, KeyType, RsaBackend, RsaPublicKey, VerifyingKey,
    b64url_decode_strict, wrong_key,
};

/// The members of a JWK that make its key, as strings (RFC 7517 §4, RFC 7518 §6, RFC
/// 8037 §2). Members a type does not use are ignored.
#[derive(Debug, Clone, Copy, Default)]
pub struct JwkFields<'a> {
    /// `kty`: `RSA`, `EC` or `OKP`.
    pub kty: &'a str,
    /// `crv`: `P-256`/`P-384`/`P-521` (EC), `Ed25519` (OKP).
    pub crv: Option<&'a str>,
    /// `n` (RSA modulus, base64url).
    pub n: Option<&'a str>,
    /// `e` (RSA exponent, base64url).
    pub e: Option<&'a str>,
    /// `x` (EC x coordinate, or the Ed25519 public key; base64url).
    pub x: Option<&'a str>,
    /// `y` (EC y coordinate, base64url).
    pub y: Option<&'a str>,
}

/// An EC public key: a point checked to be on its curve.
#[derive(Clone, PartialEq, Eq)]
pub struct EcPublicKey {
    curve: Curve,
    /// SEC 1 uncompressed: `04 || x || y`.
    point: Vec<u8>,
}

impl std::fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcPublicKey({})", self.curve.name())
    }
}

impl EcPublicKey {
    /// From the JWK's `x` and `y` (base64url) and a point on `curve` (aws-lc checks it).
    ///
    /// RFC 7518 §6.2.1.2 wants each coordinate at the curve's full length; some
    /// libraries drop leading zero bytes, which would make one key in 128 unreadable at
    /// random after a rotation, so a shorter coordinate is padded back (the point is
    /// still checked). A longer one is refused.
    pub fn from_coordinates(curve: Curve, x: &str, y: &str) -> Result<Self, JoseError> {
        let len = curve.coordinate_len();
        let mut point = vec![0u8; 1 + 2 * len];
        point[0] = 4;
        for (value, at) in [(x, 1), (y, 1 + len)] {
            let bytes = b64url_decode_strict(value).map_err(|_| JoseError::BadPublicKey)?;
            if bytes.is_empty() || bytes.len() > len {
                return Err(JoseError::BadPublicKey);
            }
            point[at + len - bytes.len()..at + len].copy_from_slice(&bytes);
        }
        ParsedPublicKey::new(ec_algorithm(curve), &point).map_err(|_| JoseError::BadPublicKey)?;
        Ok(Self { curve, point })
    }

    /// The curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// SEC 1 uncompressed point, `04 || x || y`.
    pub fn point(&self) -> &[u8] {
        &self.point
    }
}

/// An Ed25519 public key (32 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519PublicKey([u8; 32]);

impl std::fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519PublicKey")
    }
}

impl Ed25519PublicKey {
    /// From the JWK's `x`: base64url of exactly 32 bytes that aws-lc takes as a key.
    pub fn from_x(x: &str) -> Result<Self, JoseError> {
        let bytes: [u8; 32] = b64url_decode_strict(x)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(JoseError::BadPublicKey)?;
        ParsedPublicKey::new(&signature::ED25519, bytes).map_err(|_| JoseError::BadPublicKey)?;
        Ok(Self(bytes))
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A public key of any type a JWS may be verified with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA (RS256... PS512).
    Rsa(RsaPublicKey),
    /// EC on a NIST curve (ES256, ES384, ES512).
    Ec(EcPublicKey),
    /// Ed25519 (EdDSA).
    Ed25519(Ed25519PublicKey),
}

impl PublicKey {
    /// From a JWK's members. `EC` needs `crv` P-256, P-384 or P-521 and `x`, `y`; `OKP`
    /// needs `crv` Ed25519 and `x`; `RSA` needs `n` and `e`. Anything else (a missing
    /// member, a wrong length, a point off its curve, an unknown `kty` or `crv`) is
    /// [`JoseError::BadPublicKey`].
    pub fn from_jwk(jwk: &JwkFields<'_>) -> Result<Self, JoseError> {
        fn need(v: Option<&str>) -> Result<&str, JoseError> {
            v.ok_or(JoseError::BadPublicKey)
        }
        match jwk.kty {
            "RSA" => RsaPublicKey::from_jwk_components(need(jwk.n)?, need(jwk.e)?).map(Self::Rsa),
            "EC" => {
                let curve = Curve::from_name(need(jwk.crv)?).ok_or(JoseError::BadPublicKey)?;
                EcPublicKey::from_coordinates(curve, need(jwk.x)?, need(jwk.y)?).map(Self::Ec)
            }
            "OKP" if jwk.crv == Some("Ed25519") => {
                Ed25519PublicKey::from_x(need(jwk.x)?).map(Self::Ed25519)
            }
            _ => Err(JoseError::BadPublicKey),
        }
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match self {
            PublicKey::Rsa(_) => KeyType::Rsa,
            PublicKey::Ec(k) => KeyType::Ec(k.curve),
            PublicKey::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// The one algorithm an EC or Ed25519 key verifies; RS256 for RSA keys.
    pub fn default_algorithm(&self) -> Algorithm {
        match self.key_type() {
            KeyType::Rsa => Algorithm::RS256,
            KeyType::Ec(Curve::P256) => Algorithm::ES256,
            KeyType::Ec(Curve::P384) => Algorithm::ES384,
            KeyType::Ec(Curve::P521) => Algorithm::ES512,
            KeyType::Ed25519 => Algorithm::EdDSA,
        }
    }

    /// Whether `alg` is for this type of key.
    pub fn fits(&self, alg: Algorithm) -> bool {
        alg.key_type() == self.key_type()
    }

    /// The key size in bits: the RSA modulus, the curve's field, 256 for Ed25519.
    pub fn bits(&self) -> usize {
        match self {
            PublicKey::Rsa(k) => k.bits(),
            PublicKey::Ec(k) => match k.curve {
                Curve::P256 => 256,
                Curve::P384 => 384,
                Curve::P521 => 521,
            },
            PublicKey::Ed25519(_) => 256,
        }
    }

    /// Parses the key once for `alg` ([`JoseError::WrongKeyType`] when `alg` is for
    /// another type of key); RSA keys use [`RsaBackend::from_env`]'s implementation.
    pub fn verifying_key(&self, alg: Algorithm) -> Result<VerifyingKey, JoseError> {
        self.verifying_key_with(alg, RsaBackend::from_env())
    }

    /// As [`Self::verifying_key`], with the RSA implementation named (taken as given:
    /// combine a configured choice with the environment through
    /// [`RsaBackend::with_env`]). Other key types ignore it.
    pub fn verifying_key_with(
        &self,
        alg: Algorithm,
        rsa: RsaBackend,
    ) -> Result<VerifyingKey, JoseError> {
        if !self.fits(alg) {
            return Err(wrong_key(alg, self.key_type()));
        }
        let (algorithm, bytes): (&'static dyn VerificationAlgorithm, &[u8]) = match self {
            PublicKey::Rsa(k) => return k.verifying_key_with(alg, rsa),
            PublicKey::Ec(k) => (ec_algorithm(k.curve), &k.point),
            PublicKey::Ed25519(k) => (&signature::ED25519, &k.0),
        };
        let parsed = ParsedPublicKey::new(algorithm, bytes).map_err(|_| JoseError::BadPublicKey)?;
        Ok(VerifyingKey {
            alg,
            parsed,
            fast: None,
        })
    }

    /// Verifies a raw signature (parsing the key each time: [`Self::verifying_key`] for
    /// many).
    pub fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        self.verifying_key(alg)?.verify(message, sig)
    }
}

/// JWS ECDSA: the fixed-length `r || s` signature, the hash the curve goes with.
fn ec_algorithm(curve: Curve) -> &'static dyn VerificationAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
    }
}
