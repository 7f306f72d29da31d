//! Azure Key Vaults: the seeded data the local Key Vault serves (`[[vaults]]` in the
//! directory file), as the file writes it and as the checked directory holds it.
//!
//! ```toml
//! [[vaults]]
//! name = "contoso-dev"
//! tenant = "contoso.onmicrosoft.com"
//! secrets = [{ name = "daemon-secret", value = "…", content_type = "text/plain" }]
//! role_assignments = [{ principal = "alice@contoso.onmicrosoft.com", role = "Key Vault Secrets Officer" }]
//! ```

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::workspaces::Member;

/// The Key Vault data-plane roles the local Key Vault knows (Azure built-in role names).
pub(crate) const VAULT_ROLES: &[&str] = &[
    "Key Vault Administrator",
    "Key Vault Secrets Officer",
    "Key Vault Secrets User",
    "Key Vault Certificates Officer",
    "Key Vault Certificate User",
];

/// A vault as the directory file writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    /// The vault's name: `https://{name}.vault.azure.net` (3-24 of `a-z`, `0-9`, `-`).
    pub name: Spanned<String>,
    /// The tenant (id or domain) the vault belongs to.
    pub tenant: Spanned<String>,
    /// Secrets present at start (one version each).
    #[serde(default)]
    pub secrets: Vec<VaultSecretConfig>,
    /// Who holds which Key Vault role on the vault (RBAC).
    #[serde(default)]
    pub role_assignments: Vec<VaultRoleConfig>,
    /// Certificates present at start (one version each), from PEM files holding the
    /// certificate and its private key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<VaultCertificateConfig>,
}

/// A seeded certificate: exactly one of `file` (relative to the directory file's folder)
/// or `state_file` (in the state directory, e.g. the `daemon.pem` an app's `generate`
/// made).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultCertificateConfig {
    /// Certificate name (1-127 of `a-z`, `A-Z`, `0-9`, `-`).
    pub name: Spanned<String>,
    /// A PEM file next to the directory file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// A PEM file in the state directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_file: Option<String>,
}

/// A seeded secret. Its `Debug` never shows the value.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSecretConfig {
    /// Secret name (1-127 of `a-z`, `A-Z`, `0-9`, `-`).
    pub name: Spanned<String>,
    /// The secret value.
    pub value: String,
    /// `contentType`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl std::fmt::Debug for VaultSecretConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultSecretConfig")
            .field("name", self.name.get_ref())
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// A Key Vault role assignment on a vault.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultRoleConfig {
    /// A user's UPN, or the client id of an app or managed identity.
    pub principal: Spanned<String>,
    /// `Key Vault Secrets User`, `Key Vault Secrets Officer`, `Key Vault Certificate User`,
    /// `Key Vault Certificates Officer` or `Key Vault Administrator`.
    pub role: String,
}

/// A checked vault.
#[derive(Clone)]
pub(crate) struct Vault {
    /// Name (lower case).
    pub(crate) name: String,
    /// Tenant id.
    pub(crate) tenant_id: String,
    /// Seeded secrets: (name, value, content type).
    pub(crate) secrets: Vec<(String, String, Option<String>)>,
    /// (member, role).
    pub(crate) roles: Vec<(Member, String)>,
    /// Seeded certificates: (name, PEM bundle with the private key).
    pub(crate) certificates: Vec<(String, String)>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("name", &self.name)
            .field("tenant_id", &self.tenant_id)
            .field("secrets", &self.secrets.len())
            .field("certificates", &self.certificates.len())
            .field("roles", &self.roles)
            .finish()
    }
}

impl Vault {
    /// The roles `who` holds on this vault.
    pub(crate) fn roles_of<'a>(&'a self, who: &'a Member) -> impl Iterator<Item = &'a str> {
        self.roles
            .iter()
            .filter(move |(m, _)| m == who)
            .map(|(_, r)| r.as_str())
    }
}

/// Whether `s` is a valid vault name (Azure: 3-24 characters, a letter first, letters,
/// digits and single hyphens, no hyphen last).
pub(crate) fn valid_vault_name(s: &str) -> bool {
    (3..=24).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Whether `s` is a valid secret name (Key Vault: 1-127 of letters, digits and `-`).
pub(crate) fn valid_secret_name(s: &str) -> bool {
    (1..=127).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A PEM bundle's certificate (DER) and validity (unix seconds), checking that the bundle
/// also holds a private key.
pub(crate) fn parse_cert_pem(text: &str) -> Result<(Vec<u8>, i64, i64), String> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use x509_cert::der::Decode as _;
    let der = CertificateDer::pem_slice_iter(text.as_bytes())
        .next()
        .and_then(Result::ok)
        .ok_or("no PEM CERTIFICATE block (PKCS#12 import is not served locally)")?;
    PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|_| "no PEM private key")?;
    let cert =
        x509_cert::Certificate::from_der(der.as_ref()).map_err(|_| "not an X.509 certificate")?;
    let v = cert.tbs_certificate().validity();
    let nbf = v.not_before.to_unix_duration().as_secs() as i64;
    let exp = v.not_after.to_unix_duration().as_secs() as i64;
    Ok((der.as_ref().to_vec(), nbf, exp))
}
