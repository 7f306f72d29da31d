//! # entra-broker
//!
//! A central token service that speaks the managed-identity wire protocols, so apps
//! using an Azure SDK or MSAL get tokens from it unchanged, anywhere: on-premises hosts,
//! CI runners, other clouds, laptops. It holds the real credentials (entra-identity);
//! callers hold only a per-caller secret, or for IMDS nothing but their local uid.
//!
//! - **Protocols** ([`protocol`]): IMDS, App Service 2019-08-01 and 2017-09-01, Cloud
//!   Shell, and a native JSON API taking scopes; every response shaped as each
//!   protocol's clients parse it.
//! - **Policy** ([`policy`]): which identities, resources and scopes each caller may
//!   have; a refusal is a 403 in the protocol's error shape and an audit line.
//! - **Cache** ([`cache`]): shared by every caller, single-flight, renewed in the
//!   background ahead of expiry for tokens that have callers, stale-but-valid tokens
//!   served while Entra fails, purge per identity.
//! - **Fleet mode** ([`store`], [`redis_store`]): replicas share tokens (AES-256-GCM
//!   encrypted) and a lock through Redis, so a fleet asks Entra once per token; without
//!   Redis each replica carries on alone.
//! - **Observability**: an audit log of JSON lines ([`audit`]), Prometheus `/metrics`
//!   ([`metrics`]), `/healthz`, `/readyz`.
//! - **Browsers** ([`browser_guard`]): a `Host` that does not name the broker is refused
//!   on every route, and `Origin`/`Sec-Fetch-*` on IMDS and Cloud Shell, so a web page
//!   (DNS rebinding) never gets a token.
//! - **Lifecycle** ([`server`]): graceful shutdown, reload without dropping the cache.
//!
//! ```no_run
//! # async fn demo() -> Result<(), entra_broker::BrokerError> {
//! let config = entra_broker::BrokerConfig::from_file("broker.toml".as_ref())?;
//! let broker = entra_broker::start(config, Default::default()).await?;
//! println!("IDENTITY_ENDPOINT={}", broker.identity_endpoint());
//! # broker.shutdown().await; Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod audit;
pub mod browser_guard;
pub mod cache;
pub mod config;
pub mod error;
pub mod fleet;
pub mod metrics;
pub mod peer;
pub mod policy;
pub mod protocol;
pub mod redis_store;
pub mod server;
pub mod state;
pub mod store;
pub mod unix_socket;
pub mod upstream;

pub use config::{BrokerConfig, CallerConfig, IdentityConfig, IdentityKind};
pub use error::BrokerError;
pub use server::{RunningBroker, StartOptions, start};
