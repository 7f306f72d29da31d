//! An opt-in request recorder: what clients send to the token, device-code, authorize and
//! managed-identity endpoints, kept in a bounded ring buffer and read back through the
//! admin API (`GET /admin/requests`, `DELETE /admin/requests` clears it).
//!
//! Off unless [`Options::record_requests`](crate::Options::record_requests) is above 0
//! (`entra emulator --record-requests N`). Nothing secret is kept: client secrets,
//! passwords, codes, refresh tokens, device codes, user assertions, PKCE verifiers and
//! the identity headers are replaced by [`REDACTED`]; a client assertion is kept only as
//! its decoded header and claims (never its signature, so it cannot be replayed). The
//! records never go to the log. `docs/request-parity.md` compares MSAL Python's requests
//! with entra-identity's through it.

mod http;
pub(crate) mod ring;

pub(crate) use http::{capture, router};
