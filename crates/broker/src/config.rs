//! The broker's configuration: a TOML file (or the same structure built in code, as
//! `entra up` does).
//!
//! ```toml
//! [broker]
//! listen = "127.0.0.1:8079"          # HTTP: IMDS, App Service, Cloud Shell, native API
//! unix_socket = "/run/entra-broker.sock"   # optional: IMDS with the peer's uid
//! unix_socket_mode = "0660"                 # its mode (default 0660)
//! audit_log = "/var/log/entra-broker/audit.jsonl"   # "-" stdout (default), "off"
//! admin_token_env = "ENTRA_BROKER_ADMIN_TOKEN"      # enables /admin/* (>= 32 characters)
//! allowed_hosts = ["entra-broker"]   # extra Host names it answers to (a container's service name)
//! metrics_listen = "127.0.0.1:9464"  # optional: /metrics only there, not on `listen`
//! metrics_token_file = "/etc/entra-broker/metrics.token"  # optional: /metrics needs this bearer
//!
//! [imds]
//! caller = "vm-apps"   # loopback processes no caller claims by uid are this caller
//!
//! [redis]              # fleet mode
//! url = "redis://127.0.0.1:6379"   # plain redis:// only to loopback; rediss:// elsewhere
//! # danger_allow_plain_redis = true  # ... unless this says so
//! key_env = "ENTRA_BROKER_REDIS_KEY"   # base64 of 32 random bytes, the same on every replica
//! # previous_key_env = "ENTRA_BROKER_REDIS_OLD_KEY"  # while rotating: still read, never written
//!
//! [[identity]]
//! name = "billing-sp"
//! kind = "client-secret"
//! tenant = "contoso.onmicrosoft.com"
//! client_id = "d0000000-0000-4000-8000-0000000000d1"
//! secret_env = "BILLING_SP_SECRET"
//!
//! [[caller]]
//! name = "billing"
//! secret_file = "/etc/entra-broker/billing.secret"   # its X-IDENTITY-HEADER / bearer
//! uids = [1001]                                       # IMDS from this local user
//! identities = ["billing-sp"]
//! resources = ["https://graph.microsoft.com", "api://contoso-api"]
//! ```
//!
//! Secrets (client secrets, caller secrets, the admin token, the Redis key) come from an
//! environment variable (`*_env`) or a file (`*_file`). Writing one into the file itself
//! (`secret = "..."`) is refused unless the same table says
//! `danger_allow_secret_in_config = true`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod check;
mod load;
mod secrets;

pub use secrets::InlineSecret;
pub(crate) use secrets::read_secret;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// Listener, audit log, admin API, cache tuning.
    #[serde(default)]
    pub broker: BrokerSection,
    /// Who IMDS and Cloud Shell requests (which carry no secret) are.
    #[serde(default)]
    pub imds: ImdsSection,
    /// Fleet mode.
    #[serde(default)]
    pub redis: Option<RedisSection>,
    /// Upstream identities: the real credentials the broker holds.
    #[serde(default, rename = "identity")]
    pub identities: Vec<IdentityConfig>,
    /// Callers and what each may have.
    #[serde(default, rename = "caller")]
    pub callers: Vec<CallerConfig>,
}

