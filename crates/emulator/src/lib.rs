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
//! # async fn demo() -> Result<(), String> {
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
//! ## Security notes
//! - It serves HTTPS with a CA it creates in the state directory; trust that CA file
//!   only in development (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`).
//!   The CA is name-constrained to `localhost`, `127.0.0.1` and `::1`, and its private
//!   key is dropped once the one leaf certificate is signed (never written to disk).
//! - The state directory must belong to this user and not be writable by group or
//!   others (a new one is made 0700); key files are created exclusively with mode 0600
//!   and never read through a symlink ([`secure_fs`]).
//! - It binds loopback by default. Its well-known identities and passwords are public.
//! - Plain HTTP exists only behind [`Options::danger_plain_http`].
//! - Its managed-identity endpoints and admin API refuse requests a web page could make
//!   (a foreign `Host`, `Origin`, `Sec-Fetch-*`): see [`browser_guard`].

#![warn(missing_docs)]

pub mod admin;
pub mod assertions;
pub mod authorize;
mod body_limit;
pub mod browser_guard;
pub mod directory;
pub mod discovery;
pub mod errors;
pub mod grants;
pub mod keys;
pub mod managed_identity;
pub mod pages;
pub mod secure_fs;
pub mod server;
pub mod state;
pub mod tokens;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

pub use directory::{ConfigError, DirectoryConfig};
use state::{AppState, Inner};

/// Largest request body accepted (token requests are a few KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// How to run the emulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the CA, keys, generated certificates and `ready.json` live.
    pub state_dir: PathBuf,
    /// Address to bind (loopback by default).
    pub bind: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// A directory TOML file; `None` uses the embedded default.
    pub config: Option<PathBuf>,
    /// Fixed access-token lifetime, overriding the directory's setting.
    pub token_lifetime: Option<u64>,
    /// Serve plain HTTP instead of HTTPS. MSAL and azure-identity refuse it; for curl only.
    pub danger_plain_http: bool,
    /// Do not write `ready.json` at start: the embedder adds to [`Emulator::ready`] (e.g.
    /// the broker `entra up` starts beside it) and calls [`Emulator::write_ready`].
    pub defer_ready_file: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            state_dir: default_state_dir(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8443,
            config: None,
            token_lifetime: None,
            danger_plain_http: false,
            defer_ready_file: false,
        }
    }
}

/// `<data dir>/entrakit/emulator`, or `./.entra-emulator` when there is no data dir.
pub fn default_state_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("entrakit").join("emulator"))
        .unwrap_or_else(|| PathBuf::from(".entra-emulator"))
}

/// What a running emulator tells its users (`<state-dir>/ready.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ready {
    /// `https://localhost:PORT`.
    pub authority: String,
    /// The CA certificate to trust.
    pub ca_file: String,
    /// Bearer token for `/admin`.
    pub admin_token: String,
    /// App Service `IDENTITY_ENDPOINT`.
    pub identity_endpoint: String,
    /// App Service `IDENTITY_HEADER`.
    pub identity_header: String,
    /// IMDS base (`AZURE_POD_IDENTITY_AUTHORITY_HOST` / `IMDS_ENDPOINT`).
    pub imds_endpoint: String,
    /// The daemon app's certificate and key.
    pub daemon_certificate: String,
    /// Process id.
    pub pid: u32,
    /// The token broker started beside the emulator (`entra up`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<BrokerReady>,
}

/// Where the broker `entra up` starts listens (the `broker` object of `ready.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BrokerReady {
    /// App Service `IDENTITY_ENDPOINT` (`http://127.0.0.1:PORT/msi/token`).
    pub identity_endpoint: String,
    /// The development caller's `IDENTITY_HEADER`.
    pub identity_header: String,
    /// IMDS base (`AZURE_POD_IDENTITY_AUTHORITY_HOST`).
    pub imds_endpoint: String,
    /// Prometheus metrics.
    pub metrics_url: String,
}

impl Ready {
    /// The environment variables a user would export to point clients at the emulator.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_AUTHORITY_HOST", self.authority.clone()),
            ("SSL_CERT_FILE", self.ca_file.clone()),
            ("REQUESTS_CA_BUNDLE", self.ca_file.clone()),
            ("NODE_EXTRA_CA_CERTS", self.ca_file.clone()),
            ("IDENTITY_ENDPOINT", self.identity_endpoint.clone()),
            ("IDENTITY_HEADER", self.identity_header.clone()),
            (
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                self.imds_endpoint.clone(),
            ),
        ]
    }
}

