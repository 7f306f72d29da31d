//! [`FetchError`]: why no token could be had.

use entra_identity::Error as IdentityError;

/// Why no token could be had.
#[derive(Debug, Clone)]
pub(crate) enum FetchError {
    /// The authority refused (wrong secret, unknown resource, no permission): a 4xx.
    Rejected {
        /// OAuth error code (`invalid_client`, `invalid_resource`, ...).
        error: String,
        /// Its description (AADSTS code and text).
        description: String,
    },
    /// The authority could not be reached or failed (5xx, 429, timeout): retry later.
    Unavailable(String),
    /// The request needed a new (identity, scopes) slot, the cache holds `max` and every
    /// one has a request in flight or waiting: retry later.
    CacheFull {
        /// `[broker] max_tokens`.
        max: usize,
    },
}

impl FetchError {
    pub(super) fn from_identity(e: &IdentityError) -> Self {
        match e {
            IdentityError::Entra(r) if r.status < 500 && r.status != 429 => FetchError::Rejected {
                error: r.error.clone(),
                description: r.description.clone(),
            },
            IdentityError::Config(m) => FetchError::Rejected {
                error: "invalid_request".into(),
                description: m.clone(),
            },
            other => FetchError::Unavailable(other.to_string()),
        }
    }

    /// One line for logs and audit.
    pub(crate) fn summary(&self) -> String {
        match self {
            FetchError::Rejected { error, description } => {
                let first = description.lines().next().unwrap_or("");
                format!("{error}: {first}")
            }
            FetchError::Unavailable(m) => m.clone(),
            FetchError::CacheFull { max } => format!(
                "the token cache is full: it holds max_tokens ({max}) and every one has a request in flight"
            ),
        }
    }
}
