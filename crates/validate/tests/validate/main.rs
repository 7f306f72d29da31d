//! entra-validate integration tests, grouped by area.

mod common;
mod emulator;
mod hardening;
mod middleware;
mod rfc7520;
