//! [`ChainedTokenCredential`] and [`DefaultAzureCredential`] (the order and the rules are in the latter's docs).

use std::sync::{Arc, OnceLock};

use crate::azure_cli::{AzureCliCredential, AzureCliOptions};
use crate::env::Env;
use crate::environment::{AZURE_AUTHORITY_HOST, AZURE_TOKEN_CREDENTIALS, EnvironmentCredential};
use crate::error::Error;
use crate::options::ClientOptions;
use crate::token::{AccessToken, BoxFuture, TokenCredential, TokenRequest, token_credential};

/// Credentials tried in order until one gives a token.
pub struct ChainedTokenCredential {
    sources: Vec<Arc<dyn TokenCredential>>,
    selected: OnceLock<usize>,
}

impl std::fmt::Debug for ChainedTokenCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainedTokenCredential")
            .field("credentials", &self.names())
            .field("selected", &self.selected())
            .finish()
    }
}

impl ChainedTokenCredential {
    /// A chain of `sources`, tried in this order.
    pub fn new(sources: Vec<Arc<dyn TokenCredential>>) -> Self {
        Self {
            sources,
            selected: OnceLock::new(),
        }
    }

    /// The credentials' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.sources.iter().map(|c| c.name()).collect()
    }

    /// The credential that gave the first token, once one has.
    pub fn selected(&self) -> Option<&'static str> {
        self.selected.get().map(|&i| self.sources[i].name())
    }

    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        if let Some(&i) = self.selected.get() {
            return self.sources[i].get_token(request).await;
        }
        if self.sources.is_empty() {
            return Err(Error::Config("the credential chain is empty".into()));
        }
        let mut failures = Vec::new();
        for (i, source) in self.sources.iter().enumerate() {
            match source.get_token(request).await {
                Ok(token) => {
                    // Concurrent first callers may race; the first to finish wins.
                    let _ = self.selected.set(i);
                    tracing::debug!(credential = source.name(), "credential chain selected");
                    return Ok(token);
                }
                Err(e @ Error::Unavailable { .. }) => {
                    failures.push((source.name().to_string(), e));
                }
                Err(e) => {
                    tracing::debug!(credential = source.name(), error = %e, "credential failed; the chain stops here");
                    failures.push((source.name().to_string(), e));
                    break;
                }
            }
        }
        Err(Error::Chain(failures))
    }
}

token_credential!(ChainedTokenCredential, "ChainedTokenCredential");

/// Builds one credential of [`DefaultAzureCredential`] from the environment it sees and
/// the chain's client options (whose `authority_host` is already resolved from
/// `AZURE_AUTHORITY_HOST` when the options did not set one).
/// `Err(Error::Unavailable)` means "not set up here" and is reported when the chain is
/// walked; any other error is reported the same way but stops the chain.
pub type CredentialFactory =
    Arc<dyn Fn(&Env, &ClientOptions) -> Result<Arc<dyn TokenCredential>, Error> + Send + Sync>;

/// What [`DefaultAzureCredential`] is built from.
///
/// Credential chains: [`ChainedTokenCredential`] tries credentials in order, and
/// [`DefaultAzureCredential`] is the chain azure-identity users know.
///
/// ## How a chain decides (azure-identity's rules, Python and .NET alike)
/// - A credential that answers [`Error::Unavailable`] did not try to authenticate (it
///   is not set up here): the chain moves on to the next one.
/// - Any other failure means a credential that *is* set up tried and failed (a wrong
///   secret, Entra refusing, a broken certificate file): the chain **stops there**
///   rather than quietly authenticating as someone else further down.
/// - If no credential produced a token, the answer is one [`Error::Chain`] listing every
///   credential tried and why it failed, in order.
/// - The first credential that succeeds is remembered, and later requests go straight
///   to it; its errors are then returned as they are. (azure-identity does this in
///   `DefaultAzureCredential`; here every chain does it, so a chain never re-probes
///   credentials it already knows are unavailable.)
///
/// ## DefaultAzureCredential
/// Environment → workload identity → managed identity → Azure CLI → the cached user
/// account (`SharedTokenCacheCredential`: whoever signed in with `entra login`), narrowed
/// by `AZURE_TOKEN_CREDENTIALS`:
///
/// | value (any case) | credentials |
/// |---|---|
/// | unset or empty | all five |
/// | `dev` | developer credentials: `AzureCliCredential`, `SharedTokenCacheCredential` |
/// | `prod` | `EnvironmentCredential`, `WorkloadIdentityCredential`, `ManagedIdentityCredential` |
/// | a credential's name | that one only |
///
/// Any other value is an [`Error::Config`] from [`DefaultAzureCredential::new`] listing
/// the valid ones. In a full chain a managed-identity endpoint that does not answer at
/// all (an [`Error::Transport`]) counts as unavailable, as azure-identity's probe does, so
/// a developer's machine falls through to the Azure CLI.
#[derive(Clone)]
pub struct DefaultAzureCredentialOptions {
    /// Authority host, CA and transport for the credentials that talk to Entra.
    pub client: ClientOptions,
    /// The environment to read; the process's when `None`.
    pub env: Option<Env>,
    /// How to run the Azure CLI.
    pub azure_cli: AzureCliOptions,
    /// Builds `WorkloadIdentityCredential`; left out of the chain when `None`.
    pub workload_identity: Option<CredentialFactory>,
    /// Builds `ManagedIdentityCredential`; left out of the chain when `None`.
    pub managed_identity: Option<CredentialFactory>,
    /// Builds `SharedTokenCacheCredential` (the cached user account); left out of the
    /// chain when `None`.
    pub shared_token_cache: Option<CredentialFactory>,
}

