//! The intercept CA: a second CA, apart from the emulator's own (which vouches only for
//! `localhost`), that vouches for the public hostnames the proxy serves and nothing else.
//!
//! - It is made once, in the state directory: `intercept-ca.pem` (the certificate, what
//!   clients trust) and `intercept-ca-key.pem` (its private key, mode 0600, written and
//!   read by the same rules as every key there, [`crate::secure_fs`]). The key must stay:
//!   leaves are minted while the proxy runs, one per host asked for.
//! - It is name-constrained (a critical extension) to the DNS subtrees of
//!   [`super::hosts::permitted_dns_subtrees`], and excludes every IP address, so even its
//!   key cannot make a certificate other clients would accept for another name.
//! - A stored CA whose constraints differ from this build's host table, whose key does
//!   not match, or that nears its end is replaced by a new one at start.
//! - Leaves (ECDSA P-256, one DNS name each, 30 days) are minted in memory on first use
//!   of a host, only for a host the table serves, and cached (bounded).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use crate::keys::KeyError;
use crate::secure_fs::{is_regular_file, read_private, write_private};

use super::hosts;

/// The CA certificate's file name in the state directory.
pub(crate) const CA_FILE: &str = "intercept-ca.pem";
/// The CA key's file name in the state directory.
pub(crate) const CA_KEY_FILE: &str = "intercept-ca-key.pem";

/// A stored CA with less than this left is replaced at start.
const CA_RENEW_BEFORE_SECS: i64 = 60 * 24 * 3600;
/// How long a minted leaf is valid; the cache re-mints well before.
const LEAF_DAYS: i64 = 30;
const LEAF_REMINT_AFTER_SECS: i64 = 7 * 24 * 3600;
/// Leaves kept in memory (vault hosts are open-ended); past it the cache starts over.
const LEAF_CACHE_MAX: usize = 256;

/// The CA's subject: the same every time, so a CA re-made in memory from the stored key
/// issues leaves that chain to the stored certificate.
fn ca_params() -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        "entrakit proxy intercept CA (Microsoft hosts, local only)",
    );
    dn.push(DnType::OrganizationName, "entrakit (development only)");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.name_constraints = Some(name_constraints());
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    p.not_after = OffsetDateTime::now_utc() + Duration::days(825);
    Ok(p)
}

/// Permitted: the served hosts' DNS subtrees. Excluded: all of IPv4 and IPv6.
pub(crate) fn name_constraints() -> rcgen::NameConstraints {
    rcgen::NameConstraints {
        permitted_subtrees: hosts::permitted_dns_subtrees()
            .into_iter()
            .map(|h| rcgen::GeneralSubtree::DnsName(h.to_string()))
            .collect(),
        excluded_subtrees: vec![
            rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_v4_prefix([0; 4], 0)),
            rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_v6_prefix([0; 16], 0)),
        ],
    }
}

/// The intercept CA, loaded, with its leaf cache.
pub(crate) struct InterceptCa {
    /// `<state dir>/intercept-ca.pem`.
    pub(crate) ca_file: PathBuf,
    /// The CA certificate (PEM), for bundles.
    pub(crate) ca_pem: String,
    ca_der: Vec<u8>,
    issuer: rcgen::Certificate,
    key: KeyPair,
    leaves: Mutex<HashMap<String, (i64, Arc<rustls::ServerConfig>)>>,
}

