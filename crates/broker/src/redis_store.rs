//! Fleet mode over a real Redis: [`RedisStore`] implements [`SharedStore`](crate::store::SharedStore).
//!
//! What it keeps in Redis:
//!
//! - tokens under `{prefix}:token:{identity}:{h}`, where `h` is the first 32 hex digits
//!   of SHA-256 of the canonical scope key. The value is `stamp || nonce || ciphertext ||
//!   tag`: `stamp` is the token's `fetched_at` as 20 ASCII digits, then the JSON of
//!   [`Stored`](crate::store::Stored) sealed with AES-256-GCM (a random 96-bit nonce per write; the Redis key
//!   name and the stamp as associated data, so a value copied under another key, or
//!   given another stamp, does not open). The Redis TTL is the token's remaining
//!   lifetime. A save is a script that keeps a stored token fetched later than the one
//!   being saved (newer wins), so a replica that fetched slowly cannot replace a
//!   fresher token with an older one.
//! - the encryption key can be rotated: [`RedisOptions::previous_keys`] still open
//!   values sealed before the change; every write uses the current key.
//! - single-flight locks under `{prefix}:lock:{identity}:{h}`: `SET NX PX` (in a script
//!   that makes a retry idempotent) with a random UUID as the value, released by a
//!   compare-and-delete script.
//! - purge notices on the pub/sub channel `{prefix}:purge` (the identity's name, then a
//!   newline and its purge generation), and the generations in the hash
//!   `{prefix}:purge-generations` (identity → count of purges). A replica that was
//!   unsubscribed (Redis restarted, a network cut) compares the hash with what it saw
//!   before when it subscribes again, and drops the tokens of every identity purged
//!   meanwhile, so a purge is not lost to a replica that was away.
//!
//! Every command is bounded by [`RedisOptions::op_timeout`]; the connection is made
//! lazily, retried without waiting (a dead server fails a call at once rather than
//! stalling it), and remade by itself when the server comes back.
//!
//! Single-node Redis (or a primary behind a proxy) only: the keys carry no hash tag and
//! [`SharedStore::purge`](crate::store::SharedStore::purge) uses `SCAN`, which sees one node; Redis Cluster is not
//! supported. TLS (`rediss://`) goes over rustls, trusting the system's roots or
//! [`RedisOptions::ca_file`].

mod client;
mod lock;
mod options;
mod pubsub;
mod redact;
mod seal;

pub use client::RedisStore;
pub use options::{EncryptionKey, RedisOptions};
