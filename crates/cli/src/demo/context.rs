//! What every demo step gets: the emulator, the public client users sign in to, and what
//! earlier steps hand to later ones; plus small helpers for reading tokens.

use std::sync::{Mutex, MutexGuard, PoisonError};

use entra_identity::{Account, ClientOptions, PublicClient, Secret};
use serde_json::Value;

use super::driver::DemoEmulator;

/// What steps hand to later steps.
#[derive(Default)]
pub(crate) struct Shared {
    pub account: Option<Account>,
    pub user_token: Option<Secret>,
}

/// The demo's state, shared by the steps.
pub(crate) struct Ctx {
    pub h: DemoEmulator,
    pub shared: Mutex<Shared>,
    pub public: PublicClient,
}

impl Ctx {
    /// Client options for the emulator (its authority, its CA).
    pub(crate) fn options(&self) -> ClientOptions {
        ClientOptions::for_emulator(&self.h.ready().authority, &self.h.ready().ca_file)
    }

    /// What earlier steps left (a step that failed half-way cannot poison it).
    pub(crate) fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The account step 2 signed in.
    pub(crate) fn account(&self) -> Result<Account, String> {
        self.shared()
            .account
            .clone()
            .ok_or_else(|| "needs the browser sign-in (step 2)".to_string())
    }
}

/// A token's claims (unverified: the steps only read what they show).
pub(crate) fn claims(token: &Secret) -> serde_json::Map<String, Value> {
    entra_jose::decode_unverified(token.expose())
        .map(|t| t.claims)
        .unwrap_or_default()
}

/// Minutes from now until `expires_on`.
pub(crate) fn minutes(expires_on: i64) -> i64 {
    (expires_on - entra_identity::unix_time::now()) / 60
}

/// Any error as a step's failure text.
pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}
