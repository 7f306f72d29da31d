//! Why a token was refused: [`ValidationError`], with a stable machine [`code`] and the
//! HTTP answer it maps to ([`status`], the RFC 6750 [`oauth_error`]).
//!
//! Messages never contain the token, and never echo header or claim values an attacker
//! chose (they end up in `WWW-Authenticate` and in logs).
//!
//! [`code`]: ValidationError::code
//! [`status`]: ValidationError::status
//! [`oauth_error`]: ValidationError::oauth_error

use crate::token::version::TokenVersion;

/// What the bearer looked like when it was not a JWT at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotAJwt {
    /// An Entra authorization code (`0.A...`, `1.A...`, `OAQAB...`) or any dot-free string:
    /// the classic mistake of sending the code instead of redeeming it.
    AuthorizationCode,
    /// Five dot-separated parts: an encrypted token (JWE), which an API cannot read.
    Encrypted,
    /// Something else (an opaque token from another provider, a refresh token...).
    Opaque,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// No `Authorization: Bearer` header (RFC 6750 §3.1: no error code is sent).
    #[error("no bearer token: send `Authorization: Bearer <access token>`")]
    Missing,
    /// The bearer is not a JWT.
    #[error("{}", not_a_jwt_text(*.0))]
    NotAJwt(NotAJwt),
    /// The token is larger than the configured maximum.
    #[error("the token is larger than {max} bytes")]
    TooLarge {
        /// The configured maximum.
        max: usize,
    },
    /// Not three parts of strict base64url JSON, or a required member has the wrong type.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// A JSON object in the header or payload has the same member twice.
    #[error("malformed token: duplicate JSON member in the {0}")]
    DuplicateMember(&'static str),
    /// The header or payload nests deeper than the limit.
    #[error("malformed token: the {0} nests too deeply")]
    TooDeep(&'static str),
    /// `alg` is `none` (in any casing): an unsigned token.
    #[error("unsigned token (alg none) refused")]
    AlgNone,
    /// `alg` is an HMAC algorithm: never checked with a public key.
    #[error(
        "HMAC-signed token refused: this API only accepts tokens signed by the issuer's RSA keys"
    )]
    AlgHmac,
    /// `alg` is not in the configured allow-list.
    #[error("signature algorithm not accepted by this API")]
    AlgNotAllowed,
    /// The header has no `kid` (or an unusable one).
    #[error("the token header has no usable kid")]
    KidMissing,
    /// The header lists a `crit` extension this validator does not understand.
    #[error("the token header marks an unsupported extension as critical")]
    CritUnsupported,
    /// No key with the token's `kid` in the issuer's key set (after any refresh allowed).
    #[error("the token was signed with a key the issuer does not publish (unknown kid)")]
    UnknownKey,
    /// The key exists but does not fit the token (its type, `alg` or `use` disagree).
    #[error("the signing key does not fit the token's algorithm")]
    KeyMismatch,
    /// The issuer's keys could not be fetched and none are cached.
    #[error("the issuer's signing keys are unavailable: {0}")]
    KeysUnavailable(String),
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// `exp` is in the past (beyond the allowed clock skew).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the allowed clock skew).
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    /// `iat` is in the future (beyond the allowed clock skew).
    #[error("the token was issued in the future (iat)")]
    IssuedInFuture,
    /// `tid` is missing or not a GUID.
    #[error("the token's tid is not a tenant id (GUID)")]
    BadTenantId,
    /// The token's tenant is not one this API accepts.
    #[error("tokens from this tenant are not accepted")]
    TenantNotAllowed,
    /// `iss` is not the issuer expected for the token's tenant and version, or the
    /// signing key is bound to another issuer.
    #[error("the token's issuer is not trusted")]
    WrongIssuer,
    /// The issuer names an Entra tenant (`https://login.microsoftonline.com/{tenant}/v2.0`,
    /// `https://sts.windows.net/{tenant}/`) and the token's `tid` is another one
    /// (checked in exact-issuer mode, where `iss` alone is compared).
    #[error("the token's tid is not the tenant its issuer names")]
    IssuerTenantMismatch,
    /// `aud` is not this API. The message lists the audiences the API accepts (its
    /// configuration, not a secret), so a caller sees which one to ask for; the token's
    /// own `aud` goes to a `debug` log line, not into the answer.
    #[error("{}; this API accepts {}", wrong_audience_text(*.for_graph), accepted_list(accepted))]
    WrongAudience {
        /// The token is for Microsoft Graph (a very common mistake).
        for_graph: bool,
        /// The audiences the API accepts ([`ValidatorConfigBuilder::audience`](crate::ValidatorConfigBuilder::audience)).
        accepted: Vec<String>,
    },
    /// The token's version (`ver`) is not accepted.
    #[error("a {} token was sent to an API that accepts only {accepted}", .found.map_or("token without a known ver claim", |v| v.label()))]
    WrongVersion {
        /// What the token says (`None` when `ver` is missing or unknown).
        found: Option<TokenVersion>,
        /// What the API accepts, for the message.
        accepted: &'static str,
    },
    /// An ID token was sent where an access token is needed.
    #[error(
        "this is an ID token: call the API with an access token for it (request a scope of the API)"
    )]
    IdToken,
    /// The calling application (`azp`/`appid`) is not on the allow-list.
    #[error("the calling application is not allowed to use this API")]
    ClientNotAllowed,
    /// The token lacks every scope and role that would grant access.
    #[error("insufficient permissions: {description}")]
    InsufficientScope {
        /// Scopes that would grant access (space-separated in `WWW-Authenticate`).
        scopes: Vec<String>,
        /// App roles that would grant access.
        roles: Vec<String>,
        /// What is missing, in words.
        description: String,
    },
    /// The token lacks claims the API requires: a Conditional Access authentication
    /// context (`acrs`), or it was issued before the API revoked its subject's tokens.
    /// Answered with a claims challenge (401 `insufficient_claims`) that MSAL and
    /// entrakit clients turn into a new token (the user steps up, or signs in again).
    #[error("{description}: get a new token with the claims in this challenge")]
    InsufficientClaims {
        /// What is missing, in words.
        description: String,
        /// The claims request, as JSON, e.g.
        /// `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`.
        claims: String,
    },
    /// The API requires a tenant header and the request has none.
    #[error("the request has no {0} header")]
    TenantHeaderMissing(String),
    /// The tenant header names another tenant than the token's `tid`.
    #[error("the {0} header does not match the token's tenant")]
    TenantHeaderMismatch(String),
}

