//! entra-rsa's integration tests, one binary: the differential tests against a slow
//! reference and aws-lc, the long randomized soak (scripts/test runs it with
//! `ENTRA_RSA_DIFF_ROUNDS=100`) and Project Wycheproof's vectors. `common` holds the
//! reproducible generator, the reference arithmetic and the CPU check they share.
//!
//! One area: `cargo nextest run -p entra-rsa -E 'test(/^soak::/)'`.

mod common;
mod differential;
mod soak;
mod wycheproof;
