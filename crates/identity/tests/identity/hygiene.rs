//! Secret hygiene against a real emulator: PKCS#12 client certificates (made here by
//! `openssl pkcs12 -export` from the emulator's daemon certificate), and proof that no
//! secret, token or client assertion reaches a log line (captured at TRACE), an error's
//! `Display` or `Debug`, or any credential's `Debug`.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Emu, claims};
use entra_identity::http::{HttpClient, Request, ReqwestClient, Response};
use entra_identity::{
    AzureCliCredential, AzureCliOptions, BoxFuture, ChainedTokenCredential,
    ClientAssertionCredential, ClientCertificate, ClientCertificateCredential, ClientOptions,
    ClientSecretCredential, DefaultAzureCredential, DefaultAzureCredentialOptions,
    DeviceCodeCredential, DeviceCodeInfo, Env, EnvironmentCredential, Error,
    InteractiveBrowserCredential, InteractiveOptions, ManagedIdentityCredential, ManagedIdentityId,
    ManagedIdentityOptions, OnBehalfOfCredential, PublicClient, Secret, TokenCredential,
    TokenRequest, WorkloadIdentityCredential, WorkloadIdentityOptions,
};
use entra_testkit::dev::{
    ALICE, API, API_DEFAULT, DAEMON, DAEMON_SECRET, PUBLIC_CLIENT as PUBLIC, TENANT,
};
use entra_testkit::{Browser, enter_device_code};
use serde_json::Value;

const P12_PASSWORD: &str = "p12-pass-7f3a9c";

// --- The emulator --------------------------------------------------------------------

impl Emu {
    /// Like [`Emu::options`], recording every secret that crosses the wire into `seen`.
    fn recording_options(&self, seen: &Arc<Mutex<Vec<String>>>) -> ClientOptions {
        let recorder = Recorder {
            inner: crate::common::emulator_transport(self),
            seen: seen.clone(),
        };
        crate::common::emulator_options_via(
            self,
            Arc::new(recorder),
            crate::common::retry(3, Duration::from_secs(2)),
        )
    }

    /// `openssl pkcs12 -export` of the daemon's key and certificate into `name`, with
    /// `extra` arguments (algorithm choices).
    #[cfg(feature = "pkcs12")]
    fn pkcs12(&self, name: &str, password: &str, extra: &[&str]) -> PathBuf {
        let out = self.dir().join(name);
        let pem = &self.ready().daemon_certificate;
        let status = Command::new("openssl")
            .args(["pkcs12", "-export", "-in", pem, "-inkey", pem, "-out"])
            .arg(&out)
            .args(["-passout", &format!("pass:{password}")])
            .args(extra)
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl pkcs12 -export {extra:?} failed");
        out
    }
}

/// A transport that records each secret sent (form fields) or received (token fields),
/// so the test knows the exact client assertions, refresh tokens and device codes to
/// look for.
struct Recorder {
    inner: ReqwestClient,
    seen: Arc<Mutex<Vec<String>>>,
}

/// Request form fields that carry secrets.
const SECRET_FIELDS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "assertion",
    "refresh_token",
    "device_code",
    "code",
    "code_verifier",
    "password",
];

impl HttpClient for Recorder {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, String>> {
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(request.body()).unwrap_or_default();
        let mut found: Vec<String> = form
            .into_iter()
            .filter(|(k, v)| SECRET_FIELDS.contains(&k.as_str()) && v.len() >= 8)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Box::pin(async move {
            let response = self.inner.send(request).await?;
            if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(response.body()) {
                for k in ["access_token", "refresh_token", "id_token", "device_code"] {
                    if let Some(Value::String(v)) = body.get(k) {
                        found.push(format!("{k}={v}"));
                    }
                }
            }
            self.seen.lock().unwrap().extend(found);
            Ok(response)
        })
    }
}

/// The recorded `name=value` secrets whose name is `name`, values only.
fn recorded(seen: &Arc<Mutex<Vec<String>>>, name: &str) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter_map(|s| s.strip_prefix(&format!("{name}=")).map(str::to_string))
        .collect()
}

// --- PKCS#12 -------------------------------------------------------------------------

