//! [`SharedTokenCacheCredential`]: the user signed in to a shared cache file (details in its docs).

use std::path::PathBuf;

use tokio::sync::OnceCell;

use crate::account::Account;
use crate::env::Env;
use crate::error::Error;
use crate::options::ClientOptions;
use crate::persist::{PersistentCache, Protection};
use crate::public_client::PublicClient;
use crate::token::{AccessToken, BoxFuture, TokenCredential, TokenRequest};

/// The public client `entra login` signs in with unless told otherwise: the Azure CLI's
/// well-known client id, pre-authorized in every Entra tenant (and in the emulator).
pub const DEFAULT_PUBLIC_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// The environment variable that moves the shared token cache file.
pub const ENTRA_TOKEN_CACHE: &str = "ENTRA_TOKEN_CACHE";

/// Where signed-in users' tokens live by default: `$ENTRA_TOKEN_CACHE`, else
/// `<local data dir>/entrakit/token-cache.bin`: `$XDG_DATA_HOME` or
/// `~/.local/share` on Linux and the BSDs, `~/Library/Application Support` on macOS,
/// `%LOCALAPPDATA%` on Windows. `None` when there is no such directory.
pub fn default_cache_path() -> Option<PathBuf> {
    default_cache_path_in(&Env::from_process())
}

/// [`default_cache_path`] as `env` (rather than this process's environment) says.
pub fn default_cache_path_in(env: &Env) -> Option<PathBuf> {
    if let Some(p) = env.get(ENTRA_TOKEN_CACHE) {
        return Some(PathBuf::from(p));
    }
    let data = if cfg!(any(target_os = "macos", windows)) {
        // Not from the environment on these platforms: the OS says where.
        dirs::data_local_dir()
    } else {
        env.get("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                env.get("HOME")
                    .map(|h| PathBuf::from(h).join(".local/share"))
            })
    };
    data.map(|d| d.join("entrakit").join("token-cache.bin"))
}

/// Settings for a [`SharedTokenCacheCredential`].
#[derive(Debug, Clone, Default)]
pub struct SharedTokenCacheOptions {
    /// Authority, transport, CA (its `persistent_cache` is ignored: the file is below).
    pub client: ClientOptions,
    /// The cache file; [`default_cache_path_in`] `env` when `None`.
    pub cache_path: Option<PathBuf>,
    /// How the file is protected (default: encrypted, as `entra login` writes it).
    pub protection: Option<Protection>,
    /// The public client the user signed in to; [`DEFAULT_PUBLIC_CLIENT_ID`] when `None`.
    pub client_id: Option<String>,
    /// The tenant; `organizations` when `None` (each account then uses its own tenant).
    pub tenant: Option<String>,
    /// Which account, when several are signed in (`AZURE_USERNAME` in the default chain).
    pub username: Option<String>,
    /// The environment the default cache path comes from; the process's when `None`.
    pub env: Option<Env>,
}

/// Tokens for the user signed in to a shared cache file.
///
/// [`SharedTokenCacheCredential`]: the "cached user account" of the default chain. A user
/// who signed in once (with `entra login`, or any [`PublicClient`] writing the same cache
/// file) gets tokens silently from the refresh token in that file, in any process.
///
/// The file is [`default_cache_path`] unless the options name another; it is opened on
/// the first request, so a process started before the sign-in still finds it. With no
/// file, no account, or several accounts and no `AZURE_USERNAME` to choose, the
/// credential is [`Error::Unavailable`] and says which. The account is chosen on the
/// first request and kept (listing accounts reads the whole file) until a silent request
/// for it needs the user again, say after a sign-out.
pub struct SharedTokenCacheCredential {
    options: SharedTokenCacheOptions,
    path: Option<PathBuf>,
    client: OnceCell<PublicClient>,
    account: std::sync::Mutex<Option<Account>>,
}

impl std::fmt::Debug for SharedTokenCacheCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTokenCacheCredential")
            .field("path", &self.path)
            .field("client_id", &self.client_id())
            .field("username", &self.options.username)
            .finish()
    }
}

