//! Reading a configuration: TOML from a file or a string, relative paths resolved,
//! and the addresses and modes it names, parsed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::{BrokerConfig, DEFAULT_UNIX_SOCKET_MODE};
use crate::error::{BrokerError, ConfigError};

impl BrokerConfig {
    /// Parses TOML; relative paths are relative to `base_dir`.
    pub fn from_toml(text: &str, base_dir: &Path) -> Result<Self, BrokerError> {
        let mut c: BrokerConfig = toml::from_str(text).map_err(ConfigError::Toml)?;
        c.resolve_paths(base_dir);
        Ok(c)
    }

    /// Reads and parses a file.
    pub fn from_file(path: &Path) -> Result<Self, BrokerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, base).map_err(|e| {
            ConfigError::InFile {
                path: path.to_path_buf(),
                source: Box::new(e),
            }
            .into()
        })
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut Option<PathBuf>| {
            if let Some(x) = p
                && x.is_relative()
            {
                *x = base.join(&*x);
            }
        };
        fix(&mut self.broker.unix_socket);
        fix(&mut self.broker.admin_token_file);
        fix(&mut self.broker.metrics_token_file);
        if let Some(a) = &mut self.broker.audit_log
            && a != "-"
            && a != "off"
            && Path::new(a.as_str()).is_relative()
        {
            *a = base.join(a.as_str()).to_string_lossy().into_owned();
        }
        if let Some(r) = &mut self.redis {
            fix(&mut r.key_file);
            fix(&mut r.previous_key_file);
            fix(&mut r.ca_file);
            fix(&mut r.password_file);
        }
        for i in &mut self.identities {
            fix(&mut i.secret_file);
            fix(&mut i.certificate_file);
            fix(&mut i.token_file);
            fix(&mut i.ca_file);
        }
        for c in &mut self.callers {
            fix(&mut c.secret_file);
        }
    }

    /// The listen address.
    pub(crate) fn listen_addr(&self) -> Result<SocketAddr, BrokerError> {
        self.broker.listen.parse().map_err(|_| {
            ConfigError::Address {
                field: "listen",
                value: self.broker.listen.clone(),
                example: "127.0.0.1:8079",
            }
            .into()
        })
    }

    /// The metrics listener's address, when `/metrics` has one of its own.
    pub(crate) fn metrics_listen_addr(&self) -> Result<Option<SocketAddr>, BrokerError> {
        let Some(m) = &self.broker.metrics_listen else {
            return Ok(None);
        };
        let addr: SocketAddr = m.parse().map_err(|_| ConfigError::Address {
            field: "metrics_listen",
            value: m.clone(),
            example: "127.0.0.1:9464",
        })?;
        if addr.port() != 0 && Some(addr) == self.listen_addr().ok() {
            return Err(ConfigError::MetricsOnListen(m.clone()).into());
        }
        Ok(Some(addr))
    }

    /// `[broker] unix_socket_mode`, parsed (octal).
    pub(crate) fn unix_socket_mode(&self) -> Result<u32, BrokerError> {
        let Some(text) = &self.broker.unix_socket_mode else {
            return Ok(DEFAULT_UNIX_SOCKET_MODE);
        };
        let digits = text.trim().trim_start_matches("0o");
        match u32::from_str_radix(digits, 8) {
            Ok(m) if m <= 0o777 && m & 0o600 == 0o600 => Ok(m),
            _ => Err(ConfigError::UnixSocketMode(text.clone()).into()),
        }
    }
}
