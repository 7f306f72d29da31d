//! The emulated directory: tenants, app registrations, users, groups and managed
//! identities, loaded from TOML (or the embedded default) and checked for consistency.
//!
//! [`DirectoryConfig`] is the editable source (what `--print-config` prints and the admin
//! API changes); [`Directory`] is the checked, indexed form the endpoints read. Every
//! change builds a new `Directory`; readers hold an `Arc` to the one they started with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use toml::Spanned;

use crate::keys::{self, ClientCertificate};

/// The built-in development directory (documented in the README).
pub const DEFAULT_DIRECTORY_TOML: &str = include_str!("default-directory.toml");

/// The consumer (personal accounts) tenant id.
pub const CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

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
    /// Service principal object id (derived when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
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

// ---------------------------------------------------------------------------------------
// The checked form.

/// A tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// GUID, lower case.
    pub id: String,
    /// Domain, lower case.
    pub domain: String,
    /// Display name.
    pub name: String,
}

/// A usable client secret.
#[derive(Clone)]
pub struct ClientSecret {
    /// Key id.
    pub key_id: String,
    /// The secret.
    pub value: String,
    /// Expiry (unix seconds).
    pub expires: Option<i64>,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecret")
            .field("key_id", &self.key_id)
            .field("value", &"[redacted]")
            .field("expires", &self.expires)
            .finish()
    }
}

/// A checked app registration.
#[derive(Debug, Clone)]
pub struct App {
    /// Client id (lower case).
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Home tenant id.
    pub tenant_id: String,
    /// Multi-tenant.
    pub multi_tenant: bool,
    /// Public client.
    pub public_client: bool,
    /// Secrets.
    pub secrets: Vec<ClientSecret>,
    /// Certificates.
    pub certificates: Vec<ClientCertificate>,
    /// Federated credentials.
    pub federated: Vec<FederatedCredentialConfig>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// App ID URIs.
    pub identifier_uris: Vec<String>,
    /// 1 or 2.
    pub token_version: u8,
    /// Exposed scopes.
    pub scopes: Vec<String>,
    /// App roles.
    pub app_roles: Vec<String>,
    /// (resource client id, scope) consented by an admin for everyone.
    pub admin_consent: Vec<(String, String)>,
    /// (resource client id, role) granted.
    pub role_assignments: Vec<(String, String)>,
    /// Service principal object id.
    pub object_id: String,
}

impl App {
    /// Is this app usable in `tenant_id`?
    pub fn in_tenant(&self, tenant_id: &str) -> bool {
        self.multi_tenant || self.tenant_id == tenant_id
    }

    /// The first App ID URI, or the client id: how scopes are written in responses.
    pub fn scope_prefix(&self) -> &str {
        self.identifier_uris
            .first()
            .map(String::as_str)
            .unwrap_or(&self.client_id)
    }

    /// Microsoft Graph's well-known id.
    pub fn is_graph(&self) -> bool {
        self.client_id == GRAPH_APP_ID
    }
}

/// Microsoft Graph's application id.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// A managed identity.
#[derive(Debug, Clone)]
pub struct ManagedIdentity {
    /// Client id.
    pub client_id: String,
    /// Object id.
    pub object_id: String,
    /// Resource id.
    pub resource_id: String,
    /// Name.
    pub name: String,
    /// Tenant id.
    pub tenant_id: String,
    /// System-assigned.
    pub system: bool,
    /// (resource client id, role).
    pub role_assignments: Vec<(String, String)>,
}

