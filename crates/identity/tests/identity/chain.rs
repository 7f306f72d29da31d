//! Environment credential against the emulator, the Azure CLI credential against fake
//! `az` scripts, and credential chains: every failure listed, the first success
//! remembered, `AZURE_TOKEN_CREDENTIALS` honoured, no token in any error or `Debug`.
//! Unix only: the fake `az` programs are bash scripts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::common::Emu;
use entra_identity::http::{Pipeline, ReqwestClient, RetryPolicy};
use entra_identity::unix_time::now;
use entra_identity::{
    AccessToken, AzureCliCredential, AzureCliOptions, BoxFuture, ChainedTokenCredential,
    ClientOptions, DefaultAzureCredential, DefaultAzureCredentialOptions, Env,
    EnvironmentCredential, Error, Secret, TokenCredential, TokenRequest,
};
use entra_testkit::dev::{API_DEFAULT, DAEMON, DAEMON_SECRET, TENANT};

const ARM: &str = "https://management.azure.com/.default";
/// Only the expiry test asks az for this one, so its log lines are its own.
const VAULT: &str = "https://vault.azure.net/.default";
/// What the fake `az` prints; no error or Debug output may ever contain it.
const AZ_TOKEN: &str = "eyJ0eXAiOiJKV1QifQ.fake-az-access-token.c2ln";

impl Emu {
    /// Trusts the emulator's CA; no authority host, so the environment must supply it.
    fn client_trusting_ca(&self) -> ClientOptions {
        let ca = Path::new(&self.ready().ca_file);
        let retry = RetryPolicy {
            max_retries: 1,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
        };
        ClientOptions {
            pipeline: Some(Pipeline::new(
                Arc::new(ReqwestClient::new(Some(ca)).unwrap()),
                retry,
            )),
            ca_file: Some(ca.to_path_buf()),
            ..Default::default()
        }
    }

    /// The service principal's variables, pointing at the emulator.
    fn env(&self) -> Env {
        Env::new()
            .with("AZURE_AUTHORITY_HOST", &self.ready().authority)
            .with("AZURE_TENANT_ID", TENANT)
            .with("AZURE_CLIENT_ID", DAEMON)
    }
}

fn audience(t: &AccessToken) -> String {
    entra_jose::decode_unverified(t.token.expose())
        .unwrap()
        .claims["aud"]
        .as_str()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------- environment

#[tokio::test]
async fn environment_secret_and_certificate_against_the_emulator() {
    let emu = Emu::start().await;
    // Secret; AZURE_AUTHORITY_HOST comes from the map, not from the options.
    let cred = EnvironmentCredential::from_env(
        &emu.env().with("AZURE_CLIENT_SECRET", DAEMON_SECRET),
        emu.client_trusting_ca(),
    );
    let t = cred
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap();
    assert_eq!(audience(&t), "a0000000-0000-4000-8000-0000000000a1");
    assert_eq!(
        format!("{cred:?}"),
        "EnvironmentCredential(ClientSecretCredential)"
    );
    // Certificate (PEM), sending the chain.
    let cred = EnvironmentCredential::from_env(
        &emu.env()
            .with(
                "AZURE_CLIENT_CERTIFICATE_PATH",
                &emu.ready().daemon_certificate,
            )
            .with("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true"),
        emu.client_trusting_ca(),
    );
    let t = cred
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap();
    let claims = entra_jose::decode_unverified(t.token.expose())
        .unwrap()
        .claims;
    assert_eq!(claims["azpacr"], "2", "certificate authentication");
    assert_eq!(
        format!("{cred:?}"),
        "EnvironmentCredential(ClientCertificateCredential)"
    );
    // A wrong secret is Entra's error, not "unavailable".
    let cred = EnvironmentCredential::from_env(
        &emu.env().with("AZURE_CLIENT_SECRET", "not-the-secret"),
        emu.client_trusting_ca(),
    );
    let err = cred
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap_err();
    assert!(err.entra().is_some_and(|e| e.has_code(7000215)), "{err}");
    assert!(!format!("{err} {err:?} {cred:?}").contains("not-the-secret"));
    emu.stop().await;
}

#[tokio::test]
async fn environment_names_exactly_what_is_missing() {
    let req = TokenRequest::new([API_DEFAULT]);
    let cases = [
        (
            Env::new(),
            "EnvironmentCredential is unavailable: environment variables are not fully configured: missing AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)",
        ),
        (
            Env::new()
                .with("AZURE_CLIENT_ID", DAEMON)
                .with("AZURE_CLIENT_SECRET", "s"),
            "EnvironmentCredential is unavailable: environment variables are not fully configured: missing AZURE_TENANT_ID",
        ),
        (
            Env::new()
                .with("AZURE_TENANT_ID", TENANT)
                .with("AZURE_CLIENT_ID", ""),
            "EnvironmentCredential is unavailable: environment variables are not fully configured: missing AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)",
        ),
    ];
    for (env, expected) in cases {
        let err = EnvironmentCredential::from_env(&env, ClientOptions::default())
            .get_token(&req)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
        assert_eq!(err.to_string(), expected);
    }
    // Username/password is reported as unsupported, never used.
    let env = Env::new()
        .with("AZURE_TENANT_ID", TENANT)
        .with("AZURE_CLIENT_ID", DAEMON)
        .with("AZURE_USERNAME", "alice@contoso.onmicrosoft.com")
        .with("AZURE_PASSWORD", "alice-password");
    let cred = EnvironmentCredential::from_env(&env, ClientOptions::default());
    let err = cred.get_token(&req).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("missing AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH); AZURE_USERNAME/AZURE_PASSWORD are set, but username/password sign-in is deprecated"), "{text}");
    assert!(!format!("{text} {err:?} {cred:?} {env:?}").contains("alice-password"));
}

