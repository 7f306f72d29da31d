//! The state every request sees: [`Shared`], and the [`Generation`] a reload swaps at
//! once (identities, callers, switches).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::audit::AuditLog;
use crate::browser_guard::hosts::{HostName, HostPolicy};
use crate::cache::{Cache, Tuning};
use crate::config::{BrokerConfig, read_secret};
use crate::error::{BrokerError, ConfigError};
use crate::metrics::Metrics;
use crate::policy::{Callers, fingerprint};
use crate::upstream::Identity;

/// What a reload swaps at once: identities, callers, switches.
#[derive(Debug)]
pub(crate) struct Generation {
    /// Identities, in configuration order.
    pub identities: Vec<Arc<Identity>>,
    /// By name.
    pub by_name: HashMap<String, Arc<Identity>>,
    /// Callers.
    pub callers: Callers,
    /// IMDS and Cloud Shell served.
    pub imds_enabled: bool,
    pub(crate) admin_token: Option<[u8; 32]>,
    pub(crate) metrics_token: Option<[u8; 32]>,
    /// `[broker] allowed_hosts`, parsed.
    pub(crate) allowed_hosts: Vec<HostName>,
}

/// State every request sees.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) generation: RwLock<Arc<Generation>>,
    /// The token cache.
    pub cache: Arc<Cache>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Audit log.
    pub audit: Arc<AuditLog>,
    pub(crate) config: RwLock<BrokerConfig>,
    pub(crate) reload_from: Option<PathBuf>,
    /// The addresses the `Host` check accepts besides the fixed ones.
    pub(crate) host_policy: HostPolicy,
}

impl Shared {
    /// The current generation.
    #[inline]
    pub(crate) fn generation(&self) -> Arc<Generation> {
        self.generation.read().expect("generation lock").clone()
    }
}

/// Builds a generation from a checked configuration, reusing `previous`'s identities
/// whose configuration did not change (their cached credentials stay warm).
pub(crate) fn build_generation(
    config: &BrokerConfig,
    previous: Option<&Generation>,
    metrics: &Metrics,
) -> Result<Generation, BrokerError> {
    config.check()?;
    let mut identities = Vec::new();
    let mut by_name = HashMap::new();
    for c in &config.identities {
        let reuse = previous
            .and_then(|p| p.by_name.get(&c.name))
            .filter(|old| old.config == *c)
            .cloned();
        let identity = match reuse {
            Some(i) => i,
            None => Arc::new(Identity::build(c)?),
        };
        by_name.insert(c.name.clone(), identity.clone());
        identities.push(identity);
    }
    let callers = Callers::build(config, metrics)?;
    let admin_token = read_secret(
        "[broker] admin token",
        &config.broker.admin_token_env,
        &config.broker.admin_token_file,
        &None,
    )?
    .map(|s| {
        let n = s.expose().chars().count();
        if n < crate::config::MIN_ADMIN_TOKEN_LEN {
            return Err(BrokerError::from(ConfigError::AdminTokenShort {
                len: n,
                min: crate::config::MIN_ADMIN_TOKEN_LEN,
            }));
        }
        Ok(fingerprint(s.expose().as_bytes()))
    })
    .transpose()?;
    let metrics_token = read_secret(
        "[broker] metrics token",
        &config.broker.metrics_token_env,
        &config.broker.metrics_token_file,
        &None,
    )?
    .map(|s| fingerprint(s.expose().as_bytes()));
    Ok(Generation {
        identities,
        by_name,
        callers,
        imds_enabled: !config.imds.disabled,
        admin_token,
        metrics_token,
        allowed_hosts: crate::browser_guard::hosts::parse_allowed_hosts(
            &config.broker.allowed_hosts,
        )?,
    })
}

/// The cache tuning `[broker]` asks for.
pub(crate) fn tuning(c: &BrokerConfig) -> Tuning {
    Tuning {
        min_remaining: c.broker.min_remaining_secs,
        refresh_before: c.broker.refresh_before_secs,
        max_tokens: c.broker.max_tokens,
    }
}

/// Re-reads the file the broker was started from and swaps in the new generation
/// (the audit log is reopened in any case).
pub(crate) fn reload_from_file(shared: &Shared) -> Result<(), BrokerError> {
    let Some(path) = &shared.reload_from else {
        return Err(ConfigError::NotFromFile.into());
    };
    // A file-based audit log is reopened on every SIGHUP, even when the new
    // configuration is refused (logrotate's postrotate sends one).
    shared.audit.reopen();
    let result = BrokerConfig::from_file(path).and_then(|c| reload(shared, c));
    if result.is_err() {
        shared.metrics.reload(false);
    }
    result
}

/// Swaps in the generation `config` makes; listeners and `[redis]` wait for a restart.
pub(crate) fn reload(shared: &Shared, config: BrokerConfig) -> Result<(), BrokerError> {
    let old = shared.generation();
    let generation = match build_generation(&config, Some(&old), &shared.metrics) {
        Ok(g) => g,
        Err(e) => {
            shared.metrics.reload(false);
            return Err(e);
        }
    };
    {
        let current = shared.config.read().expect("config lock");
        if current.broker.listen != config.broker.listen
            || current.broker.metrics_listen != config.broker.metrics_listen
            || current.broker.unix_socket != config.broker.unix_socket
            || current.broker.audit_log != config.broker.audit_log
            || current.redis != config.redis
        {
            tracing::warn!(
                "listen, metrics_listen, unix_socket, audit_log and [redis] changes take effect at the next restart"
            );
        }
    }
    shared.cache.retain_identities(&generation.by_name);
    shared.cache.set_tuning(tuning(&config));
    *shared.generation.write().expect("generation lock") = Arc::new(generation);
    *shared.config.write().expect("config lock") = config;
    shared.metrics.reload(true);
    tracing::info!("configuration reloaded");
    Ok(())
}
