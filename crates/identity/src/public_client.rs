//! Public clients acting for a user: [`PublicClient`] signs users in (authorization code
//! with PKCE through a one-shot loopback listener, or device code), remembers their
//! accounts and refresh tokens, and gets tokens silently afterwards: a fresh cached access
//! token, else the refresh token (for any scope of the client, in any allowed tenant;
//! the rotated refresh token is stored every time), else an error saying the user must
//! interact ([`Error::needs_interaction`]).
//!
//! [`InteractiveBrowserCredential`] and [`DeviceCodeCredential`] wrap a [`PublicClient`]
//! as [`TokenCredential`]s that sign in when silent acquisition cannot work.
//!
//! Accounts are keyed by `home_account_id` = `uid.utid` from `client_info` (MSAL's key).
//! They and their refresh tokens live behind the crate-internal `AccountStore` trait: in
//! memory, or, with [`ClientOptions::persistent_cache`], in an MSAL-schema cache file
//! ([`crate::persist`]) that also keeps ID tokens and access tokens, so that a later
//! process signs in silently without a single request while a cached access token is
//! fresh. The in-memory [`TokenCache`] stays in front of the file; the file is read on a
//! miss (on tokio's blocking pool) and written after every token answer.

mod device;
mod loopback;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use device::{DeviceCodeCallback, DeviceCodeInfo};

use crate::authority::Authority;
use crate::cache::{CacheKey, TokenCache, TokenKind};
use crate::confidential::{ClientOptions, merged_claims, parse_token_response};
use crate::error::{EntraErrorResponse, Error};
use crate::http::{Pipeline, form_post};
use crate::persist::environment_of;
use crate::persist::store::FileAccountStore;
use crate::secret::Secret;
use crate::token::{AccessToken, BoxFuture, TokenCredential, TokenRequest};

/// The scopes every user sign-in adds: an ID token, the profile, a refresh token.
const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// The start of the reason in the [`Error::Unavailable`] that asks for interaction.
const INTERACTION_REQUIRED: &str = "interaction required";

impl Error {
    /// Does getting this token need the user (a sign-in, MFA or consent)? True when no
    /// account or refresh token is cached, and for the authority's `invalid_grant`,
    /// `interaction_required`, `consent_required` and `login_required` answers.
    pub fn needs_interaction(&self) -> bool {
        match self {
            Error::Unavailable { reason, .. } => reason.starts_with(INTERACTION_REQUIRED),
            Error::Entra(e) => matches!(
                e.error.as_str(),
                "invalid_grant" | "interaction_required" | "consent_required" | "login_required"
            ),
            _ => false,
        }
    }
}

fn interaction_required(credential: &'static str, why: &str) -> Error {
    Error::Unavailable {
        credential,
        reason: format!("{INTERACTION_REQUIRED}: {why}"),
    }
}

/// A signed-in user, as the authority described them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `uid.utid` from `client_info`: the key of the account's tokens.
    pub home_account_id: String,
    /// The authority host without scheme (MSAL's `environment`).
    pub environment: String,
    /// The tenant the user signed in to (`tid`).
    pub tenant_id: String,
    /// `preferred_username`.
    pub username: String,
    /// `oid` in that tenant.
    pub local_account_id: String,
}

/// A user-token answer as a store receives it.
pub(crate) struct UserTokens {
    /// The tenant the request went to (MSAL's `realm`).
    pub(crate) realm: String,
    /// The scopes requested (the answer's `scope` wins when present).
    pub(crate) scopes: Vec<String>,
    /// The token endpoint's JSON answer.
    pub(crate) body: serde_json::Value,
}

/// Where a public client keeps accounts and refresh tokens. Keys follow MSAL's cache
/// schema (environment, client id, home account id; refresh tokens are not per tenant)
/// so that a file in that schema can back it.
pub(crate) trait AccountStore: Send + Sync {
    /// Do calls block on file I/O (and so must run on the blocking pool)?
    fn does_blocking_io(&self) -> bool {
        false
    }
    /// The accounts signed in to `client_id` at `environment`.
    fn accounts(&self, environment: &str, client_id: &str) -> Result<Vec<Account>, Error>;
    /// The account's current refresh token.
    fn refresh_token(&self, client_id: &str, account: &Account) -> Result<Option<Secret>, Error>;
    /// A fresh access token the store keeps for `account` in `realm` (only a persistent
    /// store keeps them; the in-memory [`TokenCache`] is in front of it).
    fn access_token(
        &self,
        _client_id: &str,
        _account: &Account,
        _realm: &str,
        _scopes: &[String],
    ) -> Result<Option<AccessToken>, Error> {
        Ok(None)
    }
    /// Stores or updates the account and what the answer carried: its new refresh
    /// token when there is one (refresh tokens rotate: the old one is replaced), and,
    /// for a persistent store, the ID token and access token.
    fn save(&self, client_id: &str, account: &Account, tokens: UserTokens) -> Result<(), Error>;
    /// Forgets the account and its tokens.
    fn remove(&self, client_id: &str, account: &Account) -> Result<(), Error>;
    /// Serialises refresh-token redemptions with other processes sharing the store
    /// (held until dropped); `None` for a store no other process sees.
    fn refresh_lock(&self) -> Result<Option<crate::persist::RefreshLock>, Error> {
        Ok(None)
    }
}

