//! Public clients acting for a user: [`PublicClient`] signs users in (authorization code
//! with PKCE through a one-shot loopback listener, or device code), remembers their
//! accounts and refresh tokens, and gets tokens silently afterwards: a fresh cached access
//! token, else the refresh token (for any scope of the client, in any allowed tenant;
//! the rotated refresh token is stored every time), else an error saying the user must
//! interact ([`Error::needs_interaction`]).
//!
//! [`InteractiveBrowserCredential`] and [`DeviceCodeCredential`] wrap a [`PublicClient`]
//! as [`TokenCredential`]s that sign in when silent acquisition cannot work.
//!
//! Accounts are keyed by `home_account_id` = `uid.utid` from `client_info` (MSAL's key).
//! They and their refresh tokens live behind the crate-internal `AccountStore` trait: in
//! memory, or, with [`ClientOptions::persistent_cache`], in an MSAL-schema cache file
//! ([`crate::persist`]) that also keeps ID tokens and access tokens, so that a later
//! process signs in silently without a single request while a cached access token is
//! fresh. The in-memory [`TokenCache`] stays in front of the file; the file is read on a
//! miss (on tokio's blocking pool) and written after every token answer.

mod authorities;
mod client;
mod device;
mod id_token;
mod interactive;
mod loopback;
mod memory_store;

pub(crate) use authorities::Authorities;
pub use client::{PublicClient, SignIn};
pub use device::{DeviceCodeCallback, DeviceCodeCredential, DeviceCodeInfo};
pub use interactive::{
    InteractiveBrowserCredential, InteractiveOptions, RedirectHost, UrlCallback,
};

#[cfg(test)]
mod tests;