fn not_a_jwt_text(kind: NotAJwt) -> &'static str {
    match kind {
        NotAJwt::AuthorizationCode => {
            "this looks like an authorization code: exchange it at the token endpoint first"
        }
        NotAJwt::Encrypted => {
            "this is an encrypted token (JWE): the API needs a signed access token issued for it"
        }
        NotAJwt::Opaque => {
            "the bearer is not a JWT: send an Entra access token issued for this API (an authorization code must be exchanged at the token endpoint first)"
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
fn accepted_list(accepted: &[String]) -> String {
    match accepted {
        [] => "no audience".to_string(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn wrong_audience_text(for_graph: bool) -> &'static str {
    if for_graph {
        "this token is for Microsoft Graph, not this API: request a scope of this API (e.g. api://<app id>/.default)"
    } else {
        "the token was issued for another audience"
    }
}

impl ValidationError {
    /// A stable machine-readable code (safe to branch on and to log).
    pub fn code(&self) -> &'static str {
        use ValidationError as E;
        match self {
            E::Missing => "token_missing",
            E::NotAJwt(NotAJwt::AuthorizationCode) => "authorization_code",
            E::NotAJwt(NotAJwt::Encrypted) => "encrypted_token",
            E::NotAJwt(_) => "not_a_jwt",
            E::TooLarge { .. } => "token_too_large",
            E::Malformed(_) => "malformed",
            E::DuplicateMember(_) => "duplicate_member",
            E::TooDeep(_) => "too_deep",
            E::AlgNone => "alg_none",
            E::AlgHmac => "alg_hmac",
            E::AlgNotAllowed => "alg_not_allowed",
            E::KidMissing => "kid_missing",
            E::CritUnsupported => "crit_unsupported",
            E::UnknownKey => "unknown_key",
            E::KeyMismatch => "key_mismatch",
            E::KeysUnavailable(_) => "keys_unavailable",
            E::BadSignature => "bad_signature",
            E::Expired => "expired",
            E::NotYetValid => "not_yet_valid",
            E::IssuedInFuture => "issued_in_future",
            E::BadTenantId => "bad_tenant_id",
            E::TenantNotAllowed => "tenant_not_allowed",
            E::WrongIssuer => "wrong_issuer",
            E::IssuerTenantMismatch => "issuer_tenant_mismatch",
            E::WrongAudience { .. } => "wrong_audience",
            E::WrongVersion { .. } => "wrong_version",
            E::IdToken => "id_token",
            E::ClientNotAllowed => "client_not_allowed",
            E::InsufficientScope { .. } => "insufficient_scope",
            E::InsufficientClaims { .. } => "insufficient_claims",
            E::TenantHeaderMissing(_) => "tenant_header_missing",
            E::TenantHeaderMismatch(_) => "tenant_header_mismatch",
        }
    }

    /// The HTTP status an API should answer with.
    ///
    /// 401 for a missing, malformed, expired or untrusted token (the client should get a
    /// new one); 403 when the token is good but does not grant access (scopes, roles, a
    /// disallowed client, a tenant header naming another tenant); 400 for a missing
    /// tenant header; 503 when the issuer's keys cannot be fetched (not the client's
    /// fault: a 401 would only make it fetch new tokens in a loop).
    pub fn status(&self) -> http::StatusCode {
        use ValidationError as E;
        match self {
            E::InsufficientScope { .. } | E::ClientNotAllowed | E::TenantHeaderMismatch(_) => {
                http::StatusCode::FORBIDDEN
            }
            E::TenantHeaderMissing(_) => http::StatusCode::BAD_REQUEST,
            E::KeysUnavailable(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 `error` value, or `None` for a missing token (RFC 6750 §3.1: a
    /// request without credentials gets a bare challenge) and for key outages.
    pub fn oauth_error(&self) -> Option<&'static str> {
        use ValidationError as E;
        match self {
            E::Missing | E::KeysUnavailable(_) => None,
            E::TenantHeaderMissing(_) => Some("invalid_request"),
            E::InsufficientClaims { .. } => Some("insufficient_claims"),
            E::InsufficientScope { .. } | E::ClientNotAllowed | E::TenantHeaderMismatch(_) => {
                Some("insufficient_scope")
            }
            _ => Some("invalid_token"),
        }
    }
}