type StoreKey = (String, String, String);

/// The in-memory [`AccountStore`].
#[derive(Default)]
pub(crate) struct MemoryAccountStore {
    entries: Mutex<HashMap<StoreKey, (Account, Option<Secret>)>>,
}

fn store_key(client_id: &str, a: &Account) -> StoreKey {
    (
        a.environment.to_ascii_lowercase(),
        client_id.to_ascii_lowercase(),
        a.home_account_id.to_ascii_lowercase(),
    )
}

impl AccountStore for MemoryAccountStore {
    fn accounts(&self, environment: &str, client_id: &str) -> Result<Vec<Account>, Error> {
        let mut list: Vec<Account> = self
            .entries
            .lock()
            .expect("account store lock")
            .iter()
            .filter(|((e, c, _), _)| {
                e.eq_ignore_ascii_case(environment) && c.eq_ignore_ascii_case(client_id)
            })
            .map(|(_, (a, _))| a.clone())
            .collect();
        list.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(list)
    }

    fn refresh_token(&self, client_id: &str, account: &Account) -> Result<Option<Secret>, Error> {
        Ok(self
            .entries
            .lock()
            .expect("account store lock")
            .get(&store_key(client_id, account))
            .and_then(|(_, rt)| rt.clone()))
    }

    fn save(&self, client_id: &str, account: &Account, tokens: UserTokens) -> Result<(), Error> {
        let refresh_token = tokens
            .body
            .get("refresh_token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        let mut entries = self.entries.lock().expect("account store lock");
        let entry = entries
            .entry(store_key(client_id, account))
            .or_insert_with(|| (account.clone(), None));
        entry.0 = account.clone();
        if refresh_token.is_some() {
            entry.1 = refresh_token;
        }
        Ok(())
    }

    fn remove(&self, client_id: &str, account: &Account) -> Result<(), Error> {
        self.entries
            .lock()
            .expect("account store lock")
            .remove(&store_key(client_id, account));
        Ok(())
    }
}

/// An authority and the other tenants a credential may switch to (each discovered once).
pub(crate) struct Authorities {
    home: Authority,
    allowed: Vec<String>,
    others: tokio::sync::Mutex<HashMap<String, Arc<Authority>>>,
}

impl Authorities {
    pub(crate) fn new(options: &ClientOptions, tenant: &str) -> Result<Self, Error> {
        Ok(Self {
            home: options.authority(tenant)?,
            allowed: options.additionally_allowed_tenants.clone(),
            others: Default::default(),
        })
    }

    pub(crate) fn home(&self) -> &Authority {
        &self.home
    }

    /// Is the configured tenant one that stands for many (`common`, `organizations`...)?
    fn is_multi_tenant(&self) -> bool {
        ["common", "organizations", "consumers"]
            .iter()
            .any(|t| self.home.tenant().eq_ignore_ascii_case(t))
    }

    /// Checks that `tenant` may be used (`implicit`: the account's own tenant under a
    /// multi-tenant authority, always allowed).
    fn check(&self, tenant: &str, implicit: bool) -> Result<(), Error> {
        if implicit
            || tenant.eq_ignore_ascii_case(self.home.tenant())
            || self
                .allowed
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(tenant))
        {
            return Ok(());
        }
        Err(Error::Config(format!(
            "the request asks for tenant {tenant:?}, which this credential may not use; add it to additionally_allowed_tenants"
        )))
    }

    /// The token endpoint for `tenant` (the configured one when `None`).
    pub(crate) async fn token_endpoint(
        &self,
        tenant: Option<&str>,
        pipeline: &Pipeline,
    ) -> Result<String, Error> {
        match tenant {
            Some(t) if !t.eq_ignore_ascii_case(self.home.tenant()) => {
                let other = self.other(t).await?;
                Ok(other.metadata(pipeline).await?.token_endpoint.clone())
            }
            _ => Ok(self.home.metadata(pipeline).await?.token_endpoint.clone()),
        }
    }

