//! The `environment` check: the AZURE_*, ENTRA_*, managed-identity and CA variables set,
//! secrets shown as "set", and partial or dangling settings.

use std::path::Path;

use super::report::{Check, Status};

/// Variables whose value is a secret: shown as "set" only.
fn is_secret(name: &str) -> bool {
    name.contains("SECRET") || name.contains("PASSWORD") || name.ends_with("_HEADER")
}

fn is_relevant(name: &str) -> bool {
    ["AZURE_", "ENTRA_", "IDENTITY_", "MSI_", "MSAL_"]
        .iter()
        .any(|p| name.starts_with(p))
        || [
            "IMDS_ENDPOINT",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
        ]
        .contains(&name)
}

pub(super) fn check() -> Check {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| is_relevant(k) && k != "ENTRA_LOG")
        .collect();
    vars.sort();
    let get = |n: &str| {
        vars.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let mut problems = Vec::new();
    if get("AZURE_CLIENT_SECRET").is_some() || get("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
        for needed in ["AZURE_CLIENT_ID", "AZURE_TENANT_ID"] {
            if get(needed).is_none() {
                problems.push(format!(
                    "a client secret or certificate is set but {needed} is not: EnvironmentCredential needs it"
                ));
            }
        }
    }
    for file_var in [
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "ENTRA_CA_FILE",
    ] {
        if let Some(p) = get(file_var)
            && !Path::new(p).exists()
        {
            problems.push(format!("{file_var} names {p}, which does not exist"));
        }
    }
    let summary = match vars.len() {
        0 => "no AZURE_*, ENTRA_*, IDENTITY_*, MSI_* or CA variables set".to_string(),
        1 => "1 variable set".to_string(),
        n => format!("{n} variables set"),
    };
    let status = if problems.is_empty() {
        Status::Ok
    } else {
        Status::Warn
    };
    let mut c = Check::new("environment", status, summary);
    for (k, v) in &vars {
        c = c.detail(if is_secret(k) {
            format!("{k} (set)")
        } else {
            format!("{k}={v}")
        });
    }
    for p in &problems {
        c = c.detail(format!("warning: {p}"));
    }
    if !problems.is_empty() {
        c = c.advice("set the missing variables, or unset the partial ones");
    }
    c
}
