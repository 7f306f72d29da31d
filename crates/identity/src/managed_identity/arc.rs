//! Azure Arc: the agent's key-file challenge (`WWW-Authenticate: Basic realm=<file>`),
//! read only from the agent's token directory.

use std::path::{Path, PathBuf};

use super::host::ManagedIdentityHost;
use super::id::ManagedIdentityId;
use super::response::{read_token, strip_query, truncate, with_query};
use crate::env::Env;
use crate::error::Error;
use crate::http::{self, Pipeline};
use crate::secret::Secret;
use crate::token::AccessToken;

/// Largest Azure Arc key file read (azure-identity's and MSAL's limit).
pub(super) const ARC_MAX_KEY_BYTES: u64 = 4096;

/// The Azure Arc agent's token directory on this platform.
pub(super) fn arc_key_directory(env: &Env) -> Result<PathBuf, String> {
    if cfg!(target_os = "linux") {
        Ok(PathBuf::from("/var/opt/azcmagent/tokens"))
    } else if cfg!(windows) {
        env.get("ProgramData")
            .or(env.get("PROGRAMDATA"))
            .map(|p| {
                Path::new(p)
                    .join("AzureConnectedMachineAgent")
                    .join("Tokens")
            })
            .ok_or_else(|| "PROGRAMDATA is not set".to_string())
    } else {
        Err("Azure Arc managed identity exists on Linux and Windows only".into())
    }
}

/// A token from the Azure Arc agent at `url`: a first request, its 401 challenge naming
/// a key file in `key_directory`, then the request again with that key.
pub(super) async fn fetch(
    pipeline: &Pipeline,
    id: &ManagedIdentityId,
    key_directory: &Result<PathBuf, String>,
    url: &str,
    resource: &str,
) -> Result<AccessToken, Error> {
    let host = ManagedIdentityHost::AzureArc;
    let context = "Azure Arc managed identity endpoint";
    id.param(host, [None, None, None])?;
    let full = with_query(
        url,
        &[("api-version", "2020-06-01"), ("resource", resource)],
    );
    let first = pipeline
        .send(http::get(&full, &[("metadata", "true")])?, context)
        .await?;
    if first.status() != 401 {
        return read_token(host, url, &first, &[]);
    }
    let refuse = |message: String| Error::ManagedIdentity {
        host: host.name(),
        source: Box::new(Error::Response {
            endpoint: strip_query(url).to_string(),
            message,
        }),
    };
    let challenge = first
        .headers()
        .get(::http::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(path) = basic_realm(challenge) else {
        return Err(refuse(
            "HTTP 401 without a `WWW-Authenticate: Basic realm=<key file>` challenge".into(),
        ));
    };
    let dir = key_directory
        .as_ref()
        .map_err(|why| refuse(format!("cannot read the key file: {why}")))?;
    let key = read_arc_key(Path::new(path), dir).map_err(|why| {
        refuse(format!(
            "refused the key file {:?} named by the challenge: {why}",
            truncate(path, 300)
        ))
    })?;
    let authorization = Secret::new(format!("Basic {}", key.expose()));
    let second = pipeline
        .send(
            http::get(
                &full,
                &[
                    ("metadata", "true"),
                    ("authorization", authorization.expose()),
                ],
            )
            .map_err(|_| refuse("the key file's content is not a valid header value".into()))?,
            context,
        )
        .await?;
    read_token(host, url, &second, &[key.expose()])
}

/// `Basic realm=<path>` (the path may be quoted).
pub(super) fn basic_realm(challenge: &str) -> Option<&str> {
    let (scheme, rest) = challenge.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let (name, value) = rest.trim().split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("realm") {
        return None;
    }
    let value = value.trim().trim_matches('"');
    (!value.is_empty()).then_some(value)
}

/// Reads an Azure Arc key file, refusing anything outside `dir`, without a `.key`
/// extension, or over 4096 bytes (azure-identity's rules), after resolving links.
fn read_arc_key(path: &Path, dir: &Path) -> Result<Secret, String> {
    use std::io::Read as _;
    if path.extension().and_then(|e| e.to_str()) != Some("key") {
        return Err("it does not end in .key".into());
    }
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| format!("the agent's token directory {}: {e}", dir.display()))?;
    let file = std::fs::canonicalize(path).map_err(|e| format!("cannot open it: {e}"))?;
    if file.parent() != Some(dir.as_path()) {
        return Err(format!("it is not in {}", dir.display()));
    }
    let meta = std::fs::metadata(&file).map_err(|e| format!("cannot open it: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > ARC_MAX_KEY_BYTES {
        return Err(format!("it is larger than {ARC_MAX_KEY_BYTES} bytes"));
    }
    let mut content = Vec::new();
    std::fs::File::open(&file)
        .and_then(|f| f.take(ARC_MAX_KEY_BYTES + 1).read_to_end(&mut content))
        .map_err(|e| format!("cannot read it: {e}"))?;
    if content.len() as u64 > ARC_MAX_KEY_BYTES {
        return Err(format!("it is larger than {ARC_MAX_KEY_BYTES} bytes"));
    }
    let text = String::from_utf8(content).map_err(|_| "it is not text".to_string())?;
    let key = text.trim();
    if key.is_empty() {
        return Err("it is empty".into());
    }
    Ok(Secret::new(key))
}