/// `[broker]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BrokerSection {
    /// HTTP listener (default `127.0.0.1:8079`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// An optional Unix socket (IMDS protocol; the caller is known by its uid).
    #[serde(default)]
    pub unix_socket: Option<PathBuf>,
    /// The Unix socket's mode, octal (default `"0660"`: the broker's user and group may
    /// connect; `"0600"`: its user only; `"0666"`: every local user, each then known by
    /// its uid). Set on the socket before it is bound, and again after, whatever the umask.
    #[serde(default)]
    pub unix_socket_mode: Option<String>,
    /// Audit log: a file path (appended), `-` for stdout (default), `off`.
    #[serde(default)]
    pub audit_log: Option<String>,
    /// The admin API's bearer token, from this variable.
    #[serde(default)]
    pub admin_token_env: Option<String>,
    /// ... or from this file.
    #[serde(default)]
    pub admin_token_file: Option<PathBuf>,
    /// Host names (or IP addresses) the broker answers to besides `127.0.0.1`,
    /// `localhost`, `[::1]`, `169.254.169.254` and its listen address, with any port:
    /// e.g. a container's service name. Every other `Host` is refused on every route, so a
    /// web page that rebinds its own name to this machine gets nothing (DNS rebinding).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Serve `/metrics` on this address only (e.g. `127.0.0.1:9464`), not on `listen`.
    #[serde(default)]
    pub metrics_listen: Option<String>,
    /// `/metrics` needs `Authorization: Bearer <token>`, the token from this variable ...
    #[serde(default)]
    pub metrics_token_env: Option<String>,
    /// ... or from this file.
    #[serde(default)]
    pub metrics_token_file: Option<PathBuf>,
    /// A token handed to a caller has at least this many seconds left (default 300, as
    /// azure-identity and MSAL refresh 5 minutes before expiry); an older one is renewed
    /// first.
    #[serde(default = "default_min_remaining")]
    pub min_remaining_secs: i64,
    /// Tokens with callers are renewed in the background this many seconds before
    /// expiry (default 900), or at half their lifetime for tokens shorter than twice that.
    #[serde(default = "default_refresh_before")]
    pub refresh_before_secs: i64,
    /// At most this many cached tokens (default 100,000): (identity, scopes) pairs,
    /// counting those being fetched and those whose fetch just failed. The bound holds
    /// when a pair is added, however fast callers with a broad policy ask for new scopes:
    /// a new pair beyond it evicts the least recently used pair that no request is using
    /// (never one with a request in flight or waiting, nor one being renewed). When every
    /// pair is in use, the request for the new one is refused with 503
    /// `temporarily_unavailable` and `Retry-After` (the protocol's error shape, an audit
    /// line, `entra_broker_cache_full_total`) rather than the bound broken; evictions are
    /// counted in `entra_broker_cache_evictions_total`. Lowering it on reload evicts idle
    /// pairs at the next maintenance pass (every second).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Server threads, each with its own listener on the port (SO_REUSEPORT) and its own
    /// single-threaded runtime (default: one per CPU, at most 8; 0: serve on the runtime
    /// that started the broker, for embedders).
    #[serde(default)]
    pub threads: Option<usize>,
}

fn default_listen() -> String {
    "127.0.0.1:8079".into()
}
fn default_min_remaining() -> i64 {
    300
}
fn default_refresh_before() -> i64 {
    900
}
fn default_max_tokens() -> usize {
    100_000
}

impl Default for BrokerSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            unix_socket: None,
            unix_socket_mode: None,
            audit_log: None,
            admin_token_env: None,
            admin_token_file: None,
            allowed_hosts: Vec::new(),
            metrics_listen: None,
            metrics_token_env: None,
            metrics_token_file: None,
            min_remaining_secs: default_min_remaining(),
            refresh_before_secs: default_refresh_before(),
            max_tokens: default_max_tokens(),
            threads: None,
        }
    }
}

/// `[imds]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImdsSection {
    /// Serve the IMDS and Cloud Shell protocols (default true).
    #[serde(default)]
    pub disabled: bool,
    /// The caller a loopback process is when no caller lists its uid. Unset: only
    /// processes whose uid a caller lists may use IMDS.
    #[serde(default)]
    pub caller: Option<String>,
}

/// `[redis]`.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedisSection {
    /// `redis://host:port/db`, `rediss://` for TLS, or `unix:///path`.
    pub url: String,
    /// The token encryption key (base64 of 32 bytes), from this variable ...
    #[serde(default)]
    pub key_env: Option<String>,
    /// ... or this file.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// During a key rotation, the key being replaced (base64 of 32 bytes), from this
    /// variable ...: values it sealed are still read; every write uses `key_*`.
    #[serde(default)]
    pub previous_key_env: Option<String>,
    /// ... or this file.
    #[serde(default)]
    pub previous_key_file: Option<PathBuf>,
    /// Key prefix (default `entra-broker`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Per-operation timeout in milliseconds (default 250).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// For `rediss://`: a PEM CA to trust instead of the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The Redis password (AUTH) from this variable ...
    #[serde(default)]
    pub password_env: Option<String>,
    /// ... or this file (a password written into `url` is refused unless
    /// `danger_allow_secret_in_config = true`).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Accept a password written into `url`.
    #[serde(default)]
    pub danger_allow_secret_in_config: bool,
    /// Accept plain `redis://` (no TLS) to a host that is not loopback: the password
    /// and the (encrypted) tokens then cross the network in the clear. Use `rediss://`.
    #[serde(default)]
    pub danger_allow_plain_redis: bool,
}

impl std::fmt::Debug for RedisSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A password in the URL's userinfo is not shown.
        let url = match self.url.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('@') {
                Some((_, host)) => format!("{scheme}://[redacted]@{host}"),
                None => self.url.clone(),
            },
            None => self.url.clone(),
        };
        f.debug_struct("RedisSection")
            .field("url", &url)
            .field("key_env", &self.key_env)
            .field("key_file", &self.key_file)
            .field("previous_key_env", &self.previous_key_env)
            .field("previous_key_file", &self.previous_key_file)
            .field("prefix", &self.prefix)
            .field("timeout_ms", &self.timeout_ms)
            .field("ca_file", &self.ca_file)
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .field("danger_allow_plain_redis", &self.danger_allow_plain_redis)
            .finish()
    }
}

