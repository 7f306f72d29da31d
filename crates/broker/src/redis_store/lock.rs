//! The fleet's single-flight lock: `SET NX PX` under `{prefix}:lock:{identity}:{h}` with
//! a random UUID as the value, released by compare-and-delete. Both are scripts, so a
//! retry after a lost reply is safe.

use redis::Script;

/// `SET NX PX`, except that a lock already holding our value counts as taken: a retry
/// after a lost reply then finds the lock it took rather than "held by someone else".
pub(super) const LOCK_SCRIPT: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return 1
end
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
    return 1
end
return 0
"#;

/// Compare-and-delete: releases a lock only if it still holds our value.
pub(super) const UNLOCK_SCRIPT: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
end
return 0
"#;

/// The lock and unlock scripts, loaded once per store.
pub(super) struct LockScripts {
    /// [`LOCK_SCRIPT`].
    pub(super) lock: Script,
    /// [`UNLOCK_SCRIPT`].
    pub(super) unlock: Script,
}

impl LockScripts {
    pub(super) fn new() -> Self {
        Self {
            lock: Script::new(LOCK_SCRIPT),
            unlock: Script::new(UNLOCK_SCRIPT),
        }
    }
}

/// A fresh lock value: a random UUID, so only its taker releases it.
pub(super) fn lock_value() -> String {
    uuid::Uuid::new_v4().to_string()
}
