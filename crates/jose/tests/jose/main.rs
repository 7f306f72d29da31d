//! entra-jose's integration tests, one binary: Project Wycheproof's ECDSA and Ed25519
//! vectors through the JWK path a validator takes. (The RSA vectors are entra-rsa's,
//! in crates/rsa/tests/rsa/wycheproof.rs; the unit tests are in src/lib.rs.)

mod wycheproof;
