//! Shared setup for the broker's tests: an emulator, and broker configurations wired to
//! its development apps.

#![allow(dead_code)]

pub mod redis;

use std::path::{Path, PathBuf};

use entra_broker::{BrokerConfig, CallerConfig, IdentityConfig, IdentityKind};
use entra_testkit::{Harness, dev};

/// The development caller's secret in these tests.
pub const DEV_SECRET: &str = "dev-caller-secret-0123456789abcdef";
/// A second caller, limited to `api://contoso-api` with the daemon identity.
pub const LIMITED_SECRET: &str = "limited-caller-secret-0123456789ab";
/// The web app's client id (a second identity).
pub use entra_testkit::dev::WEB;

/// A log sink for a `tracing_subscriber::fmt` writer (`move || sink.clone()`): what the
/// tests then search for secrets or count lines in.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Our own uid: the owner of `/proc/self`.
pub fn my_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

fn uuid_like() -> String {
    format!(
        "{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

pub fn identity(h: &Harness, name: &str, client_id: &str, secret: &str) -> IdentityConfig {
    IdentityConfig {
        tenant: Some(dev::TENANT_ID.into()),
        client_id: Some(client_id.into()),
        secret: Some(secret.into()),
        danger_allow_secret_in_config: true,
        authority: Some(h.base().to_string()),
        ca_file: Some(PathBuf::from(&h.ready().ca_file)),
        ..IdentityConfig::new(name, IdentityKind::ClientSecret)
    }
}

pub fn caller(name: &str, secret: &str, identities: &[&str], resources: &[&str]) -> CallerConfig {
    CallerConfig {
        secret: Some(secret.into()),
        danger_allow_secret_in_config: true,
        identities: identities.iter().map(|s| s.to_string()).collect(),
        resources: resources.iter().map(|s| s.to_string()).collect(),
        ..CallerConfig::new(name)
    }
}

/// Identities "daemon" (default) and "web"; callers "dev" (everything; also this uid on
/// IMDS) and "limited" (daemon, `api://contoso-api` only); audit to `audit`.
pub fn config(h: &Harness, audit: &Path) -> BrokerConfig {
    let mut c = BrokerConfig::default();
    c.broker.listen = "127.0.0.1:0".into();
    c.broker.audit_log = Some(audit.display().to_string());
    c.identities
        .push(identity(h, "daemon", dev::DAEMON, dev::DAEMON_SECRET));
    c.identities.push(identity(h, "web", WEB, "web-dev-secret"));
    let mut dev_caller = caller("dev", DEV_SECRET, &["*"], &["*"]);
    dev_caller.uids = vec![my_uid()];
    c.callers.push(dev_caller);
    c.callers.push(caller(
        "limited",
        LIMITED_SECRET,
        &["daemon"],
        &["api://contoso-api"],
    ));
    c
}

/// A fresh temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("entra-broker-{tag}-{}", uuid_like()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The audit lines written so far, parsed.
pub fn audit_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
        .collect()
}

/// A plain HTTP client for the broker (no proxy, short timeouts).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// An App Service request (`X-IDENTITY-HEADER: secret`) to `url`: status and JSON.
pub async fn get_with_header(url: &str, secret: &str) -> (u16, serde_json::Value) {
    let r = client()
        .get(url)
        .header("X-IDENTITY-HEADER", secret)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// The App Service 2019 query most tests ask with: a token for `api://contoso-api`.
pub const CONTOSO_2019: &str = "resource=api://contoso-api&api-version=2019-08-01";

/// `GET <broker>/msi/token?{query}` as the caller with `secret`.
pub async fn app_service(
    b: &entra_broker::RunningBroker,
    secret: &str,
    query: &str,
) -> (u16, serde_json::Value) {
    get_with_header(&format!("{}?{query}", b.identity_endpoint()), secret).await
}

/// The broker's `/metrics` text.
pub async fn metrics_text(b: &entra_broker::RunningBroker) -> String {
    client()
        .get(b.metrics_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