#[tokio::test]
async fn environment_certificate_problems_are_configuration_errors() {
    let dir = std::env::temp_dir().join(format!("entra-chain-cert-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let pfx = dir.join("app.pfx");
    std::fs::write(&pfx, [0x30, 0x82, 0x0a, 0x01, 0x02, 0x01, 0x03]).unwrap();
    let encrypted = dir.join("enc.pem");
    std::fs::write(
        &encrypted,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let base = Env::new()
        .with("AZURE_TENANT_ID", TENANT)
        .with("AZURE_CLIENT_ID", DAEMON);
    let req = TokenRequest::new([API_DEFAULT]);
    let error_for = |path: &Path| {
        let env = base
            .clone()
            .with("AZURE_CLIENT_CERTIFICATE_PATH", path.display().to_string())
            .with("AZURE_CLIENT_CERTIFICATE_PASSWORD", "pfx-password");
        EnvironmentCredential::from_env(&env, ClientOptions::default())
    };
    let cred = error_for(&pfx);
    let err = cred.get_token(&req).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    // A damaged PKCS#12 archive: named, and said to be PKCS#12.
    assert!(
        text.contains("AZURE_CLIENT_CERTIFICATE_PATH")
            && text.contains("app.pfx")
            && text.contains("PKCS#12"),
        "{text}"
    );
    assert!(!text.starts_with("configuration: configuration:"), "{text}");
    let err = error_for(&encrypted).get_token(&req).await.unwrap_err();
    assert!(err.to_string().contains("encrypted"), "{err}");
    let err = error_for(&dir.join("missing.pem"))
        .get_token(&req)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(_)) && err.to_string().contains("missing.pem"),
        "{err}"
    );
    assert!(!format!("{err:?} {cred:?}").contains("pfx-password"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- Azure CLI

/// Fake `az` programs, written once before any test runs one: a file being written while
/// another thread forks can make exec fail with "text file busy".
struct FakeAz {
    dir: PathBuf,
}

impl FakeAz {
    fn get() -> &'static FakeAz {
        static FAKES: OnceLock<FakeAz> = OnceLock::new();
        FAKES.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("entra-fake-az-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).unwrap();
            let log = dir.join("calls.log");
            let scripts = [
                // az 2.54+: expires_on (epoch) next to expiresOn.
                (
                    "az-new",
                    format!(
                        r#"echo "$@" >> '{log}'
cat <<'EOF'
{{"accessToken": "{AZ_TOKEN}", "expiresOn": "2030-01-01 12:00:00.000000", "expires_on": 1893499200, "subscription": "s", "tenant": "t", "tokenType": "Bearer"}}
EOF"#,
                        log = log.display()
                    ),
                ),
                // older az: expiresOn only, a local time.
                (
                    "az-old",
                    format!(
                        r#"cat <<'EOF'
{{"accessToken": "{AZ_TOKEN}", "expiresOn": "2030-01-01 12:00:00.000000", "subscription": "s", "tenant": "t", "tokenType": "Bearer"}}
EOF"#
                    ),
                ),
                (
                    "az-logged-out",
                    "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1".into(),
                ),
                (
                    "az-broken",
                    format!(
                        "echo 'ERROR: (SubscriptionNotFound) token {AZ_TOKEN} was refused' >&2\necho 'Traceback: second line' >&2\nexit 2"
                    ),
                ),
                ("az-garbage", format!("echo 'not json {AZ_TOKEN}'")),
                ("az-slow", "exec sleep 5".into()),
            ];
            for (name, body) in scripts {
                write_script(&dir.join(name), &format!("#!/bin/bash\n{body}\n"));
            }
            FakeAz { dir }
        })
    }

    fn credential(&self, name: &str) -> AzureCliCredential {
        AzureCliCredential::new(self.options(name)).unwrap()
    }

    fn options(&self, name: &str) -> AzureCliOptions {
        AzureCliOptions {
            az_path: Some(self.dir.join(name)),
            timeout: Duration::from_millis(if name == "az-slow" { 300 } else { 10_000 }),
            ..Default::default()
        }
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Asserts the fake token is nowhere in `text`.
fn no_token(text: &str) {
    assert!(
        !text.contains(AZ_TOKEN) && !text.contains("fake-az-access-token"),
        "token leaked: {text}"
    );
}

#[tokio::test]
async fn azure_cli_tokens_in_both_expiry_forms() {
    let az = FakeAz::get();
    let cred = AzureCliCredential::new(AzureCliOptions {
        additionally_allowed_tenants: vec!["fabrikam.onmicrosoft.com".into()],
        ..az.options("az-new")
    })
    .unwrap();
    let t = cred.get_token(&TokenRequest::new([VAULT])).await.unwrap();
    assert_eq!(t.token.expose(), AZ_TOKEN);
    assert_eq!(t.expires_on, 1893499200, "expires_on wins over expiresOn");
    assert_eq!(&*t.token_type, "Bearer");
    no_token(&format!("{t:?} {cred:?}"));
    // Cached: a second request does not run az again.
    cred.get_token(&TokenRequest::new([VAULT])).await.unwrap();
    // A tenant override the credential allows becomes --tenant.
    cred.get_token(&TokenRequest::new([VAULT]).tenant("fabrikam.onmicrosoft.com"))
        .await
        .unwrap();
    let calls: Vec<String> = az
        .calls()
        .into_iter()
        .filter(|c| c.contains("vault"))
        .collect();
    assert_eq!(
        calls,
        [
            "account get-access-token --output json --resource https://vault.azure.net",
            "account get-access-token --output json --resource https://vault.azure.net --tenant fabrikam.onmicrosoft.com",
        ]
    );
    // ...and one it does not allow is refused before az runs.
    let err = cred
        .get_token(&TokenRequest::new([VAULT]).tenant("evil.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");

    // Older az: expiresOn, a local time (read as UTC where the offset is unknown).
    let t = az
        .credential("az-old")
        .get_token(&TokenRequest::new([ARM]))
        .await
        .unwrap();
    assert_eq!(t.token.expose(), AZ_TOKEN);
    let utc = 1893499200; // 2030-01-01 12:00:00 UTC
    let offset =
        time::UtcOffset::local_offset_at(time::OffsetDateTime::from_unix_timestamp(utc).unwrap())
            .map(|o| o.whole_seconds() as i64)
            .unwrap_or(0);
    assert_eq!(t.expires_on, utc - offset);
}

#[tokio::test]
async fn azure_cli_errors_say_what_to_do_and_never_show_the_token() {
    let az = FakeAz::get();
    let req = TokenRequest::new([ARM]);
    let err = az
        .credential("az-logged-out")
        .get_token(&req)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "AzureCliCredential is unavailable: not logged in: run az login"
    );

    let missing = az.credential("no-such-az");
    let err = missing.get_token(&req).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("AzureCliCredential is unavailable: Azure CLI not found: install it"),
        "{err}"
    );

    let err = az
        .credential("az-broken")
        .get_token(&req)
        .await
        .unwrap_err();
    let text = format!("{err}");
    assert!(matches!(err, Error::Response { .. }), "{err:?}");
    assert_eq!(
        text,
        "unexpected response from the Azure CLI: az exited with status 2: ERROR: (SubscriptionNotFound) token [redacted] was refused"
    );
    no_token(&format!("{text} {err:?}"));

    let err = az
        .credential("az-garbage")
        .get_token(&req)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unexpected response from the Azure CLI: its output is not JSON"
    );
    no_token(&format!("{err} {err:?}"));

    let start = std::time::Instant::now();
    let err = az.credential("az-slow").get_token(&req).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "az was killed at the timeout"
    );
    assert_eq!(
        err.to_string(),
        "AzureCliCredential is unavailable: the Azure CLI did not answer within 0.3 s"
    );

    // One scope, checked before anything runs.
    let cred = az.credential("az-new");
    let two = TokenRequest::new([ARM, "https://graph.microsoft.com/.default"]);
    assert!(
        cred.get_token(&two)
            .await
            .unwrap_err()
            .to_string()
            .contains("exactly one scope")
    );
    let sneaky = TokenRequest::new(["--debug"]);
    assert!(matches!(
        cred.get_token(&sneaky).await,
        Err(Error::Config(_))
    ));
    assert!(
        AzureCliCredential::new(AzureCliOptions {
            tenant: Some("--subscription".into()),
            ..Default::default()
        })
        .is_err()
    );
}

// ---------------------------------------------------------------- chains

/// A test credential that counts its calls and answers from a closure.
struct Scripted {
    name: &'static str,
    calls: AtomicUsize,
    answer: fn() -> Result<AccessToken, Error>,
}

impl Scripted {
    fn new(name: &'static str, answer: fn() -> Result<AccessToken, Error>) -> Arc<Self> {
        Arc::new(Self {
            name,
            calls: AtomicUsize::new(0),
            answer,
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl TokenCredential for Scripted {
    fn get_token<'a>(&'a self, _: &'a TokenRequest) -> BoxFuture<'a, Result<AccessToken, Error>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = (self.answer)();
        Box::pin(async move { answer })
    }

    fn name(&self) -> &'static str {
        self.name
    }
}

fn token() -> Result<AccessToken, Error> {
    Ok(AccessToken {
        token: Secret::new("scripted-token-value"),
        expires_on: now() + 3600,
        refresh_on: None,
        token_type: "Bearer".into(),
    })
}

fn unavailable() -> Result<AccessToken, Error> {
    Err(Error::Unavailable {
        credential: "First",
        reason: "nothing configured".into(),
    })
}

fn refused() -> Result<AccessToken, Error> {
    Err(Error::Config("the key file is unreadable".into()))
}

fn no_answer() -> Result<AccessToken, Error> {
    Err(Error::Transport {
        context: "managed identity token request".into(),
        message: "connection refused".into(),
    })
}

#[tokio::test]
async fn the_first_success_is_remembered() {
    let first = Scripted::new("First", unavailable);
    let second = Scripted::new("Second", token);
    let third = Scripted::new("Third", token);
    let chain = ChainedTokenCredential::new(vec![first.clone(), second.clone(), third.clone()]);
    assert_eq!(chain.selected(), None);
    for _ in 0..3 {
        let t = chain.get_token(&TokenRequest::new([ARM])).await.unwrap();
        assert_eq!(t.token.expose(), "scripted-token-value");
    }
    assert_eq!((first.calls(), second.calls(), third.calls()), (1, 3, 0));
    assert_eq!(chain.selected(), Some("Second"));
    let shown = format!("{chain:?}");
    assert_eq!(
        shown,
        r#"ChainedTokenCredential { credentials: ["First", "Second", "Third"], selected: Some("Second") }"#
    );
}

#[tokio::test]
async fn a_configured_credential_that_fails_stops_the_chain() {
    let first = Scripted::new("First", unavailable);
    let second = Scripted::new("Second", refused);
    let third = Scripted::new("Third", token);
    let chain = ChainedTokenCredential::new(vec![first.clone(), second.clone(), third.clone()]);
    let err = chain
        .get_token(&TokenRequest::new([ARM]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no credential in the chain could get a token:\n  - First: First is unavailable: nothing configured\n  - Second: configuration: the key file is unreadable"
    );
    assert_eq!(
        third.calls(),
        0,
        "azure-identity stops at an authentication failure"
    );
    assert_eq!(chain.selected(), None);
}

#[tokio::test]
async fn default_chain_all_failing_is_one_error_listing_every_credential() {
    let az = FakeAz::get();
    let managed = Scripted::new("ManagedIdentityCredential", no_answer);
    let for_factory = managed.clone();
    let options = DefaultAzureCredentialOptions {
        env: Some(
            Env::new()
                .with("AZURE_CLIENT_ID", DAEMON)
                .with("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us")
                .with("ENTRA_TOKEN_CACHE", "/nonexistent/entrakit/token-cache.bin"),
        ),
        azure_cli: az.options("az-logged-out"),
        workload_identity: Some(Arc::new(|_: &Env, client: &ClientOptions| {
            // Factories see the authority host already resolved from the environment.
            assert_eq!(
                client.authority_host.as_deref(),
                Some("https://login.microsoftonline.us")
            );
            Err(Error::Unavailable {
                credential: "WorkloadIdentityCredential",
                reason: "missing AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE".into(),
            })
        })),
        managed_identity: Some(Arc::new(move |_: &Env, _: &ClientOptions| {
            Ok(for_factory.clone() as Arc<dyn TokenCredential>)
        })),
        ..Default::default()
    };
    let cred = DefaultAzureCredential::new(options).unwrap();
    assert_eq!(
        cred.names(),
        [
            "EnvironmentCredential",
            "WorkloadIdentityCredential",
            "ManagedIdentityCredential",
            "AzureCliCredential",
            "SharedTokenCacheCredential"
        ]
    );
    let err = cred.get_token(&TokenRequest::new([ARM])).await.unwrap_err();
    let Error::Chain(failures) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(failures.len(), 5);
    assert_eq!(
        err.to_string(),
        "no credential in the chain could get a token:
  - EnvironmentCredential: EnvironmentCredential is unavailable: environment variables are not fully configured: missing AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)
  - WorkloadIdentityCredential: WorkloadIdentityCredential is unavailable: missing AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE
  - ManagedIdentityCredential: ManagedIdentityCredential is unavailable: no managed identity endpoint answered (managed identity token request: connection refused)
  - AzureCliCredential: AzureCliCredential is unavailable: not logged in: run az login
  - SharedTokenCacheCredential: SharedTokenCacheCredential is unavailable: no one has signed in: /nonexistent/entrakit/token-cache.bin does not exist (run `entra login`)"
    );
    assert_eq!(managed.calls(), 1);
}

#[tokio::test]
async fn default_chain_uses_the_environment_first_and_remembers_it() {
    let emu = Emu::start().await;
    let az = FakeAz::get();
    let az_runs = || {
        az.calls()
            .iter()
            .filter(|c| c.contains("contoso-api"))
            .count()
    };
    let options = DefaultAzureCredentialOptions {
        client: emu.client_trusting_ca(),
        env: Some(emu.env().with("AZURE_CLIENT_SECRET", DAEMON_SECRET)),
        azure_cli: az.options("az-new"),
        ..Default::default()
    };
    let cred = DefaultAzureCredential::new(options.clone()).unwrap();
    assert_eq!(
        cred.names(),
        [
            "EnvironmentCredential",
            "WorkloadIdentityCredential",
            "ManagedIdentityCredential",
            "AzureCliCredential",
            "SharedTokenCacheCredential"
        ]
    );
    let t = cred
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap();
    assert_eq!(audience(&t), "a0000000-0000-4000-8000-0000000000a1");
    assert_eq!(cred.selected(), Some("EnvironmentCredential"));
    assert_eq!(az_runs(), 0, "az is never run");
    let shown = format!("{cred:?}");
    assert_eq!(
        shown,
        r#"DefaultAzureCredential { credentials: ["EnvironmentCredential", "WorkloadIdentityCredential", "ManagedIdentityCredential", "AzureCliCredential", "SharedTokenCacheCredential"], selected: Some("EnvironmentCredential") }"#
    );
    assert!(!shown.contains(DAEMON_SECRET) && !format!("{options:?}").contains(DAEMON_SECRET));

    // A configured environment credential with a wrong secret stops the chain: no quiet
    // fallback to the developer's az identity.
    let cred = DefaultAzureCredential::new(DefaultAzureCredentialOptions {
        env: Some(emu.env().with("AZURE_CLIENT_SECRET", "wrong-secret-value")),
        ..options
    })
    .unwrap();
    let err = cred
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap_err();
    let Error::Chain(failures) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "EnvironmentCredential");
    assert!(
        failures[0].1.entra().is_some_and(|e| e.has_code(7000215)),
        "{err}"
    );
    assert_eq!(az_runs(), 0, "az is never run");
    assert!(!format!("{err} {err:?}").contains("wrong-secret-value"));
    emu.stop().await;
}

#[tokio::test]
async fn azure_token_credentials_selects_the_chain() {
    let az = FakeAz::get();
    let workload = Scripted::new("WorkloadIdentityCredential", token);
    let (w, m) = (
        workload.clone(),
        Scripted::new("ManagedIdentityCredential", no_answer),
    );
    let options = |value: &str| DefaultAzureCredentialOptions {
        // A complete service principal, so "dev" visibly skips it.
        env: Some(
            Env::new()
                .with("AZURE_TENANT_ID", TENANT)
                .with("AZURE_CLIENT_ID", DAEMON)
                .with("AZURE_CLIENT_SECRET", DAEMON_SECRET)
                .with("AZURE_TOKEN_CREDENTIALS", value),
        ),
        azure_cli: az.options("az-new"),
        workload_identity: Some({
            let w = w.clone();
            Arc::new(move |_: &Env, _: &ClientOptions| Ok(w.clone() as Arc<dyn TokenCredential>))
        }),
        managed_identity: Some({
            let m = m.clone();
            Arc::new(move |_: &Env, _: &ClientOptions| Ok(m.clone() as Arc<dyn TokenCredential>))
        }),
        ..Default::default()
    };
    let names = |value: &str| DefaultAzureCredential::new(options(value)).map(|c| c.names());
    assert_eq!(
        names("").unwrap(),
        [
            "EnvironmentCredential",
            "WorkloadIdentityCredential",
            "ManagedIdentityCredential",
            "AzureCliCredential",
            "SharedTokenCacheCredential"
        ]
    );
    assert_eq!(
        names("dev").unwrap(),
        ["AzureCliCredential", "SharedTokenCacheCredential"]
    );
    assert_eq!(
        names("Prod").unwrap(),
        [
            "EnvironmentCredential",
            "WorkloadIdentityCredential",
            "ManagedIdentityCredential"
        ]
    );
    for one in [
        "EnvironmentCredential",
        "workloadidentitycredential",
        "MANAGEDIDENTITYCREDENTIAL",
        "AzureCliCredential",
    ] {
        let got = names(one).unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].eq_ignore_ascii_case(one), "{one}: {got:?}");
    }
    let err = names("staging").unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration: AZURE_TOKEN_CREDENTIALS=\"staging\" is not a valid value; valid values (any case): dev, prod, EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential, AzureCliCredential, SharedTokenCacheCredential"
    );
    let err = names("AzurePowerShellCredential").unwrap_err();
    assert!(
        err.to_string()
            .contains("which entra-identity does not have"),
        "{err}"
    );
    // Naming a credential this build has no factory for is an error, not a silent skip.
    let err = DefaultAzureCredential::new(DefaultAzureCredentialOptions {
        managed_identity: None,
        ..options("ManagedIdentityCredential")
    })
    .unwrap_err();
    assert!(
        err.to_string().contains(
            "selects ManagedIdentityCredential, which this DefaultAzureCredential was built without"
        ),
        "{err}"
    );

    // dev: the token comes from az, though the environment is fully configured.
    let cred = DefaultAzureCredential::new(options("dev")).unwrap();
    let t = cred.get_token(&TokenRequest::new([ARM])).await.unwrap();
    assert_eq!(t.token.expose(), AZ_TOKEN);
    assert_eq!(cred.selected(), Some("AzureCliCredential"));
    no_token(&format!("{cred:?} {t:?}"));

    // One named credential: the workload identity slot answers.
    let cred = DefaultAzureCredential::new(options("WorkloadIdentityCredential")).unwrap();
    cred.get_token(&TokenRequest::new([ARM])).await.unwrap();
    assert_eq!(workload.calls(), 1);
    // Selected alone, managed identity's "no answer" is its own error, not "unavailable".
    let cred = DefaultAzureCredential::new(options("ManagedIdentityCredential")).unwrap();
    let err = cred.get_token(&TokenRequest::new([ARM])).await.unwrap_err();
    assert!(
        err.to_string().contains(
            "- ManagedIdentityCredential: managed identity token request: connection refused"
        ),
        "{err}"
    );
}

