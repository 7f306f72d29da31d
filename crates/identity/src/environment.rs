//! [`EnvironmentCredential`]: a service principal from the `AZURE_*` variables (the table is in its docs).

use std::sync::Arc;

use crate::confidential::{ClientCertificate, ClientCertificateCredential, ClientSecretCredential};
use crate::env::Env;
use crate::error::Error;
use crate::options::ClientOptions;
use crate::token::{AccessToken, TokenCredential, TokenRequest, token_credential};

/// `AZURE_TENANT_ID`.
pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
/// `AZURE_CLIENT_ID`.
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// `AZURE_CLIENT_SECRET`.
pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// `AZURE_CLIENT_CERTIFICATE_PATH`.
pub const AZURE_CLIENT_CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
/// `AZURE_CLIENT_CERTIFICATE_PASSWORD`.
pub const AZURE_CLIENT_CERTIFICATE_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
/// `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`.
pub const AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: &str = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
/// `AZURE_AUTHORITY_HOST`.
pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
/// `AZURE_USERNAME` (deprecated username/password flow, not supported).
pub const AZURE_USERNAME: &str = "AZURE_USERNAME";
/// `AZURE_PASSWORD` (deprecated username/password flow, not supported).
pub const AZURE_PASSWORD: &str = "AZURE_PASSWORD";
/// `AZURE_TOKEN_CREDENTIALS`: which credentials [`DefaultAzureCredential`](crate::DefaultAzureCredential) uses.
pub const AZURE_TOKEN_CREDENTIALS: &str = "AZURE_TOKEN_CREDENTIALS";

/// What the variables amount to.
enum State {
    Ready {
        inner: Arc<dyn TokenCredential>,
        kind: &'static str,
    },
    /// Not configured: the reason names the missing variables.
    Unavailable(String),
    /// Configured, but wrongly (unreadable certificate...): a configuration error.
    Misconfigured(String),
}

/// A service principal from `AZURE_*` environment variables.
///
/// [`EnvironmentCredential`]: a service principal described by the `AZURE_*` variables
/// azure-identity reads, and [`Env`], the variables as a plain map so code (and tests)
/// can hand a credential an environment without touching the process's own.
///
/// | variables | credential |
/// |---|---|
/// | `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` | [`ClientSecretCredential`] |
/// | `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_CERTIFICATE_PATH` (PEM or PKCS#12), optional `AZURE_CLIENT_CERTIFICATE_PASSWORD`, `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` | [`ClientCertificateCredential`] |
/// | `AZURE_AUTHORITY_HOST` | the login host for either (an explicit [`ClientOptions::authority_host`] wins) |
///
/// A secret wins over a certificate when both are set, as in azure-identity. The
/// certificate file is PEM with an unencrypted RSA key, or PKCS#12 (`.pfx`/`.p12`, the
/// content decides) unlocked by `AZURE_CLIENT_CERTIFICATE_PASSWORD` (unset: the empty
/// password); a wrong password is an [`Error::Config`] naming the file, never the
/// password. Encrypted PEM keys are refused with the `openssl` command that decrypts them.
/// Username/password (`AZURE_USERNAME`, `AZURE_PASSWORD`) is deprecated by Microsoft
/// (it cannot do MFA) and not supported: the credential says so instead of using it.
///
/// An empty variable counts as unset. When variables are missing the credential is
/// [`Error::Unavailable`] and names exactly which ones, so a chain moves on; when they
/// are all there but wrong (an unreadable certificate, say) `get_token` fails with
/// [`Error::Config`], which stops a chain: the user meant this credential to work.
pub struct EnvironmentCredential {
    state: State,
}

impl std::fmt::Debug for EnvironmentCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.state {
            State::Ready { kind, .. } => write!(f, "EnvironmentCredential({kind})"),
            State::Unavailable(r) => write!(f, "EnvironmentCredential(unavailable: {r})"),
            State::Misconfigured(r) => write!(f, "EnvironmentCredential(misconfigured: {r})"),
        }
    }
}

impl EnvironmentCredential {
    /// From the process environment.
    pub fn new(options: ClientOptions) -> Self {
        Self::from_env(&Env::from_process(), options)
    }

    /// From `env`. Never fails: a missing or wrong setup shows when a token is asked for,
    /// so a chain can report it next to the other credentials' reasons.
    pub fn from_env(env: &Env, mut options: ClientOptions) -> Self {
        if options.authority_host.is_none() {
            options.authority_host = Some(
                env.get(AZURE_AUTHORITY_HOST)
                    .unwrap_or(crate::authority::AZURE_PUBLIC_CLOUD)
                    .to_string(),
            );
        }
        let state = match Self::configure(env, options) {
            Ok(s) => s,
            Err(Error::Config(m)) => State::Misconfigured(m),
            Err(e) => State::Misconfigured(e.to_string()),
        };
        Self { state }
    }

