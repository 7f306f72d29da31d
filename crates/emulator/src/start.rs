//! Starting an emulator: the state it builds from its directory file and state directory
//! (keys, TLS, secrets), and [`StartError`], why it could not start.

use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::directory::{self, ConfigError};
use crate::keys::{self, KeyError};
use crate::options::Options;
use crate::state::{AppState, Inner};
use crate::{secure_fs, tokens};

/// Why [`Emulator::start`](crate::Emulator::start) (or
/// [`Emulator::write_ready`](crate::Emulator::write_ready)) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The state directory is unsafe or unusable, or a file in it could not be written.
    #[error("{0}")]
    StateDir(String),
    /// The directory file (or the embedded default) is not usable.
    #[error(transparent)]
    Directory(#[from] ConfigError),
    /// A signing key, the federation key or the TLS certificate could not be made or read.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// TLS for the emulator's own outbound fetches could not be set up.
    #[error("{0}")]
    Tls(String),
    /// The address could not be listened on.
    #[error("cannot listen on {bind}:{port}: {source}")]
    Bind {
        /// The address.
        bind: IpAddr,
        /// The port (0: any).
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// Starting failed in a way that is a bug (a background task panicked).
    #[error("{0}")]
    Internal(String),
}

pub(crate) fn build_state(
    opts: &Options,
    state_dir: &Path,
) -> Result<(AppState, Option<keys::TlsMaterial>), StartError> {
    let (mut config, _, ctx) = directory::load(opts.config.as_deref(), state_dir)?;
    if let Some(l) = opts.token_lifetime {
        config.settings.token_lifetime_seconds = Some(l);
    }
    if let Some(d) = opts.key_rollover_delay {
        config.settings.key_rollover_delay_seconds = d;
    }
    if let Some(p) = opts.dev_user_picker {
        config.settings.dev_user_picker = p;
    }
    let dir = directory::Directory::build(&config, &ctx)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let key_store = keys::KeyStore::load_or_create(state_dir, now)?;
    let federation = keys::federation_key(state_dir)?;
    let tls = if opts.danger_plain_http {
        None
    } else {
        Some(keys::tls_material(state_dir)?)
    };
    let identity_header =
        persistent_secret(&state_dir.join("identity-header")).map_err(StartError::StateDir)?;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .use_preconfigured_tls(
            http_tls(tls.as_ref().map(|t| t.ca_file.as_path())).map_err(StartError::Tls)?,
        );
    let state = Arc::new(Inner {
        directory: RwLock::new(Arc::new(dir)),
        config: Mutex::new((config, ctx)),
        keys: RwLock::new(key_store),
        federation,
        clock_offset: AtomicI64::new(0),
        store: Mutex::new(Default::default()),
        counters: Mutex::new(Default::default()),
        faults: Mutex::new(Default::default()),
        faults_armed: Default::default(),
        events: Mutex::new(Default::default()),
        dashboard: Default::default(),
        admin_token: tokens::random_token(32),
        recorder: crate::recorder::ring::Recorder::new(opts.record_requests),
        identity_header,
        scheme: if opts.danger_plain_http {
            "http"
        } else {
            "https"
        },
        default_host: OnceLock::new(),
        bind: opts.bind,
        state_dir: state_dir.to_path_buf(),
        http: http.build().map_err(|e| StartError::Tls(e.to_string()))?,
        external_jwks: Mutex::new(Default::default()),
        service_auth: Default::default(),
        key_vaults: Default::default(),
    });
    Ok((state, tls))
}

/// TLS for the emulator's own outbound fetches (external federated issuers' keys): the
/// system's roots plus the emulator's CA.
fn http_tls(own_ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
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
fn persistent_secret(path: &Path) -> Result<String, String> {
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
