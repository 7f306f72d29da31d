//! Confidential clients acting as themselves (client credentials grant): with a client
//! secret ([`ClientSecretCredential`]), a certificate ([`ClientCertificateCredential`],
//! RS256 with `x5t` or PS256 with `x5t#S256`, optional `x5c` chain), or an assertion
//! from a callback ([`ClientAssertionCredential`], what workload identity builds on).

mod certificate;
mod client_auth;

use std::path::Path;
use std::sync::Arc;

pub use certificate::ClientCertificate;
pub use client_auth::{AssertionCallback, ClientAuth};
/// The JWS algorithm of a certificate credential's client assertion.
pub use entra_jose::Algorithm;

use crate::authority::Authority;
use crate::cache::{CacheKey, TokenCache, TokenKind};
use crate::error::Error;
use crate::http::Pipeline;
use crate::options::{ClientOptions, checked_client_id};
use crate::persist::{PersistentCache, TokenResponse, environment_of, store};
use crate::secret::Secret;
use crate::token::{AccessToken, BoxFuture, TokenCredential, TokenRequest};
use crate::token_endpoint::{TokenForm, grant, merged_claims, parse_token_response};

/// The client-credentials engine behind the three public credentials.
struct ClientCredentials {
    authority: Authority,
    client_id: String,
    auth: ClientAuth,
    pipeline: Pipeline,
    cache: TokenCache,
    allowed_tenants: Vec<String>,
    persistent: Option<Arc<PersistentCache>>,
    tenant_authorities: tokio::sync::Mutex<std::collections::HashMap<String, Arc<Authority>>>,
}

impl ClientCredentials {
    fn new(
        tenant: &str,
        client_id: &str,
        auth: ClientAuth,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let client_id = checked_client_id(client_id)?;
        Ok(Self {
            authority: options.authority(tenant)?,
            client_id,
            auth,
            pipeline: options.pipeline()?,
            cache: TokenCache::new(),
            allowed_tenants: options.additionally_allowed_tenants,
            persistent: options.persistent_cache,
            tenant_authorities: Default::default(),
        })
    }

    /// The authority for another tenant, if this credential may use it (cached, so its
    /// discovery document is fetched once).
    async fn authority_for(&self, tenant: &str) -> Result<Arc<Authority>, Error> {
        if !self
            .allowed_tenants
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(tenant))
        {
            return Err(Error::Config(format!(
                "the request asks for tenant {tenant:?}, which this credential may not use; add it to additionally_allowed_tenants"
            )));
        }
        let mut map = self.tenant_authorities.lock().await;
        if let Some(a) = map.get(tenant) {
            return Ok(a.clone());
        }
        let a = Arc::new(self.authority.with_tenant(tenant)?);
        map.insert(tenant.to_string(), a.clone());
        Ok(a)
    }

    /// A fresh cached token for `request`, without any async machinery: only for the
    /// common case (own tenant, no claims challenge); `None` sends the caller to
    /// [`ClientCredentials::get_token`], which handles everything else.
    #[inline]
    fn cached(&self, request: &TokenRequest) -> Option<AccessToken> {
        if request.skips_cache() || request.scopes.is_empty() {
            return None;
        }
        if let Some(t) = &request.tenant
            && !t.eq_ignore_ascii_case(self.authority.tenant())
        {
            return None;
        }
        self.cache.fresh_by_scopes(&request.scopes)
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        if request.scopes.is_empty() {
            return Err(Error::Config(
                "no scopes requested (client credentials need one scope ending in /.default)"
                    .into(),
            ));
        }
        let tenant = request.tenant.as_deref().unwrap_or(self.authority.tenant());
        let key = || {
            CacheKey::new(
                self.authority.host(),
                tenant,
                &self.client_id,
                "",
                &request.scopes,
                TokenKind::App,
            )
        };
        let bypass = request.skips_cache();
        if tenant.eq_ignore_ascii_case(self.authority.tenant()) {
            // The common case: this credential's own tenant; no key is built on a hit.
            self.cache
                .get_or_fetch_by_scopes(&request.scopes, key, bypass, || self.fetch(request))
                .await
        } else {
            self.cache
                .get_or_fetch(&key(), bypass, || self.fetch(request))
                .await
        }
    }

    /// On a miss in memory: the cache file (when there is one and no claims challenge),
    /// else the network (and the answer goes to the file).
    async fn fetch(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        let tenant = request.tenant.as_deref().unwrap_or(self.authority.tenant());
        if let Some(file) = &self.persistent
            && !request.skips_cache()
            && let Some(t) = store::find_app_token(
                file,
                &self.client_id,
                self.authority.host(),
                tenant,
                &request.scopes,
            )
            .await?
        {
            tracing::debug!("app token served from the persistent cache");
            return Ok(t);
        }
        let (token, body) = self.fetch_from_authority(request).await?;
        if let Some(file) = &self.persistent {
            let response = TokenResponse::from_json(
                body,
                &self.client_id,
                &environment_of(self.authority.host()),
                tenant,
                &request.scopes,
            );
            store::save_response(file, response).await?;
        }
        Ok(token)
    }

    async fn fetch_from_authority(
        &self,
        request: &TokenRequest,
    ) -> Result<(AccessToken, serde_json::Value), Error> {
        let endpoint = match request.tenant.as_deref() {
            Some(t) if !t.eq_ignore_ascii_case(self.authority.tenant()) => {
                let other = self.authority_for(t).await?;
                other.metadata(&self.pipeline).await?.token_endpoint.clone()
            }
            _ => self
                .authority
                .metadata(&self.pipeline)
                .await?
                .token_endpoint
                .clone(),
        };
        let scope = request.scopes.join(" ");
        let creds = self.auth.form_fields(&self.client_id, &endpoint).await?;
        let claims = merged_claims(request);
        let resp = TokenForm::new(grant::CLIENT_CREDENTIALS, &self.client_id)
            .field("scope", &scope)
            .credentials(&creds)
            .claims(claims.as_deref())
            .send(&self.pipeline, &endpoint, "token request")
            .await?;
        parse_token_response(&endpoint, resp.status().as_u16(), resp.body())
    }
}