impl Default for DefaultAzureCredentialOptions {
    fn default() -> Self {
        Self {
            client: ClientOptions::default(),
            env: None,
            azure_cli: AzureCliOptions::default(),
            workload_identity: default_workload_identity(),
            managed_identity: default_managed_identity(),
            shared_token_cache: default_shared_token_cache(),
        }
    }
}

impl std::fmt::Debug for DefaultAzureCredentialOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultAzureCredentialOptions")
            .field("client", &self.client)
            .field("env", &self.env)
            .field("azure_cli", &self.azure_cli)
            .field("workload_identity", &self.workload_identity.is_some())
            .field("managed_identity", &self.managed_identity.is_some())
            .field("shared_token_cache", &self.shared_token_cache.is_some())
            .finish()
    }
}

/// Workload identity from `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
/// `AZURE_FEDERATED_TOKEN_FILE`; unavailable (naming what is missing) without them.
fn default_workload_identity() -> Option<CredentialFactory> {
    Some(Arc::new(|env: &Env, client: &ClientOptions| {
        let missing: Vec<&str> = [
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
        ]
        .into_iter()
        .filter(|v| !env.has(v))
        .collect();
        if !missing.is_empty() {
            return Err(Error::Unavailable {
                credential: WORKLOAD_IDENTITY,
                reason: format!("missing {}", missing.join(", ")),
            });
        }
        let options = crate::workload::WorkloadIdentityOptions {
            client: client.clone(),
            env: Some(env.clone()),
            ..Default::default()
        };
        Ok(
            Arc::new(crate::workload::WorkloadIdentityCredential::new(options)?)
                as Arc<dyn TokenCredential>,
        )
    }))
}

/// Managed identity on whichever host the environment shows, user-assigned when
/// `AZURE_CLIENT_ID` is set (as azure-identity does). Workload identity is left to its
/// own slot in the chain.
fn default_managed_identity() -> Option<CredentialFactory> {
    Some(Arc::new(|env: &Env, client: &ClientOptions| {
        let id = match env.get("AZURE_CLIENT_ID") {
            Some(c) => crate::managed_identity::ManagedIdentityId::ClientId(c.to_string()),
            None => crate::managed_identity::ManagedIdentityId::System,
        };
        let options = crate::managed_identity::ManagedIdentityOptions {
            client: client.clone(),
            env: Some(env.clone()),
            exclude_workload_identity: true,
            ..Default::default()
        };
        Ok(
            Arc::new(crate::managed_identity::ManagedIdentityCredential::new(
                id, options,
            )?) as Arc<dyn TokenCredential>,
        )
    }))
}

/// The user signed in to the shared token cache (`entra login`): the file from
/// `ENTRA_TOKEN_CACHE` or the default place, the account from `AZURE_USERNAME` when
/// several are signed in, the tenant from `AZURE_TENANT_ID` (else each account's own).
fn default_shared_token_cache() -> Option<CredentialFactory> {
    Some(Arc::new(|env: &Env, client: &ClientOptions| {
        let options = crate::shared_cache::SharedTokenCacheOptions {
            client: client.clone(),
            env: Some(env.clone()),
            username: env.get("AZURE_USERNAME").map(str::to_string),
            tenant: env.get("AZURE_TENANT_ID").map(str::to_string),
            ..Default::default()
        };
        Ok(
            Arc::new(crate::shared_cache::SharedTokenCacheCredential::new(
                options,
            )) as Arc<dyn TokenCredential>,
        )
    }))
}

