//! [`AzureCliCredential`]: the identity signed in to the Azure CLI (how it works is in its docs).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::cache::{CacheKey, TokenCache, TokenKind};
use crate::error::Error;
use crate::secret::Secret;
use crate::token::{AccessToken, TokenRequest, token_credential};
use crate::unix_time::seconds;

const NAME: &str = "AzureCliCredential";

/// The program run when no path is given (found on `PATH`).
#[cfg(windows)]
pub const DEFAULT_AZ: &str = "az.cmd";
/// The program run when no path is given (found on `PATH`).
#[cfg(not(windows))]
pub const DEFAULT_AZ: &str = "az";

/// How to run the Azure CLI.
#[derive(Debug, Clone)]
pub struct AzureCliOptions {
    /// The `az` program; `az` (`az.cmd` on Windows) on `PATH` when `None`.
    pub az_path: Option<PathBuf>,
    /// The tenant to ask for (`--tenant`); az's current one when `None`.
    pub tenant: Option<String>,
    /// Tenants a request may switch to (`*` for any); empty: only `tenant`.
    pub additionally_allowed_tenants: Vec<String>,
    /// How long az may take. 10 s by default, as in azure-identity.
    pub timeout: Duration,
}

impl Default for AzureCliOptions {
    fn default() -> Self {
        Self {
            az_path: None,
            tenant: None,
            additionally_allowed_tenants: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The identity signed in to the Azure CLI.
///
/// [`AzureCliCredential`]: the identity signed in to the Azure CLI, by running
/// `az account get-access-token --output json --resource R [--tenant T]`.
///
/// - `az` is run directly, never through a shell, from a directory the OS owns (so a
///   relative `PATH` entry cannot pick up an `az` planted in the working directory), with
///   a timeout (10 s by default) after which it is killed. The scope and tenant are
///   checked character by character and may not start with `-`, so neither can become
///   an option to `az`.
/// - One scope per request; the resource is the scope without `/.default`.
/// - The answer's `expires_on` (epoch seconds, az 2.54 and later) is used when present.
///   Older az only prints `expiresOn` as a *local* time without an offset
///   (`2024-01-01 12:00:00.000000`); it is read with the system's UTC offset at that
///   moment (from the `time` crate). Where the offset cannot be found it is read as UTC,
///   with a warning in the log: the token may then be thought to expire up to a
///   time-zone's width too early or too late.
/// - Tokens are cached (single-flight per resource and tenant), so a thousand callers
///   start one `az`.
/// - Errors: no `az` → [`Error::Unavailable`] "Azure CLI not found"; not signed in →
///   [`Error::Unavailable`] "not logged in: run az login"; a timeout →
///   [`Error::Unavailable`]; any other failure → [`Error::Response`] with the first line
///   of az's error output. No error ever carries az's standard output (the token).
pub struct AzureCliCredential {
    program: OsString,
    tenant: Option<String>,
    allowed_tenants: Vec<String>,
    timeout: Duration,
    cache: TokenCache,
}

impl std::fmt::Debug for AzureCliCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(NAME)
            .field("program", &self.program)
            .field("tenant", &self.tenant)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl AzureCliCredential {
    /// A credential running `az` as `options` say; fails only on a malformed tenant.
    pub fn new(options: AzureCliOptions) -> Result<Self, Error> {
        if let Some(t) = &options.tenant {
            check_tenant(t)?;
        }
        Ok(Self {
            program: options
                .az_path
                .map(PathBuf::into_os_string)
                .unwrap_or_else(|| DEFAULT_AZ.into()),
            tenant: options.tenant,
            allowed_tenants: options.additionally_allowed_tenants,
            timeout: options.timeout,
            cache: TokenCache::new(),
        })
    }

    /// The tenant for `request`: its own if allowed, else the configured one.
    fn tenant_for<'a>(&'a self, request: &'a TokenRequest) -> Result<Option<&'a str>, Error> {
        match request.tenant.as_deref() {
            None => Ok(self.tenant.as_deref()),
            Some(t)
                if self
                    .tenant
                    .as_deref()
                    .is_some_and(|c| c.eq_ignore_ascii_case(t)) =>
            {
                Ok(Some(t))
            }
            Some(t) => {
                check_tenant(t)?;
                if self
                    .allowed_tenants
                    .iter()
                    .any(|a| a == "*" || a.eq_ignore_ascii_case(t))
                {
                    Ok(Some(t))
                } else {
                    Err(Error::Config(format!(
                        "the request asks for tenant {t:?}, which this credential may not use; add it to additionally_allowed_tenants"
                    )))
                }
            }
        }
    }

    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        let [scope] = request.scopes.as_slice() else {
            return Err(Error::Config(format!(
                "the Azure CLI takes exactly one scope per request, got {}",
                request.scopes.len()
            )));
        };
        check_scope(scope)?;
        if request.claims.is_some() {
            return Err(Error::Unavailable {
                credential: NAME,
                reason: "a claims challenge needs a fresh interactive sign-in, which az cannot do from here: run `az login` again".into(),
            });
        }
        let resource = scope.strip_suffix("/.default").unwrap_or(scope);
        let tenant = self.tenant_for(request)?;
        let key = CacheKey::new(
            "azure-cli",
            tenant.unwrap_or(""),
            "",
            "",
            std::slice::from_ref(scope),
            TokenKind::User,
        );
        self.cache
            .get_or_fetch(&key, false, || self.run(resource, tenant))
            .await
    }

    async fn run(&self, resource: &str, tenant: Option<&str>) -> Result<AccessToken, Error> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args([
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
            resource,
        ]);
        if let Some(t) = tenant {
            cmd.args(["--tenant", t]);
        }
        cmd.env("AZURE_CORE_NO_COLOR", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = safe_working_dir() {
            cmd.current_dir(dir);
        }
        let child = cmd.spawn().map_err(|e| Error::Unavailable {
            credential: NAME,
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "Azure CLI not found: install it (https://aka.ms/azure-cli) or put {} on PATH, then run `az login`",
                    self.program.to_string_lossy()
                )
            } else {
                format!("could not run {}: {e}", self.program.to_string_lossy())
            },
        })?;
        // Dropping the future on timeout drops the child, which kills it (kill_on_drop).
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| Error::Unavailable {
                credential: NAME,
                reason: format!(
                    "the Azure CLI did not answer within {} s",
                    self.timeout.as_secs_f32()
                ),
            })?
            .map_err(|e| Error::Unavailable {
                credential: NAME,
                reason: format!("running the Azure CLI: {e}"),
            })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if (stderr.contains("az login") || stderr.contains("az account set"))
                && !stderr.contains("AADSTS")
            {
                return Err(Error::Unavailable {
                    credential: NAME,
                    reason: "not logged in: run az login".into(),
                });
            }
            let first = stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(redact)
                .unwrap_or_else(|| "no error output".into());
            return Err(Error::Response {
                endpoint: "the Azure CLI".into(),
                message: format!("az exited with {}: {first}", exit_text(&out.status)),
            });
        }
        parse_output(&out.stdout)
    }
}