macro_rules! confidential_credential {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name(ClientCredentials);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("authority", &self.0.authority.host())
                    .field("tenant", &self.0.authority.tenant())
                    .field("client_id", &self.0.client_id)
                    .field("auth", &self.0.auth)
                    .finish()
            }
        }

        impl TokenCredential for $name {
            fn get_token<'a>(&'a self, request: &'a TokenRequest) -> BoxFuture<'a, Result<AccessToken, Error>> {
                // A hit boxes a ready value (a few dozen bytes), not the request state
                // machine (kilobytes, with the HTTP send inside).
                if let Some(t) = self.0.cached(request) {
                    return Box::pin(std::future::ready(Ok(t)));
                }
                Box::pin(self.0.get_token(request))
            }

            fn name(&self) -> &'static str {
                stringify!($name)
            }
        }
    };
}

confidential_credential!(
    /// A confidential client with a client secret.
    ClientSecretCredential
);
confidential_credential!(
    /// A confidential client with a certificate.
    ClientCertificateCredential
);
confidential_credential!(
    /// A confidential client whose assertion comes from a callback.
    ClientAssertionCredential
);

impl ClientSecretCredential {
    /// `tenant`, `client_id`, `secret` (the secret's *value*, not its id).
    pub fn new(
        tenant: &str,
        client_id: &str,
        secret: impl Into<Secret>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(Error::Config("client secret is empty".into()));
        }
        Ok(Self(ClientCredentials::new(
            tenant,
            client_id,
            ClientAuth::Secret(secret),
            options,
        )?))
    }
}

/// The algorithm of a certificate's client assertions unless the caller picks one: PS256
/// with `x5t#S256`, the form Microsoft's "certificate credentials" page documents and what
/// MSAL Python sends when given the certificate (RS256 with the SHA-1 `x5t` stays
/// available through [`ClientCertificateCredential::new`], for AD FS). See
/// docs/request-parity.md.
pub(crate) const DEFAULT_CERTIFICATE_ALGORITHM: Algorithm = Algorithm::PS256;

impl ClientCertificateCredential {
    /// From a PEM file with the key and certificate: PS256 with `x5t#S256`, no `x5c`.
    pub fn from_pem_file(
        tenant: &str,
        client_id: &str,
        path: impl AsRef<std::path::Path>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        let pem = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("certificate file {}: {e}", path.display())))?;
        Self::new(
            tenant,
            client_id,
            ClientCertificate::from_pem(&pem)?,
            DEFAULT_CERTIFICATE_ALGORITHM,
            false,
            options,
        )
    }

    /// From a PEM or PKCS#12 file (the content decides; see
    /// [`ClientCertificate::from_file`]), `password` unlocking a PKCS#12 archive. PS256
    /// with `x5t#S256`, no `x5c`.
    pub fn from_file(
        tenant: &str,
        client_id: &str,
        path: impl AsRef<Path>,
        password: Option<&str>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        Self::new(
            tenant,
            client_id,
            ClientCertificate::from_file(path, password)?,
            DEFAULT_CERTIFICATE_ALGORITHM,
            false,
            options,
        )
    }

    /// From a parsed certificate, choosing the algorithm and whether to send `x5c`.
    pub fn new(
        tenant: &str,
        client_id: &str,
        cert: ClientCertificate,
        alg: Algorithm,
        send_chain: bool,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        if !matches!(alg, Algorithm::RS256 | Algorithm::PS256) {
            return Err(Error::Config(format!(
                "client assertions are signed with RS256 or PS256, not {alg}"
            )));
        }
        Ok(Self(ClientCredentials::new(
            tenant,
            client_id,
            ClientAuth::Certificate {
                cert: Arc::new(cert),
                alg,
                send_chain,
            },
            options,
        )?))
    }
}

impl ClientAssertionCredential {
    /// `callback` returns a fresh assertion whenever a token is requested.
    pub fn new(
        tenant: &str,
        client_id: &str,
        callback: AssertionCallback,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        Ok(Self(ClientCredentials::new(
            tenant,
            client_id,
            ClientAuth::Assertion(callback),
            options,
        )?))
    }
}
