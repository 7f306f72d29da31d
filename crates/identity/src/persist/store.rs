//! The persistent cache as the credentials use it: [`FileAccountStore`] keeps a public
//! client's accounts, refresh tokens, ID tokens and access tokens in a
//! [`PersistentCache`]; [`find_app_token`] and [`save_response`] do the same for a
//! confidential client's own (app) tokens. Every call runs the cache's blocking file I/O
//! (reads and writes take a cross-process lock, which may wait) on tokio's blocking
//! pool through [`blocking`], never on an async worker thread.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::cache::PersistentCache;
use super::error::CacheFileError;
use super::file::RefreshLock;
use super::response::{TokenResponse, environment_of};
use super::schema::AccessTokenEntry;
use crate::account::{Account, AccountStore, UserTokens};
use crate::error::Error;
use crate::secret::Secret;
use crate::token::AccessToken;
use crate::unix_time::now;

/// Runs `f` against `cache` on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(cache: &Arc<PersistentCache>, f: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce(&PersistentCache) -> Result<T, CacheFileError> + Send + 'static,
{
    let cache = cache.clone();
    tokio::task::spawn_blocking(move || f(&cache))
        .await
        .map_err(|e| Error::Config(format!("the token cache file task failed: {e}")))?
        .map_err(Error::from)
}

/// A stored access token as a credential hands it out, if it is fresh: more than 5
/// minutes left (the cache's lookup checks that) and not yet due for a proactive refresh
/// (a token past `refresh_on` is left to the network, or the in-memory cache in front
/// would keep asking the file for the same aging token).
fn usable(at: AccessTokenEntry) -> Option<AccessToken> {
    let token = at.to_token()?;
    match token.refresh_on {
        Some(r) if now() >= r => None,
        _ => Some(token),
    }
}

/// An app's own token for `scopes` from the file (`home_account_id` null).
pub(crate) async fn find_app_token(
    cache: &Arc<PersistentCache>,
    client_id: &str,
    authority_host: &str,
    tenant: &str,
    scopes: &[String],
) -> Result<Option<AccessToken>, Error> {
    let (client_id, environment, tenant, scopes) = (
        client_id.to_string(),
        environment_of(authority_host),
        tenant.to_string(),
        scopes.to_vec(),
    );
    blocking(cache, move |c| {
        Ok(
            c.find_access_token(&client_id, &environment, &tenant, None, &scopes)?
                .and_then(usable),
        )
    })
    .await
}

/// Writes every entry of a token response (one locked read-merge-write).
pub(crate) async fn save_response(
    cache: &Arc<PersistentCache>,
    response: TokenResponse,
) -> Result<(), Error> {
    blocking(cache, move |c| c.save_token_response(&response).map(|_| ())).await
}

/// A public client's [`AccountStore`] in a [`PersistentCache`]: what a later process
/// (or MSAL, sharing the file) reads back. Accounts are listed when this client holds a
/// refresh token for them; `remove` signs the account out of the file entirely (every
/// client's tokens for it at that authority), as a shared cache expects of a sign-out.
pub(crate) struct FileAccountStore {
    cache: Arc<PersistentCache>,
}

impl FileAccountStore {
    pub(crate) fn new(cache: Arc<PersistentCache>) -> Self {
        Self { cache }
    }
}

fn eq(a: &Option<String>, b: &str) -> bool {
    a.as_deref().unwrap_or("").eq_ignore_ascii_case(b)
}

impl AccountStore for FileAccountStore {
    fn does_blocking_io(&self) -> bool {
        true
    }