/// The real workload and managed identity credentials in the default chain, selected by
/// `AZURE_TOKEN_CREDENTIALS`, against the emulator.
#[tokio::test]
async fn default_chain_with_real_workload_and_managed_identity() {
    let emu = Emu::start().await;
    let token_file = emu.dir().join("federated-token");
    let issuer = format!("{}/federation", emu.ready().authority);
    let minted = entra_emulator::mint_federated(
        emu.dir(),
        &issuer,
        "system:serviceaccount:default:workload",
        "api://AzureADTokenExchange",
        600,
    )
    .unwrap();
    std::fs::write(&token_file, minted).unwrap();
    let workload_env = emu
        .env()
        .with(
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        )
        .with("AZURE_TOKEN_CREDENTIALS", "WorkloadIdentityCredential");
    let cred = DefaultAzureCredential::new(DefaultAzureCredentialOptions {
        client: emu.client_trusting_ca(),
        env: Some(workload_env),
        ..Default::default()
    })
    .unwrap();
    let t = cred
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap();
    assert_eq!(audience(&t), "a0000000-0000-4000-8000-0000000000a1");

    let mi_env = Env::new()
        .with("IDENTITY_ENDPOINT", &emu.ready().identity_endpoint)
        .with("IDENTITY_HEADER", &emu.ready().identity_header)
        .with("AZURE_TOKEN_CREDENTIALS", "prod");
    let cred = DefaultAzureCredential::new(DefaultAzureCredentialOptions {
        client: emu.client_trusting_ca(),
        env: Some(mi_env),
        ..Default::default()
    })
    .unwrap();
    let t = cred
        .get_token(&TokenRequest::new([API_DEFAULT]))
        .await
        .unwrap();
    let claims = entra_jose::decode_unverified(t.token.expose())
        .unwrap()
        .claims;
    assert_eq!(claims["azp"], "b0000000-0000-4000-8000-0000000000b1");
    assert_eq!(cred.selected(), Some("ManagedIdentityCredential"));
    emu.stop().await;
}