impl std::fmt::Debug for InterceptCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterceptCa")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl InterceptCa {
    /// Loads the CA from `state_dir`, making a new one when there is none usable.
    pub(crate) fn load_or_create(state_dir: &Path) -> Result<Self, KeyError> {
        let ca_file = state_dir.join(CA_FILE);
        let key_file = state_dir.join(CA_KEY_FILE);
        let stored = load_stored(&ca_file, &key_file)?;
        let (key, ca_pem) = match stored {
            Some(x) => x,
            None => create(&ca_file, &key_file)?,
        };
        use rustls_pki_types::{CertificateDer, pem::PemObject as _};
        let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
            .map_err(|e| KeyError::File {
                path: ca_file.clone(),
                message: e.to_string(),
            })?
            .to_vec();
        // The issuer as rcgen needs it: the same subject and key as the stored
        // certificate (only those go into a leaf), kept in memory.
        let issuer = ca_params()?.self_signed(&key).map_err(|e| e.to_string())?;
        Ok(Self {
            ca_file,
            ca_pem,
            ca_der,
            issuer,
            key,
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The TLS server config presenting a leaf for `host` (lower case), minted on first
    /// use. Refuses a host the table does not serve: no leaf is ever made for it.
    pub(crate) fn server_config(
        &self,
        host: &str,
        now: i64,
    ) -> Result<Arc<rustls::ServerConfig>, String> {
        if hosts::route(host).is_none() {
            return Err(format!("{host} is not a host this proxy serves"));
        }
        let mut leaves = self.leaves.lock().expect("leaf cache lock");
        if let Some((minted, config)) = leaves.get(host)
            && now - minted < LEAF_REMINT_AFTER_SECS
        {
            return Ok(config.clone());
        }
        if leaves.len() >= LEAF_CACHE_MAX {
            leaves.clear();
        }
        let config = Arc::new(self.mint(host)?);
        leaves.insert(host.to_string(), (now, config.clone()));
        Ok(config)
    }

    /// Mints a leaf for `host` and wraps it in a server config (HTTP/1.1 only).
    fn mint(&self, host: &str) -> Result<rustls::ServerConfig, String> {
        let leaf_key = KeyPair::generate().map_err(|e| e.to_string())?;
        let mut p = CertificateParams::new(vec![host.to_string()]).map_err(|e| e.to_string())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, host);
        p.distinguished_name = dn;
        p.not_before = OffsetDateTime::now_utc() - Duration::days(1);
        p.not_after = OffsetDateTime::now_utc() + Duration::days(LEAF_DAYS);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        let leaf = p
            .signed_by(&leaf_key, &self.issuer, &self.key)
            .map_err(|e| e.to_string())?;
        let chain = vec![
            rustls_pki_types::CertificateDer::from(leaf.der().to_vec()),
            rustls_pki_types::CertificateDer::from(self.ca_der.clone()),
        ];
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("intercept leaf for {host}: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// The stored key and certificate PEM when both are there, match, carry this build's
/// constraints and are valid for a while yet; `None` when a new CA is due.
fn load_stored(ca_file: &Path, key_file: &Path) -> Result<Option<(KeyPair, String)>, KeyError> {
    if !(is_regular_file(ca_file) && is_regular_file(key_file)) {
        return Ok(None);
    }
    let read = |p: &Path| read_private(p).map_err(KeyError::StateFile);
    let (Some(cert_pem), Some(key_pem)) = (read(ca_file)?, read(key_file)?) else {
        return Ok(None);
    };
    let cert_pem = String::from_utf8_lossy(&cert_pem).into_owned();
    let Ok(key) = KeyPair::from_pem(&String::from_utf8_lossy(&key_pem)) else {
        tracing::warn!(path = %key_file.display(), "unreadable intercept CA key; making a new intercept CA");
        return Ok(None);
    };
    use rustls_pki_types::{CertificateDer, pem::PemObject as _};
    use x509_cert::der::{Decode as _, Encode as _};
    let Ok(der) = CertificateDer::from_pem_slice(cert_pem.as_bytes()) else {
        return Ok(None);
    };
    let Ok(cert) = x509_cert::Certificate::from_der(der.as_ref()) else {
        return Ok(None);
    };
    let tbs = cert.tbs_certificate();
    let spki_matches = tbs
        .subject_public_key_info()
        .to_der()
        .is_ok_and(|spki| spki == key.public_key_der());
    let not_after = tbs.validity().not_after.to_unix_duration().as_secs() as i64;
    let fresh = not_after - OffsetDateTime::now_utc().unix_timestamp() > CA_RENEW_BEFORE_SECS;
    let same_table = permitted_dns(&cert).is_some_and(|mut got| {
        let mut want: Vec<String> = hosts::permitted_dns_subtrees()
            .into_iter()
            .map(str::to_string)
            .collect();
        got.sort();
        want.sort();
        got == want
    });
    Ok((spki_matches && fresh && same_table).then_some((key, cert_pem)))
}

/// The permitted DNS subtrees of a certificate's name constraints.
pub(crate) fn permitted_dns(cert: &x509_cert::Certificate) -> Option<Vec<String>> {
    use x509_cert::der::Decode as _;
    use x509_cert::ext::pkix::NameConstraints;
    use x509_cert::ext::pkix::name::GeneralName;
    let ext = cert
        .tbs_certificate()
        .extensions()?
        .iter()
        .find(|e| e.extn_id.to_string() == "2.5.29.30")?;
    let nc = NameConstraints::from_der(ext.extn_value.as_bytes()).ok()?;
    Some(
        nc.permitted_subtrees?
            .iter()
            .filter_map(|s| match &s.base {
                GeneralName::DnsName(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
    )
}

/// Makes a new CA and writes its key, then its certificate (both 0600, atomically).
fn create(ca_file: &Path, key_file: &Path) -> Result<(KeyPair, String), KeyError> {
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let ca = ca_params()?.self_signed(&key).map_err(|e| e.to_string())?;
    let err = |p: &Path, e: std::io::Error| KeyError::File {
        path: p.to_path_buf(),
        message: e.to_string(),
    };
    write_private(key_file, key.serialize_pem().as_bytes()).map_err(|e| err(key_file, e))?;
    let pem = ca.pem();
    write_private(ca_file, pem.as_bytes()).map_err(|e| err(ca_file, e))?;
    Ok((key, pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_dir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("entra-intercept-{tag}-{}", uuid::Uuid::new_v4()));
        crate::secure_fs::ensure_private_dir(&d).unwrap();
        d
    }

    #[test]
    fn made_once_and_kept() {
        let dir = fresh_dir("kept");
        let a = InterceptCa::load_or_create(&dir).unwrap();
        let b = InterceptCa::load_or_create(&dir).unwrap();
        assert_eq!(a.ca_pem, b.ca_pem);
        // A leaf minted by the reloaded CA is issued under the stored certificate's name.
        assert!(b.server_config("graph.microsoft.com", 0).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_ca_with_other_constraints_is_replaced() {
        let dir = fresh_dir("replaced");
        let key = KeyPair::generate().unwrap();
        let mut p = ca_params().unwrap();
        p.name_constraints = Some(rcgen::NameConstraints {
            permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example.com".into())],
            excluded_subtrees: Vec::new(),
        });
        let old = p.self_signed(&key).unwrap();
        write_private(&dir.join(CA_KEY_FILE), key.serialize_pem().as_bytes()).unwrap();
        write_private(&dir.join(CA_FILE), old.pem().as_bytes()).unwrap();
        let ca = InterceptCa::load_or_create(&dir).unwrap();
        assert_ne!(ca.ca_pem, old.pem());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn no_leaf_for_a_host_not_served() {
        let dir = fresh_dir("refuse");
        let ca = InterceptCa::load_or_create(&dir).unwrap();
        for host in [
            "example.com",
            "login.microsoftonline.com.evil.example",
            "127.0.0.1",
            "vault.azure.net",
        ] {
            assert!(ca.server_config(host, 0).is_err(), "{host}");
        }
        assert!(ca.leaves.lock().unwrap().is_empty());
        assert!(ca.server_config("kv-1.vault.azure.net", 0).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod constraint_tests {
    use super::*;

    /// Signs a leaf for `name` with the CA's own key, bypassing the host table (as a
    /// thief of the key could), and asks rustls (webpki) whether it verifies.
    fn leaf_verifies(ca: &InterceptCa, name: &str) -> bool {
        let leaf_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = p.signed_by(&leaf_key, &ca.issuer, &ca.key).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls_pki_types::CertificateDer::from(ca.ca_der.clone()))
            .unwrap();
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
                &rustls_pki_types::ServerName::try_from(name.to_string()).unwrap(),
                &[],
                rustls_pki_types::UnixTime::now(),
            )
            .is_ok()
    }

    #[test]
    fn even_its_key_cannot_vouch_for_other_names() {
        let dir = std::env::temp_dir().join(format!("entra-intercept-nc-{}", uuid::Uuid::new_v4()));
        crate::secure_fs::ensure_private_dir(&dir).unwrap();
        let ca = InterceptCa::load_or_create(&dir).unwrap();
        for ok in [
            "login.microsoftonline.com",
            "api.fabric.microsoft.com",
            "kv1.vault.azure.net",
        ] {
            assert!(leaf_verifies(&ca, ok), "{ok}");
        }
        for refused in [
            "example.com",
            "login.microsoftonline.com.evil.example",
            "microsoft.com",
            "azure.net",
            "93.184.215.14",
            "::1",
        ] {
            assert!(!leaf_verifies(&ca, refused), "{refused}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
