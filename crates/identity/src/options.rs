//! [`ClientOptions`]: the settings shared by every credential that talks to an authority
//! (its host, an extra CA to trust, the transport, other tenants, a persistent cache,
//! instance discovery).

use std::path::PathBuf;
use std::sync::Arc;

use crate::authority::{Authority, InstanceDiscovery};
use crate::error::Error;
use crate::http::Pipeline;
use crate::persist::{PersistentCache, Protection};

/// Settings shared by every credential that talks to an authority.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Authority host; `AZURE_AUTHORITY_HOST` or the public cloud when unset.
    pub authority_host: Option<String>,
    /// An extra CA to trust (for a local emulator), besides the system roots and `SSL_CERT_FILE`.
    pub ca_file: Option<PathBuf>,
    /// A transport to use instead of the default one.
    pub pipeline: Option<Pipeline>,
    /// Tenants a request may switch to (`*` for any); empty: only the configured tenant.
    pub additionally_allowed_tenants: Vec<String>,
    /// A token cache file (MSAL schema, [`crate::persist`]) to keep tokens in across
    /// processes, behind the in-memory cache. Used by [`ClientSecretCredential`](crate::ClientSecretCredential),
    /// [`ClientCertificateCredential`](crate::ClientCertificateCredential) and
    /// [`ClientAssertionCredential`](crate::ClientAssertionCredential) (and the
    /// credentials built on them) for the app's own tokens, and by
    /// [`PublicClient`](crate::PublicClient), [`InteractiveBrowserCredential`](crate::InteractiveBrowserCredential)
    /// and [`DeviceCodeCredential`](crate::DeviceCodeCredential) for accounts, refresh,
    /// ID and access tokens; other credentials ignore it. A cache file that cannot be
    /// read or written fails the request with [`Error::Cache`] (it is never bypassed
    /// silently). `None` (the default): memory only.
    pub persistent_cache: Option<Arc<PersistentCache>>,
    /// How a login host that is not a well-known Microsoft one is checked before secrets
    /// are sent to it ([`crate::authority`]); [`InstanceDiscovery::DangerDisabled`] opts out.
    pub instance_discovery: InstanceDiscovery,
}

impl ClientOptions {
    /// Options for a local emulator: its authority and CA file.
    pub fn for_emulator(authority: &str, ca_file: impl Into<PathBuf>) -> Self {
        Self {
            authority_host: Some(authority.to_string()),
            ca_file: Some(ca_file.into()),
            ..Default::default()
        }
    }

    /// The authority these options point at, for `tenant`.
    pub(crate) fn authority(&self, tenant: &str) -> Result<Authority, Error> {
        let host = self
            .authority_host
            .clone()
            .unwrap_or_else(Authority::host_from_env);
        Ok(Authority::new(&host, tenant)?.with_instance_discovery(self.instance_discovery.clone()))
    }

    /// These options with a persistent token cache at `path`, opened now (a blocking
    /// read of the file; an unreadable file is an error here already).
    pub fn with_persistent_cache(
        mut self,
        path: impl AsRef<std::path::Path>,
        protection: Protection,
    ) -> Result<Self, Error> {
        self.persistent_cache = Some(Arc::new(PersistentCache::open(path, protection)?));
        Ok(self)
    }

    pub(crate) fn pipeline(&self) -> Result<Pipeline, Error> {
        match &self.pipeline {
            Some(p) => Ok(p.clone()),
            None => Pipeline::default_with_ca(self.ca_file.as_deref()),
        }
    }
}