    fn accounts(&self, environment: &str, client_id: &str) -> Result<Vec<Account>, Error> {
        let environment = environment_of(environment);
        let data = self.cache.file().load()?;
        let with_rt: Vec<&str> = data
            .refresh_tokens
            .values()
            .filter(|rt| eq(&rt.client_id, client_id) && eq(&rt.environment, &environment))
            .filter(|rt| rt.secret.as_ref().is_some_and(|s| !s.is_empty()))
            .filter_map(|rt| rt.home_account_id.as_deref())
            .collect();
        // One entry per tenant an account signed in to: keep one per account, the one in
        // its home tenant when there is one.
        let mut by_home: BTreeMap<String, Account> = BTreeMap::new();
        for a in data.accounts.values() {
            let Some(home) = a.home_account_id.as_deref() else {
                continue;
            };
            if !eq(&a.environment, &environment)
                || !with_rt.iter().any(|h| h.eq_ignore_ascii_case(home))
            {
                continue;
            }
            let realm = a.realm.clone().unwrap_or_default();
            // The ID token says which tenant the user signed in to (the realm is the
            // tenant as the authority named it, perhaps a domain).
            let claims = data
                .id_tokens
                .values()
                .find(|id| {
                    eq(&id.client_id, client_id)
                        && eq(&id.home_account_id, home)
                        && eq(&id.environment, &environment)
                        && eq(&id.realm, &realm)
                })
                .and_then(|id| id.secret.as_ref())
                .and_then(|t| entra_jose::decode_unverified(t.expose()).ok())
                .map(|t| t.claims)
                .unwrap_or_default();
            let claim = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
            let account = Account {
                home_account_id: home.to_string(),
                environment: environment.clone(),
                tenant_id: claim("tid").unwrap_or(realm),
                username: a.username.clone().unwrap_or_default(),
                local_account_id: a
                    .local_account_id
                    .clone()
                    .or_else(|| claim("oid"))
                    .unwrap_or_default(),
            };
            let home_tenant = home.rsplit_once('.').map_or("", |(_, t)| t);
            match by_home.get(&home.to_ascii_lowercase()) {
                Some(kept) if kept.tenant_id.eq_ignore_ascii_case(home_tenant) => {}
                _ => {
                    by_home.insert(home.to_ascii_lowercase(), account);
                }
            }
        }
        let mut list: Vec<Account> = by_home.into_values().collect();
        list.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(list)
    }

    fn refresh_token(&self, client_id: &str, account: &Account) -> Result<Option<Secret>, Error> {
        Ok(self
            .cache
            .find_refresh_token(
                client_id,
                &environment_of(&account.environment),
                &account.home_account_id,
            )?
            .and_then(|rt| rt.secret))
    }

    fn access_token(
        &self,
        client_id: &str,
        account: &Account,
        realm: &str,
        scopes: &[String],
    ) -> Result<Option<AccessToken>, Error> {
        Ok(self
            .cache
            .find_access_token(
                client_id,
                &environment_of(&account.environment),
                realm,
                Some(&account.home_account_id),
                scopes,
            )?
            .and_then(usable))
    }

    fn save(&self, client_id: &str, account: &Account, tokens: UserTokens) -> Result<(), Error> {
        let UserTokens {
            realm,
            scopes,
            mut body,
        } = tokens;
        // The file keys a user's entries by `uid.utid` from client_info; when the answer
        // had none, the account we already know gives it, so the keys still match.
        if body.get("client_info").and_then(Value::as_str).is_none()
            && let Some((uid, utid)) = account.home_account_id.rsplit_once('.')
        {
            body["client_info"] = Value::String(entra_jose::b64url(
                serde_json::json!({"uid": uid, "utid": utid}).to_string(),
            ));
        }
        let response = TokenResponse::from_json(
            body,
            client_id,
            &environment_of(&account.environment),
            &realm,
            &scopes,
        );
        self.cache.save_token_response(&response)?;
        Ok(())
    }

    fn refresh_lock(&self) -> Result<Option<RefreshLock>, Error> {
        Ok(Some(self.cache.file().lock_for_refresh()?))
    }

    fn remove(&self, _client_id: &str, account: &Account) -> Result<(), Error> {
        self.cache.remove_account(
            &environment_of(&account.environment),
            &account.home_account_id,
        )?;
        Ok(())
    }
}