    /// The issuer ID tokens from `tenant` carry (may hold `{tenantid}`).
    pub(crate) async fn issuer(&self, tenant: &str, pipeline: &Pipeline) -> Result<String, Error> {
        if tenant.eq_ignore_ascii_case(self.home.tenant()) {
            Ok(self.home.metadata(pipeline).await?.issuer.clone())
        } else {
            Ok(self
                .other(tenant)
                .await?
                .metadata(pipeline)
                .await?
                .issuer
                .clone())
        }
    }

    async fn other(&self, tenant: &str) -> Result<Arc<Authority>, Error> {
        let mut map = self.others.lock().await;
        if let Some(a) = map.get(&tenant.to_ascii_lowercase()) {
            return Ok(a.clone());
        }
        let a = Arc::new(self.home.with_tenant(tenant)?);
        map.insert(tenant.to_ascii_lowercase(), a.clone());
        Ok(a)
    }

    /// The tenant a request for `account` goes to, checked.
    pub(crate) fn tenant_for(
        &self,
        requested: Option<&str>,
        account: Option<&Account>,
    ) -> Result<String, Error> {
        match (requested, account) {
            (Some(t), a) => {
                let implicit = self.is_multi_tenant()
                    && a.is_some_and(|a| a.tenant_id.eq_ignore_ascii_case(t));
                self.check(t, implicit)?;
                Ok(t.to_string())
            }
            (None, Some(a)) if self.is_multi_tenant() && !a.tenant_id.is_empty() => {
                Ok(a.tenant_id.clone())
            }
            (None, _) => Ok(self.home.tenant().to_string()),
        }
    }
}

/// An account and the token a sign-in produced.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// Who signed in.
    pub account: Account,
    /// The access token for the requested scopes.
    pub token: AccessToken,
}

/// Receives the sign-in URL of an interactive sign-in.
pub type UrlCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// Settings for an interactive (browser) sign-in.
#[derive(Clone)]
pub struct InteractiveOptions {
    /// How long to wait for the browser to come back; the listener is closed after it.
    /// Default: 5 minutes.
    pub timeout: Duration,
    /// Open the system browser (`$BROWSER`, else `xdg-open` / `open` / `cmd /c start`).
    /// Default: true.
    pub open_browser: bool,
    /// Receives the sign-in URL (to print it, or to drive a sign-in in tests).
    pub on_url: Option<UrlCallback>,
    /// `prompt` (`select_account`, `login`, `consent`, `none`).
    pub prompt: Option<String>,
    /// `login_hint` (a user name to preselect).
    pub login_hint: Option<String>,
    /// The host named in the redirect URI sent to the authority. The listener binds
    /// `127.0.0.1` whichever is chosen. Default: [`RedirectHost::LoopbackIp`].
    pub redirect_host: RedirectHost,
}

/// The host of an interactive sign-in's loopback redirect URI. The app registration
/// must list it: Entra ignores a loopback redirect URI's port, but not its host, so
/// `http://127.0.0.1` and `http://localhost` are two registrations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectHost {
    /// `http://127.0.0.1:PORT`, the IP literal RFC 8252 §8.3 recommends: it cannot
    /// resolve to another interface, or to `::1` where nothing listens.
    #[default]
    LoopbackIp,
    /// `http://localhost:PORT`, for apps registered with `http://localhost` only, such
    /// as the Azure CLI's first-party client, which MSAL Python signs in with it.
    Localhost,
}

impl Default for InteractiveOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            open_browser: true,
            on_url: None,
            prompt: None,
            login_hint: None,
            redirect_host: RedirectHost::default(),
        }
    }
}

impl std::fmt::Debug for InteractiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractiveOptions")
            .field("timeout", &self.timeout)
            .field("open_browser", &self.open_browser)
            .field("on_url", &self.on_url.as_ref().map(|_| "callback"))
            .field("prompt", &self.prompt)
            .field("login_hint", &self.login_hint)
            .field("redirect_host", &self.redirect_host)
            .finish()
    }
}

/// A public client application (no secret): signs users in and keeps their tokens.
pub struct PublicClient {
    authorities: Authorities,
    client_id: String,
    pipeline: Pipeline,
    cache: TokenCache,
    store: Arc<dyn AccountStore>,
    /// The account of the last sign-in: what [`TokenCredential::get_token`] uses.
    current: RwLock<Option<Account>>,
    /// Refresh tokens rotate: one redemption at a time, so no one sends a used token.
    refresh_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for PublicClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicClient")
            .field("authority", &self.authorities.home().host())
            .field("tenant", &self.authorities.home().tenant())
            .field("client_id", &self.client_id)
            .field("persistent", &self.store.does_blocking_io())
            .finish()
    }
}

