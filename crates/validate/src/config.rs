//! [`ValidatorConfig`] and its builder: who may call (tenants, audiences, versions,
//! clients), what they need (scopes, roles), and where the keys come from.
//!
//! Invalid setups are refused by [`ValidatorConfigBuilder::build`] with a
//! [`ConfigError`] that says what to change.

mod authority;
mod builder;
mod env;
mod error;
mod http_client;
mod validator_config;

pub(crate) use authority::issuer_matches;
pub use authority::{Authority, PUBLIC_CLOUD};
pub use builder::ValidatorConfigBuilder;
pub use error::ConfigError;
pub(crate) use validator_config::KeysFrom;
pub use validator_config::{AcceptedVersions, Tenancy, ValidatorConfig};

#[cfg(test)]
mod tests;
