//! [`ConfigError`]: what is wrong with a configuration, and what to change.

/// What is wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No audience: every API must say which `aud` it is.
    #[error("no audience: give the API's client id and/or App ID URI (`audience(...)`)")]
    NoAudience,
    /// No tenant, tenant list, multi-tenant setting or issuer.
    #[error(
        "say which tenants may call: `tenant(id)`, `tenants([...])`, `multi_tenant([...])`, `any_tenant()`, or an exact `issuer(url)`"
    )]
    NoTenant,
    /// More than one of tenant / tenants / multi-tenant / issuer.
    #[error("choose one of `tenant`, `tenants`, `multi_tenant`/`any_tenant` and `issuer`")]
    ConflictingTenancy,
    /// A tenant is not a GUID (tokens carry `tid` as a GUID; domain names are not compared).
    #[error(
        "tenant {0:?} is not a tenant id (GUID): look it up in the portal (Overview, Tenant ID)"
    )]
    TenantNotGuid(String),
    /// An empty allow-list.
    #[error("the {0} list is empty")]
    EmptyList(&'static str),
    /// No algorithm allowed.
    #[error("the algorithm allow-list is empty")]
    NoAlgorithm,
    /// The token size limit is 0 or larger than the JOSE parser's cap.
    #[error("max token size must be between 1 and {max} bytes")]
    BadMaxTokenSize {
        /// The largest allowed.
        max: usize,
    },
    /// Clock skew above 1 hour.
    #[error("clock skew over an hour defeats expiry checks")]
    SkewTooLarge,
    /// An authority or issuer URL that is not https.
    #[error("{0:?} is not an https URL")]
    NotHttps(String),
    /// The static JWKS could not be used.
    #[error("static JWKS: {0}")]
    Jwks(String),
    /// The HTTP client could not be built (e.g. the extra CA file).
    #[error("HTTP client: {0}")]
    Http(String),
    /// An authority issuer template without `{tenantid}`.
    #[error("issuer template {0:?} has no {{tenantid}}")]
    IssuerTemplate(String),
    /// The tenant header name is not a valid HTTP header name.
    #[error("{0:?} is not a valid header name")]
    BadHeaderName(String),
}
