//! Workload identity (AKS, or any platform that projects a federated token into a file):
//! [`WorkloadIdentityCredential`] is a [`ClientAssertionCredential`] whose assertion is the
//! token in `AZURE_FEDERATED_TOKEN_FILE`.
//!
//! The kubelet rotates that token (hourly by default, and it lives about a day). Reading it
//! once at startup is the classic bug: hours later Entra refuses the stale assertion with
//! AADSTS700024. This credential reads the file whenever it needs an assertion, and keeps
//! the content at most five minutes, and only while the file's modification time, size and
//! inode are unchanged, so a rotation is seen at once.
//!
//! Settings default to the variables the AKS webhook injects: `AZURE_TENANT_ID`,
//! `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_AUTHORITY_HOST`.
//!
//! ## Security notes
//! The token read from the file is a [`Secret`]; `Debug` shows the file's path only.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::authority::AZURE_PUBLIC_CLOUD;
use crate::confidential::{AssertionCallback, ClientAssertionCredential};
use crate::env::Env;
use crate::error::Error;
use crate::options::ClientOptions;
use crate::secret::Secret;
use crate::token::{AccessToken, BoxFuture, TokenCredential, TokenRequest};

/// How long the file's content is reused while the file looks unchanged.
pub const TOKEN_FILE_MAX_AGE: Duration = Duration::from_secs(300);
/// Largest token file read (projected tokens are a few KiB).
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// Settings for [`WorkloadIdentityCredential`]; every `None` falls back to the environment.
#[derive(Debug, Clone, Default)]
pub struct WorkloadIdentityOptions {
    /// Tenant; `AZURE_TENANT_ID` when `None`.
    pub tenant_id: Option<String>,
    /// The app registration's (or user-assigned identity's) client id; `AZURE_CLIENT_ID`.
    pub client_id: Option<String>,
    /// The federated token file; `AZURE_FEDERATED_TOKEN_FILE`.
    pub token_file: Option<PathBuf>,
    /// Authority, transport. `authority_host` falls back to `AZURE_AUTHORITY_HOST`, then
    /// the public cloud.
    pub client: ClientOptions,
    /// The environment to read; `None` reads the process's.
    pub env: Option<Env>,
}

/// Client credentials with the projected federated token as the client assertion.
pub struct WorkloadIdentityCredential {
    inner: ClientAssertionCredential,
    tenant_id: String,
    client_id: String,
    file: Arc<TokenFile>,
}

impl std::fmt::Debug for WorkloadIdentityCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadIdentityCredential")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("token_file", &self.file.path)
            .finish()
    }
}

impl WorkloadIdentityCredential {
    /// Checks that tenant, client id and token file are known (the file itself is read
    /// only when a token is needed, so it may appear later).
    pub fn new(options: WorkloadIdentityOptions) -> Result<Self, Error> {
        let env = options.env.unwrap_or_else(Env::from_process);
        let need = |given: Option<String>, var: &str, what: &str| {
            given
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .or_else(|| env.get(var).map(str::to_string))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "workload identity needs {what}: pass it in the options or set {var}"
                    ))
                })
        };
        let tenant_id = need(options.tenant_id, "AZURE_TENANT_ID", "a tenant id")?;
        let client_id = need(options.client_id, "AZURE_CLIENT_ID", "a client id")?;
        let token_file = match options.token_file.filter(|p| !p.as_os_str().is_empty()) {
            Some(path) => path,
            None => PathBuf::from(need(
                None,
                "AZURE_FEDERATED_TOKEN_FILE",
                "the federated token file",
            )?),
        };
        let mut client = options.client;
        if client.authority_host.is_none() {
            // From the injected environment, never silently from the process's.
            client.authority_host = Some(
                env.get("AZURE_AUTHORITY_HOST")
                    .unwrap_or(AZURE_PUBLIC_CLOUD)
                    .to_string(),
            );
        }
        let file = Arc::new(TokenFile {
            path: token_file,
            cached: Mutex::new(None),
        });
        let reader = file.clone();
        let callback: AssertionCallback = Arc::new(move || {
            let file = reader.clone();
            Box::pin(async move { file.read().await })
        });
        Ok(Self {
            inner: ClientAssertionCredential::new(&tenant_id, &client_id, callback, client)?,
            tenant_id,
            client_id,
            file,
        })
    }

    /// The token file.
    pub fn token_file(&self) -> &std::path::Path {
        &self.file.path
    }
}

