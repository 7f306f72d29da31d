//! Key material the emulator makes and keeps in its state directory: the local CA and
//! TLS leaf certificate, the token-signing keys ([`crate::signing_keys`], with rollover), the federation issuer's
//! key, and client certificates (generated or loaded).
//!
//! Private keys are written with mode 0600 and atomically (a new file with a random name,
//! created exclusively, then renamed), so an interrupted first start never leaves a
//! half-written key behind; they are read without following symlinks
//! ([`crate::secure_fs`]).
//!
//! The local CA is name-constrained to `localhost`, `127.0.0.1` and `::1`, and its
//! private key lives only in memory while the leaf certificate is signed: it is never
//! written, so nothing can be issued under it later (a new leaf means a new CA).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use entra_jose::{RsaPublicKey, RsaSigningKey, b64std, x5t_sha1, x5t_sha256};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

pub(crate) use crate::secure_fs::write_private;
use crate::secure_fs::{is_regular_file, read_private};
pub(crate) use crate::signing_keys::{KeyStore, SigningKey};

/// Why a key, a certificate or a key file could not be made, read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A file in the state directory could not be read, written or parsed.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file in the state directory is not safe to read (a symlink, not a regular file)
    /// or could not be opened; the message names it.
    #[error("{0}")]
    StateFile(String),
    /// Generating, encoding or parsing a key or certificate failed.
    #[error("{0}")]
    Crypto(String),
}

impl KeyError {
    pub(crate) fn file(path: &Path, message: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}

impl From<String> for KeyError {
    fn from(message: String) -> Self {
        Self::Crypto(message)
    }
}

/// [`read_private`], its refusals as [`KeyError::StateFile`].
pub(crate) fn read_key_file(path: &Path) -> Result<Option<Vec<u8>>, KeyError> {
    read_private(path).map_err(KeyError::StateFile)
}

/// Generates an RSA-2048 key, returned as PKCS#8 DER.
pub(crate) fn generate_rsa_pkcs8() -> Result<Vec<u8>, String> {
    use aws_lc_rs::encoding::AsDer as _;
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| "RSA key generation failed".to_string())?;
    let der = key
        .as_der()
        .map_err(|_| "PKCS#8 encoding failed".to_string())?;
    Ok(der.as_ref().to_vec())
}

pub(crate) fn rsa_keypair(pkcs8: &[u8]) -> Result<KeyPair, String> {
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8.to_vec());
    KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256).map_err(|e| e.to_string())
}

pub(crate) fn self_signed(
    key: &KeyPair,
    common_name: &str,
    years: i64,
) -> Result<rcgen::Certificate, String> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(365 * years);
    params.self_signed(key).map_err(|e| e.to_string())
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = b64std(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

// ---------------------------------------------------------------------------------------
// TLS

/// The local CA and the server's leaf certificate.
pub(crate) struct TlsMaterial {
    /// Where the CA certificate is (what clients trust).
    pub(crate) ca_file: PathBuf,
    /// The rustls server config.
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

/// The file where versions before the CA was name-constrained kept its private key.
const LEGACY_CA_KEY: &str = "ca-key.pem";

/// A leaf with less than this left is re-issued (under a new CA) at start.
const LEAF_RENEW_BEFORE_SECS: i64 = 30 * 24 * 3600;

/// What the CA may vouch for: `localhost` (and names under it), `127.0.0.1`, `::1`.
pub(crate) fn ca_name_constraints() -> rcgen::NameConstraints {
    rcgen::NameConstraints {
        permitted_subtrees: vec![
            rcgen::GeneralSubtree::DnsName("localhost".into()),
            rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_v4_prefix([127, 0, 0, 1], 32)),
            rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_v6_prefix(
                std::net::Ipv6Addr::LOCALHOST.octets(),
                128,
            )),
        ],
        excluded_subtrees: Vec::new(),
    }
}

/// Whether the stored leaf can be used as it is: present as regular files, issued by a
/// CA whose key is gone (no legacy `ca-key.pem`), valid for a while yet.
fn stored_leaf_usable(state_dir: &Path, ca: &Path, cert: &Path, key: &Path) -> bool {
    if !(is_regular_file(ca) && is_regular_file(cert) && is_regular_file(key)) {
        return false;
    }
    if std::fs::symlink_metadata(state_dir.join(LEGACY_CA_KEY)).is_ok() {
        // Made by a version that kept the CA's key (and did not constrain the CA).
        return false;
    }
    let Ok(Some(pem)) = read_key_file(cert) else {
        return false;
    };
    use rustls_pki_types::{CertificateDer, pem::PemObject as _};
    let Some(Ok(der)) = CertificateDer::pem_slice_iter(&pem).next() else {
        return false;
    };
    use x509_cert::der::Decode as _;
    let Ok(leaf) = x509_cert::Certificate::from_der(der.as_ref()) else {
        return false;
    };
    let not_after = leaf
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs() as i64;
    not_after - OffsetDateTime::now_utc().unix_timestamp() > LEAF_RENEW_BEFORE_SECS
}