const NAME: &str = "SharedTokenCacheCredential";

impl SharedTokenCacheCredential {
    /// A credential over the cache file in `options` (nothing is read yet).
    pub fn new(options: SharedTokenCacheOptions) -> Self {
        let path = options.cache_path.clone().or_else(|| match &options.env {
            Some(env) => default_cache_path_in(env),
            None => default_cache_path(),
        });
        Self {
            options,
            path,
            client: OnceCell::new(),
            account: std::sync::Mutex::new(None),
        }
    }

    fn client_id(&self) -> &str {
        self.options
            .client_id
            .as_deref()
            .unwrap_or(DEFAULT_PUBLIC_CLIENT_ID)
    }

    fn unavailable(reason: String) -> Error {
        Error::Unavailable {
            credential: NAME,
            reason,
        }
    }

    async fn public_client(&self) -> Result<&PublicClient, Error> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let Some(path) = &self.path else {
            return Err(Self::unavailable(
                "no place for a token cache (no HOME or local data directory); set ENTRA_TOKEN_CACHE"
                    .into(),
            ));
        };
        if !path.exists() {
            return Err(Self::unavailable(format!(
                "no one has signed in: {} does not exist (run `entra login`)",
                path.display()
            )));
        }
        self.client
            .get_or_try_init(|| async {
                let (path, protection) = (
                    path.clone(),
                    self.options
                        .protection
                        .clone()
                        .unwrap_or(Protection::Encrypted),
                );
                let cache =
                    tokio::task::spawn_blocking(move || PersistentCache::open(path, protection))
                        .await
                        .map_err(|e| {
                            Error::Config(format!("the token cache task failed: {e}"))
                        })??;
                let options = ClientOptions {
                    persistent_cache: Some(std::sync::Arc::new(cache)),
                    ..self.options.client.clone()
                };
                PublicClient::new(
                    self.options.tenant.as_deref().unwrap_or("organizations"),
                    self.client_id(),
                    options,
                )
            })
            .await
    }

    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        let client = self.public_client().await?;
        // The account found once is kept: listing accounts reads the whole cache file,
        // which a request served from memory should not do.
        let remembered = self.account.lock().expect("account lock").clone();
        let account = match remembered {
            Some(a) => a,
            None => {
                let a = self.find_account(client).await?;
                *self.account.lock().expect("account lock") = Some(a.clone());
                a
            }
        };
        let result = client.get_token_silent(&account, request).await;
        if result.as_ref().is_err_and(Error::needs_interaction) {
            // Signed out (or expired) meanwhile: look again next time.
            *self.account.lock().expect("account lock") = None;
        }
        result
    }

    /// The one signed-in account (the one `username` names, when set).
    async fn find_account(&self, client: &PublicClient) -> Result<Account, Error> {
        let mut accounts = client.accounts().await?;
        if let Some(wanted) = &self.options.username {
            accounts.retain(|a| a.username.eq_ignore_ascii_case(wanted));
        }
        let path = self.path.as_ref().map(|p| p.display().to_string());
        let path = path.as_deref().unwrap_or("the token cache");
        match accounts.len() {
            0 => Err(Self::unavailable(match &self.options.username {
                Some(u) => format!(
                    "{u} is not signed in to client {} in {path}",
                    self.client_id()
                ),
                None => format!(
                    "no account is signed in to client {} in {path} (run `entra login`)",
                    self.client_id()
                ),
            })),
            1 => Ok(accounts.remove(0)),
            _ => {
                let names: Vec<&str> = accounts.iter().map(|a| a.username.as_str()).collect();
                Err(Self::unavailable(format!(
                    "{} accounts are signed in ({}); set AZURE_USERNAME to choose one",
                    names.len(),
                    names.join(", ")
                )))
            }
        }
    }
}

impl TokenCredential for SharedTokenCacheCredential {
    fn get_token<'a>(
        &'a self,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(self.token(request))
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
