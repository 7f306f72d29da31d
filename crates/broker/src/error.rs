//! The broker's errors (setup and lifecycle; per-request failures become protocol
//! responses, see [`crate::protocol`]).

/// Why the broker could not start, reload or purge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The configuration is wrong (the message names the table and field).
    #[error("configuration: {0}")]
    Config(String),
    /// A listener or file could not be opened.
    #[error("{0}")]
    Io(String),
    /// An upstream identity could not be built.
    #[error("identity {name:?}: {source}")]
    Identity {
        /// The identity.
        name: String,
        /// Why.
        source: entra_identity::Error,
    },
    /// The fleet store failed.
    #[error("redis: {0}")]
    Store(#[from] crate::store::StoreError),
}
