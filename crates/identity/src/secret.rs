//! [`Secret`]: the one type for every token, client secret, code, verifier and key.
//!
//! `Debug` prints `[redacted]`, there is no `Display`, and the memory is zeroed when the
//! value is dropped. Reading the value takes an explicit [`Secret::expose`] call, which
//! is easy to find in review.

use std::sync::Arc;

use zeroize::Zeroizing;

/// A secret string: tokens, client secrets, authorization codes, PKCE verifiers.
///
/// Cloning shares the value (a reference count, no copy): a cached token handed to many
/// callers exists once in memory and is zeroed when the last holder drops it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<Zeroizing<String>>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::new(Zeroizing::new(value.into())))
    }

    /// The value.
    ///
    /// # Security warning
    /// Everything that holds the returned `&str` can leak it: do not log it, put it in
    /// an error, or keep it longer than the call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Is it empty?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }
}
