//! Where secrets come from: an environment variable (`*_env`), a file (`*_file`), or,
//! only when the table allows it, the configuration itself.

use std::path::PathBuf;

use entra_identity::Secret;
use serde::{Deserialize, Serialize};

use crate::error::{BrokerError, ConfigError};

/// A secret written into the configuration itself (`secret = "..."`): `Debug` never
/// shows it.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct InlineSecret(pub String);

impl std::fmt::Debug for InlineSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for InlineSecret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for InlineSecret {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

/// At most one source for a secret, and an inline secret only where the table allows it.
pub(super) fn check_secret_source(
    what: &str,
    env: &Option<String>,
    file: &Option<PathBuf>,
    inline: &Option<InlineSecret>,
    allow_inline: bool,
    _required: bool,
) -> Result<(), BrokerError> {
    let n =
        usize::from(env.is_some()) + usize::from(file.is_some()) + usize::from(inline.is_some());
    if n > 1 {
        return Err(ConfigError::SecretSources {
            what: what.to_string(),
        }
        .into());
    }
    if inline.is_some() && !allow_inline {
        return Err(ConfigError::InlineSecret {
            what: what.to_string(),
        }
        .into());
    }
    Ok(())
}

/// Reads a secret from its source: `Ok(None)` when no source is configured.
pub(crate) fn read_secret(
    what: &str,
    env: &Option<String>,
    file: &Option<PathBuf>,
    inline: &Option<InlineSecret>,
) -> Result<Option<Secret>, BrokerError> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(Secret::new(v.trim().to_string()))),
            Ok(_) => Err(ConfigError::SecretEnvEmpty {
                what: what.to_string(),
                var: var.clone(),
            }
            .into()),
            Err(_) => Err(ConfigError::SecretEnvUnset {
                what: what.to_string(),
                var: var.clone(),
            }
            .into()),
        };
    }
    if let Some(path) = file {
        let mut text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
            what: what.to_string(),
            path: path.clone(),
            source,
        })?;
        let trimmed = text.trim().to_string();
        zeroize::Zeroize::zeroize(&mut text);
        if trimmed.is_empty() {
            return Err(ConfigError::SecretFileEmpty {
                what: what.to_string(),
                path: path.clone(),
            }
            .into());
        }
        return Ok(Some(Secret::new(trimmed)));
    }
    Ok(inline.as_ref().map(|s| Secret::new(s.0.clone())))
}