/// A running emulator.
pub struct Emulator {
    /// What was written to `ready.json`.
    pub ready: Ready,
    /// The bound address.
    pub addr: SocketAddr,
    /// Shared state (tests reach in through it).
    pub state: AppState,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Loads (or creates) the state directory, binds, starts serving, writes `ready.json`.
    pub async fn start(opts: Options) -> Result<Self, String> {
        secure_fs::ensure_private_dir(&opts.state_dir)?;
        let state_dir = std::fs::canonicalize(&opts.state_dir)
            .map_err(|e| format!("{}: {e}", opts.state_dir.display()))?;
        let (state, tls) = {
            let opts = opts.clone();
            let state_dir = state_dir.clone();
            // Key generation and file I/O: off the async workers.
            tokio::task::spawn_blocking(move || build_state(&opts, &state_dir))
                .await
                .map_err(|e| e.to_string())??
        };
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(opts.bind, opts.port))
            .await
            .map_err(|e| format!("cannot listen on {}:{}: {e}", opts.bind, opts.port))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut listeners = vec![listener];
        // `localhost` may resolve to ::1 first; listen there too when binding loopback.
        if opts.bind == IpAddr::V4(Ipv4Addr::LOCALHOST)
            && let Ok(l6) = tokio::net::TcpListener::bind(SocketAddr::new(
                IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
                addr.port(),
            ))
            .await
        {
            listeners.push(l6);
        }
        let host = format!("localhost:{}", addr.port());
        let _ = state.default_host.set(host.clone());
        let authority = format!("{}://{host}", state.scheme);
        let ready = Ready {
            ca_file: tls
                .as_ref()
                .map(|t| t.ca_file.display().to_string())
                .unwrap_or_default(),
            admin_token: state.admin_token.clone(),
            identity_endpoint: format!("{authority}/msi/token"),
            identity_header: state.identity_header.clone(),
            imds_endpoint: authority.clone(),
            daemon_certificate: state_dir.join("daemon.pem").display().to_string(),
            pid: std::process::id(),
            authority,
            broker: None,
        };
        let (tx, rx) = tokio::sync::watch::channel(false);
        let app = router(state.clone());
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.server_config));
        let tasks = listeners
            .into_iter()
            .map(|l| {
                tokio::spawn(server::serve(
                    l,
                    acceptor.clone(),
                    app.clone(),
                    state.clone(),
                    rx.clone(),
                ))
            })
            .collect();
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
    pub fn write_ready(&self) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(&self.ready).map_err(|e| e.to_string())?;
        keys::write_private(&self.state.state_dir.join("ready.json"), &json)
            .map_err(|e| format!("ready.json: {e}"))
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

fn build_state(
    opts: &Options,
    state_dir: &std::path::Path,
) -> Result<(AppState, Option<keys::TlsMaterial>), String> {
    let (mut config, _, ctx) =
        directory::load(opts.config.as_deref(), state_dir).map_err(|e| e.to_string())?;
    if let Some(l) = opts.token_lifetime {
        config.settings.token_lifetime_seconds = Some(l);
    }
    let dir = directory::Directory::build(&config, &ctx).map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let key_store = keys::KeyStore::load_or_create(state_dir, now)?;
    let federation = keys::federation_key(state_dir)?;
    let tls = if opts.danger_plain_http {
        None
    } else {
        Some(keys::tls_material(state_dir)?)
    };
    let identity_header = persistent_secret(&state_dir.join("identity-header"))?;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .use_preconfigured_tls(http_tls(tls.as_ref().map(|t| t.ca_file.as_path()))?);
    let state = Arc::new(Inner {
        directory: RwLock::new(Arc::new(dir)),
        config: Mutex::new((config, ctx)),
        active_key: RwLock::new(key_store.active()),
        keys: RwLock::new(key_store),
        federation,
        clock_offset: AtomicI64::new(0),
        store: Mutex::new(Default::default()),
        counters: Mutex::new(Default::default()),
        faults: Mutex::new(Default::default()),
        faults_armed: Default::default(),
        events: Mutex::new(Default::default()),
        admin_token: tokens::random_token(32),
        identity_header,
        scheme: if opts.danger_plain_http {
            "http"
        } else {
            "https"
        },
        default_host: OnceLock::new(),
        bind: opts.bind,
        state_dir: state_dir.to_path_buf(),
        http: http.build().map_err(|e| e.to_string())?,
        external_jwks: Mutex::new(Default::default()),
    });
    Ok((state, tls))
}