token_credential!(AzureCliCredential, NAME);

/// Reads `az account get-access-token --output json`. Errors never quote the output.
pub fn parse_output(stdout: &[u8]) -> Result<AccessToken, Error> {
    let bad = |message: &str| Error::Response {
        endpoint: "the Azure CLI".into(),
        message: message.into(),
    };
    let v: serde_json::Value =
        serde_json::from_slice(stdout).map_err(|_| bad("its output is not JSON"))?;
    let token = v
        .get("accessToken")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("its output has no accessToken"))?;
    let expires_on = match seconds(v.get("expires_on")) {
        Some(s) => s,
        None => v
            .get("expiresOn")
            .and_then(|s| s.as_str())
            .and_then(parse_local_expires_on)
            .ok_or_else(|| bad("its output has no readable expires_on or expiresOn"))?,
    };
    Ok(AccessToken {
        token: Secret::new(token),
        expires_on,
        refresh_on: None,
        token_type: v
            .get("tokenType")
            .and_then(|t| t.as_str())
            .unwrap_or("Bearer")
            .into(),
    })
}

/// `2024-01-01 12:00:00.000000` (older az's `expiresOn`, a local time) as unix seconds:
/// with the system's UTC offset at that time, or as UTC when it cannot be found.
pub fn parse_local_expires_on(s: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    let local = time::PrimitiveDateTime::parse(s.trim(), format).ok()?;
    let as_utc = local.assume_utc();
    // The offset in force at (about) that moment; off by the DST shift only within an
    // hour of a change, which the 5-minute expiry buffer cannot hide but a retry fixes.
    match time::UtcOffset::local_offset_at(as_utc) {
        Ok(offset) => Some(local.assume_offset(offset).unix_timestamp()),
        Err(_) => {
            tracing::warn!(
                "the Azure CLI printed expiresOn as a local time and the local UTC offset is unknown: reading it as UTC (upgrade az to 2.54 or later, which prints expires_on)"
            );
            Some(as_utc.unix_timestamp())
        }
    }
}

