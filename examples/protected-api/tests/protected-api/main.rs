//! The example API with real emulator tokens: the router driven with `tower::oneshot`,
//! and the binary once over loopback.
//!
//! One binary, a module per area; `common` holds the settings, the calls and the
//! development identities (from `entra_testkit::dev`) the modules share.

mod binary;
mod common;
mod router;