/// TLS for the emulator's own outbound fetches (external federated issuers' keys): the
/// system's roots plus the emulator's CA.
fn http_tls(own_ca: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(ca) = own_ca {
        let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        use rustls_pki_types::{CertificateDer, pem::PemObject};
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("{}: bad PEM: {e}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// A random secret kept in `path` across restarts (so exported env vars stay valid).
fn persistent_secret(path: &std::path::Path) -> Result<String, String> {
    let stored = secure_fs::read_private(path)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    match stored {
        Some(s) if s.trim().len() >= 16 => Ok(s.trim().to_string()),
        _ => {
            let s = tokens::random_token(24);
            keys::write_private(path, s.as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(s)
        }
    }
}

/// Extractor rejections (a body over the limit) come back from axum as plain text; give
/// them Entra's error shape like every other failure.
async fn entra_shaped_rejections(resp: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let plain = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !plain || !(resp.status().is_client_error() || resp.status().is_server_error()) {
        return resp;
    }
    let status = resp.status();
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return body_too_large_response();
    }
    errors::EntraError::new(
        "invalid_request",
        9002313,
        "Invalid request. Request is malformed or invalid.",
    )
    .status(status)
    .into_response()
}

/// Entra's 413 for a request body over [`MAX_BODY_BYTES`] (AADSTS9002313).
pub(crate) fn body_too_large_response() -> axum::response::Response {
    use axum::response::IntoResponse as _;
    errors::EntraError::new(
        "invalid_request",
        9002313,
        format!("Invalid request. The request body is larger than {MAX_BODY_BYTES} bytes."),
    )
    .status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
    .into_response()
}

/// All routes.
pub fn router(state: AppState) -> Router {
    // The browser guard runs first, and also for methods a route does not have (a CORS
    // preflight is refused by it, not answered 405).
    let admin = admin::router()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            browser_guard::admin,
        ));
    let managed_identity = Router::new()
        .route(
            "/metadata/identity/oauth2/token",
            get(managed_identity::imds),
        )
        // msal-node (and so @azure/identity for Node) asks with a trailing slash.
        .route(
            "/metadata/identity/oauth2/token/",
            get(managed_identity::imds),
        )
        .route("/msi/token", get(managed_identity::app_service))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            browser_guard::managed_identity,
        ));
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery::openid_configuration_v1),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys_v2))
        .route("/{tenant}/discovery/keys", get(discovery::keys_v1))
        .route(
            "/common/discovery/instance",
            get(discovery::instance_discovery),
        )
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::authorize_v2).post(authorize::authorize_v2),
        )
        .route("/{tenant}/oauth2/authorize", get(authorize::authorize_v1))
        .route("/{tenant}/oauth2/v2.0/token", post(grants::token_v2))
        .route("/{tenant}/oauth2/token", post(grants::token_v1))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(authorize::devicecode),
        )
        .route("/{tenant}/oauth2/devicecode", post(authorize::devicecode))
        .route("/{tenant}/oauth2/v2.0/logout", get(authorize::logout))
        .route("/{tenant}/oauth2/logout", get(authorize::logout))
        .route(
            "/oidc/userinfo",
            get(discovery::userinfo).post(discovery::userinfo),
        )
        .route("/login", post(authorize::login))
        .route("/mfa", post(authorize::mfa))
        .route("/consent", post(authorize::consent))
        .route("/select", post(authorize::select))
        .route(
            "/devicelogin",
            get(authorize::devicelogin_page).post(authorize::devicelogin_submit),
        )
        .route("/device/confirm", post(authorize::device_confirm))
        .merge(managed_identity)
        .route(
            "/federation/.well-known/openid-configuration",
            get(discovery::federation_configuration),
        )
        .route("/federation/keys", get(discovery::federation_keys))
        .nest("/admin", admin)
        .route("/common/userrealm/{user}", get(discovery::user_realm))
        .fallback(discovery::not_found)
        .layer(axum::middleware::map_response(entra_shaped_rejections))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