/// Scopes are URIs or GUIDs: letters, digits and `_-.:/`, not starting with `-`.
fn check_scope(scope: &str) -> Result<(), Error> {
    let ok = !scope.is_empty()
        && !scope.starts_with('-')
        && scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:/".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "scope {scope:?} has characters the Azure CLI credential does not pass on (letters, digits and _-.:/ only, not starting with -)"
        )))
    }
}

/// Tenants are GUIDs or domains: letters, digits, `-` and `.`, not starting with `-`.
fn check_tenant(tenant: &str) -> Result<(), Error> {
    let ok = !tenant.is_empty()
        && !tenant.starts_with('-')
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "tenant {tenant:?} is not a tenant id or domain (letters, digits, - and . only)"
        )))
    }
}

/// Hides anything shaped like a JWT and bounds the length: error text may be logged.
fn redact(line: &str) -> String {
    let words: Vec<String> = line
        .split(' ')
        .map(|w| {
            if w.contains("eyJ") && w.len() > 20 {
                "[redacted]".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    let mut out = words.join(" ");
    if let Some(i) = out.find("accessToken") {
        out.truncate(i);
        out.push_str("[redacted]");
    }
    if out.len() > 300 {
        let mut end = 300;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push_str("...");
    }
    out
}

fn exit_text(status: &std::process::ExitStatus) -> String {
    match status.code() {
        Some(c) => format!("status {c}"),
        None => "a signal".into(),
    }
}

/// A directory the OS owns, to run az from (as azure-identity does).
fn safe_working_dir() -> Option<PathBuf> {
    if cfg!(windows) {
        std::env::var_os("SYSTEMROOT").map(PathBuf::from)
    } else {
        ["/bin", "/"].iter().map(PathBuf::from).find(|p| p.is_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_tenants_cannot_become_options() {
        assert!(check_scope("https://management.azure.com/.default").is_ok());
        assert!(check_scope("a0000000-0000-4000-8000-0000000000a1/.default").is_ok());
        for bad in [
            "--debug",
            "-x",
            "https://x/.default --tenant evil",
            "x;rm",
            "x\"",
            "",
        ] {
            assert!(check_scope(bad).is_err(), "{bad}");
        }
        assert!(check_tenant("contoso.onmicrosoft.com").is_ok());
        for bad in ["--all", "a b", "t/..", "", "t&x"] {
            assert!(check_tenant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn both_expiry_forms() {
        let t =
            parse_output(br#"{"accessToken":"x","expires_on":1893499200,"expiresOn":"garbage"}"#)
                .unwrap();
        assert_eq!(t.expires_on, 1893499200);
        let utc = 1704110400; // 2024-01-01 12:00:00 UTC
        let local = parse_local_expires_on("2024-01-01 12:00:00.000000").unwrap();
        let offset = time::UtcOffset::local_offset_at(
            time::OffsetDateTime::from_unix_timestamp(utc).unwrap(),
        )
        .map(|o| o.whole_seconds() as i64)
        .unwrap_or(0);
        assert_eq!(local, utc - offset);
        assert_eq!(parse_local_expires_on("2024-01-01 12:00:00"), Some(local));
        assert_eq!(parse_local_expires_on("tomorrow"), None);
        assert!(parse_output(br#"{"accessToken":"x"}"#).is_err());
        assert!(parse_output(br#"{"expires_on":1}"#).is_err());
    }

    #[test]
    fn error_lines_lose_tokens() {
        let line = "ERROR: bad token eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.sig here";
        assert_eq!(redact(line), "ERROR: bad token [redacted] here");
        assert_eq!(redact(r#"{"accessToken": "abc"}"#), "{\"[redacted]");
    }
}
