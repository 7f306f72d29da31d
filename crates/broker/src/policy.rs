//! Callers and what each may have.
//!
//! A caller is known by its secret (App Service `X-IDENTITY-HEADER`, the legacy
//! `secret` header, the native API's bearer), or, on the IMDS and Cloud Shell protocols
//! that carry none, by the local user id of the process on the other end of a loopback
//! connection (or the Unix socket), falling back to `[imds] caller`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aws_lc_rs::digest;

use crate::config::{BrokerConfig, CallerConfig, read_secret};
use crate::error::{BrokerError, ConfigError};

/// One caller's policy.
#[derive(Debug)]
pub(crate) struct Caller {
    /// Its name (audit lines, metrics).
    pub name: Arc<str>,
    any_identity: bool,
    identities: Vec<String>,
    any_resource: bool,
    resources: Vec<String>,
    scopes: HashSet<String>,
    /// Its request counters, one per outcome.
    pub counters: Vec<prometheus_client::metrics::counter::Counter>,
}

impl Caller {
    fn new(c: &CallerConfig) -> Self {
        Self {
            counters: Vec::new(),
            name: Arc::from(c.name.as_str()),
            any_identity: c.identities.iter().any(|i| i == "*"),
            identities: c.identities.iter().filter(|i| *i != "*").cloned().collect(),
            any_resource: c.resources.iter().any(|r| r == "*"),
            resources: c
                .resources
                .iter()
                .filter(|r| *r != "*")
                .map(|r| normalize_resource(r))
                .collect(),
            scopes: c.scopes.iter().map(|s| s.to_ascii_lowercase()).collect(),
        }
    }

    /// The identity used when the request names none: the first listed (or, for `*`
    /// alone, `None`: the broker's first identity).
    pub(crate) fn default_identity(&self) -> Option<&str> {
        self.identities.first().map(String::as_str)
    }

    /// May it use `identity`?
    pub(crate) fn may_use(&self, identity: &str) -> bool {
        self.any_identity || self.identities.iter().any(|i| i == identity)
    }

    /// May it have a token for `resource` (IMDS, App Service)?
    pub(crate) fn may_have_resource(&self, resource: &str) -> bool {
        self.any_resource || self.resources.contains(&normalize_resource(resource))
    }

    /// May it have a token for each of `scopes` (native API)? The first refused scope.
    pub(crate) fn refused_scope<'a>(&self, scopes: &'a [String]) -> Option<&'a str> {
        scopes
            .iter()
            .find(|s| {
                let s = s.as_str();
                !(self.any_resource
                    || self.scopes.contains(&s.to_ascii_lowercase())
                    || resource_of_scope(s).is_some_and(|r| self.may_have_resource(r)))
            })
            .map(String::as_str)
    }
}

/// The resource a scope belongs to: `api://x/Data.Read` → `api://x`,
/// `https://graph.microsoft.com/.default` → `https://graph.microsoft.com`. `None` for a
/// bare scope (`openid`, `User.Read`).
pub(crate) fn resource_of_scope(scope: &str) -> Option<&str> {
    let after_scheme = scope.find("://").map(|i| i + 3)?;
    let slash = scope[after_scheme..].rfind('/')? + after_scheme;
    Some(&scope[..slash]).filter(|r| r.len() > after_scheme)
}

/// Resources compare without a trailing slash and without case.
fn normalize_resource(r: &str) -> String {
    r.trim_end_matches('/').to_ascii_lowercase()
}

/// Every caller, indexed.
#[derive(Debug, Default)]
pub(crate) struct Callers {
    by_secret: HashMap<[u8; 32], Arc<Caller>>,
    by_uid: HashMap<u32, Arc<Caller>>,
    imds_default: Option<Arc<Caller>>,
    /// Every caller, in configuration order.
    pub all: Vec<Arc<Caller>>,
}

/// A new random caller secret: 64 hex digits (256 bits) from the system's generator.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a secret: what the broker keeps and compares instead of the secret.
pub(crate) fn fingerprint(secret: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, secret);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Callers {
    /// Reads every caller's secret and indexes them.
    pub(crate) fn build(
        config: &BrokerConfig,
        metrics: &crate::metrics::Metrics,
    ) -> Result<Self, BrokerError> {
        let mut me = Callers::default();
        let mut names = HashMap::new();
        for c in &config.callers {
            let mut caller = Caller::new(c);
            caller.counters = metrics.caller_counters(&c.name);
            let caller = Arc::new(caller);
            let what = format!("caller {:?}", c.name);
            if let Some(secret) = read_secret(&what, &c.secret_env, &c.secret_file, &c.secret)? {
                if secret.expose().len() < 16 {
                    return Err(ConfigError::CallerSecretShort { what }.into());
                }
                if me
                    .by_secret
                    .insert(fingerprint(secret.expose().as_bytes()), caller.clone())
                    .is_some()
                {
                    return Err(ConfigError::CallerSecretShared { what }.into());
                }
            }
            for u in &c.uids {
                me.by_uid.insert(*u, caller.clone());
            }
            names.insert(c.name.clone(), caller.clone());
            me.all.push(caller);
        }
        me.imds_default = config
            .imds
            .caller
            .as_ref()
            .and_then(|n| names.get(n).cloned());
        Ok(me)
    }

    /// The caller presenting `secret`.
    pub(crate) fn by_secret(&self, secret: &str) -> Option<&Arc<Caller>> {
        if secret.is_empty() {
            return None;
        }
        self.by_secret.get(&fingerprint(secret.as_bytes()))
    }

    /// The caller a local process is on IMDS: by its uid, else `[imds] caller`.
    pub(crate) fn for_local_process(&self, uid: Option<u32>) -> Option<&Arc<Caller>> {
        uid.and_then(|u| self.by_uid.get(&u))
            .or(self.imds_default.as_ref())
    }

    /// Whether any caller is selected by uid (then IMDS connections look their peer up).
    pub(crate) fn uses_uids(&self) -> bool {
        !self.by_uid.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_resources() {
        assert_eq!(resource_of_scope("api://x/Data.Read"), Some("api://x"));
        assert_eq!(
            resource_of_scope("https://graph.microsoft.com/.default"),
            Some("https://graph.microsoft.com")
        );
        assert_eq!(resource_of_scope("User.Read"), None);
        assert_eq!(resource_of_scope("api://x"), None);
        let c = Caller::new(&CallerConfig {
            identities: vec!["sp".into()],
            resources: vec!["https://graph.microsoft.com/".into()],
            scopes: vec!["api://x/Data.Read".into()],
            ..CallerConfig::new("a")
        });
        assert!(c.may_use("sp") && !c.may_use("other"));
        assert!(c.may_have_resource("https://graph.microsoft.com"));
        assert!(c.may_have_resource("HTTPS://GRAPH.microsoft.com/"));
        assert!(!c.may_have_resource("https://management.azure.com"));
        let ok = [
            "https://graph.microsoft.com/User.Read".to_string(),
            "api://x/Data.Read".into(),
        ];
        assert_eq!(c.refused_scope(&ok), None);
        let no = ["api://x/Data.Write".to_string()];
        assert_eq!(c.refused_scope(&no), Some("api://x/Data.Write"));
    }
}