/// The credentials `DefaultAzureCredential` knows, in chain order.
const ENVIRONMENT: &str = "EnvironmentCredential";
const WORKLOAD_IDENTITY: &str = "WorkloadIdentityCredential";
const MANAGED_IDENTITY: &str = "ManagedIdentityCredential";
const AZURE_CLI: &str = "AzureCliCredential";
const SHARED_TOKEN_CACHE: &str = "SharedTokenCacheCredential";
const ALL: [&str; 5] = [
    ENVIRONMENT,
    WORKLOAD_IDENTITY,
    MANAGED_IDENTITY,
    AZURE_CLI,
    SHARED_TOKEN_CACHE,
];

/// azure-identity credentials that `AZURE_TOKEN_CREDENTIALS` may name but this crate
/// does not have, so the error can say so rather than "unknown value".
const NOT_IMPLEMENTED: [&str; 5] = [
    "AzurePowerShellCredential",
    "AzureDeveloperCliCredential",
    "VisualStudioCodeCredential",
    "VisualStudioCredential",
    "InteractiveBrowserCredential",
];

/// Which credentials `AZURE_TOKEN_CREDENTIALS` asks for; `explicit` when it names one.
fn selection(value: Option<&str>) -> Result<(Vec<&'static str>, bool), Error> {
    let Some(v) = value else {
        return Ok((ALL.to_vec(), false));
    };
    match v.to_ascii_lowercase().as_str() {
        "dev" => return Ok((vec![AZURE_CLI, SHARED_TOKEN_CACHE], false)),
        "prod" => {
            return Ok((
                vec![ENVIRONMENT, WORKLOAD_IDENTITY, MANAGED_IDENTITY],
                false,
            ));
        }
        _ => {}
    }
    if let Some(name) = ALL.iter().find(|n| n.eq_ignore_ascii_case(v)) {
        return Ok((vec![name], true));
    }
    let valid = format!("dev, prod, {}", ALL.join(", "));
    Err(Error::Config(
        match NOT_IMPLEMENTED.iter().find(|n| n.eq_ignore_ascii_case(v)) {
            Some(name) => format!(
                "{AZURE_TOKEN_CREDENTIALS}={v} selects {name}, which entra-identity does not have; valid values (any case): {valid}"
            ),
            None => format!(
                "{AZURE_TOKEN_CREDENTIALS}={v:?} is not a valid value; valid values (any case): {valid}"
            ),
        },
    ))
}

/// Stands in for a credential whose factory could not build it, so the chain reports why.
struct NotBuilt {
    name: &'static str,
    unavailable: bool,
    reason: String,
}

impl TokenCredential for NotBuilt {
    fn get_token<'a>(&'a self, _: &'a TokenRequest) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(async move {
            Err(if self.unavailable {
                Error::Unavailable {
                    credential: self.name,
                    reason: self.reason.clone(),
                }
            } else {
                Error::Config(self.reason.clone())
            })
        })
    }

    fn name(&self) -> &'static str {
        self.name
    }
}

/// In a full chain, a managed-identity endpoint that never answered means "no managed
/// identity here", not "managed identity failed": azure-identity probes for the same reason.
struct NoAnswerIsUnavailable(Arc<dyn TokenCredential>);

impl TokenCredential for NoAnswerIsUnavailable {
    fn get_token<'a>(
        &'a self,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(async move {
            match self.0.get_token(request).await {
                Err(Error::Transport { context, message }) => Err(Error::Unavailable {
                    credential: self.0.name(),
                    reason: format!("no managed identity endpoint answered ({context}: {message})"),
                }),
                other => other,
            }
        })
    }

    fn name(&self) -> &'static str {
        self.0.name()
    }
}

/// Environment → workload identity → managed identity → Azure CLI → cached user account,
/// narrowed by `AZURE_TOKEN_CREDENTIALS`.
///
/// ```no_run
/// use entra_identity::{DefaultAzureCredential, TokenCredential, TokenRequest};
/// # async fn demo() -> Result<(), entra_identity::Error> {
/// let credential = DefaultAzureCredential::new(Default::default())?;
/// let token = credential
///     .get_token(&TokenRequest::new(["https://management.azure.com/.default"]))
///     .await?;
/// println!("{} gave a token expiring at {}", credential.selected().unwrap_or("?"), token.expires_on);
/// # Ok(()) }
/// ```
pub struct DefaultAzureCredential {
    chain: ChainedTokenCredential,
}