    fn configure(env: &Env, options: ClientOptions) -> Result<State, Error> {
        let tenant = env.get(AZURE_TENANT_ID);
        let client_id = env.get(AZURE_CLIENT_ID);
        let secret = env.get(AZURE_CLIENT_SECRET);
        let cert_path = env.get(AZURE_CLIENT_CERTIFICATE_PATH);
        let (Some(tenant), Some(client_id), true) =
            (tenant, client_id, secret.is_some() || cert_path.is_some())
        else {
            return Ok(State::Unavailable(missing_reason(env)));
        };
        if let Some(secret) = secret {
            let c = ClientSecretCredential::new(tenant, client_id, secret, options)?;
            return Ok(State::Ready {
                inner: Arc::new(c),
                kind: "ClientSecretCredential",
            });
        }
        let path = cert_path.expect("checked above");
        let send_chain = env
            .get(AZURE_CLIENT_SEND_CERTIFICATE_CHAIN)
            .is_some_and(|v| {
                ["1", "true", "yes"]
                    .iter()
                    .any(|t| v.eq_ignore_ascii_case(t))
            });
        let cert = read_certificate(path, env.get(AZURE_CLIENT_CERTIFICATE_PASSWORD))?;
        let c = ClientCertificateCredential::new(
            tenant,
            client_id,
            cert,
            crate::confidential::DEFAULT_CERTIFICATE_ALGORITHM,
            send_chain,
            options,
        )?;
        Ok(State::Ready {
            inner: Arc::new(c),
            kind: "ClientCertificateCredential",
        })
    }

    /// Why this credential cannot be used, if it cannot (missing variables or a bad setup).
    pub fn unavailable_reason(&self) -> Option<&str> {
        match &self.state {
            State::Ready { .. } => None,
            State::Unavailable(r) | State::Misconfigured(r) => Some(r),
        }
    }
}

/// "missing A, B and C", naming exactly what is not set, plus a word on username/password.
fn missing_reason(env: &Env) -> String {
    let mut missing = Vec::new();
    for v in [AZURE_TENANT_ID, AZURE_CLIENT_ID] {
        if !env.has(v) {
            missing.push(v.to_string());
        }
    }
    if !env.has(AZURE_CLIENT_SECRET) && !env.has(AZURE_CLIENT_CERTIFICATE_PATH) {
        missing.push(format!(
            "{AZURE_CLIENT_SECRET} (or {AZURE_CLIENT_CERTIFICATE_PATH})"
        ));
    }
    let list = match missing.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => String::new(),
    };
    let mut reason = format!("environment variables are not fully configured: missing {list}");
    if env.has(AZURE_USERNAME) || env.has(AZURE_PASSWORD) {
        reason.push_str(&format!(
            "; {AZURE_USERNAME}/{AZURE_PASSWORD} are set, but username/password sign-in is deprecated (it cannot satisfy MFA) and not supported: use a client secret or certificate, workload identity, managed identity or `az login`"
        ));
    }
    reason
}

/// Reads the certificate file: PEM with an unencrypted RSA key, or PKCS#12 unlocked by
/// `AZURE_CLIENT_CERTIFICATE_PASSWORD` (none: the empty password).
fn read_certificate(path: &str, password: Option<&str>) -> Result<ClientCertificate, Error> {
    ClientCertificate::from_file(path, password).map_err(|e| match e {
        Error::Config(m) => Error::Config(format!("{AZURE_CLIENT_CERTIFICATE_PATH}: {m}")),
        other => other,
    })
}

impl EnvironmentCredential {
    /// What [`TokenCredential::get_token`] does.
    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        match &self.state {
            State::Ready { inner, .. } => inner.get_token(request).await,
            State::Unavailable(reason) => Err(Error::Unavailable {
                credential: "EnvironmentCredential",
                reason: reason.clone(),
            }),
            State::Misconfigured(reason) => Err(Error::Config(reason.clone())),
        }
    }
}

token_credential!(EnvironmentCredential, "EnvironmentCredential");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_debug_shows_names_only_and_blank_is_unset() {
        let env = Env::new()
            .with(AZURE_CLIENT_SECRET, "s3cr3t-value")
            .with(AZURE_TENANT_ID, "  ");
        assert_eq!(
            format!("{env:?}"),
            r#"Env(["AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"])"#
        );
        assert_eq!(env.get(AZURE_TENANT_ID), None);
        assert_eq!(env.get(AZURE_CLIENT_SECRET), Some("s3cr3t-value"));
    }

    #[test]
    fn missing_variables_are_named() {
        assert_eq!(
            missing_reason(&Env::new()),
            "environment variables are not fully configured: missing AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)"
        );
        let env = Env::new()
            .with(AZURE_TENANT_ID, "t")
            .with(AZURE_CLIENT_SECRET, "s");
        assert_eq!(
            missing_reason(&env),
            "environment variables are not fully configured: missing AZURE_CLIENT_ID"
        );
        let env = Env::new()
            .with(AZURE_TENANT_ID, "t")
            .with(AZURE_CLIENT_ID, "c")
            .with(AZURE_USERNAME, "u")
            .with(AZURE_PASSWORD, "p");
        let r = missing_reason(&env);
        assert!(r.starts_with("environment variables are not fully configured: missing AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH); AZURE_USERNAME/AZURE_PASSWORD are set, but username/password sign-in is deprecated"), "{r}");
    }
}