impl PublicClient {
    /// A public client registered as `client_id` in `tenant` (a tenant id, a domain,
    /// `organizations` or `common`). With [`ClientOptions::persistent_cache`], accounts
    /// and tokens are kept in that file (and read back from it by a later process).
    pub fn new(tenant: &str, client_id: &str, options: ClientOptions) -> Result<Self, Error> {
        if client_id.trim().is_empty() {
            return Err(Error::Config("client id is empty".into()));
        }
        Ok(Self {
            authorities: Authorities::new(&options, tenant)?,
            client_id: client_id.trim().to_string(),
            pipeline: options.pipeline()?,
            cache: TokenCache::new(),
            store: match &options.persistent_cache {
                Some(file) => Arc::new(FileAccountStore::new(file.clone())),
                None => Arc::new(MemoryAccountStore::default()),
            },
            current: RwLock::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// MSAL's `environment`: the authority host, lower case, without scheme or port.
    fn environment(&self) -> String {
        environment_of(self.authorities.home().host())
    }

    /// Runs `f` on the account store: inline for the in-memory one, on tokio's blocking
    /// pool for a cache file (its reads and writes take a cross-process lock).
    async fn with_store<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&dyn AccountStore) -> Result<T, Error> + Send + 'static,
    {
        if !self.store.does_blocking_io() {
            return f(&*self.store);
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| Error::Config(format!("the token cache file task failed: {e}")))?
    }

    /// The accounts signed in to this client (read from the cache file when there is
    /// one: accounts signed in by an earlier process are listed too).
    pub async fn accounts(&self) -> Result<Vec<Account>, Error> {
        let (environment, client_id) = (self.environment(), self.client_id.clone());
        self.with_store(move |s| s.accounts(&environment, &client_id))
            .await
    }

    /// Forgets an account: its refresh token and its cached access tokens (in the
    /// cache file too, when there is one).
    pub async fn remove_account(&self, account: &Account) -> Result<(), Error> {
        let (client_id, gone) = (self.client_id.clone(), account.clone());
        self.with_store(move |s| s.remove(&client_id, &gone))
            .await?;
        self.cache.clear();
        let mut current = self.current.write().expect("current account lock");
        if current
            .as_ref()
            .is_some_and(|c| c.home_account_id == account.home_account_id)
        {
            *current = None;
        }
        Ok(())
    }

    /// The account [`TokenCredential::get_token`] uses: the last one signed in, else the
    /// only one in the store.
    pub async fn current_account(&self) -> Result<Option<Account>, Error> {
        if let Some(a) = self.current.read().expect("current account lock").clone() {
            return Ok(Some(a));
        }
        let mut all = self.accounts().await?;
        Ok((all.len() == 1).then(|| all.remove(0)))
    }

    /// A token for `account` without the user: the cached access token while fresh, else
    /// one from the refresh token (any scope of this client, any allowed tenant). When
    /// neither works the error [`needs_interaction`](Error::needs_interaction).
    pub async fn get_token_silent(
        &self,
        account: &Account,
        request: &TokenRequest,
    ) -> Result<AccessToken, Error> {
        check_scopes(request)?;
        let tenant = self
            .authorities
            .tenant_for(request.tenant.as_deref(), Some(account))?;
        let key = self.key(&tenant, account, &request.scopes);
        let bypass = request.skips_cache();
        self.cache
            .get_or_fetch(&key, bypass, || async {
                if !bypass && let Some(t) = self.stored_token(account, &tenant, request).await? {
                    return Ok(t);
                }
                self.refresh(account, &tenant, request).await
            })
            .await
    }

    /// A fresh access token from the store (a cache file written by this or another
    /// process); never one from the in-memory store, which keeps none.
    async fn stored_token(
        &self,
        account: &Account,
        tenant: &str,
        request: &TokenRequest,
    ) -> Result<Option<AccessToken>, Error> {
        if !self.store.does_blocking_io() {
            return Ok(None);
        }
        let (client_id, account, realm, scopes) = (
            self.client_id.clone(),
            account.clone(),
            tenant.to_string(),
            request.scopes.clone(),
        );
        let found = self
            .with_store(move |s| s.access_token(&client_id, &account, &realm, &scopes))
            .await?;
        if found.is_some() {
            tracing::debug!("access token served from the persistent cache");
        }
        Ok(found)
    }

    fn key(&self, tenant: &str, account: &Account, scopes: &[String]) -> CacheKey {
        CacheKey::new(
            self.authorities.home().host(),
            tenant,
            &self.client_id,
            &account.home_account_id,
            scopes,
            TokenKind::User,
        )
    }

    async fn refresh(
        &self,
        account: &Account,
        tenant: &str,
        request: &TokenRequest,
    ) -> Result<AccessToken, Error> {
        let _one_at_a_time = self.refresh_lock.lock().await;
        // Another process sharing the cache file may be redeeming the same (rotating)
        // refresh token: wait for it, then use what it stored.
        let _across_processes = self.with_store(|s| s.refresh_lock()).await?;
        if request.claims.is_none()
            && let Some(t) = self.stored_token(account, tenant, request).await?
        {
            tracing::debug!("another process refreshed this token meanwhile");
            return Ok(t);
        }
        let rt = {
            let (client_id, account) = (self.client_id.clone(), account.clone());
            self.with_store(move |s| s.refresh_token(&client_id, &account))
                .await?
        };
        let Some(rt) = rt else {
            return Err(interaction_required(
                "PublicClient",
                &format!(
                    "no refresh token is cached for {}; sign in interactively or with a device code",
                    account.username
                ),
            ));
        };
        let endpoint = self
            .authorities
            .token_endpoint(Some(tenant), &self.pipeline)
            .await?;
        let scope = user_scopes(&request.scopes);
        let claims = merged_claims(request);
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("client_id", &self.client_id),
            ("refresh_token", rt.expose()),
            ("scope", &scope),
            ("client_info", "1"),
        ];
        if let Some(c) = &claims {
            form.push(("claims", c));
        }
        let resp = self
            .pipeline
            .send(form_post(&endpoint, &form)?, "refresh token request")
            .await?;
        let (account, token) = self
            .accept_user_tokens(
                &endpoint,
                resp.status().as_u16(),
                resp.body(),
                None,
                Some(account),
                request,
            )
            .await?;
        tracing::debug!(account = %account.username, "refreshed a user token; stored the rotated refresh token");
        Ok(token)
    }

    /// Reads a user-token answer: checks the ID token (audience, and `nonce` when one was
    /// sent), works out the account from `client_info`, stores the account and its new
    /// refresh token (and, in a cache file, its ID and access tokens), and makes it the
    /// current account.
    async fn accept_user_tokens(
        &self,
        endpoint: &str,
        status: u16,
        body: &[u8],
        nonce: Option<&str>,
        prior: Option<&Account>,
        request: &TokenRequest,
    ) -> Result<(Account, AccessToken), Error> {
        let (token, v) = parse_token_response(endpoint, status, body)?;
        let bad = |message: String| Error::Response {
            endpoint: endpoint.to_string(),
            message,
        };
        let id = match v.get("id_token").and_then(|t| t.as_str()) {
            Some(t) => Some(
                entra_jose::decode_unverified(t)
                    .map_err(|e| bad(format!("the ID token is not a JWT: {e}")))?,
            ),
            None => None,
        };
        if let Some(id) = &id {
            let tenant = self
                .authorities
                .tenant_for(request.tenant.as_deref(), prior)?;
            let issuer = self.authorities.issuer(&tenant, &self.pipeline).await?;
            check_id_token(id, &self.client_id, &issuer, crate::token::now()).map_err(bad)?;
        }
        if let Some(expected) = nonce {
            let got = id.as_ref().and_then(|t| t.claim_str("nonce"));
            if got != Some(expected) {
                return Err(bad(
                    "the ID token's nonce does not match this sign-in (a replayed or substituted response)"
                        .into(),
                ));
            }
        }
        let from_info = v
            .get("client_info")
            .and_then(|c| c.as_str())
            .and_then(|c| entra_jose::b64url_decode(c).ok())
            .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
            .and_then(|info| {
                Some(format!(
                    "{}.{}",
                    info.get("uid")?.as_str()?,
                    info.get("utid")?.as_str()?
                ))
            });
        let claim = |k: &str| id.as_ref().and_then(|t| t.claim_str(k)).map(str::to_string);
        let home_account_id = from_info
            .or_else(|| prior.map(|p| p.home_account_id.clone()))
            .or_else(|| Some(format!("{}.{}", claim("oid")?, claim("tid")?)))
            .ok_or_else(|| {
                bad("no client_info and no ID token: cannot tell who signed in".into())
            })?;
        if let Some(p) = prior
            && !p.home_account_id.eq_ignore_ascii_case(&home_account_id)
        {
            return Err(bad(
                "the refresh token came back for a different account".into()
            ));
        }
        let account = Account {
            home_account_id,
            environment: self.environment(),
            tenant_id: claim("tid")
                .or_else(|| prior.map(|p| p.tenant_id.clone()))
                .unwrap_or_default(),
            username: claim("preferred_username")
                .or_else(|| prior.map(|p| p.username.clone()))
                .unwrap_or_default(),
            local_account_id: claim("oid")
                .or_else(|| prior.map(|p| p.local_account_id.clone()))
                .unwrap_or_default(),
        };
        // Keyed by the tenant silent requests for this account use, so they find it.
        let realm = self
            .authorities
            .tenant_for(request.tenant.as_deref(), Some(&account))?;
        let tokens = UserTokens {
            realm,
            scopes: request.scopes.clone(),
            body: v,
        };
        let (client_id, saved) = (self.client_id.clone(), account.clone());
        self.with_store(move |s| s.save(&client_id, &saved, tokens))
            .await?;
        *self.current.write().expect("current account lock") = Some(account.clone());
        Ok((account, token))
    }

    /// Puts a sign-in's token in the cache for the silent calls that follow.
    fn remember(&self, request: &TokenRequest, account: &Account, token: &AccessToken) {
        if let Ok(tenant) = self
            .authorities
            .tenant_for(request.tenant.as_deref(), Some(account))
        {
            self.cache
                .put(&self.key(&tenant, account, &request.scopes), token.clone());
        }
    }
}

/// How far an ID token's `exp` may lie in the past (clock skew), in seconds.
const ID_TOKEN_SKEW: i64 = 300;

/// Checks an ID token that came straight from the token endpoint: `aud` is this client,
/// `iss` is the authority's issuer (`{tenantid}` replaced by the token's `tid`, a GUID),
/// and `exp` has not passed (with 5 minutes of skew). Its signature is not checked: the
/// token arrived over server-authenticated TLS from the token endpoint, which OpenID
/// Connect Core §3.1.3.7 accepts in place of a signature check (MSAL does the same).
fn check_id_token(
    id: &entra_jose::DecodedToken,
    client_id: &str,
    issuer: &str,
    now: i64,
) -> Result<(), String> {
    if id.claim_str("aud") != Some(client_id) {
        return Err("the ID token was issued to another client".into());
    }
    if !issuer.is_empty() {
        let expected = if issuer.contains("{tenantid}") {
            let tid = id.claim_str("tid").unwrap_or_default();
            if uuid_shaped(tid) {
                issuer.replace("{tenantid}", tid)
            } else {
                return Err("the ID token has no tenant id (tid) to check its issuer".into());
            }
        } else {
            issuer.to_string()
        };
        if id.claim_str("iss") != Some(expected.as_str()) {
            return Err(format!(
                "the ID token's issuer {:?} is not this authority's ({expected:?})",
                id.claim_str("iss")
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(120)
                    .collect::<String>()
            ));
        }
    }
    match id.claim_i64("exp") {
        Some(exp) if exp + ID_TOKEN_SKEW >= now => Ok(()),
        Some(_) => Err("the ID token has expired (is this machine's clock right?)".into()),
        None => Err("the ID token has no expiry (exp)".into()),
    }
}

/// `8-4-4-4-12` hex digits.
fn uuid_shaped(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn check_scopes(request: &TokenRequest) -> Result<(), Error> {
    if request.scopes.is_empty() {
        return Err(Error::Config(
            "no scopes requested (for example api://contoso-api/Data.Read)".into(),
        ));
    }
    Ok(())
}

/// The requested scopes plus `openid profile offline_access`.
fn user_scopes(scopes: &[String]) -> String {
    let mut all: Vec<&str> = scopes.iter().map(String::as_str).collect();
    for s in OIDC_SCOPES {
        if !all.iter().any(|x| x.eq_ignore_ascii_case(s)) {
            all.push(s);
        }
    }
    all.join(" ")
}

/// Base64url of `n` random bytes.
fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut b)
        .expect("system RNG");
    entra_jose::b64url(b)
}

