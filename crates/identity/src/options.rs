//! [`ClientOptions`]: the settings shared by every credential that talks to an authority
//! (its host, an extra CA to trust, the transport, other tenants, a persistent cache,
//! instance discovery).

use std::path::PathBuf;
use std::sync::Arc;

use crate::authority::{Authority, InstanceDiscovery};
use crate::env::Env;
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
    /// are sent to it ([`Authority`](crate::Authority)); [`InstanceDiscovery::DangerDisabled`] opts out.
    pub instance_discovery: InstanceDiscovery,
}

impl ClientOptions {
    /// Options for a local emulator: its authority and CA file. The same as
    /// [`ClientOptions::from_env`] with `AZURE_AUTHORITY_HOST=authority` and
    /// `SSL_CERT_FILE=ca_file` (what `entra up` prints), for code that has the values
    /// in hand. Instance discovery is left as it is: loopback hosts (the emulator's
    /// `https://localhost:PORT`) are trusted without it, any other host is still checked.
    pub fn for_emulator(authority: &str, ca_file: impl Into<PathBuf>) -> Self {
        Self {
            authority_host: Some(authority.to_string()),
            ca_file: Some(ca_file.into()),
            ..Default::default()
        }
    }

    /// Options from the process environment, in one call: the variables the `entra` CLI
    /// reads and `entra up` prints. See [`ClientOptions::from_env_in`].
    ///
    /// ```no_run
    /// use entra_identity::{ClientOptions, ClientSecretCredential};
    /// # fn demo() -> Result<(), entra_identity::Error> {
    /// // AZURE_AUTHORITY_HOST=https://localhost:8443 SSL_CERT_FILE=.../ca.pem
    /// let credential = ClientSecretCredential::new("contoso", "d0000000-0000-4000-8000-0000000000d1", "s3cret", ClientOptions::from_env())?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Self {
        Self::from_env_in(&Env::from_process())
    }

    /// Options from `env`:
    ///
    /// | variable | sets | alias (the CLI's older name, which wins when both are set, as in the CLI) |
    /// |---|---|---|
    /// | `AZURE_AUTHORITY_HOST` | [`authority_host`](ClientOptions::authority_host) | `ENTRA_AUTHORITY` |
    /// | `SSL_CERT_FILE` | [`ca_file`](ClientOptions::ca_file): an extra CA to trust, such as the emulator's `ca.pem` | `ENTRA_CA_FILE` |
    ///
    /// Nothing else changes: instance discovery stays on (loopback hosts need none), so
    /// setting a variable never weakens a check. Unset or blank variables leave the
    /// default (the public cloud, the system roots).
    pub fn from_env_in(env: &Env) -> Self {
        let pick = |ours: &str, theirs: &str| env.get(ours).or(env.get(theirs)).map(str::to_string);
        Self {
            authority_host: pick("ENTRA_AUTHORITY", "AZURE_AUTHORITY_HOST"),
            ca_file: pick("ENTRA_CA_FILE", "SSL_CERT_FILE").map(PathBuf::from),
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
    /// read of the file; an unreadable file is an error here already). `protection` is a
    /// [`persist::Protection`](crate::persist::Protection): `Protection::Encrypted` (the
    /// key in the OS keyring or a 0600 key file; [`PersistentCache::key_location`] says
    /// which) unless a cache is shared with MSAL.
    ///
    /// ```no_run
    /// use entra_identity::ClientOptions;
    /// use entra_identity::persist::Protection;
    /// # fn demo() -> Result<(), entra_identity::Error> {
    /// let options = ClientOptions::from_env()
    ///     .with_persistent_cache("/home/me/.cache/myapp/tokens.bin", Protection::Encrypted)?;
    /// # Ok(()) }
    /// ```
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

/// `client_id` trimmed, or a configuration error when it is empty: the check every
/// credential's constructor makes first.
pub(crate) fn checked_client_id(client_id: &str) -> Result<String, Error> {
    let client_id = client_id.trim();
    if client_id.is_empty() {
        return Err(Error::Config("client id is empty".into()));
    }
    Ok(client_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_env_reads_the_cli_variables_and_weakens_nothing() {
        let o = ClientOptions::from_env_in(&Env::from_pairs([
            ("AZURE_AUTHORITY_HOST", "https://localhost:8443"),
            ("SSL_CERT_FILE", "/tmp/ca.pem"),
        ]));
        assert_eq!(o.authority_host.as_deref(), Some("https://localhost:8443"));
        assert_eq!(o.ca_file, Some(PathBuf::from("/tmp/ca.pem")));
        assert!(matches!(o.instance_discovery, InstanceDiscovery::Validate));
        let o = ClientOptions::from_env_in(&Env::from_pairs([
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com"),
            ("ENTRA_AUTHORITY", "https://localhost:9443"),
            ("ENTRA_CA_FILE", "/e/ca.pem"),
        ]));
        assert_eq!(o.authority_host.as_deref(), Some("https://localhost:9443"));
        assert_eq!(o.ca_file, Some(PathBuf::from("/e/ca.pem")));
        let o = ClientOptions::from_env_in(&Env::from_pairs([("SSL_CERT_FILE", " ")]));
        assert!(o.authority_host.is_none() && o.ca_file.is_none());
    }
}
