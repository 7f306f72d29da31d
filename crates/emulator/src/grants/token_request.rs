//! One token request as every grant sees it: the state, the directory snapshot, the
//! tenant segment, the parsed form, and the v1/v2 flavour.

use axum::http::HeaderMap;

use crate::directory::Directory;
use crate::errors::EntraError;
use crate::request::Form;
use crate::state::AppState;

/// A token request being answered (built by the endpoint, read by each grant).
pub(super) struct TokenRequest<'a> {
    pub(super) st: &'a AppState,
    pub(super) dir: &'a Directory,
    pub(super) tenant: &'a str,
    pub(super) headers: &'a HeaderMap,
    pub(super) form: &'a Form,
    pub(super) v1: bool,
    pub(super) base: String,
    pub(super) now: i64,
}

impl TokenRequest<'_> {
    /// The raw `scope` (v2), or `resource` turned into `<resource>/.default` plus any
    /// `scope` (v1).
    pub(super) fn scopes_raw(&self) -> Result<String, EntraError> {
        if self.v1 {
            let resource = self.form.get("resource");
            let scope = self.form.get("scope").unwrap_or("");
            Ok(match resource {
                Some(r) => format!("{}/.default {}", r.trim_end_matches('/'), scope),
                None => scope.to_string(),
            })
        } else {
            self.form.need("scope").map(str::to_string)
        }
    }
}
