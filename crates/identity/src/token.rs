//! The types every credential shares: [`TokenRequest`], [`AccessToken`] and the
//! [`TokenCredential`] trait, plus lenient parsing of token responses (Entra and the
//! managed-identity hosts write `expires_in` / `expires_on` in several forms).

use std::future::Future;
use std::pin::Pin;

use crate::error::Error;
use crate::secret::Secret;

/// A boxed future, so credentials can live behind `Arc<dyn TokenCredential>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What to get a token for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// Scopes, e.g. `https://graph.microsoft.com/.default`.
    pub scopes: Vec<String>,
    /// Tenant override (for multi-tenant apps); the credential's own tenant otherwise.
    pub tenant: Option<String>,
    /// A claims challenge from a resource (`WWW-Authenticate ... claims=`): bypasses the cache.
    pub claims: Option<String>,
    /// Ask for a CAE-capable token (`xms_cc` client capability `cp1`).
    pub enable_cae: bool,
    /// Ask the authority even when a cached token is still fresh (the new token replaces
    /// the cached one). For callers that keep their own cache and refresh ahead of
    /// expiry, such as a token broker.
    pub force_refresh: bool,
}

impl TokenRequest {
    /// A request for `scopes`.
    pub fn new<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            scopes: scopes.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// With a tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Skipping cached tokens ([`TokenRequest::force_refresh`]).
    pub fn force_refresh(mut self) -> Self {
        self.force_refresh = true;
        self
    }

    /// Whether cached tokens must not answer this request: a claims challenge, or
    /// [`TokenRequest::force_refresh`].
    pub fn skips_cache(&self) -> bool {
        self.claims.is_some() || self.force_refresh
    }

    /// With a claims challenge.
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }
}

/// An access token and when it expires (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token.
    pub token: Secret,
    /// Expiry, unix seconds.
    pub expires_on: i64,
    /// When to refresh proactively, unix seconds.
    pub refresh_on: Option<i64>,
    /// Usually `Bearer`.
    pub token_type: std::sync::Arc<str>,
}

impl AccessToken {
    /// The token `token` from a token response `v` (a token endpoint's or a managed
    /// identity endpoint's), issued at `issued` and expiring at `expires_on`: refreshed
    /// proactively per `refresh_in`, and `Bearer` unless `token_type` says otherwise.
    pub(crate) fn from_response(
        token: &str,
        issued: i64,
        expires_on: i64,
        v: &serde_json::Value,
    ) -> Self {
        use crate::unix_time::{refresh_on, seconds};
        AccessToken {
            token: Secret::new(token),
            expires_on,
            refresh_on: refresh_on(issued, expires_on - issued, seconds(v.get("refresh_in"))),
            token_type: v
                .get("token_type")
                .and_then(|t| t.as_str())
                .unwrap_or("Bearer")
                .into(),
        }
    }

    /// How long until the token expires ([`AccessToken::expires_on`] minus now), zero
    /// once it has. The token cache hands out tokens with more than 5 minutes left.
    pub fn expires_in(&self) -> std::time::Duration {
        let left = self.expires_on.saturating_sub(crate::unix_time::now());
        std::time::Duration::from_secs(left.max(0) as u64)
    }
}

/// Anything that can produce access tokens.
pub trait TokenCredential: Send + Sync {
    /// Gets a token (from the cache when fresh).
    fn get_token<'a>(
        &'a self,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<AccessToken, Error>>;

    /// A short name for error messages and chains.
    fn name(&self) -> &'static str;
}

/// Implements [`TokenCredential`] for a type with an inherent
/// `async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error>`, named
/// `$name` in errors and chains: the one shape every credential's impl has.
macro_rules! token_credential {
    ($ty:ty, $name:expr) => {
        impl $crate::token::TokenCredential for $ty {
            fn get_token<'a>(
                &'a self,
                request: &'a $crate::token::TokenRequest,
            ) -> $crate::token::BoxFuture<
                'a,
                Result<$crate::token::AccessToken, $crate::error::Error>,
            > {
                Box::pin(self.token(request))
            }

            fn name(&self) -> &'static str {
                $name
            }
        }
    };
}
pub(crate) use token_credential;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_counts_down_and_stops_at_zero() {
        let token = |expires_on| AccessToken {
            token: Secret::new("t"),
            expires_on,
            refresh_on: None,
            token_type: "Bearer".into(),
        };
        let now = crate::unix_time::now();
        let left = token(now + 3600).expires_in().as_secs();
        assert!((3598..=3600).contains(&left), "{left}");
        assert_eq!(token(now - 10).expires_in(), std::time::Duration::ZERO);
        assert_eq!(token(i64::MIN).expires_in(), std::time::Duration::ZERO);
    }
}
