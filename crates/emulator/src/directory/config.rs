//! The editable source of a directory: the TOML tables (`[[tenants]]`, `[[apps]]`,
//! `[[users]]`, ...) as serde reads and writes them, with spans for error messages, and
//! the error a file that cannot be used gets.

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The built-in development directory (documented in the README).
pub const DEFAULT_DIRECTORY_TOML: &str = include_str!("../default-directory.toml");

/// A directory file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax or type error (toml's message names line and key).
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// toml's message.
        message: String,
    },
    /// The file parsed but says something inconsistent.
    #[error("{file}:{line}: {key}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line of the offending value (0 when unknown).
        line: usize,
        /// Dotted key, e.g. `apps[2].tenant`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Settings that shape lifetimes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Fixed access-token lifetime; `None` means random 60 to 90 minutes, like Entra.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<u64>,
    /// Authorization-code lifetime.
    #[serde(default = "d_code")]
    pub auth_code_lifetime_seconds: u64,
    /// Device-code lifetime.
    #[serde(default = "d_device")]
    pub device_code_lifetime_seconds: u64,
    /// Device-code polling interval advertised to clients.
    #[serde(default = "d_interval")]
    pub device_code_interval_seconds: u64,
    /// A refresh token unused this long expires (AADSTS700082).
    #[serde(default = "d_inactive")]
    pub refresh_token_inactivity_seconds: u64,
    /// ID-token lifetime.
    #[serde(default = "d_id")]
    pub id_token_lifetime_seconds: u64,
    /// How long a rotated-out signing key stays published.
    #[serde(default = "d_grace")]
    pub key_grace_seconds: u64,
    /// How long after `POST /admin/keys/rotate` announces a new signing key (publishes it
    /// in the JWKS) the emulator starts signing with it.
    #[serde(default = "d_rollover")]
    pub key_rollover_delay_seconds: u64,
    /// The sign-in page lists the directory's users as one-click choices (development
    /// only: the click signs in without a password). Off unless set; `entra up` sets it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dev_user_picker: bool,
    /// Page size of the local Fabric API's lists (`continuationToken` past it).
    #[serde(default = "d_page")]
    pub fabric_page_size: u64,
}

fn d_code() -> u64 {
    600
}
fn d_device() -> u64 {
    900
}
fn d_interval() -> u64 {
    5
}
fn d_inactive() -> u64 {
    90 * 24 * 3600
}
fn d_id() -> u64 {
    3600
}
fn d_grace() -> u64 {
    86400
}
/// Ten minutes: longer than the 5 minutes entra-validate (and Microsoft.IdentityModel's
/// `ConfigurationManager.RefreshInterval`) waits between refetches on an unknown `kid`.
/// A validator whose last fetch predates the announcement fetched more than this long
/// before the first token signed with the new key, so its throttle lets it refetch then;
/// one that fetched after the announcement has the key already. No validator sees a
/// token it must refuse.
fn d_rollover() -> u64 {
    600
}

fn d_page() -> u64 {
    100
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_lifetime_seconds: None,
            auth_code_lifetime_seconds: d_code(),
            device_code_lifetime_seconds: d_device(),
            device_code_interval_seconds: d_interval(),
            refresh_token_inactivity_seconds: d_inactive(),
            id_token_lifetime_seconds: d_id(),
            key_grace_seconds: d_grace(),
            key_rollover_delay_seconds: d_rollover(),
            dev_user_picker: false,
            fabric_page_size: d_page(),
        }
    }
}

/// A tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant id (GUID).
    pub id: Spanned<String>,
    /// Primary domain, e.g. `contoso.onmicrosoft.com`.
    pub domain: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// A client secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// The secret text.
    pub value: String,
    /// RFC 3339 expiry; past it, AADSTS7000222.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// A key id for the admin API (generated when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// A client certificate: one of `file`, `generate` or `pem`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// A PEM file (certificate, optionally with its key), relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// A file in the state directory, created (RSA 2048 key + self-signed certificate) when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<String>,
    /// The certificate PEM inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
}

/// A federated identity credential (workload identity).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederatedCredentialConfig {
    /// A label.
    #[serde(default)]
    pub name: String,
    /// The issuer URL, or `emulator` for the emulator's own `/federation` issuer.
    pub issuer: String,
    /// The exact `sub` expected.
    pub subject: String,
    /// Accepted `aud` values.
    #[serde(default = "d_fic_aud")]
    pub audiences: Vec<String>,
}

