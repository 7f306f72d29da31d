//! Signing keys: [`parse_jwks`] (bounded, strict about what it accepts) and
//! [`JwksCache`], which finds an issuer's JWKS through OIDC discovery and keeps it fresh.
//!
//! The cache holds one key set per *key scope*: a tenant (`{authority}/{tenant}/v2.0/
//! .well-known/openid-configuration`), `common` for multi-tenant APIs, or the one
//! configured JWKS URL or static set. Per scope:
//!
//! - fetches are single-flight: while one task fetches, the others wait for its result
//!   (1000 validations on a cold cache cost one discovery and one JWKS request);
//! - an unknown `kid` triggers a refresh at most once per
//!   [`unknown_kid_interval`](JwksSettings::unknown_kid_interval) (5 minutes), so a
//!   stream of forged `kid`s cannot turn the API into a request amplifier;
//! - a background task refreshes every [`background_interval`](JwksSettings::background_interval)
//!   (plus or minus up to 10%, so that replicas started together spread out);
//! - a failed fetch (network, HTTP error, unparsable or empty set) keeps the
//!   last-known-good set;
//! - a key that leaves the set is marked retired, which evicts every cached validation
//!   made with it.

mod cache;
mod keys;

pub use cache::{JwksCache, JwksSettings, SigningKeySource};
pub use keys::{
    JwksError, KeySet, MAX_JWKS_BYTES, MAX_JWKS_KEYS, TrustedKey, parse_jwks, parse_jwks_with,
};
