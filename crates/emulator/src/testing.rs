//! Helpers for tests that run against the emulator: not for production.
//!
//! [`Harness`] starts an emulator in a fresh temporary directory and talks to its admin
//! API; [`Browser`] plays the user's browser on the sign-in, MFA, consent and device-code
//! pages. Everything here panics on failure, as a test wants.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Emulator, Options, Ready};

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
        crate::discovery::mint_federated(
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

/// A tiny browser: carries cookies and reads the hidden fields of the emulator's pages.
pub struct Browser<'a> {
    harness: &'a Harness,
    cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    /// A browser with an empty cookie jar.
    pub fn new(harness: &'a Harness) -> Self {
        Self {
            harness,
            cookies: BTreeMap::new(),
        }
    }

    /// The emulator this browser talks to.
    pub fn harness(&self) -> &'a Harness {
        self.harness
    }

    fn take_cookies(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all("set-cookie") {
            let (kv, _) = v.to_str().unwrap().split_once(';').unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// `GET url` (a full URL) with the cookies; keeps the cookies the answer sets.
    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let resp = self
            .harness
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.take_cookies(&resp);
        resp
    }

    /// Posts `form` to `path` on the emulator with the cookies.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let resp = self
            .harness
            .http
            .post(self.harness.url(path))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.take_cookies(&resp);
        resp
    }
}

/// The value of the hidden input `name` in `html`; panics with the page if missing.
pub fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page: {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// The decoded query parameter `name` of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Opens `authorize_url`, signs in as `user`, passes MFA and answers consent (if shown)
/// with `consent` (`accept` or `cancel`); returns the redirect URL.
pub async fn sign_in(
    b: &mut Browser<'_>,
    authorize_url: &str,
    user: &str,
    password: &str,
    consent: &str,
) -> String {
    let page = b.get(authorize_url).await.text().await.unwrap();
    let mut resp = b
        .post(
            "/login",
            &[
                ("flow", &field(&page, "flow")),
                ("csrf", &field(&page, "csrf")),
                ("login", user),
                ("passwd", password),
            ],
        )
        .await;
    loop {
        if resp.status() == 302 {
            return resp.headers()["location"].to_str().unwrap().to_string();
        }
        let page = resp.text().await.unwrap();
        let (path, extra) = if page.contains("id=\"approve\"") {
            ("/mfa", None)
        } else if page.contains("id=\"accept\"") {
            ("/consent", Some(("action", consent)))
        } else {
            panic!("unexpected page: {page}");
        };
        let (flow, csrf) = (field(&page, "flow"), field(&page, "csrf"));
        let mut form = vec![("flow", flow.as_str()), ("csrf", csrf.as_str())];
        form.extend(extra);
        resp = b.post(path, &form).await;
    }
}

/// Enters `user_code` on the device-code page, signs in as `user` and answers the
/// confirmation with `action` (`accept` or `cancel`); returns the final page.
pub async fn enter_device_code(
    b: &mut Browser<'_>,
    user_code: &str,
    user: &str,
    password: &str,
    action: &str,
) -> String {
    let url = b.harness().url("/devicelogin");
    let page = b.get(&url).await.text().await.unwrap();
    let page = b
        .post(
            "/devicelogin",
            &[
                ("flow", ""),
                ("csrf", &field(&page, "csrf")),
                ("otc", user_code),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    let page = b
        .post(
            "/login",
            &[
                ("flow", &field(&page, "flow")),
                ("csrf", &field(&page, "csrf")),
                ("login", user),
                ("passwd", password),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    b.post(
        "/device/confirm",
        &[
            ("flow", &field(&page, "flow")),
            ("csrf", &field(&page, "csrf")),
            ("action", action),
        ],
    )
    .await
    .text()
    .await
    .unwrap()
}

/// The well-known identities of the embedded development directory
/// (`default-directory.toml`), for tests.
pub mod dev {
    /// The Contoso tenant's domain.
    pub const TENANT: &str = "contoso.onmicrosoft.com";
    /// The Contoso tenant's id.
    pub const TENANT_ID: &str = "c0ffee00-0000-4000-8000-000000000001";
    /// The daemon (confidential client with a secret and the Data.Read.All role).
    pub const DAEMON: &str = "d0000000-0000-4000-8000-0000000000d1";
    /// The daemon's secret.
    pub const DAEMON_SECRET: &str = "daemon-dev-secret";
    /// The public client users sign in to.
    pub const PUBLIC_CLIENT: &str = "c1000000-0000-4000-8000-0000000000c1";
    /// The API (`api://contoso-api`).
    pub const API: &str = "a0000000-0000-4000-8000-0000000000a1";
    /// Alice, who consented to the public client.
    pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
    /// Alice's password.
    pub const ALICE_PASSWORD: &str = "alice-dev-password";
}

// --- MSAL Python, for cache-file interop tests -------------------------------------

/// The repository root (tests use its `.venv` and `tests/interop`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The interop venv's Python (`scripts/setup-test-deps` makes it), or `ENTRA_TEST_PYTHON`.
/// Missing is a failure, not a skip.
pub fn python() -> PathBuf {
    let p = std::env::var_os("ENTRA_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "MSAL Python interop needs {}: run scripts/setup-test-deps (it creates .venv with msal), or set ENTRA_TEST_PYTHON to a Python with msal installed",
        p.display()
    );
    p
}

/// Runs `tests/interop/msal_cache_interop.py COMMAND` (MSAL Python against the
/// emulator, reading or writing a shared token-cache file), bounded in time; its JSON
/// output (token digests, never tokens).
pub fn run_msal_cache_interop(
    command: &str,
    authority: &str,
    ca_file: &str,
    cache: &Path,
    work: &Path,
) -> Value {
    let script = repo_root().join("tests/interop/msal_cache_interop.py");
    let out_path = work.join(format!("msal-{command}.out"));
    let err_path = work.join(format!("msal-{command}.err"));
    let mut cmd = Command::new(python());
    cmd.arg(&script)
        .args([command, "--authority", authority, "--cache"])
        .arg(cache)
        .env("REQUESTS_CA_BUNDLE", ca_file)
        .env("SSL_CERT_FILE", ca_file)
        .env("NO_PROXY", "localhost,127.0.0.1,::1")
        .env("no_proxy", "localhost,127.0.0.1,::1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONWARNINGS", "ignore::DeprecationWarning")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("AZURE_")
            || k.starts_with("MSAL_")
            || k.to_ascii_lowercase().ends_with("_proxy") && !k.eq_ignore_ascii_case("no_proxy")
        {
            cmd.env_remove(&*k);
        }
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python().display()));
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "msal_cache_interop.py {command} timed out; stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        status.success(),
        "msal_cache_interop.py {command} failed ({status}):\n{stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"))
}