/// `error=` from a redirect as Entra's error (codes read from `AADSTS<n>:`).
fn redirect_error(error: &str, description: &str) -> Error {
    let codes = description
        .split("AADSTS")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    Error::Entra(Box::new(EntraErrorResponse {
        error: error.to_string(),
        description: description.to_string(),
        codes,
        // The authorize endpoint answers with a 302 to the redirect URI.
        status: 302,
        ..Default::default()
    }))
}

/// Signs a user in through the system browser (authorization code + PKCE, loopback
/// redirect), then gets tokens silently while the refresh token works.
#[derive(Debug)]
pub struct InteractiveBrowserCredential {
    client: PublicClient,
    options: InteractiveOptions,
}

impl InteractiveBrowserCredential {
    /// A credential for the public client `client_id` in `tenant`.
    pub fn new(
        tenant: &str,
        client_id: &str,
        options: ClientOptions,
        interactive: InteractiveOptions,
    ) -> Result<Self, Error> {
        Ok(Self {
            client: PublicClient::new(tenant, client_id, options)?,
            options: interactive,
        })
    }

    /// The public client underneath (accounts, silent calls).
    pub fn client(&self) -> &PublicClient {
        &self.client
    }

    /// Signs in now, whatever is cached.
    pub async fn authenticate(&self, request: &TokenRequest) -> Result<SignIn, Error> {
        self.client
            .sign_in_interactive(request, &self.options)
            .await
    }

    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        if let Some(account) = self.client.current_account().await? {
            match self.client.get_token_silent(&account, request).await {
                Err(e) if e.needs_interaction() => {
                    tracing::debug!(error = %e, "silent acquisition failed; signing in interactively");
                }
                other => return other,
            }
        }
        Ok(self.authenticate(request).await?.token)
    }
}