fn d_fic_aud() -> Vec<String> {
    vec!["api://AzureADTokenExchange".into()]
}

/// An app registration (and its service principal in its home tenant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Application (client) id.
    pub client_id: Spanned<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Home tenant (id or domain).
    pub tenant: Spanned<String>,
    /// Usable from every tenant.
    #[serde(default)]
    pub multi_tenant: bool,
    /// "Allow public client flows": no client credential, device code allowed.
    #[serde(default)]
    pub public_client: bool,
    /// Client secrets.
    #[serde(default)]
    pub secrets: Vec<SecretConfig>,
    /// Client certificates.
    #[serde(default)]
    pub certificates: Vec<CertificateConfig>,
    /// Federated identity credentials.
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredentialConfig>,
    /// Redirect URIs (Entra's loopback rule: `http://localhost` matches any port).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// App ID URIs.
    #[serde(default)]
    pub identifier_uris: Vec<String>,
    /// 1 (or absent) for v1 access tokens, 2 for v2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_accepted_version: Option<u8>,
    /// Delegated scopes this app exposes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// App roles this app defines.
    #[serde(default)]
    pub app_roles: Vec<String>,
    /// Delegated permissions an admin consented to for every user: `resource/scope`.
    #[serde(default = "empty_list")]
    pub admin_consent: Spanned<Vec<String>>,
    /// Application permissions granted to this app: `resource/role`.
    #[serde(default = "empty_list")]
    pub app_role_assignments: Spanned<Vec<String>>,
    /// Clients pre-authorized for some of this app's scopes (Entra's
    /// `api.preAuthorizedApplications`): their users are never asked to consent to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_authorized: Vec<PreAuthorizedConfig>,
    /// Service principal object id (derived when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
}

/// One pre-authorized client of an app: its client id and the scopes (names of this
/// app's own `scopes`) it may use without consent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreAuthorizedConfig {
    /// The client's application id.
    pub client_id: Spanned<String>,
    /// Scope names of this app, e.g. `user_impersonation`.
    pub scopes: Vec<String>,
}

/// A managed identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedIdentityConfig {
    /// Client id.
    pub client_id: Spanned<String>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Tenant.
    pub tenant: Spanned<String>,
    /// `system` or `user`.
    #[serde(default = "d_kind")]
    pub kind: String,
    /// Azure resource id.
    #[serde(default)]
    pub resource_id: String,
    /// Object (principal) id, derived when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// Application permissions: `resource/role`.
    #[serde(default = "empty_list")]
    pub app_role_assignments: Spanned<Vec<String>>,
}

fn empty_list() -> Spanned<Vec<String>> {
    Spanned::new(0..0, Vec::new())
}

fn d_kind() -> String {
    "user".into()
}

/// A user's consent to a client app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentConfig {
    /// The client app.
    pub client_id: Spanned<String>,
    /// `resource/scope` values.
    pub scopes: Spanned<Vec<String>>,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Sign-in name.
    pub upn: Spanned<String>,
    /// Password.
    pub password: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Object id, derived when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// Home tenant; defaults to the tenant whose domain the UPN ends with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Spanned<String>>,
    /// Sign-in needs a second factor.
    #[serde(default)]
    pub mfa_required: bool,
    /// Group ids.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Directory roles (template ids) for `wids`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Consents this user gave.
    #[serde(default)]
    pub consents: Vec<ConsentConfig>,
}

/// A group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Object id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// The whole directory file.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// Lifetimes.
    #[serde(default)]
    pub settings: Settings,
    /// Tenants.
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// App registrations.
    #[serde(default)]
    pub apps: Vec<AppConfig>,
    /// Managed identities.
    #[serde(default)]
    pub managed_identities: Vec<ManagedIdentityConfig>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    /// Users.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Azure subscriptions and their role assignments (the local Azure Resource Manager).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<super::subscriptions::SubscriptionConfig>,
    /// Fabric workspaces (Power BI groups) with their members and items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<super::workspaces::WorkspaceConfig>,
    /// Azure Key Vaults with their seeded secrets and RBAC role assignments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vaults: Vec<super::vaults::VaultConfig>,
}

impl DirectoryConfig {
    /// Parses TOML; `file` names the source in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.into(),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// The embedded default.
    pub fn embedded_default() -> Self {
        Self::parse(DEFAULT_DIRECTORY_TOML, "<embedded default>")
            .expect("the embedded default directory parses")
    }

    /// Renders TOML (what `--print-config` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}
