//! The keys of a JWKS: [`parse_jwks`] reads a document, bounded and strict about what
//! it accepts, into a [`KeySet`] of [`TrustedKey`]s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use entra_jose::{Algorithm, JwkFields, PublicKey, RsaBackend, VerifyingKey};
use serde::Deserialize;

use crate::error::ValidationError;

/// The largest JWKS document read (Entra's is about 10 KiB).
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The most keys a JWKS may hold.
pub const MAX_JWKS_KEYS: usize = 100;
/// Why a JWKS could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Over [`MAX_JWKS_BYTES`] or [`MAX_JWKS_KEYS`].
    #[error("the JWKS is too large")]
    TooLarge,
    /// Not `{"keys": [...]}` JSON.
    #[error("the JWKS is not valid JSON of the form {{\"keys\": [...]}}")]
    Malformed,
    /// No signing key with a `kid` in it.
    #[error("the JWKS holds no usable signing key")]
    NoUsableKey,
}

/// A verification key from the issuer's JWKS.
pub struct TrustedKey {
    kid: String,
    pub(super) public: PublicKey,
    pub(super) alg: Option<Algorithm>,
    pub(super) issuer: Option<String>,
    /// The key parsed for each algorithm, on first use; the JWK's `alg` (or the key
    /// type's usual one: RS256, ES256...) is parsed when the key is loaded.
    verifiers: [OnceLock<Option<VerifyingKey>>; Algorithm::ALL.len()],
    /// The RSA implementation its verifiers use (already combined with the environment).
    rsa: RsaBackend,
    pub(super) retired: AtomicBool,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKey")
            .field("kid", &self.kid)
            .field("type", &self.public.key_type())
            .field("bits", &self.public.bits())
            .field("issuer", &self.issuer)
            .field("retired", &self.is_retired())
            .finish()
    }
}

impl TrustedKey {
    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWK's own `issuer` (Entra publishes one, possibly with `{tenantid}`).
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// True once a refresh no longer lists this key.
    #[inline]
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Relaxed)
    }

    /// Verifies a JWS signature with this key. The algorithm must be for this type of
    /// key (no ES256 with an RSA key), and the key's own `alg`, when it names one, must
    /// be the token's.
    pub fn verify(
        &self,
        alg: Algorithm,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), ValidationError> {
        if !self.public.fits(alg) || self.alg.is_some_and(|a| a != alg) {
            return Err(ValidationError::KeyMismatch);
        }
        self.verifier(alg)
            .ok_or(ValidationError::KeyMismatch)?
            .verify(signing_input, signature)
            .map_err(|_| ValidationError::BadSignature)
    }

    /// The implementation that checks `alg` signatures with this key: for RSA keys
    /// [`RsaBackend::Auto`] when entra-rsa does, `AwsLc` when aws-lc does (always
    /// `AwsLc` for other key types); `None` when the key cannot verify `alg`.
    pub fn backend(&self, alg: Algorithm) -> Option<RsaBackend> {
        if !self.public.fits(alg) {
            return None;
        }
        self.verifier(alg).map(VerifyingKey::backend)
    }

    fn verifier(&self, alg: Algorithm) -> Option<&VerifyingKey> {
        self.verifiers[alg.index()]
            .get_or_init(|| self.public.verifying_key_with(alg, self.rsa).ok())
            .as_ref()
    }
}

/// The keys of one scope, by `kid`.
#[derive(Debug, Default)]
pub struct KeySet {
    pub(super) keys: HashMap<String, Arc<TrustedKey>>,
    /// How many keys the document had that were skipped (wrong type, use, size...).
    skipped: usize,
}

impl KeySet {
    /// The key with this `kid`.
    #[inline]
    pub fn get(&self, kid: &str) -> Option<&Arc<TrustedKey>> {
        self.keys.get(kid)
    }

    /// The key ids.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// How many usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// No usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many entries of the document were not usable and skipped.
    pub fn skipped(&self) -> usize {
        self.skipped
    }
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    issuer: Option<String>,
    key_ops: Option<Vec<String>>,
    // Private members (RFC 7518 §6.2.2, §6.3.2, §6.4): present in a published key set,
    // the key is compromised.
    d: Option<serde::de::IgnoredAny>,
    p: Option<serde::de::IgnoredAny>,
    k: Option<serde::de::IgnoredAny>,
}

/// Parses a JWKS document: the entry point fuzz targets call.
///
/// Bounded by [`MAX_JWKS_BYTES`] and [`MAX_JWKS_KEYS`]. Keeps signing keys with a `kid`:
/// RSA (at least 2048 bits), EC on P-256/384/521 (the point on its curve) and OKP
/// Ed25519, with `use` `sig` or absent, an `alg` (when given) that is a JWS algorithm
/// for that type of key, and `key_ops` (when given) including `verify`. Skips every
/// other entry: encryption keys, Ed448, symmetric keys, and any key that publishes its
/// private part (`d`, `p` or `k`), with a warning, since anyone could sign with it. The
/// first of two keys with the same `kid` wins. A document with no usable key is an
/// error. RSA keys use the implementation [`RsaBackend::from_env`] chooses
/// ([`parse_jwks_with`] names one).
pub fn parse_jwks(bytes: &[u8]) -> Result<KeySet, JwksError> {
    parse_jwks_with(bytes, RsaBackend::from_env())
}