impl TokenCredential for InteractiveBrowserCredential {
    fn get_token<'a>(
        &'a self,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(self.token(request))
    }

    fn name(&self) -> &'static str {
        "InteractiveBrowserCredential"
    }
}

/// Signs a user in with a device code (the user types a code on another device), then
/// gets tokens silently while the refresh token works.
pub struct DeviceCodeCredential {
    client: PublicClient,
    on_code: DeviceCodeCallback,
}

impl std::fmt::Debug for DeviceCodeCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCodeCredential")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl DeviceCodeCredential {
    /// A credential for the public client `client_id` in `tenant`; `on_code` shows the
    /// user the code and where to enter it.
    pub fn new(
        tenant: &str,
        client_id: &str,
        options: ClientOptions,
        on_code: DeviceCodeCallback,
    ) -> Result<Self, Error> {
        Ok(Self {
            client: PublicClient::new(tenant, client_id, options)?,
            on_code,
        })
    }

    /// The public client underneath (accounts, silent calls).
    pub fn client(&self) -> &PublicClient {
        &self.client
    }

    /// Signs in now, whatever is cached. Dropping the future stops polling.
    pub async fn authenticate(&self, request: &TokenRequest) -> Result<SignIn, Error> {
        self.client
            .sign_in_with_device_code(request, &*self.on_code, std::future::pending())
            .await
    }

    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        if let Some(account) = self.client.current_account().await? {
            match self.client.get_token_silent(&account, request).await {
                Err(e) if e.needs_interaction() => {}
                other => return other,
            }
        }
        Ok(self.authenticate(request).await?.token)
    }
}

