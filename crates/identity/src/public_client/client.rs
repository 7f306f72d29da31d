//! [`PublicClient`]: accounts, silent acquisition (cached token, then refresh token),
//! and what every sign-in does with the token endpoint's answer.

use std::sync::{Arc, RwLock};

use super::authorities::Authorities;
use super::id_token::check_id_token;
use super::memory_store::MemoryAccountStore;
use crate::account::{Account, AccountStore, UserTokens};
use crate::cache::{CacheKey, TokenCache, TokenKind};
use crate::error::{Error, interaction_required};
use crate::http::Pipeline;
use crate::options::{ClientOptions, checked_client_id};
use crate::persist::environment_of;
use crate::persist::store::FileAccountStore;
use crate::token::{AccessToken, TokenRequest, token_credential};
use crate::token_endpoint::{OIDC_SCOPES, TokenForm, grant, merged_claims, parse_token_response};

/// An account and the token a sign-in produced.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// Who signed in.
    pub account: Account,
    /// The access token for the requested scopes.
    pub token: AccessToken,
}

/// A public client application (no secret): signs users in and keeps their tokens.
pub struct PublicClient {
    pub(super) authorities: Authorities,
    pub(super) client_id: String,
    pub(super) pipeline: Pipeline,
    cache: TokenCache,
    store: Arc<dyn AccountStore>,
    /// The account of the last sign-in: what [`TokenCredential::get_token`](crate::TokenCredential::get_token) uses.
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
        let client_id = checked_client_id(client_id)?;
        Ok(Self {
            authorities: Authorities::new(&options, tenant)?,
            client_id,
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

    /// The account [`TokenCredential::get_token`](crate::TokenCredential::get_token) uses: the last one signed in, else the
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
        let resp = TokenForm::new(grant::REFRESH_TOKEN, &self.client_id)
            .field("refresh_token", rt.expose())
            .field("scope", &scope)
            .field("client_info", "1")
            .claims(claims.as_deref())
            .anchor_mailbox(&account.home_account_id)
            .send(&self.pipeline, &endpoint, "refresh token request")
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
    // Over 80 lines: the ID token checks and the account's fields must be read in this
    // order from one answer (nonce, issuer, then who signed in); kept as one story.
    pub(super) async fn accept_user_tokens(
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
            check_id_token(id, &self.client_id, &issuer, crate::unix_time::now()).map_err(bad)?;
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
    pub(super) fn remember(&self, request: &TokenRequest, account: &Account, token: &AccessToken) {
        if let Ok(tenant) = self
            .authorities
            .tenant_for(request.tenant.as_deref(), Some(account))
        {
            self.cache
                .put(&self.key(&tenant, account, &request.scopes), token.clone());
        }
    }
}

/// The public client as a credential: silent only (cached token, then refresh token for
/// [`PublicClient::current_account`]); an error that
/// [`needs_interaction`](Error::needs_interaction) otherwise.
impl PublicClient {
    /// What [`TokenCredential::get_token`](crate::TokenCredential::get_token) does.
    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        let Some(account) = self.current_account().await? else {
            return Err(interaction_required(
                "PublicClient",
                "no account is signed in (or several are: pick one with get_token_silent)",
            ));
        };
        self.get_token_silent(&account, request).await
    }
}

token_credential!(PublicClient, "PublicClient");

pub(super) fn check_scopes(request: &TokenRequest) -> Result<(), Error> {
    if request.scopes.is_empty() {
        return Err(Error::Config(
            "no scopes requested (for example api://contoso-api/Data.Read)".into(),
        ));
    }
    Ok(())
}

/// The requested scopes plus `openid profile offline_access`.
pub(super) fn user_scopes(scopes: &[String]) -> String {
    let mut all: Vec<&str> = scopes.iter().map(String::as_str).collect();
    for s in OIDC_SCOPES {
        if !all.iter().any(|x| x.eq_ignore_ascii_case(s)) {
            all.push(s);
        }
    }
    all.join(" ")
}