/// As [`parse_jwks`], with the RSA implementation the keys' verifiers use (taken as
/// given: [`RsaBackend::with_env`] combines a configured one with the environment).
pub fn parse_jwks_with(bytes: &[u8], rsa: RsaBackend) -> Result<KeySet, JwksError> {
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge);
    }
    crate::token::check_json(bytes, "payload").map_err(|_| JwksError::Malformed)?;
    let raw: RawJwks = serde_json::from_slice(bytes).map_err(|_| JwksError::Malformed)?;
    if raw.keys.len() > MAX_JWKS_KEYS {
        return Err(JwksError::TooLarge);
    }
    let mut set = KeySet::default();
    for value in raw.keys {
        match usable_key(value, rsa) {
            Some(key) if !set.keys.contains_key(&key.kid) => {
                set.keys.insert(key.kid.clone(), Arc::new(key));
            }
            _ => set.skipped += 1,
        }
    }
    if set.keys.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(set)
}

fn usable_key(value: serde_json::Value, rsa: RsaBackend) -> Option<TrustedKey> {
    let jwk: RawJwk = serde_json::from_value(value).ok()?;
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    if jwk.d.is_some() || jwk.p.is_some() || jwk.k.is_some() {
        // Whoever can read the key set can sign with this key: never trust it.
        tracing::warn!(
            kid = jwk.kid.as_deref().unwrap_or(""),
            "a JWKS key publishes its private part (d, p or k); the key is refused"
        );
        return None;
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return None;
    }
    let kid = jwk
        .kid
        .filter(|k| !k.is_empty() && k.len() <= crate::token::MAX_KID_LEN)?;
    let public = PublicKey::from_jwk(&JwkFields {
        kty: jwk.kty.as_deref()?,
        crv: jwk.crv.as_deref(),
        n: jwk.n.as_deref(),
        e: jwk.e.as_deref(),
        x: jwk.x.as_deref(),
        y: jwk.y.as_deref(),
    })
    .ok()?;
    if matches!(public, PublicKey::Rsa(_)) && public.bits() < 2048 {
        return None;
    }
    // A named `alg` must be one we know, for this type of key.
    let alg = match jwk.alg.as_deref() {
        None => None,
        Some(name) => Some(Algorithm::from_name(name).filter(|a| public.fits(*a))?),
    };
    let key = TrustedKey {
        kid,
        alg,
        issuer: jwk.issuer,
        verifiers: Default::default(),
        rsa,
        retired: AtomicBool::new(false),
        public,
    };
    // Parse it now for its usual algorithm: the first token should not pay for it, and
    // a key aws-lc refuses is skipped here.
    key.verifier(alg.unwrap_or_else(|| key.public.default_algorithm()))?;
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

    fn jwk(extra: &str) -> String {
        format!(r#"{{"kty":"RSA","n":"{N}","e":"AQAB"{extra}}}"#)
    }

    #[test]
    fn keeps_only_rsa_signing_keys_with_a_kid() {
        let doc = format!(
            r#"{{"keys":[{},{},{},{},{},{},{{"kty":"EC","kid":"ec","crv":"P-256"}},{}]}}"#,
            jwk(r#","kid":"good","use":"sig","issuer":"https://x/{tenantid}/v2.0""#),
            jwk(r#","kid":"enc","use":"enc""#),
            jwk(r#""#),
            jwk(r#","kid":"oaep","alg":"RSA-OAEP""#),
            jwk(r#","kid":"ps","alg":"PS256","key_ops":["verify"]"#),
            jwk(r#","kid":"good","use":"sig""#),
            jwk(r#","kid":"wrap","key_ops":["wrapKey"]"#),
        );
        let set = parse_jwks(doc.as_bytes()).unwrap();
        let mut kids: Vec<_> = set.kids().collect();
        kids.sort();
        assert_eq!(kids, ["good", "ps"]);
        assert_eq!(set.skipped(), 6);
        assert_eq!(
            set.get("good").unwrap().issuer(),
            Some("https://x/{tenantid}/v2.0")
        );
    }

    #[test]
    fn bounded_and_strict() {
        assert_eq!(parse_jwks(b"{}").unwrap_err(), JwksError::Malformed);
        assert_eq!(
            parse_jwks(br#"{"keys":[]}"#).unwrap_err(),
            JwksError::NoUsableKey
        );
        assert_eq!(
            parse_jwks(br#"{"keys":[],"keys":[]}"#).unwrap_err(),
            JwksError::Malformed
        );
        let many = format!(
            r#"{{"keys":[{}]}}"#,
            vec![jwk(r#","kid":"k""#); MAX_JWKS_KEYS + 1].join(",")
        );
        assert_eq!(
            parse_jwks(many.as_bytes()).unwrap_err(),
            JwksError::TooLarge
        );
        let huge = vec![b' '; MAX_JWKS_BYTES + 1];
        assert_eq!(parse_jwks(&huge).unwrap_err(), JwksError::TooLarge);
        // A key under 2048 bits is skipped.
        let small = format!(
            r#"{{"keys":[{{"kty":"RSA","kid":"s","e":"AQAB","n":"{}"}}]}}"#,
            &N[..172]
        );
        assert_eq!(
            parse_jwks(small.as_bytes()).unwrap_err(),
            JwksError::NoUsableKey
        );
    }
}
