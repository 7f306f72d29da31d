//! entra-identity's integration tests, one binary: every credential against the
//! emulator (or a mock host), the persistent cache, user sign-ins, and what must never
//! leak. Run one area with `cargo nextest run -p entra-identity -E 'test(persist::)'`.

mod common;

#[cfg(unix)]
mod chain;
mod confidential;
mod hygiene;
mod managed_identity;
mod persist;
mod persistent_credentials;
mod request_parity;
mod tls;
mod user_flows;
