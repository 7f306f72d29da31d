//! [`Authorities`]: a credential's home authority and the other tenants it may switch
//! to, each discovered once (shared by the public clients and on-behalf-of).

use std::collections::HashMap;
use std::sync::Arc;

use crate::account::Account;
use crate::authority::{Authority, AuthorityMetadata};
use crate::error::Error;
use crate::http::Pipeline;
use crate::options::ClientOptions;

/// An authority and the other tenants a credential may switch to (each discovered once).
pub(crate) struct Authorities {
    home: Authority,
    allowed: Vec<String>,
    others: tokio::sync::Mutex<HashMap<String, Arc<Authority>>>,
}

impl Authorities {
    pub(crate) fn new(options: &ClientOptions, tenant: &str) -> Result<Self, Error> {
        Ok(Self {
            home: options.authority(tenant)?,
            allowed: options.additionally_allowed_tenants.clone(),
            others: Default::default(),
        })
    }

    pub(crate) fn home(&self) -> &Authority {
        &self.home
    }

    /// Is the configured tenant one that stands for many (`common`, `organizations`...)?
    pub(crate) fn is_multi_tenant(&self) -> bool {
        ["common", "organizations", "consumers"]
            .iter()
            .any(|t| self.home.tenant().eq_ignore_ascii_case(t))
    }

    /// Checks that `tenant` may be used (`implicit`: the account's own tenant under a
    /// multi-tenant authority, always allowed).
    pub(crate) fn check(&self, tenant: &str, implicit: bool) -> Result<(), Error> {
        if implicit
            || tenant.eq_ignore_ascii_case(self.home.tenant())
            || self
                .allowed
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(tenant))
        {
            return Ok(());
        }
        Err(Error::Config(format!(
            "the request asks for tenant {tenant:?}, which this credential may not use; add it to additionally_allowed_tenants"
        )))
    }

    /// The token endpoint for `tenant` (the configured one when `None`).
    pub(crate) async fn token_endpoint(
        &self,
        tenant: Option<&str>,
        pipeline: &Pipeline,
    ) -> Result<String, Error> {
        match tenant {
            Some(t) if !t.eq_ignore_ascii_case(self.home.tenant()) => {
                let other = self.other(t).await?;
                Ok(other.metadata(pipeline).await?.token_endpoint.clone())
            }
            _ => Ok(self.home.metadata(pipeline).await?.token_endpoint.clone()),
        }
    }

    /// The discovery document of `tenant`'s authority (the configured one's, or another
    /// allowed tenant's), copied out of the authority's cache.
    pub(crate) async fn metadata(
        &self,
        tenant: &str,
        pipeline: &Pipeline,
    ) -> Result<AuthorityMetadata, Error> {
        if tenant.eq_ignore_ascii_case(self.home.tenant()) {
            Ok(self.home.metadata(pipeline).await?.clone())
        } else {
            Ok(self.other(tenant).await?.metadata(pipeline).await?.clone())
        }
    }

    /// The issuer ID tokens from `tenant` carry (may hold `{tenantid}`).
    pub(crate) async fn issuer(&self, tenant: &str, pipeline: &Pipeline) -> Result<String, Error> {
        if tenant.eq_ignore_ascii_case(self.home.tenant()) {
            Ok(self.home.metadata(pipeline).await?.issuer.clone())
        } else {
            Ok(self
                .other(tenant)
                .await?
                .metadata(pipeline)
                .await?
                .issuer
                .clone())
        }
    }

    pub(crate) async fn other(&self, tenant: &str) -> Result<Arc<Authority>, Error> {
        let mut map = self.others.lock().await;
        if let Some(a) = map.get(&tenant.to_ascii_lowercase()) {
            return Ok(a.clone());
        }
        let a = Arc::new(self.home.with_tenant(tenant)?);
        map.insert(tenant.to_ascii_lowercase(), a.clone());
        Ok(a)
    }

    /// The tenant a request for `account` goes to, checked.
    pub(crate) fn tenant_for(
        &self,
        requested: Option<&str>,
        account: Option<&Account>,
    ) -> Result<String, Error> {
        match (requested, account) {
            (Some(t), a) => {
                let implicit = self.is_multi_tenant()
                    && a.is_some_and(|a| a.tenant_id.eq_ignore_ascii_case(t));
                self.check(t, implicit)?;
                Ok(t.to_string())
            }
            (None, Some(a)) if self.is_multi_tenant() && !a.tenant_id.is_empty() => {
                Ok(a.tenant_id.clone())
            }
            (None, _) => Ok(self.home.tenant().to_string()),
        }
    }
}
