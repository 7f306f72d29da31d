//! [`MemoryAccountStore`]: the in-memory [`AccountStore`], what a public client uses
//! without a cache file.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::account::{Account, AccountStore, UserTokens};
use crate::error::Error;
use crate::secret::Secret;

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
