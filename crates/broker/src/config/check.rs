//! [`BrokerConfig::check`]: the structural checks that need no secrets (unique names,
//! references that resolve, sane numbers), one named check per table.

use std::collections::{HashMap, HashSet};

use super::secrets::check_secret_source;
use super::{BrokerConfig, IdentityKind};
use crate::error::{BrokerError, ConfigError};

impl BrokerConfig {
    /// Structural checks that need no secrets: unique names, references that resolve,
    /// sane numbers. Secrets are read (and checked) when the broker starts.
    pub fn check(&self) -> Result<(), BrokerError> {
        self.check_broker_section()?;
        let identities = self.check_identities()?;
        let callers = self.check_callers(&identities)?;
        if let Some(n) = &self.imds.caller
            && !callers.contains(n.as_str())
        {
            return Err(ConfigError::Check(format!(
                "[imds] caller = {n:?} is not a defined caller"
            ))
            .into());
        }
        if let Some(r) = &self.redis {
            check_redis(r)?;
        }
        Ok(())
    }

    /// `[broker]`: addresses, allowed hosts, the metrics token, the numbers.
    fn check_broker_section(&self) -> Result<(), BrokerError> {
        let bad = |m: String| Err(ConfigError::Check(m).into());
        self.listen_addr()?;
        self.metrics_listen_addr()?;
        crate::browser_guard::hosts::parse_allowed_hosts(&self.broker.allowed_hosts)?;
        if self.broker.metrics_token_env.is_some() && self.broker.metrics_token_file.is_some() {
            return bad(
                "[broker] give one of metrics_token_env and metrics_token_file, not both".into(),
            );
        }
        if self.broker.min_remaining_secs < 0 || self.broker.min_remaining_secs > 3000 {
            return bad("[broker] min_remaining_secs must be between 0 and 3000".into());
        }
        if self.broker.refresh_before_secs < 1 || self.broker.refresh_before_secs > 43_200 {
            return bad("[broker] refresh_before_secs must be between 1 and 43200".into());
        }
        if self.broker.threads.is_some_and(|t| t > 64) {
            return bad("[broker] threads must be at most 64".into());
        }
        if self.broker.max_tokens == 0 {
            return bad("[broker] max_tokens must be at least 1".into());
        }
        self.unix_socket_mode()?;
        Ok(())
    }

    /// `[[identity]]`: at least one, unique names and ids, what each kind needs. Returns
    /// the names.
    fn check_identities(&self) -> Result<HashSet<&str>, BrokerError> {
        let bad = |m: String| Err(ConfigError::Check(m).into());
        if self.identities.is_empty() {
            return bad("no [[identity]]: the broker needs at least one upstream identity".into());
        }
        let mut names = HashSet::new();
        let mut selectors: HashMap<String, &str> = HashMap::new();
        for i in &self.identities {
            if i.name.is_empty() || i.name == "*" || i.name.chars().any(char::is_whitespace) {
                return bad(format!(
                    "identity name {:?}: use a non-empty name without spaces (not \"*\")",
                    i.name
                ));
            }
            if !names.insert(i.name.as_str()) {
                return bad(format!("identity {:?} is defined twice", i.name));
            }
            for sel in [&i.client_id, &i.object_id, &i.resource_id]
                .into_iter()
                .flatten()
            {
                if let Some(other) = selectors.insert(sel.to_ascii_lowercase(), &i.name)
                    && other != i.name
                {
                    return bad(format!(
                        "identities {other:?} and {:?} share the id {sel:?}: callers could not tell them apart",
                        i.name
                    ));
                }
            }
            check_secret_source(
                &format!("identity {:?}", i.name),
                &i.secret_env,
                &i.secret_file,
                &i.secret,
                i.danger_allow_secret_in_config,
                false,
            )?;
            match i.kind {
                IdentityKind::ClientSecret => {
                    need(&i.tenant, &i.name, "tenant")?;
                    need(&i.client_id, &i.name, "client_id")?;
                    if i.secret_env.is_none() && i.secret_file.is_none() && i.secret.is_none() {
                        return Err(ConfigError::Missing {
                            what: format!("identity {:?} (client-secret)", i.name),
                            needs: "secret_env or secret_file",
                        }
                        .into());
                    }
                }
                IdentityKind::ClientCertificate => {
                    need(&i.tenant, &i.name, "tenant")?;
                    need(&i.client_id, &i.name, "client_id")?;
                    if i.certificate_file.is_none() {
                        return Err(ConfigError::Missing {
                            what: format!("identity {:?} (client-certificate)", i.name),
                            needs: "certificate_file",
                        }
                        .into());
                    }
                }
                IdentityKind::WorkloadIdentity => {
                    need(&i.tenant, &i.name, "tenant")?;
                    need(&i.client_id, &i.name, "client_id")?;
                }
                IdentityKind::ManagedIdentity | IdentityKind::EmulatorDev => {}
            }
        }
        Ok(names)
    }

