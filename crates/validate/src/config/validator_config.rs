//! [`ValidatorConfig`]: a checked configuration, and the choices it holds (who may
//! call: [`Tenancy`]; which versions: [`AcceptedVersions`]; where the keys come from).

use std::sync::Arc;

use entra_jose::{Algorithm, RsaBackend};

use super::authority::Authority;
use crate::clock::Clock;
use crate::jwks::{JwksSettings, KeySet};
use crate::requirement::Requirement;
use crate::token::TokenVersion;

/// Which token versions the API accepts (Entra picks the version from the API's
/// registration, `accessTokenAcceptedVersion`: null or 1 gives v1, 2 gives v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcceptedVersions {
    /// Only v1 (`ver` 1.0).
    V1,
    /// Only v2 (`ver` 2.0).
    V2,
    /// Either (the default).
    #[default]
    Both,
}

impl AcceptedVersions {
    /// Whether `v` is accepted.
    pub fn accepts(self, v: TokenVersion) -> bool {
        matches!(
            (self, v),
            (AcceptedVersions::Both, _)
                | (AcceptedVersions::V1, TokenVersion::V1)
                | (AcceptedVersions::V2, TokenVersion::V2)
        )
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            AcceptedVersions::V1 => "v1 tokens",
            AcceptedVersions::V2 => "v2 tokens",
            AcceptedVersions::Both => "v1 or v2 tokens",
        }
    }
}
/// Who may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenancy {
    /// Tenants by id (lower case), each with its own discovery and key set.
    Tenants(Vec<String>),
    /// Multi-tenant: keys from `common`; tokens from these tenants (`None`: any tenant).
    MultiTenant(Option<Vec<String>>),
    /// Any OIDC issuer, by its exact `iss`; `tid` is not required.
    Issuer(String),
}

/// Where the keys come from, when not from the authority's discovery.
#[derive(Debug, Clone)]
pub(crate) enum KeysFrom {
    Discovery,
    JwksUri(String),
    Static(Arc<KeySet>),
}

/// A checked validator configuration. Build one with [`ValidatorConfig::builder`].
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    pub(crate) tenancy: Tenancy,
    pub(crate) authority: Authority,
    pub(crate) audiences: Vec<String>,
    pub(crate) versions: AcceptedVersions,
    pub(crate) required_scopes: Vec<String>,
    pub(crate) required_roles: Vec<String>,
    pub(crate) requirement: Option<Requirement>,
    pub(crate) skew: i64,
    pub(crate) max_token_size: usize,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) allowed_clients: Option<Vec<String>>,
    pub(crate) tenant_header: Option<http::HeaderName>,
    pub(crate) realm: Option<String>,
    pub(crate) keys: KeysFrom,
    pub(crate) jwks: JwksSettings,
    /// `None` with a static key set.
    pub(crate) http: Option<reqwest::Client>,
    pub(crate) clock: Clock,
    pub(crate) cache_capacity: usize,
    pub(crate) stats: bool,
}
impl ValidatorConfig {
    /// The tenant header name, if the API uses one.
    pub fn tenant_header(&self) -> Option<&http::HeaderName> {
        self.tenant_header.as_ref()
    }

    /// The `realm` of `WWW-Authenticate` challenges, if set.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The RSA implementation this configuration asks for, combined with
    /// `ENTRA_RSA_BACKEND` ([`RsaBackend::with_env`]); whether entra-rsa really runs also
    /// depends on the CPU ([`RsaBackend::effective_for`], [`TrustedKey::backend`](crate::TrustedKey::backend)).
    pub fn rsa_backend(&self) -> RsaBackend {
        self.jwks.rsa_backend.with_env()
    }
}
