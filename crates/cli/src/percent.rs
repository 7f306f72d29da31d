//! Percent-encoding of one URL path segment (RFC 3986): everything but the unreserved
//! characters (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`. Forms go through
//! `entra_identity::http::form_post` (serde_urlencoded) instead.

/// `s` percent-encoded, every byte outside the unreserved set as `%XX`.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
