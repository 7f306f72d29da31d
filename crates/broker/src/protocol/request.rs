//! Reading requests: query and form parameters, headers, the bearer credential.

use std::borrow::Cow;

use axum::http::HeaderMap;

/// Query parameters, decoded, first occurrence wins, names case-insensitive.
pub(crate) struct Params<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Params<'a> {
    pub(crate) fn parse(q: &'a [u8]) -> Self {
        Self(form_urlencoded::parse(q).collect())
    }
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
            .filter(|v| !v.is_empty())
    }
}

pub(crate) fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(crate) fn metadata_true(headers: &HeaderMap) -> bool {
    header(headers, "metadata").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(crate) fn resource_scopes(resource: &str) -> Vec<String> {
    vec![format!("{resource}/.default")]
}

/// The credentials of `Authorization: Bearer ...` (scheme in any case).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = header(headers, "authorization")?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}
