//! [`OnBehalfOfCredential`]: a web API (a confidential client, with a secret or a
//! certificate) exchanges the user token it received for a token to a downstream API,
//! acting as that user (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
//! `requested_token_use=on_behalf_of`).
//!
//! Tokens are cached per incoming assertion: the key's account is the SHA-256 of the
//! assertion ([`TokenKind::OnBehalfOf`]), so the assertion itself is never a map key and
//! two users never share a token. One credential serves every request of the API:
//! [`OnBehalfOfCredential::get_token_for`] takes the assertion, or
//! [`OnBehalfOfCredential::with_user_assertion`] binds one for a [`TokenCredential`](crate::TokenCredential).

use std::sync::Arc;

use crate::cache::{CacheKey, TokenCache, TokenKind};
use crate::confidential::{ClientAuth, ClientCertificate};
use crate::error::Error;
use crate::http::Pipeline;
use crate::options::{ClientOptions, checked_client_id};
use crate::public_client::Authorities;
use crate::secret::Secret;
use crate::token::{AccessToken, TokenRequest, token_credential};
use crate::token_endpoint::{TokenForm, grant, merged_claims, parse_token_response};

struct Inner {
    authorities: Authorities,
    client_id: String,
    auth: ClientAuth,
    pipeline: Pipeline,
    cache: TokenCache,
}

/// Exchanges a user's token for a downstream token as that user.
#[derive(Clone)]
pub struct OnBehalfOfCredential {
    inner: Arc<Inner>,
    assertion: Option<Secret>,
}

impl std::fmt::Debug for OnBehalfOfCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnBehalfOfCredential")
            .field("authority", &self.inner.authorities.home().host())
            .field("tenant", &self.inner.authorities.home().tenant())
            .field("client_id", &self.inner.client_id)
            .field("auth", &self.inner.auth)
            .field("assertion", &self.assertion)
            .finish()
    }
}

/// The cache account for an assertion: hex SHA-256.
fn assertion_hash(assertion: &Secret) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, assertion.expose().as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl OnBehalfOfCredential {
    /// The API `client_id` in `tenant`, proving itself with `auth`.
    pub fn new(
        tenant: &str,
        client_id: &str,
        auth: ClientAuth,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let client_id = checked_client_id(client_id)?;
        if let ClientAuth::Secret(s) = &auth
            && s.is_empty()
        {
            return Err(Error::Config("client secret is empty".into()));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                authorities: Authorities::new(&options, tenant)?,
                client_id,
                auth,
                pipeline: options.pipeline()?,
                cache: TokenCache::new(),
            }),
            assertion: None,
        })
    }

    /// With a client secret.
    pub fn with_secret(
        tenant: &str,
        client_id: &str,
        secret: impl Into<Secret>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        Self::new(
            tenant,
            client_id,
            ClientAuth::Secret(secret.into()),
            options,
        )
    }

    /// With a certificate (PS256, `x5t#S256`, no `x5c`).
    pub fn with_certificate(
        tenant: &str,
        client_id: &str,
        cert: ClientCertificate,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let auth = ClientAuth::Certificate {
            cert: Arc::new(cert),
            alg: crate::confidential::DEFAULT_CERTIFICATE_ALGORITHM,
            send_chain: false,
        };
        Self::new(tenant, client_id, auth, options)
    }

    /// The same credential (sharing its cache) bound to one incoming user token, for
    /// code that wants a [`TokenCredential`](crate::TokenCredential).
    pub fn with_user_assertion(&self, assertion: impl Into<Secret>) -> Self {
        Self {
            inner: self.inner.clone(),
            assertion: Some(assertion.into()),
        }
    }

    /// A token for `request` on behalf of the user whose token is `assertion`: from the
    /// cache while fresh, else exchanged.
    pub async fn get_token_for(
        &self,
        assertion: &Secret,
        request: &TokenRequest,
    ) -> Result<AccessToken, Error> {
        if assertion.is_empty() {
            return Err(Error::Config("the user assertion is empty".into()));
        }
        if request.scopes.is_empty() {
            return Err(Error::Config(
                "no scopes requested (for example api://contoso-api/Data.Read)".into(),
            ));
        }
        let i = &self.inner;
        let tenant = i.authorities.tenant_for(request.tenant.as_deref(), None)?;
        let key = CacheKey::new(
            i.authorities.home().host(),
            &tenant,
            &i.client_id,
            &assertion_hash(assertion),
            &request.scopes,
            TokenKind::OnBehalfOf,
        );
        i.cache
            .get_or_fetch(&key, request.skips_cache(), || {
                self.exchange(assertion, &tenant, request)
            })
            .await
    }

    async fn exchange(
        &self,
        assertion: &Secret,
        tenant: &str,
        request: &TokenRequest,
    ) -> Result<AccessToken, Error> {
        let i = &self.inner;
        let endpoint = i
            .authorities
            .token_endpoint(Some(tenant), &i.pipeline)
            .await?;
        let scope = request.scopes.join(" ");
        let creds = i.auth.form_fields(&i.client_id, &endpoint).await?;
        let claims = merged_claims(request);
        let resp = TokenForm::new(grant::JWT_BEARER, &i.client_id)
            .field("assertion", assertion.expose())
            .field("requested_token_use", "on_behalf_of")
            .field("scope", &scope)
            .credentials(&creds)
            .claims(claims.as_deref())
            .send(&i.pipeline, &endpoint, "on-behalf-of request")
            .await?;
        parse_token_response(&endpoint, resp.status().as_u16(), resp.body()).map(|(t, _)| t)
    }
}

impl OnBehalfOfCredential {
    /// What [`TokenCredential::get_token`] does.
    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        let Some(assertion) = &self.assertion else {
            return Err(Error::Config(
                "no user assertion: use with_user_assertion or get_token_for".into(),
            ));
        };
        self.get_token_for(assertion, request).await
    }
}

token_credential!(OnBehalfOfCredential, "OnBehalfOfCredential");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertions_are_hashed_and_never_shown() {
        let a = Secret::new("eyJ.user-token.sig");
        let h = assertion_hash(&a);
        assert_eq!(h.len(), 64);
        assert_ne!(h, assertion_hash(&Secret::new("other")));
        let c = OnBehalfOfCredential::with_secret(
            "t",
            "c",
            "s3cret-value",
            ClientOptions {
                authority_host: Some("https://login.example".into()),
                // A made-up host that instance discovery would (rightly) refuse.
                instance_discovery: crate::authority::InstanceDiscovery::DangerDisabled,
                ..Default::default()
            },
        )
        .unwrap()
        .with_user_assertion(a);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("user-token"),
            "{shown}"
        );
    }
}
