//! Managed identity: tokens from the Azure host the code runs on. [`ManagedIdentityCredential`]
//! (its docs have the table of hosts), one file per host beneath.

mod app_service;
mod arc;
mod cloud_shell;
mod credential;
mod detect;
mod host;
mod id;
mod imds;
mod pinned_tls;
mod response;
mod service_fabric;

pub use credential::{ManagedIdentityCredential, ManagedIdentityOptions};
pub use detect::ManagedIdentityEndpoint;
pub use host::ManagedIdentityHost;
pub use id::ManagedIdentityId;
pub use imds::ImdsRetryPolicy;

#[cfg(test)]
mod tests;
