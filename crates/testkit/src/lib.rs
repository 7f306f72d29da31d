//! entrakit's test kit: not for production, never published.
//!
//! - [`Harness`] starts an emulator on a loopback port in a fresh temporary directory
//!   and talks to its admin API ([`Admin`]).
//! - [`Browser`] plays the user's browser on the sign-in, MFA, consent and device-code
//!   pages ([`sign_in`], [`enter_device_code`]).
//! - [`dev`] names the identities of the emulator's embedded development directory.
//! - [`tools`] finds the repository, its Python venv and `redis-server` at run time.
//! - [`run_msal_cache_interop`] runs MSAL Python against the emulator.
//!
//! Everything here panics on failure, as a test wants. `entra demo` does not use it: it
//! has a driver of its own that reports failures as values.

mod browser;
pub mod dev;
mod harness;
mod interop;
pub mod tools;

pub use browser::{Browser, enter_device_code, field, query_param, sign_in};
pub use harness::{Admin, Harness, client_trusting};
pub use interop::run_msal_cache_interop;
pub use tools::{python, repo_root};
