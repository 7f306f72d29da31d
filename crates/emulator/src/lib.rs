//! # entra-emulator
//!
//! A local authority that speaks Microsoft Entra ID's protocol closely enough that MSAL,
//! azure-identity and entrakit cannot tell the difference for the flows it implements:
//! OpenID discovery and JWKS, authorization code with PKCE through real sign-in and
//! consent pages, device code, refresh tokens that rotate (replay revokes the family),
//! client credentials with secrets, certificates and federated assertions, on-behalf-of,
//! managed identity (IMDS and App Service protocols), and Entra's exact error JSON.
//!
//! ```no_run
//! # async fn demo() -> Result<(), entra_emulator::StartError> {
//! let running = entra_emulator::Emulator::start(entra_emulator::Options {
//!     state_dir: std::env::temp_dir().join("entra-emulator-demo"),
//!     port: 0,
//!     ..Default::default()
//! })
//! .await?;
//! println!("authority: {}", running.ready.authority);
//! running.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## What an embedder uses
//! - [`Emulator::start`] with [`Options`] runs one; it fails with a [`StartError`]. The
//!   running [`Emulator`] carries its [`Ready`] (authority, CA file, admin token, the
//!   managed-identity endpoints; [`BrokerReady`] when `entra up` starts a broker beside
//!   it), also written to `<state dir>/ready.json`; [`default_state_dir`] is where the
//!   CLI keeps it.
//! - [`load_directory`] reads and checks a directory file into a [`DirectoryConfig`] (its
//!   tables are [`TenantConfig`], [`AppConfig`], [`UserConfig`], ...; errors are
//!   [`ConfigError`] with file, line and key); [`DEFAULT_DIRECTORY_TOML`] is the built-in one.
//! - [`mint_federated`] signs a workload (Kubernetes-style) token with the emulator's
//!   federation issuer key, for federated credentials; it fails with a [`KeyError`].
//! - [`write_private`], [`ensure_private_dir`] and [`effective_uid`] are the state
//!   directory's file rules, for tools that write beside it.
//!
//! Everything else (the endpoints, the directory model, keys, state) is internal. The
//! admin API (`/admin`, bearer `admin_token`) changes a running emulator; the test kit
//! (`entra-testkit`) drives it from tests.
//!
//! ## Security notes
//! - It serves HTTPS with a CA it creates in the state directory; trust that CA file
//!   only in development (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`).
//!   The CA is name-constrained to `localhost`, `127.0.0.1` and `::1`, and its private
//!   key is dropped once the one leaf certificate is signed (never written to disk).
//! - The state directory must belong to this user and not be writable by group or
//!   others (a new one is made 0700); key files are created exclusively with mode 0600
//!   and never read through a symlink ([`write_private`], [`ensure_private_dir`]).
//! - It binds loopback by default. Its well-known identities and passwords are public.
//! - Plain HTTP exists only behind [`Options::danger_plain_http`].
//! - Its managed-identity endpoints and admin API refuse requests a web page could make
//!   (a foreign `Host`, `Origin`, `Sec-Fetch-*`).
//! - Its dashboard (`/dashboard`) is behind the admin token (or a one-time link,
//!   [`Emulator::dashboard_link`]), refuses a foreign `Host`, takes POSTs only from its own
//!   origin with a CSRF token, runs no script, and shows decoded claims, never a token.

#![warn(missing_docs)]

mod admin;
mod assertions;
mod authorize;
mod body_limit;
mod browser_guard;
mod client_base;
mod consent;
mod dashboard;
mod device_codes;
mod directory;
mod discovery;
mod errors;
mod grants;
mod keys;
mod managed_identity;
mod options;
mod pages;
mod proxy;
mod recorder;
mod request;
mod routes;
mod secure_fs;
mod server;
mod services;
mod signing_keys;
mod start;
mod state;
mod tokens;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub use directory::{
    AppConfig, CertificateConfig, ConfigError, ConsentConfig, DEFAULT_DIRECTORY_TOML,
    DirectoryConfig, FederatedCredentialConfig, GroupConfig, ManagedIdentityConfig,
    PreAuthorizedConfig, RoleAssignmentConfig, SecretConfig, Settings, SubscriptionConfig,
    TenantConfig, UserConfig,
};
pub use directory::{VaultCertificateConfig, VaultConfig, VaultRoleConfig, VaultSecretConfig};
pub use directory::{WorkspaceConfig, WorkspaceItemConfig, WorkspaceMemberConfig};
pub use discovery::mint_federated;
pub use keys::KeyError;
pub use options::{BrokerReady, NO_PROXY, Options, ProxyReady, Ready, default_state_dir};
pub use secure_fs::{effective_uid, ensure_private_dir, write_private};
pub use start::StartError;
use state::AppState;

