//! What the dashboard keeps in memory (a leaf: the shared state holds it): sessions,
//! one-time links and the token-event ring.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

/// The dashboard's memory.
#[derive(Default)]
pub(crate) struct DashboardState {
    /// Session id -> session.
    pub(crate) sessions: Mutex<HashMap<String, DashboardSession>>,
    /// One-time link secret -> expiry (unix seconds, wall clock).
    pub(crate) links: Mutex<HashMap<String, i64>>,
    /// Issued tokens, decoded, oldest first.
    pub(crate) tokens: Mutex<VecDeque<TokenEvent>>,
}

/// A signed-in dashboard browser.
#[derive(Clone)]
pub(crate) struct DashboardSession {
    /// Ends (unix seconds, wall clock: moving the emulator's clock does not end it).
    pub(crate) expires: i64,
    /// The synchronizer token every form of this session carries.
    pub(crate) csrf: String,
    /// A message for the next page (what the last button did): (worked, text).
    pub(crate) flash: Option<(bool, String)>,
}

impl std::fmt::Debug for DashboardSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardSession")
            .field("expires", &self.expires)
            .field("csrf", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// One issued token, decoded.
#[derive(Debug, Clone)]
pub(crate) struct TokenEvent {
    /// Issued (unix seconds, emulator clock).
    pub(crate) time: i64,
    /// `access_token` or `id_token`.
    pub(crate) kind: &'static str,
    /// The signing key.
    pub(crate) kid: String,
    /// The decoded payload.
    pub(crate) claims: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_debug_shows_no_csrf_token() {
        let s = DashboardSession {
            expires: 1,
            csrf: "csrf-secret-value".into(),
            flash: None,
        };
        assert!(!format!("{s:?}").contains("csrf-secret-value"));
    }
}