/// Makes a new name-constrained CA, signs one `localhost` leaf with it, drops the CA's
/// key, and writes the CA certificate, the leaf chain and the leaf key.
fn create_ca_and_leaf(
    state_dir: &Path,
    ca_file: &Path,
    cert_file: &Path,
    key_file: &Path,
) -> Result<(), KeyError> {
    let ca_key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "entrakit emulator local CA");
    dn.push(DnType::OrganizationName, "entrakit (development only)");
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.name_constraints = Some(ca_name_constraints());
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    // The CA signs one leaf and its key is dropped: it need not outlive the leaf.
    ca_params.not_after = OffsetDateTime::now_utc() + Duration::days(826);
    let ca = ca_params.self_signed(&ca_key).map_err(|e| e.to_string())?;

    let leaf_key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut leaf = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(|e| e.to_string())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    leaf.distinguished_name = dn;
    leaf.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    leaf.not_after = OffsetDateTime::now_utc() + Duration::days(825);
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf
        .signed_by(&leaf_key, &ca, &ca_key)
        .map_err(|e| e.to_string())?;
    // The CA's key is never written; it goes out of scope here.
    drop(ca_key);

    let legacy = state_dir.join(LEGACY_CA_KEY);
    match std::fs::remove_file(&legacy) {
        Ok(()) => tracing::warn!(
            path = %legacy.display(),
            "deleted the CA private key an older version kept; the CA is replaced by a name-constrained one whose key is not kept"
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(KeyError::file(&legacy, &e)),
    }
    let err = |p: &Path, e: std::io::Error| KeyError::file(p, e);
    write_private(key_file, leaf_key.serialize_pem().as_bytes()).map_err(|e| err(key_file, e))?;
    write_private(
        cert_file,
        format!("{}{}", leaf_cert.pem(), ca.pem()).as_bytes(),
    )
    .map_err(|e| err(cert_file, e))?;
    write_private(ca_file, ca.pem().as_bytes()).map_err(|e| err(ca_file, e))?;

    Ok(())
}