/// Reads and checks a directory file (`None`: the embedded default), as the emulator
/// would at start; certificates it names with `generate` are created in `state_dir`.
/// The checked source is what `entra emulator --print-config` prints.
pub fn load_directory(
    path: Option<&std::path::Path>,
    state_dir: &std::path::Path,
) -> Result<DirectoryConfig, ConfigError> {
    directory::load(path, state_dir).map(|(config, _, _)| config)
}

/// A running emulator.
pub struct Emulator {
    /// What was written to `ready.json`.
    pub ready: Ready,
    /// The bound address.
    pub addr: SocketAddr,
    /// Shared state.
    pub(crate) state: AppState,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Binds the emulator's listener, and `[::1]` on the same port too when binding
/// 127.0.0.1 (`localhost` may resolve to ::1 first).
async fn bind_listeners(
    bind: IpAddr,
    port: u16,
) -> Result<(Vec<tokio::net::TcpListener>, SocketAddr), StartError> {
    let err = |source| StartError::Bind { bind, port, source };
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(bind, port))
        .await
        .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    let mut listeners = vec![listener];
    if bind == IpAddr::V4(Ipv4Addr::LOCALHOST)
        && let Ok(l6) = tokio::net::TcpListener::bind(SocketAddr::new(
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            addr.port(),
        ))
        .await
    {
        listeners.push(l6);
    }
    Ok((listeners, addr))
}

impl Emulator {
    /// Loads (or creates) the state directory, binds, starts serving, writes `ready.json`.
    pub async fn start(opts: Options) -> Result<Self, StartError> {
        secure_fs::ensure_private_dir(&opts.state_dir).map_err(StartError::StateDir)?;
        let state_dir = std::fs::canonicalize(&opts.state_dir)
            .map_err(|e| StartError::StateDir(format!("{}: {e}", opts.state_dir.display())))?;
        let (state, tls) = {
            let opts = opts.clone();
            let state_dir = state_dir.clone();
            // Key generation and file I/O: off the async workers.
            tokio::task::spawn_blocking(move || start::build_state(&opts, &state_dir))
                .await
                .map_err(|e| StartError::Internal(e.to_string()))??
        };
        let (listeners, addr) = bind_listeners(opts.bind, opts.port).await?;
        let host = format!("localhost:{}", addr.port());
        let _ = state.default_host.set(host.clone());
        let authority = format!("{}://{host}", state.scheme);
        let ca_file = tls.as_ref().map(|t| t.ca_file.clone());
        let mut ready = Ready {
            ca_file: ca_file
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
            admin_token: state.admin_token.clone(),
            identity_endpoint: format!("{authority}/msi/token"),
            identity_header: state.identity_header.clone(),
            imds_endpoint: authority.clone(),
            daemon_certificate: state_dir.join("daemon.pem").display().to_string(),
            pid: std::process::id(),
            authority,
            broker: None,
            proxy: None,
        };
        let (tx, rx) = tokio::sync::watch::channel(false);
        let app = routes::router(state.clone());
        let mut tasks = Vec::new();
        if let Some(port) = opts.proxy_port {
            let (proxy, task) = proxy::start(
                state.clone(),
                app.clone(),
                opts.bind,
                port,
                ca_file,
                rx.clone(),
            )
            .await?;
            ready.proxy = Some(proxy);
            tasks.push(task);
        }
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.server_config));
        tasks.extend(listeners.into_iter().map(|l| {
            tokio::spawn(server::serve(
                l,
                acceptor.clone(),
                app.clone(),
                state.clone(),
                rx.clone(),
            ))
        }));
        let me = Self {
            ready,
            addr,
            state,
            shutdown: tx,
            tasks,
        };
        if !opts.defer_ready_file {
            me.write_ready()?;
        }
        Ok(me)
    }

    /// Writes [`Emulator::ready`] to `<state-dir>/ready.json` (atomically, 0600).
    pub fn write_ready(&self) -> Result<(), StartError> {
        let json = serde_json::to_vec_pretty(&self.ready)
            .map_err(|e| StartError::Internal(format!("ready.json: {e}")))?;
        write_private(&self.state.state_dir.join("ready.json"), &json)
            .map_err(|e| StartError::StateDir(format!("ready.json: {e}")))
    }

    /// The object id of the managed identity with `client_id` (ids the directory file does
    /// not give are derived), for selecting it by object id.
    pub fn managed_identity_object_id(&self, client_id: &str) -> Option<String> {
        self.state
            .dir()
            .managed_identity(Some(client_id), None, None)
            .map(|m| m.object_id.clone())
    }

    /// A one-time link into the dashboard (`{authority}/dashboard?once=...`): it works
    /// once, within 5 minutes, and sets the dashboard's session cookie.
    pub fn dashboard_link(&self) -> String {
        dashboard::one_time_link(&self.state, &self.ready.authority)
    }

    /// Stops accepting, lets in-flight requests finish briefly, removes `ready.json`.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), t).await;
        }
        let _ = std::fs::remove_file(self.state.state_dir.join("ready.json"));
    }
}
