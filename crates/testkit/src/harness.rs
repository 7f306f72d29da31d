//! [`Harness`]: an emulator on a loopback port in a fresh temporary directory, its
//! admin API ([`Admin`]) and a client that trusts its CA.

use std::path::{Path, PathBuf};
use std::time::Duration;

use entra_emulator::{Emulator, Options, Ready};
use serde_json::Value;

use crate::dev;

/// An emulator on a loopback port with its state in a temporary directory that
/// [`Harness::stop`] (or dropping the harness) removes. Tokens live 3600 seconds.
pub struct Harness {
    emu: Option<Emulator>,
    dir: PathBuf,
    /// A client that trusts the emulator's CA and does not follow redirects.
    pub http: reqwest::Client,
}

impl Harness {
    /// Starts an emulator with the test defaults (`token_lifetime: Some(3600)`).
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// Starts an emulator with `options`; `state_dir` and `port` are replaced by a fresh
    /// temporary directory and an ephemeral port, and a missing `token_lifetime` becomes
    /// 3600 seconds.
    pub async fn start_with(options: Options) -> Self {
        // reqwest is built without a bundled crypto provider; the process picks aws-lc-rs.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = std::env::temp_dir().join(format!("entra-test-{}", uuid::Uuid::new_v4()));
        let emu = Emulator::start(Options {
            state_dir: dir.clone(),
            port: 0,
            token_lifetime: options.token_lifetime.or(Some(3600)),
            ..options
        })
        .await
        .expect("emulator starts");
        let http = client_trusting(&emu.ready.ca_file);
        Self {
            emu: Some(emu),
            dir,
            http,
        }
    }

    /// What the running emulator announced (authority, CA file, admin token, ...).
    pub fn ready(&self) -> &Ready {
        &self.emulator().ready
    }

    /// The running emulator (its state, for tests that look inside).
    pub fn emulator(&self) -> &Emulator {
        self.emu.as_ref().expect("emulator running")
    }

    /// The emulator's state directory (removed by [`Harness::stop`]).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The authority, e.g. `https://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.ready().authority
    }

    /// `path` (starting with `/`) on the emulator.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.ready().authority)
    }

    /// An admin API client: `path` is under `/admin` (e.g. `/faults`).
    pub fn admin(&self) -> Admin<'_> {
        Admin { harness: self }
    }

    /// All request counters.
    pub async fn counters(&self) -> Value {
        self.admin().get("/counters").await
    }

    /// One request counter, 0 when it has not been counted yet.
    pub async fn counter(&self, name: &str) -> u64 {
        self.counters().await[name].as_u64().unwrap_or(0)
    }

    /// Installs a fault (`POST /admin/faults`) and checks it was accepted.
    pub async fn fault(&self, body: Value) {
        let r = self.admin().post("/faults", body).await;
        assert_eq!(r.status(), 204, "fault accepted");
    }

    /// Moves the emulator's clock forward.
    pub async fn advance_clock(&self, seconds: u64) {
        let r = self
            .admin()
            .post("/clock", serde_json::json!({ "advance_seconds": seconds }))
            .await;
        assert!(r.status().is_success(), "clock moved: {}", r.status());
    }

    /// POSTs `form` to `tenant`'s v2 token endpoint: the status and the JSON answer.
    pub async fn token_response<F: serde::Serialize + ?Sized>(
        &self,
        tenant: &str,
        form: &F,
    ) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// The whole answer of a token request that must succeed (panics with the body).
    pub async fn token_ok<F: serde::Serialize + ?Sized>(&self, tenant: &str, form: &F) -> Value {
        let (status, body) = self.token_response(tenant, form).await;
        assert!(
            status == 200 && body["access_token"].is_string(),
            "token request failed ({status}): {body}"
        );
        body
    }

    /// The access token of a token request that must succeed.
    pub async fn access_token<F: serde::Serialize + ?Sized>(
        &self,
        tenant: &str,
        form: &F,
    ) -> String {
        self.token_ok(tenant, form).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The development daemon's app-only token (client credentials, its secret) for
    /// `scope` in the Contoso tenant.
    pub async fn daemon_token(&self, scope: &str) -> String {
        self.access_token(
            dev::TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", dev::DAEMON),
                ("client_secret", dev::DAEMON_SECRET),
                ("scope", scope),
            ],
        )
        .await
    }

    /// Alice's delegated token for `scope` through the development public client
    /// (password grant: no browser).
    pub async fn alice_token(&self, scope: &str) -> String {
        self.access_token(
            dev::TENANT,
            &[
                ("grant_type", "password"),
                ("client_id", dev::PUBLIC_CLIENT),
                ("username", dev::ALICE),
                ("password", dev::ALICE_PASSWORD),
                ("scope", scope),
            ],
        )
        .await
    }

    /// A Kubernetes-style service-account token (`system:serviceaccount:default:workload`,
    /// audience `api://AzureADTokenExchange`) from the emulator's federation issuer,
    /// valid for `lifetime` seconds: what a workload identity's token file holds.
    pub fn workload_token(&self, lifetime: i64) -> String {
        entra_emulator::mint_federated(
            self.dir(),
            &format!("{}/federation", self.base()),
            "system:serviceaccount:default:workload",
            "api://AzureADTokenExchange",
            lifetime,
        )
        .expect("the emulator's federation key signs")
    }

    /// Shuts the emulator down and removes its state directory.
    pub async fn stop(mut self) {
        if let Some(e) = self.emu.take() {
            e.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        drop(self.emu.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A reqwest client that trusts the CA in `ca_file`, does not follow redirects, uses no
/// proxy and gives up after 20 seconds.
pub fn client_trusting(ca_file: &str) -> reqwest::Client {
    let ca = std::fs::read(ca_file).expect("CA file readable");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA is PEM"))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client builds")
}

/// The emulator's admin API, authenticated with its admin token.
pub struct Admin<'a> {
    harness: &'a Harness,
}

impl Admin<'_> {
    fn url(&self, path: &str) -> String {
        self.harness.url(&format!("/admin{path}"))
    }

    /// `GET /admin{path}`, answered with JSON.
    pub async fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None)
            .await
            .json()
            .await
            .expect("admin answers JSON")
    }

    /// `POST /admin{path}` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// Any method on `/admin{path}`, with an optional JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .harness
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.harness.ready().admin_token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("admin request sent")
    }
}
