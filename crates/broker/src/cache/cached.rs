//! [`Cached`]: a token as the cache holds it, and where an answer came from
//! ([`Source`]).

use entra_identity::Secret;

use crate::store::Stored;

/// A cached token.
pub(crate) struct Cached {
    /// The token.
    pub token: Secret,
    /// Expiry, unix seconds.
    pub expires_on: i64,
    /// When the background refresher renews it, unix seconds.
    pub refresh_at: i64,
    /// When it was obtained, unix seconds.
    pub fetched_at: i64,
    /// For audit lines.
    pub token_id: String,
    /// The client id it was issued to, when known.
    pub client_id: Option<String>,
    /// Whether the token can be written into JSON as is (base64url and dots, as every
    /// JWT): then answers copy it without an escaping pass.
    pub json_safe: bool,
}

/// Whether `token` needs no JSON escaping.
pub(crate) fn json_safe(token: &str) -> bool {
    token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("expires_on", &self.expires_on)
            .field("refresh_at", &self.refresh_at)
            .field("token_id", &self.token_id)
            .finish()
    }
}

impl Cached {
    pub(super) fn to_stored(&self) -> Stored {
        Stored {
            token: self.token.expose().to_string(),
            expires_on: self.expires_on,
            refresh_at: self.refresh_at,
            fetched_at: self.fetched_at,
            token_id: self.token_id.clone(),
            client_id: self.client_id.clone(),
        }
    }

    pub(super) fn from_stored(s: &Stored) -> Self {
        Self {
            token: s.secret(),
            expires_on: s.expires_on,
            refresh_at: s.refresh_at,
            fetched_at: s.fetched_at,
            token_id: s.token_id.clone(),
            client_id: s.client_id.clone(),
            json_safe: json_safe(&s.token),
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Memory.
    Hit,
    /// Upstream, just now (this request waited for it, or shared a fetch in flight).
    Miss,
    /// Another replica's fetch, read from the shared store.
    Fleet,
    /// A still-valid token served because upstream failed.
    Stale,
}

impl Source {
    /// Its name in audit lines.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Hit => "hit",
            Source::Miss => "miss",
            Source::Fleet => "fleet",
            Source::Stale => "stale",
        }
    }
}