impl std::fmt::Debug for DefaultAzureCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultAzureCredential")
            .field("credentials", &self.chain.names())
            .field("selected", &self.chain.selected())
            .finish()
    }
}

impl DefaultAzureCredential {
    /// Builds the chain. Fails only on an invalid `AZURE_TOKEN_CREDENTIALS`, a credential
    /// it names that is not built in, or a malformed Azure CLI tenant; whether each
    /// credential is set up shows when a token is asked for.
    pub fn new(options: DefaultAzureCredentialOptions) -> Result<Self, Error> {
        let env = options.env.clone().unwrap_or_else(Env::from_process);
        let (names, explicit) = selection(env.get(AZURE_TOKEN_CREDENTIALS))?;
        // Every credential sees the same authority host: the option, else the env's.
        let mut client = options.client.clone();
        if client.authority_host.is_none() {
            client.authority_host = env.get(AZURE_AUTHORITY_HOST).map(str::to_string);
        }
        let single = names.len() == 1;
        let mut sources: Vec<Arc<dyn TokenCredential>> = Vec::new();
        for name in names {
            let factory = match name {
                ENVIRONMENT => {
                    sources.push(Arc::new(EnvironmentCredential::from_env(
                        &env,
                        client.clone(),
                    )));
                    continue;
                }
                AZURE_CLI => {
                    sources.push(Arc::new(AzureCliCredential::new(
                        options.azure_cli.clone(),
                    )?));
                    continue;
                }
                WORKLOAD_IDENTITY => &options.workload_identity,
                SHARED_TOKEN_CACHE => &options.shared_token_cache,
                _ => &options.managed_identity,
            };
            let Some(factory) = factory else {
                if explicit {
                    return Err(Error::Config(format!(
                        "{AZURE_TOKEN_CREDENTIALS} selects {name}, which this DefaultAzureCredential was built without (no factory in its options)"
                    )));
                }
                continue;
            };
            let built: Arc<dyn TokenCredential> = match factory(&env, &client) {
                Ok(c) if name == MANAGED_IDENTITY && !single => Arc::new(NoAnswerIsUnavailable(c)),
                Ok(c) => c,
                Err(Error::Unavailable { reason, .. }) => Arc::new(NotBuilt {
                    name,
                    unavailable: true,
                    reason,
                }),
                Err(Error::Config(reason)) => Arc::new(NotBuilt {
                    name,
                    unavailable: false,
                    reason,
                }),
                Err(e) => Arc::new(NotBuilt {
                    name,
                    unavailable: false,
                    reason: e.to_string(),
                }),
            };
            sources.push(built);
        }
        Ok(Self {
            chain: ChainedTokenCredential::new(sources),
        })
    }

    /// The credentials in the chain, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.chain.names()
    }

    /// The credential that gave the first token, once one has.
    pub fn selected(&self) -> Option<&'static str> {
        self.chain.selected()
    }
}

impl TokenCredential for DefaultAzureCredential {
    fn get_token<'a>(
        &'a self,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<AccessToken, Error>> {
        self.chain.get_token(request)
    }

    fn name(&self) -> &'static str {
        "DefaultAzureCredential"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_credentials_values() {
        assert_eq!(selection(None).unwrap().0, ALL.to_vec());
        assert_eq!(
            selection(Some("DEV")).unwrap().0,
            vec![AZURE_CLI, SHARED_TOKEN_CACHE]
        );
        assert_eq!(
            selection(Some("prod")).unwrap().0,
            vec![ENVIRONMENT, WORKLOAD_IDENTITY, MANAGED_IDENTITY]
        );
        assert_eq!(
            selection(Some("managedidentitycredential")).unwrap(),
            (vec![MANAGED_IDENTITY], true)
        );
        let e = selection(Some("staging")).unwrap_err().to_string();
        assert_eq!(
            e,
            "configuration: AZURE_TOKEN_CREDENTIALS=\"staging\" is not a valid value; valid values (any case): dev, prod, EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential, AzureCliCredential, SharedTokenCacheCredential"
        );
        let e = selection(Some("azurepowershellcredential"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("selects AzurePowerShellCredential, which entra-identity does not have"),
            "{e}"
        );
    }
}
