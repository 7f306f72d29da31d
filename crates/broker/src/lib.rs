//! # entra-broker
//!
//! A central token service that speaks the managed-identity wire protocols (work in
//! progress: the store interface comes first).

#![warn(missing_docs)]

pub mod redis_store;
pub mod store;