impl TokenCredential for WorkloadIdentityCredential {
    fn get_token<'a>(
        &'a self,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<AccessToken, Error>> {
        self.inner.get_token(request)
    }

    fn name(&self) -> &'static str {
        "WorkloadIdentityCredential"
    }
}

/// The projected token file and its last read content.
struct TokenFile {
    path: PathBuf,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    content: Secret,
    read_at: Instant,
    stamp: Stamp,
}

/// What changes when the kubelet rotates the token (it swaps a symlink, so the inode
/// changes; a plain rewrite changes the modification time).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        }
    }
}

impl TokenFile {
    fn unreadable(&self, why: impl std::fmt::Display) -> Error {
        Error::Config(format!(
            "workload identity: cannot use the federated token file {} (AZURE_FEDERATED_TOKEN_FILE): {why}",
            self.path.display()
        ))
    }

    async fn read(&self) -> Result<Secret, Error> {
        let meta = tokio::fs::metadata(&self.path)
            .await
            .map_err(|e| self.unreadable(e))?;
        let stamp = Stamp::of(&meta);
        if let Some(c) = self.cached.lock().expect("token file lock").as_ref()
            && c.stamp == stamp
            && c.read_at.elapsed() < TOKEN_FILE_MAX_AGE
        {
            return Ok(c.content.clone());
        }
        if meta.len() > MAX_TOKEN_FILE_BYTES {
            return Err(self.unreadable(format!("it is larger than {MAX_TOKEN_FILE_BYTES} bytes")));
        }
        let bytes = tokio::fs::read(&self.path)
            .await
            .map_err(|e| self.unreadable(e))?;
        let text = String::from_utf8(bytes).map_err(|_| self.unreadable("it is not text"))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(self.unreadable("it is empty"));
        }
        let content = Secret::new(token);
        tracing::debug!(path = %self.path.display(), "read the federated token file");
        *self.cached.lock().expect("token file lock") = Some(Cached {
            content: content.clone(),
            read_at: Instant::now(),
            stamp,
        });
        Ok(content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("entra-workload-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[tokio::test]
    async fn the_file_is_reread_when_it_changes() {
        let path = temp_file("token");
        std::fs::write(&path, "first\n").unwrap();
        let file = TokenFile {
            path: path.clone(),
            cached: Mutex::new(None),
        };
        assert_eq!(file.read().await.unwrap().expose(), "first");
        // Unchanged: served from memory.
        assert_eq!(file.read().await.unwrap().expose(), "first");
        // Rotation by symlink swap, as the kubelet does it: new inode.
        let next = path.with_file_name("token.next");
        std::fs::write(&next, "second").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(file.read().await.unwrap().expose(), "second");
        std::fs::write(&path, "  \n").unwrap();
        let e = file.read().await.unwrap_err().to_string();
        assert!(
            e.contains("is empty") && e.contains("AZURE_FEDERATED_TOKEN_FILE"),
            "{e}"
        );
        std::fs::remove_file(&path).unwrap();
        let e = file.read().await.unwrap_err().to_string();
        assert!(e.contains("cannot use the federated token file"), "{e}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn settings_come_from_the_given_environment() {
        let err = WorkloadIdentityCredential::new(WorkloadIdentityOptions {
            env: Some(Env::new()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("AZURE_TENANT_ID"), "{err}");
        let env = Env::from_pairs([
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent/token"),
        ]);
        let cred = WorkloadIdentityCredential::new(WorkloadIdentityOptions {
            env: Some(env),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            cred.token_file(),
            std::path::Path::new("/nonexistent/token")
        );
        let shown = format!("{cred:?}");
        assert!(shown.contains("contoso.onmicrosoft.com") && shown.contains("/nonexistent/token"));
    }
}
