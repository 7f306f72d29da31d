//! Where a finished (or failed) authorize request goes: Entra's redirect-URI matching
//! (loopback ports are free), and the answer as a query, fragment or form_post.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::pages;
use crate::request::Form;
use crate::state::AuthorizeParams;

/// Entra's loopback rule: a registered `http://localhost` (or 127.0.0.1, `[::1]`) matches
/// any port; everything else must match exactly (an empty path equals `/`).
pub(crate) fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let split = |u: &str| -> Option<(String, String, Option<String>, String)> {
        let (scheme, rest) = u.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            let (h, p) = h.split_once(']')?;
            (format!("[{h}]"), p.strip_prefix(':').map(str::to_string))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.to_string())),
                None => (authority.to_string(), None),
            }
        };
        let tail = if tail.is_empty() || tail.starts_with('?') {
            format!("/{tail}")
        } else {
            tail.to_string()
        };
        Some((
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase(),
            port,
            tail,
        ))
    };
    let (Some(r), Some(g)) = (split(registered), split(given)) else {
        return false;
    };
    let loopback = ["localhost", "127.0.0.1", "[::1]"].contains(&r.1.as_str());
    if loopback && r.0 == "http" {
        return g.0 == "http"
            && g.1 == r.1
            && g.3 == r.3
            && g.2.as_deref().is_none_or(|p| p.parse::<u16>().is_ok());
    }
    r.0 == g.0 && r.1 == g.1 && r.2 == g.2 && r.3 == g.3
}

pub(super) fn query_map(raw: Option<&str>) -> Form {
    Form(
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or(""))
            .unwrap_or_default()
            .into_iter()
            .collect(),
    )
}

pub(super) fn redirect_error(
    p: &AuthorizeParams,
    error: &str,
    code: u32,
    message: &str,
) -> Response {
    let desc = format!("AADSTS{code}: {message}");
    let mut fields: Vec<(&str, &str)> = vec![("error", error), ("error_description", &desc)];
    if let Some(s) = &p.state {
        fields.push(("state", s));
    }
    respond(p, &fields)
}

pub(super) fn respond(p: &AuthorizeParams, fields: &[(&str, &str)]) -> Response {
    if p.response_mode == "form_post" {
        return pages::html(StatusCode::OK, pages::form_post(&p.redirect_uri, fields));
    }
    let encoded = serde_urlencoded::to_string(fields).unwrap_or_default();
    let url = if p.response_mode == "fragment" {
        format!("{}#{}", p.redirect_uri, encoded)
    } else if p.redirect_uri.contains('?') {
        format!("{}&{}", p.redirect_uri, encoded)
    } else {
        format!("{}?{}", p.redirect_uri, encoded)
    };
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_any_port() {
        assert!(redirect_matches(
            "http://localhost",
            "http://localhost:53211"
        ));
        assert!(redirect_matches(
            "http://localhost",
            "http://localhost:53211/"
        ));
        assert!(redirect_matches(
            "http://localhost/cb",
            "http://localhost:8400/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1",
            "http://127.0.0.1:1234"
        ));
        assert!(!redirect_matches(
            "http://localhost/cb",
            "http://localhost:8400/other"
        ));
        assert!(!redirect_matches(
            "http://localhost",
            "http://evil.example:80"
        ));
        assert!(!redirect_matches(
            "http://localhost",
            "https://localhost:443"
        ));
        assert!(!redirect_matches(
            "http://localhost",
            "http://localhost:notaport"
        ));
        assert!(redirect_matches(
            "https://localhost/callback",
            "https://localhost/callback"
        ));
        assert!(!redirect_matches(
            "https://localhost/callback",
            "https://localhost:8443/callback"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb/../x"
        ));
    }
}
