//! The broker's errors (setup and lifecycle; per-request failures become protocol
//! responses, see [`crate::protocol`]): [`BrokerError`], with the configuration's
//! problems in [`ConfigError`] and the operating system's in [`IoError`]. None of them
//! carries a secret: they name the table, field, variable or file instead.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the broker could not start, reload or purge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The configuration is wrong (the error names the table and field).
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// A listener, socket, thread or file could not be opened.
    #[error("{0}")]
    Io(#[from] IoError),
    /// An upstream identity could not be built.
    #[error("identity {name:?}: {source}")]
    Identity {
        /// The identity.
        name: String,
        /// Why.
        source: entra_identity::Error,
    },
    /// The fleet store failed.
    #[error("redis: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// What is wrong with a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML does not parse, or does not fit the structure.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// The configuration file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file `path` is wrong.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        source: Box<BrokerError>,
    },
    /// A reload was asked of a broker that was not started from a file.
    #[error("this broker was not started from a file; nothing to reload")]
    NotFromFile,
    /// `[broker] field` is not an `address:port`.
    #[error("[broker] {field} = {value:?} is not an address:port (e.g. {example})")]
    Address {
        /// `listen` or `metrics_listen`.
        field: &'static str,
        /// What it says.
        value: String,
        /// An address that would do.
        example: &'static str,
    },
    /// `[broker] metrics_listen` is the listen address itself.
    #[error(
        "[broker] metrics_listen = {0:?} is the listen address: give another port, or leave it out to serve /metrics on listen"
    )]
    MetricsOnListen(String),
    /// `[broker] unix_socket_mode` is not an octal mode the owner can read and write.
    #[error(
        "[broker] unix_socket_mode = {0:?}: give an octal mode as a string, such as \"0660\" or \"0600\" (the owner needs read and write; no special bits)"
    )]
    UnixSocketMode(String),
    /// Something that is not a socket is at `[broker] unix_socket`.
    #[error(
        "[broker] unix_socket = {:?}: something that is not a socket is there; the broker does not delete it. Remove it or choose another path",
        .0.display().to_string()
    )]
    NotASocket(PathBuf),
    /// An `[broker] allowed_hosts` entry has a port.
    #[error("[broker] allowed_hosts: give {0:?} without a port (any port is accepted)")]
    AllowedHostPort(String),
    /// An `[broker] allowed_hosts` entry is not a host name or IP address.
    #[error(
        "[broker] allowed_hosts: {0:?} is not a host name or IP address (e.g. \"entra-broker\" or \"10.0.0.5\")"
    )]
    AllowedHostInvalid(String),
    /// `what` (an identity, a caller) lacks a setting its kind needs.
    #[error("{what} needs {needs}")]
    Missing {
        /// Whose setting, e.g. `identity "billing-sp"`.
        what: String,
        /// The field or fields, e.g. `certificate_file`.
        needs: &'static str,
    },
    /// More than one source for `what`'s secret.
    #[error("{what}: give one of secret_env, secret_file, secret")]
    SecretSources {
        /// Whose secret.
        what: String,
    },
    /// `what`'s secret is written in the file without `danger_allow_secret_in_config`.
    #[error(
        "{what} has its secret written in the configuration file; move it to secret_env or secret_file, or set danger_allow_secret_in_config = true in the same table"
    )]
    InlineSecret {
        /// Whose secret.
        what: String,
    },
    /// The environment variable holding `what`'s secret is not set.
    #[error("{what}: environment variable {var} is not set")]
    SecretEnvUnset {
        /// Whose secret.
        what: String,
        /// The variable.
        var: String,
    },
    /// The environment variable holding `what`'s secret is empty.
    #[error("{what}: environment variable {var} is empty")]
    SecretEnvEmpty {
        /// Whose secret.
        what: String,
        /// The variable.
        var: String,
    },
    /// The file holding `what`'s secret could not be read.
    #[error("{what}: {}: {source}", path.display())]
    SecretFile {
        /// Whose secret.
        what: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holding `what`'s secret is empty.
    #[error("{what}: {} is empty", path.display())]
    SecretFileEmpty {
        /// Whose secret.
        what: String,
        /// The file.
        path: PathBuf,
    },
    /// The admin token is too short.
    #[error(
        "[broker] admin token is {len} characters long; use at least {min} random ones (for example `openssl rand -base64 32`)"
    )]
    AdminTokenShort {
        /// Its length, in characters.
        len: usize,
        /// The shortest accepted.
        min: usize,
    },
    /// A caller's secret is too short.
    #[error(
        "{what}: its secret is shorter than 16 characters; use a long random value (e.g. `openssl rand -hex 32`)"
    )]
    CallerSecretShort {
        /// The caller.
        what: String,
    },
    /// Two callers have the same secret.
    #[error("{what} has the same secret as another caller")]
    CallerSecretShared {
        /// The caller.
        what: String,
    },
    /// A Redis encryption key is not base64.
    #[error("{what} is not base64 (make one with `openssl rand -base64 32`)")]
    KeyNotBase64 {
        /// Which key.
        what: String,
    },
    /// A Redis encryption key is not 32 bytes.
    #[error("{what} is {len} bytes; it must be 32 (`openssl rand -base64 32`)")]
    KeyLength {
        /// Which key.
        what: String,
        /// Its length.
        len: usize,
    },
    /// An `emulator-dev` identity whose authority is not the local emulator.
    #[error(
        "{what}: kind = \"emulator-dev\" uses the emulator's public development secret, so it needs authority = a loopback https:// address (the local emulator), not {authority:?}"
    )]
    EmulatorDevAuthority {
        /// The identity.
        what: String,
        /// Its authority.
        authority: String,
    },
    /// A structural check of [`BrokerConfig::check`](crate::BrokerConfig::check) failed:
    /// the message names the table (`[broker]`, `[redis]`, `[imds]`), the identity or
    /// the caller, the field, and what to change.
    #[error("{0}")]
    Check(String),
}

/// What the operating system refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// A TCP listener could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The metrics listener could not be handed to the runtime.
    #[error("cannot listen for metrics: {0}")]
    MetricsListen(std::io::Error),
    /// A listener's own address could not be read.
    #[error("{0}")]
    LocalAddr(std::io::Error),
    /// A server thread could not be started.
    #[error("cannot start a server thread: {0}")]
    ServerThread(std::io::Error),
    /// The Unix socket could not be made.
    #[error("unix socket {}: {source}", path.display())]
    UnixSocket {
        /// Its path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The audit log's writer thread could not be started.
    #[error("audit log writer thread: {0}")]
    AuditThread(std::io::Error),
    /// The audit log file could not be opened.
    #[error("audit log {}: {source}", path.display())]
    AuditLog {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
