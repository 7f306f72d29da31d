//! Strict, bounded parsing of a compact JWS before any key is looked up: [`parse_token`].
//!
//! Strict means: exactly three parts; base64url without padding and without non-zero
//! trailing bits (one spelling per token); JSON objects with no duplicate member at any
//! depth (serde_json would silently keep the last one, and a second parser could keep
//! the first); nesting at most [`MAX_JSON_DEPTH`]; `alg` `none` (any casing) and HMAC
//! refused here, before a key is ever touched; `kid` required and bounded; any `crit`
//! refused (this validator implements no JWS extension). `jku`, `x5u`, `jwk` and `x5c`
//! are ignored: keys only ever come from the configured issuer's JWKS.

mod base64;
pub(crate) mod claims;
mod header;
mod json_error;
mod parse;
mod payload;
pub(crate) mod version;

pub use crate::json::MAX_JSON_DEPTH;
pub use claims::{Audience, Claims, is_guid};
pub use header::{Header, MAX_KID_LEN};
pub(crate) use json_error::check_json;
pub(crate) use parse::parse_token_reserving;
pub use parse::{ParsedToken, classify_non_jwt, parse_token};
pub use version::TokenVersion;

#[cfg(test)]
mod tests;