/// Loads the CA and leaf from `state_dir`, creating them on first start (and whenever
/// the leaf nears its end: then under a new CA, as the old CA's key was not kept).
pub(crate) fn tls_material(state_dir: &Path) -> Result<TlsMaterial, KeyError> {
    let ca_file = state_dir.join("ca.pem");
    let cert_file = state_dir.join("tls-cert.pem");
    let key_file = state_dir.join("tls-key.pem");
    if !stored_leaf_usable(state_dir, &ca_file, &cert_file, &key_file) {
        create_ca_and_leaf(state_dir, &ca_file, &cert_file, &key_file)?;
    }
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let cert_pem =
        read_key_file(&cert_file)?.ok_or_else(|| KeyError::file(&cert_file, "missing"))?;
    let key_pem = read_key_file(&key_file)?.ok_or_else(|| KeyError::file(&key_file, "missing"))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| KeyError::file(&cert_file, &e))?;
    if certs.is_empty() {
        return Err(KeyError::file(&cert_file, "no CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => KeyError::file(&key_file, "no private key"),
        e => KeyError::file(&key_file, &e),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("TLS certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_file,
        server_config: Arc::new(config),
    })
}

// ---------------------------------------------------------------------------------------
// Federation issuer key (for `mint-federated`)

/// The key the emulator's own `/federation` issuer signs workload tokens with.
pub(crate) fn federation_key(state_dir: &Path) -> Result<(String, RsaSigningKey), KeyError> {
    let path = state_dir.join("federation-key.pk8");
    let der = match read_key_file(&path)? {
        Some(d) => d,
        None => {
            let der = generate_rsa_pkcs8()?;
            write_private(&path, &der).map_err(|e| KeyError::file(&path, &e))?;
            der
        }
    };
    let key = RsaSigningKey::from_pkcs8_der(&der).map_err(|e| KeyError::file(&path, &e))?;
    Ok((key.public_key().jwk_thumbprint(), key))
}

// ---------------------------------------------------------------------------------------
// Client certificates

/// A client certificate registered on an app.
#[derive(Debug, Clone)]
pub(crate) struct ClientCertificate {
    /// SHA-1 thumbprint, base64url (`x5t`).
    pub(crate) x5t: String,
    /// SHA-256 thumbprint, base64url (`x5t#S256`).
    pub(crate) x5t_s256: String,
    /// Upper-case hex SHA-1 thumbprint (what the portal shows).
    pub(crate) thumbprint_hex: String,
    /// The public key.
    pub(crate) public_key: RsaPublicKey,
    /// Not after (unix seconds).
    pub(crate) not_after: i64,
}

impl ClientCertificate {
    /// From PEM text holding at least one certificate (a key may be there too; it is ignored).
    pub(crate) fn from_pem(pem: &str) -> Result<Self, KeyError> {
        use rustls_pki_types::{CertificateDer, pem::PemObject};
        let cert = CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .ok_or_else(|| KeyError::Crypto("no CERTIFICATE block in the PEM".into()))?
            .map_err(|e| format!("bad PEM: {e}"))?;
        Self::from_der(cert.as_ref())
    }

    /// From a DER certificate.
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        use x509_cert::der::Decode as _;
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let spki = cert.tbs_certificate().subject_public_key_info();
        const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
        if spki.algorithm.oid.to_string() != RSA_ENCRYPTION {
            return Err(format!(
                "the certificate's key is not RSA ({}); Entra client assertions use RS256/PS256",
                spki.algorithm.oid
            )
            .into());
        }
        let public_key = RsaPublicKey::from_pkcs1_der(spki.subject_public_key.raw_bytes())
            .map_err(|e| e.to_string())?;
        let not_after = cert
            .tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration()
            .as_secs() as i64;
        Ok(Self {
            x5t: x5t_sha1(der),
            x5t_s256: x5t_sha256(der),
            thumbprint_hex: entra_jose::thumbprint_sha1_hex(der),
            public_key,
            not_after,
        })
    }

    /// Loads `path` (key + certificate PEM), generating both when the file is missing.
    pub(crate) fn load_or_generate(path: &Path, name: &str) -> Result<Self, KeyError> {
        match read_key_file(path)? {
            Some(pem) => {
                Self::from_pem(&String::from_utf8_lossy(&pem)).map_err(|e| KeyError::file(path, e))
            }
            None => {
                let pkcs8 = generate_rsa_pkcs8()?;
                let cert = self_signed(
                    &rsa_keypair(&pkcs8)?,
                    if name.is_empty() {
                        "entrakit client"
                    } else {
                        name
                    },
                    2,
                )?;
                let pem = format!("{}{}", pem_block("PRIVATE KEY", &pkcs8), cert.pem());
                write_private(path, pem.as_bytes()).map_err(|e| KeyError::file(path, e))?;
                Self::from_der(cert.der())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_client_certificate_round_trips() {
        let dir = std::env::temp_dir().join(format!("entra-keys-{}", uuid::Uuid::new_v4()));
        let path = dir.join("client.pem");
        let made = ClientCertificate::load_or_generate(&path, "test").unwrap();
        let again = ClientCertificate::load_or_generate(&path, "test").unwrap();
        assert_eq!(made.x5t, again.x5t);
        assert_eq!(made.thumbprint_hex.len(), 40);
        let pem = std::fs::read_to_string(&path).unwrap();
        assert!(pem.contains("BEGIN PRIVATE KEY") && pem.contains("BEGIN CERTIFICATE"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(ClientCertificate::from_pem("nonsense").is_err());
        std::fs::remove_dir_all(dir).ok();
    }

    fn fresh_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("entra-keys-{tag}-{}", uuid::Uuid::new_v4()));
        crate::secure_fs::ensure_private_dir(&dir).unwrap();
        dir
    }

    fn first_cert(pem: &[u8]) -> x509_cert::Certificate {
        use rustls_pki_types::{CertificateDer, pem::PemObject as _};
        use x509_cert::der::Decode as _;
        let der = CertificateDer::pem_slice_iter(pem).next().unwrap().unwrap();
        x509_cert::Certificate::from_der(der.as_ref()).unwrap()
    }

    /// Whether a certificate for `name`, issued by a CA with `ca_params`, verifies.
    fn issued_verifies(ca_params: CertificateParams, name: &str) -> bool {
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(vec![name.to_string()]).unwrap();
        leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf.signed_by(&leaf_key, &ca, &ca_key).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .build()
        .unwrap();
        use rustls::client::danger::ServerCertVerifier as _;
        verifier
            .verify_server_cert(
                leaf.der(),
                &[],
                &rustls::pki_types::ServerName::try_from(name.to_string()).unwrap(),
                &[],
                rustls::pki_types::UnixTime::now(),
            )
            .is_ok()
    }

    #[test]
    fn ca_is_name_constrained() {
        use x509_cert::der::Decode as _;
        use x509_cert::ext::pkix::name::GeneralName;
        let dir = fresh_dir("nc");
        tls_material(&dir).unwrap();
        let ca = first_cert(&std::fs::read(dir.join("ca.pem")).unwrap());
        let ext = ca
            .tbs_certificate()
            .extensions()
            .unwrap()
            .iter()
            .find(|e| e.extn_id.to_string() == "2.5.29.30")
            .expect("a NameConstraints extension");
        assert!(ext.critical);
        let nc =
            x509_cert::ext::pkix::NameConstraints::from_der(ext.extn_value.as_bytes()).unwrap();
        assert!(nc.excluded_subtrees.is_none());
        let permitted: Vec<String> = nc
            .permitted_subtrees
            .unwrap()
            .iter()
            .map(|s| match &s.base {
                GeneralName::DnsName(d) => format!("dns:{}", d.as_str()),
                GeneralName::IpAddress(ip) => format!("ip:{:02x?}", ip.as_bytes()),
                other => format!("{other:?}"),
            })
            .collect();
        let mut v6 = vec![0u8; 15];
        v6.push(1);
        v6.extend([0xffu8; 16]);
        assert_eq!(
            permitted,
            vec![
                "dns:localhost".to_string(),
                format!("ip:{:02x?}", [127u8, 0, 0, 1, 255, 255, 255, 255]),
                format!("ip:{v6:02x?}"),
            ]
        );
        // What the constraint does for a client that trusts the CA: a certificate for
        // localhost verifies, one for a real host does not, even though the same CA
        // signed both.
        let constrained = || {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            p.name_constraints = Some(ca_name_constraints());
            p
        };
        assert!(issued_verifies(constrained(), "localhost"));
        assert!(!issued_verifies(constrained(), "login.microsoftonline.com"));
        let mut unconstrained = constrained();
        unconstrained.name_constraints = None;
        assert!(issued_verifies(unconstrained, "login.microsoftonline.com"));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn ca_private_key_not_kept() {
        use x509_cert::der::Encode as _;
        let dir = fresh_dir("cakey");
        // A state directory from a version that kept the CA's key.
        write_private(
            &dir.join(LEGACY_CA_KEY),
            KeyPair::generate().unwrap().serialize_pem().as_bytes(),
        )
        .unwrap();
        tls_material(&dir).unwrap();
        assert!(
            !dir.join(LEGACY_CA_KEY).exists(),
            "the old CA key is deleted"
        );
        let ca = first_cert(&std::fs::read(dir.join("ca.pem")).unwrap());
        let ca_spki = ca
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap();
        // No private key anywhere in the directory belongs to the CA.
        let mut keys = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
            let mut rest = text.as_str();
            while let Some(start) = rest.find("-----BEGIN") {
                let end = rest[start..].find("-----END").map(|e| start + e).unwrap();
                let close = rest[end + 8..]
                    .find("-----")
                    .map(|c| end + 8 + c + 5)
                    .unwrap();
                let pem = &rest[start..close];
                rest = &rest[close..];
                if !pem.contains("PRIVATE KEY-----") {
                    continue;
                }
                let key = KeyPair::from_pem(pem).unwrap();
                assert_ne!(
                    key.public_key_der(),
                    ca_spki,
                    "the CA's private key was written"
                );
                keys += 1;
            }
        }
        assert_eq!(keys, 1, "only the leaf's key is kept");
        // A second start reuses the leaf (no new CA while it is valid) ...
        let ca_before = std::fs::read(dir.join("ca.pem")).unwrap();
        tls_material(&dir).unwrap();
        assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), ca_before);
        // ... and when the leaf is gone, a new CA is made (the old one cannot sign).
        std::fs::remove_file(dir.join("tls-cert.pem")).unwrap();
        tls_material(&dir).unwrap();
        assert_ne!(std::fs::read(dir.join("ca.pem")).unwrap(), ca_before);
        std::fs::remove_dir_all(dir).ok();
    }
}
