//! entra-validate integration tests, grouped by area.

mod algorithms;
mod common;
mod emulator;
mod hardening;
mod middleware;
mod review;
mod rfc7520;
mod rsa_backend;