/// A user.
#[derive(Clone)]
pub struct User {
    /// UPN (lower case).
    pub upn: String,
    /// Password.
    pub password: String,
    /// Display name.
    pub name: String,
    /// Object id.
    pub object_id: String,
    /// Home tenant id.
    pub tenant_id: String,
    /// MFA required.
    pub mfa_required: bool,
    /// Group ids.
    pub groups: Vec<String>,
    /// Directory role ids.
    pub roles: Vec<String>,
    /// client id -> (resource client id, scope) consented.
    pub consents: HashMap<String, Vec<(String, String)>>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("upn", &self.upn)
            .field("object_id", &self.object_id)
            .field("password", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The checked, indexed directory.
#[derive(Debug, Clone)]
pub struct Directory {
    /// Settings.
    pub settings: Settings,
    /// Tenants.
    pub tenants: Vec<Tenant>,
    /// Apps.
    pub apps: Vec<App>,
    /// Managed identities.
    pub managed_identities: Vec<ManagedIdentity>,
    /// Users.
    pub users: Vec<User>,
    app_index: HashMap<String, usize>,
    /// (lower-cased App ID URI, app index), longest first.
    uri_index: Vec<(String, usize)>,
}

/// Where files referenced by the config live.
#[derive(Debug, Clone)]
pub struct LoadContext {
    /// Name for error messages.
    pub file: String,
    /// The config file's folder (for `file =`).
    pub config_dir: PathBuf,
    /// The state directory (for `generate =`).
    pub state_dir: PathBuf,
    /// The text, for mapping spans to lines.
    pub text: String,
}

impl LoadContext {
    fn invalid(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: String,
        message: String,
    ) -> ConfigError {
        // Spans of entries added through the admin API point into another text: no line.
        let line = span
            .filter(|s| s.end > 0)
            .and_then(|s| self.text.get(..s.start))
            .map(|before| before.matches('\n').count() + 1)
            .unwrap_or(0);
        ConfigError::Invalid {
            file: self.file.clone(),
            line,
            key,
            message,
        }
    }
}

/// A deterministic GUID-shaped id derived from `parts` (for object ids not given).
pub fn derived_guid(parts: &[&str]) -> String {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, parts.join("\u{1f}").as_bytes());
    let b = digest.as_ref();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-8{:01x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6] & 0xf,
        b[7],
        b[8] & 0xf,
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

/// Is `s` a GUID in 8-4-4-4-12 form?
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn find_tenant(
    tenants: &[Tenant],
    ctx: &LoadContext,
    s: &Spanned<String>,
    key: String,
) -> Result<String, ConfigError> {
    let want = s.get_ref().to_ascii_lowercase();
    tenants
        .iter()
        .find(|t| t.id == want || t.domain == want)
        .map(|t| t.id.clone())
        .ok_or_else(|| {
            ctx.invalid(
                Some(s.span()),
                key,
                format!("no tenant {want:?} (define it under [[tenants]])"),
            )
        })
}

impl Directory {
    /// Checks `config` and builds the indexes. Certificates named by `generate` are
    /// created in the state directory when missing.
    pub fn build(config: &DirectoryConfig, ctx: &LoadContext) -> Result<Self, ConfigError> {
        let mut tenants: Vec<Tenant> = Vec::new();
        for (i, t) in config.tenants.iter().enumerate() {
            let id = t.id.get_ref().to_ascii_lowercase();
            if !is_guid(&id) {
                return Err(ctx.invalid(
                    Some(t.id.span()),
                    format!("tenants[{i}].id"),
                    format!("{id:?} is not a GUID"),
                ));
            }
            if tenants.iter().any(|x| x.id == id) {
                return Err(ctx.invalid(
                    Some(t.id.span()),
                    format!("tenants[{i}].id"),
                    "duplicate tenant id".into(),
                ));
            }
            tenants.push(Tenant {
                id,
                domain: t.domain.to_ascii_lowercase(),
                name: t.name.clone(),
            });
        }
        let mut apps = Vec::new();
        let mut app_index = HashMap::new();
        for (i, a) in config.apps.iter().enumerate() {
            let client_id = a.client_id.get_ref().to_ascii_lowercase();
            if !is_guid(&client_id) {
                return Err(ctx.invalid(
                    Some(a.client_id.span()),
                    format!("apps[{i}].client_id"),
                    format!("{client_id:?} is not a GUID"),
                ));
            }
            if app_index.insert(client_id.clone(), i).is_some() {
                return Err(ctx.invalid(
                    Some(a.client_id.span()),
                    format!("apps[{i}].client_id"),
                    "duplicate client id".into(),
                ));
            }
            let tenant_id = find_tenant(&tenants, ctx, &a.tenant, format!("apps[{i}].tenant"))?;
            let mut secrets = Vec::new();
            for (j, s) in a.secrets.iter().enumerate() {
                let expires = match &s.expires {
                    Some(e) => Some(parse_rfc3339(e).ok_or_else(|| {
                        ctx.invalid(
                            Some(a.client_id.span()),
                            format!("apps[{i}].secrets[{j}].expires"),
                            format!("{e:?} is not an RFC 3339 date-time"),
                        )
                    })?),
                    None => None,
                };
                if s.value.is_empty() {
                    return Err(ctx.invalid(
                        Some(a.client_id.span()),
                        format!("apps[{i}].secrets[{j}].value"),
                        "empty secret".into(),
                    ));
                }
                secrets.push(ClientSecret {
                    key_id: s
                        .key_id
                        .clone()
                        .unwrap_or_else(|| derived_guid(&["secret", &client_id, &j.to_string()])),
                    value: s.value.clone(),
                    expires,
                });
            }
            let mut certificates = Vec::new();
            for (j, c) in a.certificates.iter().enumerate() {
                let key = format!("apps[{i}].certificates[{j}]");
                let cert = match (&c.file, &c.generate, &c.pem) {
                    (Some(f), None, None) => {
                        let path = ctx.config_dir.join(f);
                        let pem = std::fs::read_to_string(&path).map_err(|e| {
                            ctx.invalid(
                                Some(a.client_id.span()),
                                format!("{key}.file"),
                                format!("{}: {e}", path.display()),
                            )
                        })?;
                        keys::ClientCertificate::from_pem(&pem)
                    }
                    (None, Some(g), None) => {
                        keys::ClientCertificate::load_or_generate(&ctx.state_dir.join(g), &a.name)
                    }
                    (None, None, Some(p)) => keys::ClientCertificate::from_pem(p),
                    _ => Err("give exactly one of file, generate or pem".to_string()),
                }
                .map_err(|m| ctx.invalid(Some(a.client_id.span()), key, m))?;
                certificates.push(cert);
            }
            if let Some(v) = a.access_token_accepted_version
                && v != 1
                && v != 2
            {
                return Err(ctx.invalid(
                    Some(a.client_id.span()),
                    format!("apps[{i}].access_token_accepted_version"),
                    "must be 1 or 2".into(),
                ));
            }
            for (j, r) in a.redirect_uris.iter().enumerate() {
                if !(r.starts_with("https://")
                    || r.starts_with("http://localhost")
                    || r.starts_with("http://127.0.0.1")
                    || r.starts_with("http://[::1]")
                    || (r.contains("://") && !r.starts_with("http://")))
                {
                    return Err(ctx.invalid(
                        Some(a.client_id.span()),
                        format!("apps[{i}].redirect_uris[{j}]"),
                        format!(
                            "{r:?}: Entra accepts https://, loopback http:// or a custom scheme"
                        ),
                    ));
                }
            }
            for (j, f) in a.federated_credentials.iter().enumerate() {
                if f.issuer != "emulator"
                    && !f.issuer.starts_with("https://")
                    && !f.issuer.starts_with("http://")
                {
                    return Err(ctx.invalid(
                        Some(a.client_id.span()),
                        format!("apps[{i}].federated_credentials[{j}].issuer"),
                        "an https:// issuer URL or \"emulator\"".into(),
                    ));
                }
            }
            apps.push(App {
                object_id: a
                    .object_id
                    .clone()
                    .unwrap_or_else(|| derived_guid(&["sp", &client_id, &tenant_id])),
                client_id,
                name: if a.name.is_empty() {
                    a.client_id.get_ref().clone()
                } else {
                    a.name.clone()
                },
                tenant_id,
                multi_tenant: a.multi_tenant,
                public_client: a.public_client,
                secrets,
                certificates,
                federated: a.federated_credentials.clone(),
                redirect_uris: a.redirect_uris.clone(),
                identifier_uris: a.identifier_uris.clone(),
                token_version: a.access_token_accepted_version.unwrap_or(1),
                scopes: a.scopes.clone(),
                app_roles: a.app_roles.clone(),
                admin_consent: Vec::new(),
                role_assignments: Vec::new(),
            });
        }
        let mut uri_index: Vec<(String, usize)> = apps
            .iter()
            .enumerate()
            .flat_map(|(i, a)| {
                a.identifier_uris
                    .iter()
                    .map(move |u| (u.trim_end_matches('/').to_ascii_lowercase(), i))
            })
            .collect();
        uri_index.sort_by_key(|(uri, _)| std::cmp::Reverse(uri.len()));

        let mut dir = Directory {
            settings: config.settings.clone(),
            tenants,
            apps,
            managed_identities: Vec::new(),
            users: Vec::new(),
            app_index,
            uri_index,
        };

        // Cross references, now that every app is known.
        for (i, a) in config.apps.iter().enumerate() {
            dir.apps[i].admin_consent = dir.resolve_permissions(
                &a.admin_consent,
                false,
                ctx,
                &format!("apps[{i}].admin_consent"),
            )?;
            dir.apps[i].role_assignments = dir.resolve_permissions(
                &a.app_role_assignments,
                true,
                ctx,
                &format!("apps[{i}].app_role_assignments"),
            )?;
        }
        for (i, m) in config.managed_identities.iter().enumerate() {
            let client_id = m.client_id.get_ref().to_ascii_lowercase();
            if !is_guid(&client_id) {
                return Err(ctx.invalid(
                    Some(m.client_id.span()),
                    format!("managed_identities[{i}].client_id"),
                    "not a GUID".into(),
                ));
            }
            let system = match m.kind.as_str() {
                "system" => true,
                "user" => false,
                other => {
                    return Err(ctx.invalid(
                        Some(m.client_id.span()),
                        format!("managed_identities[{i}].kind"),
                        format!("{other:?}: use \"system\" or \"user\""),
                    ));
                }
            };
            let tenant_id = find_tenant(
                &dir.tenants,
                ctx,
                &m.tenant,
                format!("managed_identities[{i}].tenant"),
            )?;
            let role_assignments = dir.resolve_permissions(
                &m.app_role_assignments,
                true,
                ctx,
                &format!("managed_identities[{i}].app_role_assignments"),
            )?;
            dir.managed_identities.push(ManagedIdentity {
                object_id: m
                    .object_id
                    .clone()
                    .unwrap_or_else(|| derived_guid(&["mi", &client_id])),
                client_id,
                resource_id: m.resource_id.clone(),
                name: m.name.clone(),
                tenant_id,
                system,
                role_assignments,
            });
        }
        if dir.managed_identities.iter().filter(|m| m.system).count() > 1 {
            return Err(ctx.invalid(
                None,
                "managed_identities".into(),
                "at most one system-assigned identity".into(),
            ));
        }
        for (i, u) in config.users.iter().enumerate() {
            let upn = u.upn.get_ref().to_ascii_lowercase();
            let Some((_, domain)) = upn.split_once('@') else {
                return Err(ctx.invalid(
                    Some(u.upn.span()),
                    format!("users[{i}].upn"),
                    "a UPN looks like name@domain".into(),
                ));
            };
            if dir.users.iter().any(|x| x.upn == upn) {
                return Err(ctx.invalid(
                    Some(u.upn.span()),
                    format!("users[{i}].upn"),
                    "duplicate user".into(),
                ));
            }
            let tenant_id = match &u.tenant {
                Some(t) => find_tenant(&dir.tenants, ctx, t, format!("users[{i}].tenant"))?,
                None => dir
                    .tenants
                    .iter()
                    .find(|t| t.domain == domain)
                    .map(|t| t.id.clone())
                    .ok_or_else(|| {
                        ctx.invalid(
                            Some(u.upn.span()),
                            format!("users[{i}].upn"),
                            format!("no tenant has the domain {domain:?}; set `tenant`"),
                        )
                    })?,
            };
            let mut consents: HashMap<String, Vec<(String, String)>> = HashMap::new();
            for (j, c) in u.consents.iter().enumerate() {
                let client = c.client_id.get_ref().to_ascii_lowercase();
                if dir.app(&client).is_none() {
                    return Err(ctx.invalid(
                        Some(c.client_id.span()),
                        format!("users[{i}].consents[{j}].client_id"),
                        format!("no app {client:?}"),
                    ));
                }
                let perms = dir.resolve_permissions(
                    &c.scopes,
                    false,
                    ctx,
                    &format!("users[{i}].consents[{j}].scopes"),
                )?;
                consents.entry(client).or_default().extend(perms);
            }
            dir.users.push(User {
                object_id: u
                    .object_id
                    .clone()
                    .unwrap_or_else(|| derived_guid(&["user", &upn])),
                upn,
                password: u.password.clone(),
                name: u.name.clone(),
                tenant_id,
                mfa_required: u.mfa_required,
                groups: u.groups.clone(),
                roles: u.roles.clone(),
                consents,
            });
        }
        Ok(dir)
    }

    fn resolve_permissions(
        &self,
        list: &Spanned<Vec<String>>,
        roles: bool,
        ctx: &LoadContext,
        key: &str,
    ) -> Result<Vec<(String, String)>, ConfigError> {
        let mut out = Vec::new();
        for entry in list.get_ref() {
            let err = |m: String| ctx.invalid(Some(list.span()), key.to_string(), m);
            let (app, name) = self.split_permission(entry).ok_or_else(|| {
                err(format!(
                    "{entry:?}: no app has that App ID URI or client id"
                ))
            })?;
            let known = if roles { &app.app_roles } else { &app.scopes };
            if !known.iter().any(|s| s == name) {
                let what = if roles { "app role" } else { "scope" };
                return Err(err(format!(
                    "{entry:?}: {} defines no {what} {name:?}",
                    app.name
                )));
            }
            out.push((app.client_id.clone(), name.to_string()));
        }
        Ok(out)
    }

    /// Splits `resource/permission` (or a bare Graph permission) into the resource app and name.
    pub fn split_permission<'a>(&self, entry: &'a str) -> Option<(&App, &'a str)> {
        match entry.rsplit_once('/') {
            Some((resource, name)) => Some((self.resource(resource)?, name)),
            None => Some((self.app(GRAPH_APP_ID)?, entry)),
        }
    }

    /// An app by client id.
    pub fn app(&self, client_id: &str) -> Option<&App> {
        let i = *self.app_index.get(client_id).or_else(|| {
            if client_id.bytes().any(|b| b.is_ascii_uppercase()) {
                self.app_index.get(&client_id.to_ascii_lowercase())
            } else {
                None
            }
        })?;
        self.apps.get(i)
    }

    /// A resource app by App ID URI or client id (trailing `/` ignored).
    pub fn resource(&self, id: &str) -> Option<&App> {
        let id = id.trim_end_matches('/');
        if let Some(app) = self.app(id) {
            return Some(app);
        }
        let lower = id.to_ascii_lowercase();
        self.uri_index
            .iter()
            .find(|(uri, _)| *uri == lower)
            .map(|(_, i)| &self.apps[*i])
    }

    /// Splits a v2 scope string's entry into (resource app, scope name). Scopes without a
    /// resource prefix are Microsoft Graph's. Longest App ID URI prefix wins.
    pub fn resolve_scope<'a>(&self, scope: &'a str) -> Option<(&App, &'a str)> {
        let lower = scope.to_ascii_lowercase();
        for (uri, i) in &self.uri_index {
            if lower.len() > uri.len() + 1
                && lower.starts_with(uri.as_str())
                && lower.as_bytes()[uri.len()] == b'/'
            {
                return Some((&self.apps[*i], &scope[uri.len() + 1..]));
            }
        }
        self.split_permission(scope)
    }