impl TokenCredential for DeviceCodeCredential {
    fn get_token<'a>(
        &'a self,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(self.token(request))
    }

    fn name(&self) -> &'static str {
        "DeviceCodeCredential"
    }
}

/// The public client as a credential: silent only (cached token, then refresh token for
/// [`PublicClient::current_account`]); an error that
/// [`needs_interaction`](Error::needs_interaction) otherwise.
impl TokenCredential for PublicClient {
    fn get_token<'a>(
        &'a self,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(async move {
            let Some(account) = self.current_account().await? else {
                return Err(interaction_required(
                    "PublicClient",
                    "no account is signed in (or several are: pick one with get_token_silent)",
                ));
            };
            self.get_token_silent(&account, request).await
        })
    }

    fn name(&self) -> &'static str {
        "PublicClient"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_tokens_are_checked_for_audience_issuer_and_expiry() {
        const TID: &str = "c0ffee00-0000-4000-8000-000000000001";
        let id = |claims: serde_json::Value| {
            let token = format!(
                "{}.{}.sig",
                entra_jose::b64url(r#"{"alg":"RS256","typ":"JWT"}"#),
                entra_jose::b64url(claims.to_string())
            );
            entra_jose::decode_unverified(&token).unwrap()
        };
        let now = 1_800_000_000;
        let good = serde_json::json!({
            "aud": "app", "iss": format!("https://login.microsoftonline.com/{TID}/v2.0"),
            "tid": TID, "exp": now + 3600,
        });
        let common = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let own = format!("https://login.microsoftonline.com/{TID}/v2.0");
        assert_eq!(
            check_id_token(&id(good.clone()), "app", common, now),
            Ok(())
        );
        assert_eq!(check_id_token(&id(good.clone()), "app", &own, now), Ok(()));
        // Issuer not checked when discovery gave none.
        assert_eq!(check_id_token(&id(good.clone()), "app", "", now), Ok(()));
        // Within the skew, then past it.
        assert_eq!(
            check_id_token(&id(good.clone()), "app", common, now + 3600 + 299),
            Ok(())
        );
        let e = check_id_token(&id(good.clone()), "app", common, now + 3600 + 301).unwrap_err();
        assert!(e.contains("expired"), "{e}");

        let mut other = good.clone();
        other["aud"] = "someone-else".into();
        assert!(
            check_id_token(&id(other), "app", common, now)
                .unwrap_err()
                .contains("another client")
        );
        let mut evil = good.clone();
        evil["iss"] = "https://evil.example/v2.0".into();
        let e = check_id_token(&id(evil), "app", common, now).unwrap_err();
        assert!(e.contains("https://evil.example/v2.0"), "{e}");
        // A tenant template needs a GUID tid: no `../` games with the substitution.
        let mut bad_tid = good.clone();
        bad_tid["tid"] = "x/../y".into();
        bad_tid["iss"] = "https://login.microsoftonline.com/x/../y/v2.0".into();
        assert!(
            check_id_token(&id(bad_tid), "app", common, now)
                .unwrap_err()
                .contains("tid")
        );
        let mut no_exp = good.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(
            check_id_token(&id(no_exp), "app", common, now)
                .unwrap_err()
                .contains("exp")
        );
        // Another tenant's token under a tenant-specific authority.
        let mut foreign = good;
        foreign["tid"] = "deadbeef-0000-4000-8000-000000000001".into();
        foreign["iss"] =
            "https://login.microsoftonline.com/deadbeef-0000-4000-8000-000000000001/v2.0".into();
        assert!(check_id_token(&id(foreign), "app", &own, now).is_err());
    }

    fn account(id: &str) -> Account {
        Account {
            home_account_id: id.into(),
            environment: "login.microsoftonline.com".into(),
            tenant_id: "t".into(),
            username: format!("{id}@x"),
            local_account_id: "o".into(),
        }
    }

    #[test]
    fn store_rotates_refresh_tokens_and_keeps_them_across_account_updates() {
        let s = MemoryAccountStore::default();
        let a = account("u.t");
        let answer = |rt: Option<&str>| UserTokens {
            realm: "t".into(),
            scopes: vec!["s".into()],
            body: match rt {
                Some(rt) => serde_json::json!({ "access_token": "at", "refresh_token": rt }),
                None => serde_json::json!({ "access_token": "at" }),
            },
        };
        let rt = |client: &str| s.refresh_token(client, &a).unwrap();
        s.save("c", &a, answer(Some("rt1"))).unwrap();
        assert_eq!(rt("c").unwrap().expose(), "rt1");
        s.save("c", &a, answer(Some("rt2"))).unwrap();
        assert_eq!(rt("c").unwrap().expose(), "rt2");
        s.save("c", &a, answer(None)).unwrap();
        assert_eq!(rt("c").unwrap().expose(), "rt2");
        assert!(rt("other-client").is_none());
        assert!(
            s.access_token("c", &a, "t", &["s".into()])
                .unwrap()
                .is_none()
        );
        assert_eq!(
            s.accounts("LOGIN.microsoftonline.com", "C").unwrap(),
            vec![a.clone()]
        );
        s.remove("c", &a).unwrap();
        assert!(
            s.accounts("login.microsoftonline.com", "c")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn redirect_errors_keep_the_aadsts_code() {
        let e = redirect_error(
            "access_denied",
            "AADSTS65004: User declined to consent to access the app.",
        );
        let entra = e.entra().unwrap();
        assert_eq!(entra.codes, vec![65004]);
        assert!(e.to_string().contains("access_denied"));
        assert!(!e.needs_interaction());
        assert!(interaction_required("X", "no account").needs_interaction());
    }

    #[test]
    fn oidc_scopes_are_added_once() {
        assert_eq!(
            user_scopes(&["api://x/A".into(), "openid".into()]),
            "api://x/A openid profile offline_access"
        );
    }

    #[test]
    fn tenants_follow_the_account_under_organizations_and_are_checked() {
        let opts = ClientOptions {
            authority_host: Some("https://login.example".into()),
            // A made-up host that instance discovery would (rightly) refuse.
            instance_discovery: crate::authority::InstanceDiscovery::DangerDisabled,
            additionally_allowed_tenants: vec!["fabrikam.example".into()],
            ..Default::default()
        };
        let orgs = Authorities::new(&opts, "organizations").unwrap();
        let a = account("u.t");
        assert_eq!(orgs.tenant_for(None, Some(&a)).unwrap(), "t");
        assert_eq!(orgs.tenant_for(Some("t"), Some(&a)).unwrap(), "t");
        assert!(orgs.tenant_for(Some("evil"), Some(&a)).is_err());
        let fixed = Authorities::new(&opts, "contoso.example").unwrap();
        assert_eq!(fixed.tenant_for(None, Some(&a)).unwrap(), "contoso.example");
        assert_eq!(
            fixed
                .tenant_for(Some("fabrikam.example"), Some(&a))
                .unwrap(),
            "fabrikam.example"
        );
        assert!(fixed.tenant_for(Some("t"), Some(&a)).is_err());
    }
}
