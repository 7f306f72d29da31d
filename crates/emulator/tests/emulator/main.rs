//! Integration tests: a real emulator on a loopback port, spoken to over HTTPS with
//! reqwest, trusting the CA it wrote. Grouped by area; each test starts its own emulator
//! so clock moves and faults never leak between tests. One module per area; `common` holds
//! the harness wrapper and the development identities (from `entra_testkit::dev`).

mod arm;
mod bodies;
mod browser_guard;
mod client_credentials;
mod common;
mod dashboard;
mod discovery;
mod fabric;
mod graph;
mod key_rollover;
mod keyvault;
mod managed_identity;
mod operations;
mod powerbi;
mod proxy;
mod request_recorder;
mod user_flows;