    /// `[[caller]]`: unique names and uids, a secret source, identities that exist,
    /// something to ask for. Returns the names.
    fn check_callers(&self, names: &HashSet<&str>) -> Result<HashSet<&str>, BrokerError> {
        let bad = |m: String| Err(ConfigError::Check(m).into());
        let mut caller_names = HashSet::new();
        let mut uids = HashMap::new();
        for c in &self.callers {
            if c.name.is_empty() || c.name.chars().any(char::is_whitespace) {
                return bad(format!(
                    "caller name {:?}: use a non-empty name without spaces",
                    c.name
                ));
            }
            if !caller_names.insert(c.name.as_str()) {
                return bad(format!("caller {:?} is defined twice", c.name));
            }
            check_secret_source(
                &format!("caller {:?}", c.name),
                &c.secret_env,
                &c.secret_file,
                &c.secret,
                c.danger_allow_secret_in_config,
                false,
            )?;
            for u in &c.uids {
                if let Some(other) = uids.insert(*u, &c.name) {
                    return bad(format!(
                        "uid {u} belongs to two callers ({other:?} and {:?})",
                        c.name
                    ));
                }
            }
            if c.identities.is_empty() {
                return bad(format!(
                    "caller {:?} may use no identity: list some in identities (or \"*\")",
                    c.name
                ));
            }
            for n in &c.identities {
                if n != "*" && !names.contains(n.as_str()) {
                    return bad(format!(
                        "caller {:?} names identity {n:?}, which is not defined",
                        c.name
                    ));
                }
            }
            if c.resources.is_empty() && c.scopes.is_empty() {
                return bad(format!(
                    "caller {:?} may have no token: list resources (or \"*\") or scopes",
                    c.name
                ));
            }
        }
        Ok(caller_names)
    }
}

/// `[redis]`: a known scheme, no password in the URL (unless allowed), TLS beyond
/// loopback (unless allowed), a key.
fn check_redis(r: &super::RedisSection) -> Result<(), BrokerError> {
    let bad = |m: String| Err(ConfigError::Check(m).into());
    if !(r.url.starts_with("redis://")
        || r.url.starts_with("rediss://")
        || r.url.starts_with("unix://"))
    {
        return bad("[redis] url must start with redis://, rediss:// (TLS) or unix://".into());
    }
    let userinfo = r
        .url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
        .and_then(|authority| authority.rsplit_once('@'))
        .map(|(info, _)| info);
    if userinfo.is_some_and(|i| i.contains(':')) && !r.danger_allow_secret_in_config {
        return bad("[redis] url has a password written in it; move it to password_env or password_file, or set danger_allow_secret_in_config = true".into());
    }
    if userinfo.is_some() && (r.password_env.is_some() || r.password_file.is_some()) {
        return bad(
            "[redis] give the password either in url or in password_env/password_file, not both"
                .into(),
        );
    }
    if r.url.starts_with("redis://") && !r.danger_allow_plain_redis {
        let host = redis_host(&r.url);
        if !is_loopback_host(host) {
            return bad(format!(
                "[redis] url is plain redis:// to {host:?}, which is not loopback: the Redis password and the broker's traffic would cross the network unencrypted. Use rediss:// (TLS), or set danger_allow_plain_redis = true in [redis] if the network is private"
            ));
        }
    }
    if r.ca_file.is_some() && !r.url.starts_with("rediss://") {
        return bad("[redis] ca_file is for rediss:// (TLS) URLs only".into());
    }
    if r.key_env.is_none() && r.key_file.is_none() {
        return bad(
            "[redis] needs key_env or key_file: tokens in Redis are encrypted with that key".into(),
        );
    }
    Ok(())
}
/// The host of a `redis://` URL (without userinfo, port or brackets).
fn redis_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    hostport.split(':').next().unwrap_or("")
}

/// `localhost` or a loopback IP address.
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `field` of identity `name` is set and not blank.
fn need(v: &Option<String>, name: &str, field: &'static str) -> Result<(), BrokerError> {
    match v {
        Some(s) if !s.trim().is_empty() => Ok(()),
        _ => Err(ConfigError::Missing {
            what: format!("identity {name:?}"),
            needs: field,
        }
        .into()),
    }
}
