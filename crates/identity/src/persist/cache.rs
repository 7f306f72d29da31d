//! [`PersistentCache`]: the cache file as credentials use it (find, save, remove).

use std::path::Path;

use super::crypto::KeyLocation;
use super::entries::Entries;
use super::error::CacheFileError;
use super::file::CacheFile;
use super::protection::Protection;
use super::response::TokenResponse;
use super::schema::{AccessTokenEntry, AccountEntry, IdTokenEntry, RefreshTokenEntry};
use crate::cache::EXPIRY_BUFFER_SECS;
use crate::unix_time::now;
// Scopes every sign-in carries; they never decide whether an access token fits.
use crate::token_endpoint::OIDC_SCOPES;

fn eq(a: &Option<String>, b: &str) -> bool {
    a.as_deref().unwrap_or("").eq_ignore_ascii_case(b)
}

/// A token cache file as credentials use it. Every call reads the file afresh, so
/// what other processes (MSAL included) wrote is seen at once.
#[derive(Debug)]
pub struct PersistentCache {
    file: CacheFile,
}

impl PersistentCache {
    /// Opens (and checks) the cache at `path`; a missing file is an empty cache and is
    /// created on the first write. An unreadable file is an error here already: wrong
    /// key, damaged, or in the other format.
    pub fn open(path: impl AsRef<Path>, protection: Protection) -> Result<Self, CacheFileError> {
        Self::from_file(CacheFile::new(path.as_ref(), protection))
    }

    /// Opens a [`CacheFile`] set up by hand (custom lock timeout).
    pub fn from_file(file: CacheFile) -> Result<Self, CacheFileError> {
        file.load()?;
        Ok(Self { file })
    }

    /// Where the cache's encryption key went: the OS keyring or a key file (or none
    /// yet, before the first write; or none at all, for a plaintext cache).
    pub fn key_location(&self) -> KeyLocation {
        self.file.key_location()
    }

    /// The file underneath.
    pub fn file(&self) -> &CacheFile {
        &self.file
    }

    /// A fitting access token: same client, environment, realm and account
    /// (`home_account_id` `None` for an app's own token), a `target` holding every
    /// requested scope (compared case-insensitively; `openid`, `profile` and
    /// `offline_access` are ignored), Bearer, and more than 5 minutes left. Of several,
    /// the one that lives longest.
    pub fn find_access_token(
        &self,
        client_id: &str,
        environment: &str,
        realm: &str,
        home_account_id: Option<&str>,
        scopes: &[String],
    ) -> Result<Option<AccessTokenEntry>, CacheFileError> {
        let wanted: Vec<&str> = scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .filter(|s| !OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)))
            .collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let fresh_after = now() + EXPIRY_BUFFER_SECS;
        let data = self.file.load()?;
        let best = data
            .access_tokens
            .into_values()
            .filter(|at| {
                eq(&at.client_id, client_id)
                    && eq(&at.environment, environment)
                    && eq(&at.realm, realm)
                    && eq(&at.home_account_id, home_account_id.unwrap_or(""))
                    && at.secret.as_ref().is_some_and(|s| !s.is_empty())
                    && at.expires_on.is_some_and(|t| t > fresh_after)
                    && at
                        .token_type
                        .as_deref()
                        .is_none_or(|t| t.eq_ignore_ascii_case("bearer"))
                    // Tokens bound to a key (PoP, SSH certificates) or to extra request
                    // parameters are not plain bearer tokens for this request.
                    && !at.extra.contains_key("key_id")
                    && !at.extra.contains_key("ext_cache_key")
                    && {
                        let target = at.target.as_deref().unwrap_or("");
                        wanted.iter().all(|w| {
                            target
                                .split_whitespace()
                                .any(|t| t.eq_ignore_ascii_case(w))
                        })
                    }
            })
            .max_by_key(|at| at.expires_on);
        Ok(best)
    }

    /// The refresh token of this client for this account.
    pub fn find_refresh_token(
        &self,
        client_id: &str,
        environment: &str,
        home_account_id: &str,
    ) -> Result<Option<RefreshTokenEntry>, CacheFileError> {
        let data = self.file.load()?;
        Ok(data
            .refresh_tokens
            .into_values()
            .filter(|rt| {
                eq(&rt.client_id, client_id)
                    && eq(&rt.environment, environment)
                    && eq(&rt.home_account_id, home_account_id)
                    && rt.secret.as_ref().is_some_and(|s| !s.is_empty())
            })
            .max_by_key(|rt| rt.last_modification_time))
    }

    /// The ID token of this client for this account in `realm`.
    pub fn find_id_token(
        &self,
        client_id: &str,
        environment: &str,
        realm: &str,
        home_account_id: &str,
    ) -> Result<Option<IdTokenEntry>, CacheFileError> {
        let data = self.file.load()?;
        Ok(data.id_tokens.into_values().find(|id| {
            eq(&id.client_id, client_id)
                && eq(&id.environment, environment)
                && eq(&id.realm, realm)
                && eq(&id.home_account_id, home_account_id)
        }))
    }

    /// The accounts signed in at `environment` (one entry per tenant an account signed
    /// in to).
    pub fn accounts(&self, environment: &str) -> Result<Vec<AccountEntry>, CacheFileError> {
        let data = self.file.load()?;
        Ok(data
            .accounts
            .into_values()
            .filter(|a| eq(&a.environment, environment))
            .collect())
    }

    /// Writes every entry a token response gives: the access token, refresh token, ID
    /// token, the account (when `client_info` or an ID token says who signed in) and
    /// the app metadata, in one locked read-merge-write. Returns the account's
    /// `home_account_id` (`uid.utid` from `client_info`), `None` for an app's own token.
    pub fn save_token_response(
        &self,
        response: &TokenResponse,
    ) -> Result<Option<String>, CacheFileError> {
        let entries = Entries::from_response(response, now());
        let home = entries.home_account_id.clone();
        self.file.update(move |data| entries.store(data))?;
        Ok(home)
    }

    /// Signs an account out: removes its access, refresh and ID tokens (of every
    /// client) and its account entries at `environment`. Returns how many entries went.
    pub fn remove_account(
        &self,
        environment: &str,
        home_account_id: &str,
    ) -> Result<usize, CacheFileError> {
        self.file.update(|data| {
            let before = data.access_tokens.len()
                + data.refresh_tokens.len()
                + data.id_tokens.len()
                + data.accounts.len();
            data.access_tokens.retain(|_, e| {
                !(eq(&e.environment, environment) && eq(&e.home_account_id, home_account_id))
            });
            data.refresh_tokens.retain(|_, e| {
                !(eq(&e.environment, environment) && eq(&e.home_account_id, home_account_id))
            });
            data.id_tokens.retain(|_, e| {
                !(eq(&e.environment, environment) && eq(&e.home_account_id, home_account_id))
            });
            data.accounts.retain(|_, e| {
                !(eq(&e.environment, environment) && eq(&e.home_account_id, home_account_id))
            });
            before
                - (data.access_tokens.len()
                    + data.refresh_tokens.len()
                    + data.id_tokens.len()
                    + data.accounts.len())
        })
    }
}