#[cfg(feature = "pkcs12")]
#[tokio::test]
async fn pkcs12_certificates_get_tokens_from_file_and_environment() {
    let emu = Emu::start().await;
    let req = TokenRequest::new([API_DEFAULT]);
    // Modern (OpenSSL 3 default: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC, SHA-256 MAC) and
    // legacy (3DES key and certificates, SHA-1 MAC; and -legacy: RC2-40 certificates).
    let modern = emu.pkcs12("modern.p12", P12_PASSWORD, &[]);
    let triple_des = emu.pkcs12(
        "3des.pfx",
        P12_PASSWORD,
        &[
            "-certpbe",
            "PBE-SHA1-3DES",
            "-keypbe",
            "PBE-SHA1-3DES",
            "-macalg",
            "sha1",
        ],
    );
    let legacy = emu.pkcs12("legacy.pfx", P12_PASSWORD, &["-legacy"]);
    let modern_der = std::fs::read(&modern).unwrap();
    assert_ne!(modern_der.first(), Some(&b'-'), "DER, not PEM");
    for file in [&modern, &triple_des, &legacy] {
        let cred = ClientCertificateCredential::from_file(
            TENANT,
            DAEMON,
            file,
            Some(P12_PASSWORD),
            emu.options(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let t = cred.get_token(&req).await.unwrap();
        let c = claims(&t.token);
        assert_eq!(c["azpacr"], "2", "{}", file.display());
        assert_eq!(c["aud"], API);
        assert!(!format!("{cred:?}").contains(P12_PASSWORD));
    }
    // The same file through ClientCertificate::from_pkcs12, and PEM sniffed by from_file.
    assert!(ClientCertificate::from_pkcs12(&modern_der, P12_PASSWORD).is_ok());
    let pem = ClientCertificateCredential::from_file(
        TENANT,
        DAEMON,
        &emu.ready().daemon_certificate,
        None,
        emu.options(),
    )
    .unwrap();
    assert_eq!(
        claims(&pem.get_token(&req).await.unwrap().token)["azpacr"],
        "2"
    );
    assert_eq!(emu.counter("grant:client_credentials").await, 4);

    // EnvironmentCredential with AZURE_CLIENT_CERTIFICATE_PATH at a .p12.
    let env = Env::new()
        .with("AZURE_TENANT_ID", TENANT)
        .with("AZURE_CLIENT_ID", DAEMON)
        .with(
            "AZURE_CLIENT_CERTIFICATE_PATH",
            modern.display().to_string(),
        )
        .with("AZURE_CLIENT_CERTIFICATE_PASSWORD", P12_PASSWORD);
    let cred = EnvironmentCredential::from_env(&env, emu.options());
    assert_eq!(cred.unavailable_reason(), None);
    let t = cred.get_token(&req).await.unwrap();
    assert_eq!(claims(&t.token)["azpacr"], "2");
    assert!(!format!("{cred:?} {env:?}").contains(P12_PASSWORD));

    // A wrong (or missing) password: a configuration error naming the file, not the password.
    for password in [Some("not-the-password-41d2"), None] {
        let mut env = env.clone();
        match password {
            Some(p) => env.set("AZURE_CLIENT_CERTIFICATE_PASSWORD", p),
            None => env.remove("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
        }
        let cred = EnvironmentCredential::from_env(&env, emu.options());
        let err = cred.get_token(&req).await.unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("wrong password")
                && text.contains(&modern.display().to_string())
                && text.contains("AZURE_CLIENT_CERTIFICATE_PATH"),
            "{text}"
        );
        let everything = format!("{text} {err:?} {cred:?}");
        assert!(
            !everything.contains(P12_PASSWORD) && !everything.contains("not-the-password-41d2"),
            "{everything}"
        );
    }
    let err = ClientCertificateCredential::from_file(
        TENANT,
        DAEMON,
        &triple_des,
        Some("wrong"),
        emu.options(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("wrong password") && m.contains("3des.pfx")),
        "{err}"
    );
    // No more tokens were asked for by the failures.
    assert_eq!(emu.counter("grant:client_credentials").await, 5);
    emu.stop().await;
}

// --- Logs, errors and Debug ------------------------------------------------------------

/// Every formatted log line, shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Fails naming the first of `secrets` found in `haystack` (`what` says where).
fn assert_clean(what: &str, haystack: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !haystack.contains(s.as_str()),
            "{what} contains a secret ({} chars starting {:?})",
            s.len(),
            &s[..s.len().min(6)]
        );
    }
    // Any JWT (access token, client assertion, id token) starts with a base64url `{"`.
    assert!(!haystack.contains("eyJ"), "{what} contains a JWT");
}

