//! The `Host` values this broker answers to: [`HostName`] (parsed from a `Host` header
//! or `[broker] allowed_hosts`) and [`HostPolicy`] (the fixed names and the listen
//! addresses).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::{BrokerError, ConfigError};

/// IMDS's own address: clients with an iptables redirect (or an `/etc/hosts` entry)
/// send it.
const IMDS_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254));

/// A host from a `Host` header or the allow-list: an IP address or a lower-case name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostName {
    /// An IP literal (IPv4-mapped IPv6 as IPv4).
    Ip(IpAddr),
    /// A DNS name, lower case.
    Name(String),
}

/// Parses `host[:port]` (`[v6]:port` for IPv6) as a `Host` header carries it; the port,
/// when there is one, must be a number. `None` for anything else.
pub(crate) fn parse_host(value: &str) -> Option<HostName> {
    if value.is_empty() || value.len() > 255 || !value.is_ascii() {
        return None;
    }
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inner.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (HostName::Ip(canonical(IpAddr::V6(ip))), port)
    } else {
        let (h, port) = match value.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        };
        let host = match h.parse::<Ipv4Addr>() {
            Ok(ip) => HostName::Ip(IpAddr::V4(ip)),
            Err(_) if valid_name(h) => HostName::Name(h.to_ascii_lowercase()),
            Err(_) => return None,
        };
        (host, port)
    };
    if let Some(p) = port
        && (p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u16>().is_err())
    {
        return None;
    }
    Some(host)
}

fn valid_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !h.starts_with('.')
        && !h.ends_with('.')
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Parses `[broker] allowed_hosts`: names or IP addresses, without ports.
pub(crate) fn parse_allowed_hosts(list: &[String]) -> Result<Vec<HostName>, BrokerError> {
    list.iter()
        .map(|entry| {
            if let Ok(v6) = entry.parse::<Ipv6Addr>() {
                return Ok(HostName::Ip(canonical(IpAddr::V6(v6))));
            }
            if entry.contains(':') && !(entry.starts_with('[') && entry.ends_with(']')) {
                return Err(ConfigError::AllowedHostPort(entry.clone()).into());
            }
            parse_host(entry).ok_or_else(|| ConfigError::AllowedHostInvalid(entry.clone()).into())
        })
        .collect()
}

/// Which `Host` values this broker answers to.
#[derive(Debug, Clone)]
pub(crate) struct HostPolicy {
    /// The addresses the broker listens on (its HTTP and metrics listeners).
    listen: Vec<IpAddr>,
    /// Listening on `0.0.0.0` or `[::]`: any IP literal names this broker.
    any_ip: bool,
}

impl HostPolicy {
    pub(crate) fn new(listen: &[SocketAddr]) -> Self {
        Self {
            listen: listen.iter().map(|a| canonical(a.ip())).collect(),
            any_ip: listen.iter().any(|a| a.ip().is_unspecified()),
        }
    }

    /// The names every broker answers to, and its listen addresses (`[broker]
    /// allowed_hosts` is asked separately, and only when this says no).
    pub(crate) fn allows(&self, host: &HostName) -> bool {
        match host {
            HostName::Ip(ip) => {
                *ip == IpAddr::V4(Ipv4Addr::LOCALHOST)
                    || *ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
                    || *ip == IMDS_IP
                    || self.any_ip
                    || self.listen.contains(ip)
            }
            HostName::Name(n) => n == "localhost",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(policy: &HostPolicy, extra: &[HostName], host: &str) -> bool {
        parse_host(host).is_some_and(|h| policy.allows(&h) || extra.contains(&h))
    }

    #[test]
    fn host_values() {
        let p = HostPolicy::new(&["10.0.0.5:8079".parse().unwrap()]);
        let extra = parse_allowed_hosts(&["Entra-Broker".into(), "fd00::5".into()]).unwrap();
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8079",
            "localhost:8079",
            "LOCALHOST",
            "[::1]:8079",
            "[::1]",
            "[::ffff:127.0.0.1]:1",
            "169.254.169.254",
            "169.254.169.254:80",
            "10.0.0.5:8079",
            "entra-broker:8079",
            "[fd00::5]:8079",
        ] {
            assert!(allowed(&p, &extra, ok), "{ok}");
        }
        for bad in [
            "attacker.example:8079",
            "attacker.example",
            "localhost.attacker.example",
            "127.0.0.1.nip.io:8079",
            "localhost.",
            "127.0.0.2:8079",
            "10.0.0.6",
            "",
            "127.0.0.1:",
            "127.0.0.1:80800",
            "127.0.0.1:x",
            "::1",
            "[::1",
            "[::1]x",
            "local host",
            "localhost:8079:1",
        ] {
            assert!(!allowed(&p, &extra, bad), "{bad:?}");
        }
        let any = HostPolicy::new(&["0.0.0.0:8079".parse().unwrap()]);
        assert!(allowed(&any, &[], "192.168.1.7:8079"));
        assert!(!allowed(&any, &[], "attacker.example:8079"));
    }

    #[test]
    fn allowed_hosts_setting() {
        assert!(
            parse_allowed_hosts(&["broker.internal".into(), "10.1.2.3".into(), "::1".into()])
                .is_ok()
        );
        let e = parse_allowed_hosts(&["broker:8079".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("without a port"), "{e}");
        let e = parse_allowed_hosts(&["*.example".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a host name"), "{e}");
    }
}
