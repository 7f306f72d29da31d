//! Key Vault's error answer: `{"error":{"code","message"[,"innerError":{"code"}]}}`, and
//! the 401 challenge with its `WWW-Authenticate` header.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One refusal of the local Key Vault.
#[derive(Debug)]
pub(crate) struct KvError {
    status: StatusCode,
    code: &'static str,
    message: String,
    inner: Option<&'static str>,
    challenge: Option<String>,
}

impl KvError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            inner: None,
            challenge: None,
        }
    }

    /// 401 `Unauthorized` with the challenge (`authority`, `resource`) that tells a client
    /// where to get a token.
    pub(crate) fn unauthorized(message: &str, authority: &str, resource: &str) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message);
        e.challenge = Some(format!(
            "Bearer authorization=\"{authority}\", resource=\"{resource}\""
        ));
        e
    }

    /// 403 `Forbidden` / `ForbiddenByRbac`: the caller holds no role allowing `action`.
    pub(crate) fn forbidden_by_rbac(caller: &str, action: &str, vault: &str) -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "Caller is not authorized to perform action on resource.\r\nIf role assignments were recently changed, please wait several minutes for role assignments to become effective.\r\nCaller: {caller}\r\nAction: '{action}'\r\nResource: '/vaults/{vault}'\r\nAssignment: (not found)\r\nVault: {vault}"
            ),
        );
        e.inner = Some("ForbiddenByRbac");
        e
    }

    /// 403 `Forbidden` / `SecretDisabled`: reading the value of a disabled secret.
    pub(crate) fn secret_disabled() -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
        );
        e.inner = Some("SecretDisabled");
        e
    }

    /// 403 for a browser's request or a foreign `Host`.
    pub(crate) fn refused_request() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The local Key Vault refuses browser requests and unknown hosts.",
        )
    }

    /// 404 `SecretNotFound`.
    pub(crate) fn secret_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            format!(
                "A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
            ),
        )
    }

    /// 404 `CertificateNotFound`.
    pub(crate) fn certificate_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "CertificateNotFound",
            format!("A certificate with (name/id) {name} was not found in this key vault."),
        )
    }

    /// 403 for a write to a certificate's managed secret.
    pub(crate) fn managed_secret(name: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("Secret {name} is managed by a certificate: change the certificate instead."),
        )
    }

    /// 404 `SecretNotFound` for a deleted secret that is not there.
    pub(crate) fn deleted_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            format!("Deleted Secret not found: {name}"),
        )
    }

    /// 404 for a vault this emulator does not hold.
    pub(crate) fn vault_not_found(vault: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "VaultNotFound",
            format!("No vault named {vault} in this directory."),
        )
    }

    /// 409 `Conflict`: a secret of that name is deleted but recoverable.
    pub(crate) fn conflict_deleted(name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."
            ),
        )
    }

    /// 409 `Conflict`: a certificate import over a secret of the same name.
    pub(crate) fn conflict_secret(name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "A secret named {name} exists and is not a certificate's: a certificate cannot take its name."
            ),
        )
    }

    /// 400 `BadParameter`.
    pub(crate) fn bad_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadParameter", message)
    }
}

impl IntoResponse for KvError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(inner) = self.inner {
            error["innerError"] = serde_json::json!({ "code": inner });
        }
        let body = serde_json::json!({ "error": error }).to_string();
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(v) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}