// The test runs on one thread (the default current-thread runtime), emulator included,
// so the thread-local subscriber sees every event: ours, reqwest's, hyper's.
#[tokio::test]
async fn nothing_secret_in_trace_logs_errors_or_debug() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emu = Emu::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let options = || emu.recording_options(&seen);
    let req = TokenRequest::new([API_DEFAULT]);
    let mut secrets = vec![DAEMON_SECRET.to_string(), P12_PASSWORD.to_string()];
    let mut shown = Vec::new();

    // Client secret.
    let secret_cred =
        ClientSecretCredential::new(TENANT, DAEMON, DAEMON_SECRET, options()).unwrap();
    let t = secret_cred.get_token(&req).await.unwrap();
    secrets.push(t.token.expose().to_string());
    shown.push(format!("{secret_cred:?} {t:?}"));

    // Certificate (PKCS#12), bypassing the cache so a second assertion is signed.
    let p12 = emu.pkcs12("hygiene.p12", P12_PASSWORD, &[]);
    #[rustfmt::skip]
    let cert_cred = ClientCertificateCredential::from_file(
        TENANT,
        DAEMON,
        &p12,
        Some(P12_PASSWORD),
        options(),
    )
    .unwrap();
    let t = cert_cred.get_token(&req).await.unwrap();
    secrets.push(t.token.expose().to_string());
    let t = cert_cred
        .get_token(
            &req.clone()
                .claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#),
        )
        .await
        .unwrap();
    secrets.push(t.token.expose().to_string());
    shown.push(format!("{cert_cred:?} {t:?}"));

    // A wrong secret: Entra's error, typed.
    let wrong =
        ClientSecretCredential::new(TENANT, DAEMON, "wrong-secret-9b7e", options()).unwrap();
    secrets.push("wrong-secret-9b7e".into());
    let err = wrong.get_token(&req).await.unwrap_err();
    assert!(
        err.entra().is_some_and(|e| e.error == "invalid_client"),
        "{err}"
    );
    shown.push(format!("{err} {err:?} {wrong:?}"));

    // A 429 storm: three retries (logged by the pipeline), then the fourth 429 as the error.
    emu.fault(
        serde_json::json!({"endpoint": "token", "status": 429, "count": 4, "retry_after": 0}),
    )
    .await;
    let fresh = ClientSecretCredential::new(TENANT, DAEMON, DAEMON_SECRET, options()).unwrap();
    let err = fresh.get_token(&req).await.unwrap_err();
    assert_eq!(err.entra().map(|e| e.status), Some(429), "{err}");
    shown.push(format!("{err} {err:?} {fresh:?}"));

    // A user: device code sign-in (alice), then a refresh-token grant for another scope.
    let public = PublicClient::new(TENANT, PUBLIC, options()).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let on_code = move |i: &DeviceCodeInfo| {
        let _ = tx.send(i.user_code.clone());
    };
    let read = TokenRequest::new(["api://contoso-api/Data.Read"]);
    let flow = public.sign_in_with_device_code(&read, &on_code, std::future::pending());
    let (signed_in, page) = tokio::join!(flow, async {
        let user_code = rx.recv().await.unwrap();
        enter_device_code(
            &mut Browser::new(&emu),
            &user_code,
            ALICE,
            "alice-dev-password",
            "accept",
        )
        .await
    });
    assert!(page.contains("id=\"done\""), "{page}");
    let signed_in = signed_in.unwrap();
    let write = public
        .get_token(&TokenRequest::new(["api://contoso-api/Data.Write"]))
        .await
        .unwrap();
    assert_eq!(claims(&write.token)["scp"], "Data.Write");
    shown.push(format!("{public:?} {signed_in:?} {write:?}"));
    // A refresh token that no longer works: replaying the redeemed one (outside this
    // crate) makes the emulator revoke the family, so the next refresh is refused; the
    // error must not carry the refresh token either.
    let first_rt = recorded(&seen, "refresh_token")[0].clone();
    let replay = emu
        .http
        .post(emu.url(&format!("/{TENANT}/oauth2/v2.0/token")))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", first_rt.as_str()),
            ("scope", "api://contoso-api/Data.Read offline_access"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);
    let err = public
        .get_token(&TokenRequest::new(["api://contoso-web/access_as_user"]))
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(
        err.entra().is_some_and(|e| e.error == "invalid_grant"),
        "{err}"
    );
    shown.push(format!("{err} {err:?}"));

    // What crossed the wire: every such value is a secret for the checks below.
    for kind in [
        "client_assertion",
        "refresh_token",
        "device_code",
        "access_token",
    ] {
        assert!(!recorded(&seen, kind).is_empty(), "no {kind} was recorded");
    }
    assert!(
        recorded(&seen, "refresh_token").len() >= 2,
        "issued and redeemed refresh tokens"
    );
    secrets.extend(
        seen.lock()
            .unwrap()
            .iter()
            .map(|s| s.split_once('=').unwrap().1.to_string()),
    );

    let logs = captured.text();
    assert!(
        logs.contains("TRACE") && logs.contains("entra_identity"),
        "the subscriber captured no TRACE events or none of ours:\n{}",
        &logs[..logs.len().min(2000)]
    );
    // Our own events on both paths were captured: the retries and the rotation.
    assert_eq!(logs.matches("entra_identity::http: retrying").count(), 3);
    assert!(logs.contains("stored the rotated refresh token"));
    assert_clean("the TRACE logs", &logs, &secrets);
    for (i, s) in shown.iter().enumerate() {
        assert_clean(&format!("Debug/Display #{i}"), s, &secrets);
    }
    emu.stop().await;
}

