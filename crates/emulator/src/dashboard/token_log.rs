//! The token events the dashboard lists: for each token the emulator issues, its header's
//! `kid` and its decoded claims, in a bounded in-memory ring. The compact token itself
//! (and with it the signature that makes it usable) is never kept.

use serde_json::Value;

use super::store::TokenEvent;
use crate::state::AppState;

/// Token events kept (oldest dropped first).
const KEPT: usize = 200;

/// Records the token `compact` (a JWT the emulator just signed) as decoded claims.
pub(crate) fn record_token(st: &AppState, kind: &'static str, compact: &str) {
    let Ok(decoded) = entra_jose::decode_unverified(compact) else {
        return;
    };
    let event = TokenEvent {
        time: st.now(),
        kind,
        kid: decoded.header_str("kid").unwrap_or_default().to_string(),
        claims: Value::Object(decoded.claims),
    };
    let mut ring = st.dashboard.tokens.lock().expect("dashboard lock");
    if ring.len() >= KEPT {
        ring.pop_front();
    }
    ring.push_back(event);
}

/// The newest `n` events, newest first.
pub(crate) fn recent(st: &AppState, n: usize) -> Vec<TokenEvent> {
    let ring = st.dashboard.tokens.lock().expect("dashboard lock");
    ring.iter().rev().take(n).cloned().collect()
}
