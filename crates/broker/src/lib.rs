//! # entra-broker
//!
//! A central token service that speaks the managed-identity wire protocols, so apps
//! using an Azure SDK or MSAL get tokens from it unchanged, anywhere: on-premises hosts,
//! CI runners, other clouds, laptops. It holds the real credentials (entra-identity);
//! callers hold only a per-caller secret, or for IMDS nothing but their local uid.
//!
//! - **Protocols**: IMDS, App Service 2019-08-01 and 2017-09-01, Cloud Shell, and a
//!   native JSON API taking scopes; every response shaped as each protocol's clients
//!   parse it.
//! - **Policy**: which identities, resources and scopes each caller may have; a refusal
//!   is a 403 in the protocol's error shape and an audit line.
//! - **Cache**: shared by every caller, single-flight, renewed in the background ahead of
//!   expiry for tokens that have callers, stale-but-valid tokens served while Entra
//!   fails, purge per identity.
//! - **Fleet mode** ([`SharedStore`], [`RedisStore`]): replicas share tokens (AES-256-GCM
//!   encrypted) and a lock through Redis, so a fleet asks Entra once per token; without
//!   Redis each replica carries on alone.
//! - **Observability**: an audit log of JSON lines, Prometheus `/metrics`, `/healthz`,
//!   `/readyz`.
//! - **Browsers**: a `Host` that does not name the broker is refused on every route, and
//!   `Origin`/`Sec-Fetch-*` on IMDS and Cloud Shell, so a web page (DNS rebinding) never
//!   gets a token.
//! - **Lifecycle** ([`RunningBroker`]): graceful shutdown, reload without dropping the
//!   cache.
//!
//! ```no_run
//! # async fn demo() -> Result<(), entra_broker::BrokerError> {
//! let config = entra_broker::BrokerConfig::from_file("broker.toml".as_ref())?;
//! let broker = entra_broker::start(config, Default::default()).await?;
//! println!("IDENTITY_ENDPOINT={}", broker.identity_endpoint());
//! # broker.shutdown().await; Ok(()) }
//! ```

//!
//! ## What an embedder uses
//! - [`start`] with a [`BrokerConfig`] and [`StartOptions`] runs one; the
//!   [`RunningBroker`] gives its endpoints, reloads and shuts down. [`check`] checks a
//!   configuration completely without listening (`entra broker --check`).
//! - [`BrokerConfig`] is the TOML file ([`BrokerConfig::from_file`],
//!   [`BrokerConfig::from_toml`]) or the same structure built in code: its tables are
//!   [`BrokerSection`], [`ImdsSection`], [`RedisSection`], [`IdentityConfig`] (of an
//!   [`IdentityKind`]) and [`CallerConfig`]; a secret written into the file is an
//!   [`InlineSecret`]. [`generate_secret`] makes a caller secret.
//! - Errors are a [`BrokerError`], with the configuration's problems in [`ConfigError`]
//!   and the operating system's in [`IoError`].
//! - Fleet mode: [`StartOptions::store`] takes any [`SharedStore`] (its items:
//!   [`StoreKey`], [`Stored`], [`LockToken`], [`StoreError`], [`BoxFuture`]);
//!   [`RedisStore`] (with [`RedisOptions`] and an [`EncryptionKey`]) is the one `[redis]`
//!   builds, public for tests and embedders that build it themselves.
//! - [`sock_diag_lookup`] and [`proc_net_tcp_lookup`] (giving a [`Lookup`]) are the two
//!   ways the broker finds the uid of an IMDS caller on loopback, public for the `peer`
//!   benchmark.
//!
//! Everything else (the protocols, policy, cache, audit log, metrics, the browser guard)
//! is internal.
#![warn(missing_docs)]
// Every `pub` item is reachable from the root; the rest is `pub(crate)`.
#![warn(unreachable_pub)]

mod audit;
mod browser_guard;
mod cache;
mod config;
mod error;
mod fleet;
mod metrics;
mod peer;
mod policy;
mod protocol;
mod redis_store;
mod server;
mod state;
mod store;
mod unix_socket;
mod upstream;

pub use config::{
    BrokerConfig, BrokerSection, CallerConfig, IdentityConfig, IdentityKind, ImdsSection,
    InlineSecret, RedisSection,
};
pub use error::{BrokerError, ConfigError, IoError};
pub use peer::{Lookup, proc_net_tcp_lookup, sock_diag_lookup};
pub use policy::generate_secret;
pub use redis_store::{EncryptionKey, RedisOptions, RedisStore};
pub use server::{RunningBroker, StartOptions, check, start};
pub use store::{BoxFuture, LockToken, SharedStore, StoreError, StoreKey, Stored};