#[tokio::test]
async fn debug_of_every_credential_shows_no_secret() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("entra-hygiene-debug-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    // A throwaway RSA certificate, as PEM (key first) and as PKCS#12.
    let (pem_path, p12_path) = (dir.join("c.pem"), dir.join("c.p12"));
    let (key_path, cert_path) = (dir.join("key.pem"), dir.join("cert.pem"));
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=hygiene", "-keyout"])
        .arg(&key_path)
        .arg("-out")
        .arg(&cert_path)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl req");
    let key_pem = std::fs::read_to_string(&key_path).unwrap();
    let cert_pem = std::fs::read_to_string(&cert_path).unwrap();
    std::fs::write(&pem_path, format!("{key_pem}{cert_pem}")).unwrap();
    let status = Command::new("openssl")
        .args(["pkcs12", "-export", "-in"])
        .arg(&pem_path)
        .arg("-out")
        .arg(&p12_path)
        .args(["-passout", &format!("pass:{P12_PASSWORD}")])
        .status()
        .unwrap();
    assert!(status.success(), "openssl pkcs12 -export");
    // Two lines of the key's base64: no part of the key may show.
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .skip(1)
        .take(2)
        .collect();

    let options = ClientOptions::default();
    let cert = || ClientCertificate::from_file(&p12_path, Some(P12_PASSWORD)).unwrap();
    let assertion: entra_identity::AssertionCallback =
        Arc::new(|| Box::pin(async { Ok(Secret::new("eyJhbGciOiJub25lIn0.assertion-5c1d.")) }));
    let token_file = dir.join("federated-token");
    std::fs::write(&token_file, "eyJhbGciOiJub25lIn0.federated-7e2f.").unwrap();
    let secret_env = Env::new()
        .with("AZURE_TENANT_ID", TENANT)
        .with("AZURE_CLIENT_ID", DAEMON)
        .with("AZURE_CLIENT_SECRET", DAEMON_SECRET);
    let cert_env = Env::new()
        .with("AZURE_TENANT_ID", TENANT)
        .with("AZURE_CLIENT_ID", DAEMON)
        .with(
            "AZURE_CLIENT_CERTIFICATE_PATH",
            p12_path.display().to_string(),
        )
        .with("AZURE_CLIENT_CERTIFICATE_PASSWORD", P12_PASSWORD);
    let bad_password_env = cert_env
        .clone()
        .with("AZURE_CLIENT_CERTIFICATE_PASSWORD", "bad-password-33aa");
    let mi = |vars: Env| {
        ManagedIdentityCredential::new(
            ManagedIdentityId::System,
            ManagedIdentityOptions {
                env: Some(vars),
                arc_agent_installed: Some(false),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let obo =
        OnBehalfOfCredential::with_secret(TENANT, API, "api-secret-0d0d", options.clone()).unwrap();

    let debugs: Vec<String> = vec![
        format!(
            "{:?}",
            ClientSecretCredential::new(TENANT, DAEMON, DAEMON_SECRET, options.clone()).unwrap()
        ),
        format!(
            "{:?}",
            ClientCertificateCredential::from_file(
                TENANT,
                DAEMON,
                &p12_path,
                Some(P12_PASSWORD),
                options.clone()
            )
            .unwrap()
        ),
        format!(
            "{:?}",
            ClientCertificateCredential::from_file(
                TENANT,
                DAEMON,
                &pem_path,
                None,
                options.clone()
            )
            .unwrap()
        ),
        format!("{:?}", cert()),
        format!(
            "{:?}",
            ClientAssertionCredential::new(TENANT, DAEMON, assertion.clone(), options.clone())
                .unwrap()
        ),
        format!(
            "{:?}",
            EnvironmentCredential::from_env(&secret_env, options.clone())
        ),
        format!(
            "{:?}",
            EnvironmentCredential::from_env(&cert_env, options.clone())
        ),
        format!(
            "{:?}",
            EnvironmentCredential::from_env(&bad_password_env, options.clone())
        ),
        format!("{secret_env:?} {cert_env:?}"),
        format!(
            "{:?}",
            WorkloadIdentityCredential::new(WorkloadIdentityOptions {
                tenant_id: Some(TENANT.into()),
                client_id: Some(DAEMON.into()),
                token_file: Some(token_file.clone()),
                ..Default::default()
            })
            .unwrap()
        ),
        format!(
            "{:?}",
            mi(Env::from_pairs([
                ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
                ("IDENTITY_HEADER", "identity-header-1f1f"),
            ]))
        ),
        format!(
            "{:?}",
            mi(Env::from_pairs([
                ("MSI_ENDPOINT", "http://127.0.0.1:1/msi/token"),
                ("MSI_SECRET", "msi-secret-2e2e"),
            ]))
        ),
        format!(
            "{:?}",
            mi(Env::from_pairs([
                ("IDENTITY_ENDPOINT", "https://127.0.0.1:1/msi/token"),
                ("IDENTITY_HEADER", "identity-header-1f1f"),
                ("IDENTITY_SERVER_THUMBPRINT", "ab".repeat(20).as_str()),
            ]))
        ),
        format!(
            "{:?}",
            AzureCliCredential::new(AzureCliOptions::default()).unwrap()
        ),
        format!(
            "{:?}",
            ChainedTokenCredential::new(vec![Arc::new(
                ClientSecretCredential::new(TENANT, DAEMON, DAEMON_SECRET, options.clone())
                    .unwrap()
            ),])
        ),
        format!(
            "{:?}",
            DefaultAzureCredential::new(DefaultAzureCredentialOptions {
                env: Some(secret_env.clone()),
                ..Default::default()
            })
            .unwrap()
        ),
        format!("{obo:?}"),
        format!(
            "{:?}",
            obo.with_user_assertion("eyJhbGciOiJub25lIn0.user-assertion-4b4b.")
        ),
        format!(
            "{:?}",
            OnBehalfOfCredential::with_certificate(TENANT, API, cert(), options.clone()).unwrap()
        ),
        format!(
            "{:?}",
            PublicClient::new(TENANT, PUBLIC, options.clone()).unwrap()
        ),
        format!(
            "{:?}",
            DeviceCodeCredential::new(TENANT, PUBLIC, options.clone(), Arc::new(|_| {})).unwrap()
        ),
        format!(
            "{:?}",
            InteractiveBrowserCredential::new(
                TENANT,
                PUBLIC,
                options.clone(),
                InteractiveOptions::default()
            )
            .unwrap()
        ),
    ];
    let secrets: Vec<String> = [
        DAEMON_SECRET,
        P12_PASSWORD,
        "bad-password-33aa",
        "assertion-5c1d",
        "federated-7e2f",
        "identity-header-1f1f",
        "msi-secret-2e2e",
        "api-secret-0d0d",
        "user-assertion-4b4b",
        key_body.as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (i, d) in debugs.iter().enumerate() {
        assert_clean(
            &format!("Debug #{i} ({})", &d[..d.len().min(40)]),
            d,
            &secrets,
        );
    }
    // The credentials really hold what was redacted: names and ids show.
    assert!(
        debugs[0].contains(DAEMON) && debugs[0].contains("[redacted]"),
        "{}",
        debugs[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
