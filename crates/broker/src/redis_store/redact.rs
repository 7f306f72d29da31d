//! What the store says about Redis, without secrets: URLs without their password,
//! errors without anything from the command or the reply.

use redis::{ErrorKind, RedisError};

/// The URL with any password replaced.
pub(super) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:[redacted]@{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at + 1..]
        ),
        // A user name alone.
        None => url.to_owned(),
    }
}

/// What went wrong, without anything from the command (so never a token or password).
pub(super) fn error_text(e: &RedisError) -> String {
    if e.is_connection_refusal() {
        "connection refused".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else if matches!(e.kind(), ErrorKind::Parse | ErrorKind::UnexpectedReturnType) {
        // Conversion errors may quote the reply.
        format!("unexpected reply ({})", e.category())
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("redis://user:hunter2@cache:6379/1"),
            "redis://user:[redacted]@cache:6379/1"
        );
        assert_eq!(
            redact_url("redis://:hunter2@cache"),
            "redis://:[redacted]@cache"
        );
        assert_eq!(redact_url("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(redact_url("redis://cache/0?x=a@b"), "redis://cache/0?x=a@b");
    }
}
