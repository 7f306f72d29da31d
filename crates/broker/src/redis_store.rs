//! Fleet mode over a real Redis: [`RedisStore`] implements
//! [`SharedStore`](crate::store::SharedStore). What it keeps in Redis, and how, is
//! documented on [`RedisStore`].

mod client;
mod lock;
mod options;
mod pubsub;
mod redact;
mod seal;

pub use client::RedisStore;
pub use options::{EncryptionKey, RedisOptions};
