//! The accounts of signed-in users and where a public client keeps them: [`Account`],
//! the [`AccountStore`] trait (in memory in [`crate::public_client`], in a cache file in
//! [`crate::persist`]) and [`UserTokens`], a token answer as a store receives it.

use crate::error::Error;
use crate::secret::Secret;
use crate::token::AccessToken;

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
    /// store keeps them; the in-memory [`TokenCache`](crate::TokenCache) is in front of it).
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
