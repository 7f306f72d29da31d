//! [`ClientCertificate`]: a certificate and its RSA key (PEM or PKCS#12), and the client
//! assertions it signs (RS256 with `x5t`, PS256 with `x5t#S256`, optional `x5c`).

use std::path::Path;

use entra_jose::{Algorithm, RsaSigningKey, b64std, b64url, x5t_sha1, x5t_sha256};

use crate::error::Error;
use crate::secret::Secret;
use crate::unix_time::now;

/// `rsaEncryption`, the PKCS#8 algorithm of an RSA key.
#[cfg(feature = "pkcs12")]
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

/// A certificate and its private key, parsed once.
pub struct ClientCertificate {
    key: RsaSigningKey,
    pub(super) x5t: String,
    x5t_s256: String,
    chain: Vec<String>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t", &self.x5t)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// What [`ClientCertificate::from_pkcs12`] answers without the `pkcs12` feature.
#[cfg(not(feature = "pkcs12"))]
const PKCS12_NOT_BUILT: &str = "PKCS#12 (.pfx/.p12) support is not built in (entra-identity's `pkcs12` feature is off): convert the archive to PEM with `openssl pkcs12 -in cert.pfx -noenc -out cert.pem` (keep cert.pem private), or build with the feature";

impl ClientCertificate {
    /// From PEM text holding an RSA private key (PKCS#8 `PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`) and the certificate (its chain may follow).
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        use rustls_pki_types::pem::{Error as PemError, PemObject};
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        // PEM errors name the broken marker or line, never the key's bytes; the key's
        // DER is zeroed when dropped.
        let key = match PrivateKeyDer::from_pem_slice(pem.as_bytes()) {
            Ok(PrivateKeyDer::Pkcs8(k)) => RsaSigningKey::from_pkcs8_der(k.secret_pkcs8_der()),
            Ok(PrivateKeyDer::Pkcs1(k)) => RsaSigningKey::from_pkcs1_der(k.secret_pkcs1_der()),
            Ok(PrivateKeyDer::Sec1(_)) => {
                return Err(Error::Config("the certificate's key is an EC key; Entra client assertions need RSA (RS256/PS256)".into()));
            }
            Ok(_) | Err(PemError::NoItemsFound) => {
                return Err(Error::Config(
                    "the PEM has no private key (PRIVATE KEY or RSA PRIVATE KEY block)".into(),
                ));
            }
            Err(e) => return Err(Error::Config(format!("certificate PEM: {e}"))),
        }
        .map_err(|e| Error::Config(format!("private key: {e}")))?;
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .map(|c| c.map(|c| c.as_ref().to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Config(format!("certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(Error::Config("the PEM has no CERTIFICATE block".into()));
        }
        Ok(Self::from_parts(key, &certs))
    }

    /// From a PKCS#12 (`.pfx`/`.p12`) archive holding an RSA private key and its
    /// certificate (its chain may follow). PBES2 (AES-256-CBC with PBKDF2, what
    /// `openssl pkcs12 -export` and Windows write today) and the legacy PKCS#12 PBE
    /// schemes (3DES, RC2-40) are read; the archive's MAC is checked, so a wrong
    /// `password` is an [`Error::Config`] saying so (the password is never repeated).
    /// An archive without a password takes `""`.
    ///
    /// Needs the `pkcs12` feature (on by default); without it this answers an
    /// [`Error::Config`] with the `openssl` command that converts the archive to PEM.
    #[cfg(feature = "pkcs12")]
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, Error> {
        use p12_keystore::error::Error as P12;
        let store = p12_keystore::KeyStore::from_pkcs12(
            der,
            password,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .map_err(|e| {
            Error::Config(match e {
                P12::MacError(_) | P12::UnpadError | P12::Pkcs5Error(_) => {
                    "cannot open the PKCS#12 archive: wrong password (or a damaged file)".into()
                }
                other => format!("cannot read the PKCS#12 archive: {other}"),
            })
        })?;
        let (_, chain) = store.private_key_chain().ok_or_else(|| {
            Error::Config(
                "the PKCS#12 archive has no private key with a matching certificate".into(),
            )
        })?;
        let oid = chain.key().oid().to_string();
        if oid != RSA_ENCRYPTION_OID {
            return Err(Error::Config(format!(
                "the PKCS#12 archive's key is not RSA (algorithm {oid}); Entra client assertions need RSA (RS256/PS256)"
            )));
        }
        let key = RsaSigningKey::from_pkcs8_der(chain.key().as_der())
            .map_err(|e| Error::Config(format!("PKCS#12 private key: {e}")))?;
        let certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
        if certs.is_empty() {
            return Err(Error::Config(
                "the PKCS#12 archive has no certificate for its key".into(),
            ));
        }
        Ok(Self::from_parts(key, &certs))
    }

    /// Without the `pkcs12` feature: always [`Error::Config`], saying how to get PEM.
    #[cfg(not(feature = "pkcs12"))]
    pub fn from_pkcs12(_der: &[u8], _password: &str) -> Result<Self, Error> {
        Err(Error::Config(PKCS12_NOT_BUILT.into()))
    }

    /// From a file holding either PEM (see [`ClientCertificate::from_pem`]; `password`
    /// is not used, and an encrypted PEM key is refused with the `openssl` command that
    /// decrypts it) or PKCS#12 (see [`ClientCertificate::from_pkcs12`]; no `password`
    /// means `""`). The content decides, not the extension. Errors name the file.
    pub fn from_file(path: impl AsRef<Path>, password: Option<&str>) -> Result<Self, Error> {
        let path = path.as_ref();
        let shown = path.display();
        // The file holds the private key: zero our copy when done.
        let bytes = zeroize::Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| Error::Config(format!("certificate file {shown}: {e}")))?,
        );
        let pem = std::str::from_utf8(&bytes)
            .ok()
            .filter(|t| t.contains("-----BEGIN"));
        let result = match pem {
            Some(pem)
                if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
                    || pem.contains("Proc-Type: 4,ENCRYPTED") =>
            {
                Err(Error::Config(format!(
                    "the private key is encrypted PEM, which is not supported: decrypt it with `openssl pkey -in {shown} -out key.pem` and put key.pem's block next to the certificate, or use PKCS#12"
                )))
            }
            Some(pem) => Self::from_pem(pem),
            // PKCS#12 is DER: a SEQUENCE, first byte 0x30.
            None if bytes.first() == Some(&0x30) => {
                Self::from_pkcs12(&bytes, password.unwrap_or(""))
            }
            None => Err(Error::Config(
                "neither PEM (PRIVATE KEY and CERTIFICATE blocks) nor PKCS#12 (.pfx/.p12)".into(),
            )),
        };
        result.map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("certificate file {shown}: {m}")),
            other => other,
        })
    }

    fn from_parts(key: RsaSigningKey, certs: &[Vec<u8>]) -> Self {
        let leaf = &certs[0];
        Self {
            x5t: x5t_sha1(leaf),
            x5t_s256: x5t_sha256(leaf),
            chain: certs.iter().map(b64std).collect(),
            key,
        }
    }

    /// Signs a client assertion for `audience` (the token endpoint).
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        alg: Algorithm,
        send_chain: bool,
    ) -> Result<Secret, Error> {
        let mut header = serde_json::json!({ "alg": alg.name(), "typ": "JWT" });
        match alg {
            Algorithm::RS256 => header["x5t"] = self.x5t.clone().into(),
            Algorithm::PS256 => header["x5t#S256"] = self.x5t_s256.clone().into(),
            other => {
                return Err(Error::Config(format!(
                    "client assertions are signed with RS256 or PS256, not {other}"
                )));
            }
        }
        if send_chain {
            header["x5c"] = self.chain.clone().into();
        }
        let now = now();
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        });
        let jws = self
            .key
            .sign_compact(
                alg,
                &b64url(header.to_string()),
                claims.to_string().as_bytes(),
            )
            .map_err(|e| Error::Config(format!("signing the client assertion: {e}")))?;
        Ok(Secret::new(jws))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(not(feature = "pkcs12"))]
    use super::*;

    /// Built without the `pkcs12` feature (scripts/test builds it so), a PKCS#12 file is
    /// a configuration error naming the feature and the conversion, never a panic or
    /// a silent PEM attempt.
    #[cfg(not(feature = "pkcs12"))]
    #[test]
    fn pkcs12_without_the_feature_says_how_to_convert() {
        let err = ClientCertificate::from_pkcs12(&[0x30, 0x82, 0x0a, 0x01], "pw").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(
            text.contains("`pkcs12` feature") && text.contains("openssl pkcs12 -in"),
            "{text}"
        );
        assert!(!text.contains("pw\""));
        let dir = std::env::temp_dir().join(format!("entra-p12-off-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("app.pfx");
        std::fs::write(&file, [0x30, 0x82, 0x0a, 0x01, 0x02, 0x01, 0x03]).unwrap();
        let text = ClientCertificate::from_file(&file, Some("pw"))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("app.pfx") && text.contains("`pkcs12` feature"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
