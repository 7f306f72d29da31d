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
    /// Run the HTTPS proxy for Microsoft's public hostnames on this port (0: any free
    /// one), on the same address; `None`: no proxy. See [`ProxyReady`].
    pub proxy_port: Option<u16>,
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
            proxy_port: None,
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
    /// The HTTPS proxy for Microsoft's public hostnames, when it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyReady>,
}

/// The proxy that serves `login.microsoftonline.com`, `api.fabric.microsoft.com` and the
/// other Microsoft hosts from the emulator (the `proxy` object of `ready.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProxyReady {
    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY`.
    pub url: String,
    /// The intercept CA certificate (name-constrained to the served hosts).
    pub ca_file: String,
    /// One PEM file with the emulator's CA and the intercept CA: what `SSL_CERT_FILE`,
    /// `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE` and `NODE_EXTRA_CA_CERTS` name.
    pub ca_bundle: String,
}

/// What `NO_PROXY` says: the emulator's own address and the broker stay direct.
pub const NO_PROXY: &str = "127.0.0.1,localhost,::1";

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
    /// With the proxy running, the CA variables name the bundle (both CAs), and the proxy
    /// variables (`HTTPS_PROXY`, `NO_PROXY`, lower case too) and `CURL_CA_BUNDLE` join.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let ca = self
            .proxy
            .as_ref()
            .map_or(&self.ca_file, |p| &p.ca_bundle)
            .clone();
        let mut env = vec![
            ("AZURE_AUTHORITY_HOST", self.authority.clone()),
            ("SSL_CERT_FILE", ca.clone()),
            ("REQUESTS_CA_BUNDLE", ca.clone()),
            ("NODE_EXTRA_CA_CERTS", ca.clone()),
            ("IDENTITY_ENDPOINT", self.identity_endpoint.clone()),
            ("IDENTITY_HEADER", self.identity_header.clone()),
            (
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                self.imds_endpoint.clone(),
            ),
        ];
        if let Some(p) = &self.proxy {
            env.extend([
                ("HTTPS_PROXY", p.url.clone()),
                ("https_proxy", p.url.clone()),
                ("NO_PROXY", NO_PROXY.to_string()),
                ("no_proxy", NO_PROXY.to_string()),
                ("CURL_CA_BUNDLE", ca),
            ]);
        }
        env
    }
}