/// What kind of credential an identity is.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityKind {
    /// A service principal with a client secret.
    ClientSecret,
    /// A service principal with a certificate (PEM with the key, or PKCS#12).
    ClientCertificate,
    /// Workload identity federation: a projected token file (AKS, or any OIDC issuer).
    WorkloadIdentity,
    /// This host's own managed identity (the broker running in Azure, fanning out).
    ManagedIdentity,
    /// The local emulator's development daemon app (its public secret): only against a
    /// loopback authority.
    EmulatorDev,
}

/// `[[identity]]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// How callers and policy name it.
    pub name: String,
    /// The credential.
    pub kind: IdentityKind,
    /// Tenant (GUID or domain); not for `managed-identity`.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Application (client) id. For `managed-identity`: the user-assigned identity to use.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Callers may also select it by this object (principal) id ...
    #[serde(default)]
    pub object_id: Option<String>,
    /// ... or by this ARM resource id (`msi_res_id` / `mi_res_id`).
    #[serde(default)]
    pub resource_id: Option<String>,
    /// Client secret from this variable ...
    #[serde(default)]
    pub secret_env: Option<String>,
    /// ... or this file ...
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// ... or written here (needs `danger_allow_secret_in_config`).
    #[serde(default)]
    pub secret: Option<InlineSecret>,
    /// Accept `secret` in this file.
    #[serde(default)]
    pub danger_allow_secret_in_config: bool,
    /// Certificate (PEM with its key, or `.pfx`/`.p12`).
    #[serde(default)]
    pub certificate_file: Option<PathBuf>,
    /// The PKCS#12 password from this variable.
    #[serde(default)]
    pub certificate_password_env: Option<String>,
    /// Send the certificate chain (`x5c`) for subject-name/issuer authentication.
    #[serde(default)]
    pub send_certificate_chain: bool,
    /// Workload identity: the federated token file (default `AZURE_FEDERATED_TOKEN_FILE`).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Authority host (default: `AZURE_AUTHORITY_HOST` or the public cloud).
    #[serde(default)]
    pub authority: Option<String>,
    /// An extra CA file to trust for the authority (an emulator's).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// `[[caller]]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CallerConfig {
    /// Its name in audit lines and metrics.
    pub name: String,
    /// Its secret (`X-IDENTITY-HEADER`, the legacy `secret` header, or the native API's
    /// bearer) from this variable ...
    #[serde(default)]
    pub secret_env: Option<String>,
    /// ... or this file ...
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// ... or written here (needs `danger_allow_secret_in_config`).
    #[serde(default)]
    pub secret: Option<InlineSecret>,
    /// Accept `secret` in this file.
    #[serde(default)]
    pub danger_allow_secret_in_config: bool,
    /// Local user ids that are this caller on the IMDS and Cloud Shell protocols
    /// (loopback TCP on Linux, or the Unix socket).
    #[serde(default)]
    pub uids: Vec<u32>,
    /// Identities it may use (`*`: all). The first is its default.
    #[serde(default)]
    pub identities: Vec<String>,
    /// Resources it may have tokens for (`*`: any), e.g. `https://graph.microsoft.com`;
    /// a scope under one of them (`https://graph.microsoft.com/User.Read`) is allowed too.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Individual scopes it may have besides `resources` (native API).
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl IdentityConfig {
    /// An identity with only its name and kind set: the base for one configured in code
    /// (`IdentityConfig { tenant: ..., ..IdentityConfig::new("daemon", kind) }`).
    pub fn new(name: impl Into<String>, kind: IdentityKind) -> Self {
        Self {
            name: name.into(),
            kind,
            tenant: None,
            client_id: None,
            object_id: None,
            resource_id: None,
            secret_env: None,
            secret_file: None,
            secret: None,
            danger_allow_secret_in_config: false,
            certificate_file: None,
            certificate_password_env: None,
            send_certificate_chain: false,
            token_file: None,
            authority: None,
            ca_file: None,
        }
    }
}

impl CallerConfig {
    /// A caller with only its name set (no secret, no uids, allowed nothing): the base
    /// for one configured in code.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            secret_env: None,
            secret_file: None,
            secret: None,
            danger_allow_secret_in_config: false,
            uids: Vec::new(),
            identities: Vec::new(),
            resources: Vec::new(),
            scopes: Vec::new(),
        }
    }
}

/// The shortest admin token accepted, in characters.
pub(crate) const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// The default mode of `[broker] unix_socket`.
pub(crate) const DEFAULT_UNIX_SOCKET_MODE: u32 = 0o660;

#[cfg(test)]
mod tests;
