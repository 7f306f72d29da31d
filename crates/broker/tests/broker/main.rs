//! entra-broker integration tests, one binary grouped by area, sharing `common` (the
//! emulator-backed configuration helpers) and `common::redis` (a real redis-server per
//! test, found through entra-testkit).

mod api;
mod browser;
mod common;
mod fleet;
mod hardening;
mod logs;
mod redis_store;
