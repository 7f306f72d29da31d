//! The `configuration` check: the effective settings and the layer each came from.

use super::report::{Check, Status};
use crate::config::{Config, Setting};

fn setting(name: &str, s: &Setting<String>) -> String {
    format!("{name:<11}{} ({})", s.value, s.source)
}

pub(super) fn check(config: &Config) -> Check {
    let file = match &config.file {
        Some(f) => format!("configuration file {}", f.display()),
        None => "no entra.toml: built-in defaults, environment and flags".to_string(),
    };
    let status = if config.warnings.is_empty() {
        Status::Ok
    } else {
        Status::Warn
    };
    let mut c = Check::new("configuration", status, file)
        .detail(setting("authority", &config.authority))
        .detail(setting("tenant", &config.tenant))
        .detail(setting("client id", &config.client_id));
    if let Some(ca) = &config.ca_file {
        c = c.detail(format!(
            "{:<11}{} ({})",
            "CA file",
            ca.value.display(),
            ca.source
        ));
    }
    for w in &config.warnings {
        c = c.detail(format!("warning: {w}"));
    }
    if status == Status::Warn {
        c = c.advice("fix or remove the keys named above (they are ignored)");
    }
    c
}