    /// A tenant by id or domain (case-insensitive).
    pub fn tenant(&self, id_or_domain: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| {
            t.id.eq_ignore_ascii_case(id_or_domain) || t.domain.eq_ignore_ascii_case(id_or_domain)
        })
    }

    /// A user by UPN.
    pub fn user(&self, upn: &str) -> Option<&User> {
        self.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn))
    }

    /// A user by object id.
    pub fn user_by_oid(&self, oid: &str) -> Option<&User> {
        self.users.iter().find(|u| u.object_id == oid)
    }

    /// The managed identity a request selects: none of the ids means system-assigned.
    pub fn managed_identity(
        &self,
        client_id: Option<&str>,
        object_id: Option<&str>,
        resource_id: Option<&str>,
    ) -> Option<&ManagedIdentity> {
        let ids = &self.managed_identities;
        match (client_id, object_id, resource_id) {
            (Some(c), _, _) => ids.iter().find(|m| m.client_id.eq_ignore_ascii_case(c)),
            (_, Some(o), _) => ids.iter().find(|m| m.object_id.eq_ignore_ascii_case(o)),
            (_, _, Some(r)) => ids.iter().find(|m| m.resource_id.eq_ignore_ascii_case(r)),
            _ => ids.iter().find(|m| m.system),
        }
    }

    /// Has `user` (or an admin, for everyone) consented to `client` using `scope` of `resource`?
    pub fn consented(&self, user: &User, client: &App, resource: &str, scope: &str) -> bool {
        let hit = |list: &[(String, String)]| {
            list.iter()
                .any(|(r, s)| r == resource && s.eq_ignore_ascii_case(scope))
        };
        hit(&client.admin_consent) || user.consents.get(&client.client_id).is_some_and(|l| hit(l))
    }

    /// Every scope of `resource` consented for `user` and `client` (what `/.default` means).
    pub fn consented_scopes(&self, user: &User, client: &App, resource: &str) -> Vec<String> {
        let mut out: Vec<String> = client
            .admin_consent
            .iter()
            .chain(user.consents.get(&client.client_id).into_iter().flatten())
            .filter(|(r, _)| r == resource)
            .map(|(_, s)| s.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Loads the directory from a file (or the embedded default when `path` is `None`).
pub fn load(
    path: Option<&Path>,
    state_dir: &Path,
) -> Result<(DirectoryConfig, Directory, LoadContext), ConfigError> {
    let (text, file, config_dir) = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
                file: p.display().to_string(),
                source,
            })?;
            let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
            (text, p.display().to_string(), dir)
        }
        None => (
            DEFAULT_DIRECTORY_TOML.to_string(),
            "<embedded default>".to_string(),
            state_dir.to_path_buf(),
        ),
    };
    let config = DirectoryConfig::parse(&text, &file)?;
    let ctx = LoadContext {
        file,
        config_dir,
        state_dir: state_dir.to_path_buf(),
        text,
    };
    let dir = Directory::build(&config, &ctx)?;
    Ok((config, dir, ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(text: &str) -> LoadContext {
        let state = std::env::temp_dir().join(format!("entra-dir-test-{}", uuid::Uuid::new_v4()));
        LoadContext {
            file: "test.toml".into(),
            config_dir: state.clone(),
            state_dir: state,
            text: text.into(),
        }
    }

    fn build(text: &str) -> Result<Directory, ConfigError> {
        let config = DirectoryConfig::parse(text, "test.toml")?;
        Directory::build(&config, &ctx(text))
    }

    #[test]
    fn default_directory_builds_and_resolves() {
        let text = DEFAULT_DIRECTORY_TOML;
        let dir = build(text).unwrap();
        let (api, scope) = dir.resolve_scope("api://contoso-api/Data.Read").unwrap();
        assert_eq!(api.client_id, "a0000000-0000-4000-8000-0000000000a1");
        assert_eq!(scope, "Data.Read");
        let (graph, scope) = dir.resolve_scope("User.Read").unwrap();
        assert!(graph.is_graph());
        assert_eq!(scope, "User.Read");
        let (api, scope) = dir
            .resolve_scope("a0000000-0000-4000-8000-0000000000a1/.default")
            .unwrap();
        assert_eq!(api.name, "Contoso API");
        assert_eq!(scope, ".default");
        assert_eq!(
            dir.tenant("CONTOSO.onmicrosoft.com").unwrap().id,
            "c0ffee00-0000-4000-8000-000000000001"
        );
        let alice = dir.user("Alice@contoso.onmicrosoft.com").unwrap();
        let web = dir.app("e0000000-0000-4000-8000-0000000000e1").unwrap();
        assert!(dir.consented(alice, web, &api.client_id, "Data.Read")); // admin consent
        let bob = dir.user("bob@contoso.onmicrosoft.com").unwrap();
        let public = dir.app("c1000000-0000-4000-8000-0000000000c1").unwrap();
        assert!(!dir.consented(bob, public, &api.client_id, "Data.Read"));
        assert!(dir.managed_identity(None, None, None).unwrap().system);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let text = "[[tenants]]\nid = \"c0ffee00-0000-4000-8000-000000000001\"\ndomain = \"c.example\"\n\n[[apps]]\nclient_id = \"a0000000-0000-4000-8000-0000000000a1\"\ntenant = \"nowhere.example\"\n";
        let err = build(text).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:7: apps[0].tenant:"), "{err}");

        let err = build("[[apps]]\nclient_id = 5\n").unwrap_err().to_string();
        assert!(err.contains("test.toml") && err.contains("line 2"), "{err}");

        let err = build("[[users]]\nupn = \"x@y\"\npassword = \"p\"\ncolour = \"red\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn unknown_permission_is_refused() {
        let text = DEFAULT_DIRECTORY_TOML.replace(
            "api://contoso-api/Data.Read.All\"]\n\n[[apps]]",
            "api://contoso-api/Nope\"]\n\n[[apps]]",
        );
        let err = build(&text).unwrap_err().to_string();
        assert!(err.contains("defines no app role \"Nope\""), "{err}");
    }

    #[test]
    fn debug_output_hides_secrets_and_passwords() {
        let dir = build(DEFAULT_DIRECTORY_TOML).unwrap();
        let shown = format!("{dir:?}");
        for secret in [
            "daemon-dev-secret",
            "web-dev-secret",
            "alice-dev-password",
            "bob-dev-password",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked through Debug");
        }
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn derived_guids_are_guids_and_stable() {
        let a = derived_guid(&["x", "y"]);
        assert!(is_guid(&a));
        assert_eq!(a, derived_guid(&["x", "y"]));
        assert_ne!(a, derived_guid(&["x", "z"]));
    }
}
