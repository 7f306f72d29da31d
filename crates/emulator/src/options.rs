//! How to run the emulator ([`Options`]) and what a running one tells its users
//! ([`Ready`], written to `ready.json`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
    /// Seconds between announcing a new signing key and signing with it, overriding the
    /// directory's `key_rollover_delay_seconds`.
    pub key_rollover_delay: Option<u64>,
    /// Offer the directory's users as one-click choices on the sign-in page, overriding
    /// the directory's `dev_user_picker` when `Some`.
    pub dev_user_picker: Option<bool>,
    /// Serve plain HTTP instead of HTTPS. MSAL and azure-identity refuse it; for curl only.
    pub danger_plain_http: bool,
    /// Do not write `ready.json` at start: the embedder adds to [`Emulator::ready`](crate::Emulator::ready) (e.g.
    /// the broker `entra up` starts beside it) and calls [`Emulator::write_ready`](crate::Emulator::write_ready).
    pub defer_ready_file: bool,
    /// Keep the last N requests to the token, device-code, authorize and managed-identity
    /// endpoints (secrets redacted) for `GET /admin/requests`; 0 (the default) records
    /// nothing. At most 1000.
    pub record_requests: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            state_dir: default_state_dir(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8443,
            config: None,
            token_lifetime: None,
            key_rollover_delay: None,
            dev_user_picker: None,
            danger_plain_http: false,
            defer_ready_file: false,
            record_requests: 0,
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
