//! Runs `tests/interop/msal_request_parity.py` (MSAL Python from the interop venv) as a
//! child that talks JSON lines: it prints what the test must act on (an authorize URL, a
//! user code), reads what it needs (the redirect URL, a user token) from stdin, and ends
//! with `{"ok": true}`. Every wait is bounded.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use entra_testkit::{python, repo_root};

/// How long one flow of MSAL Python may take (a device-code poll waits its interval).
const FLOW_TIMEOUT: Duration = Duration::from_secs(90);

/// A running MSAL Python flow.
pub struct Msal {
    flow: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: PathBuf,
}

impl Msal {
    /// Starts `flow` against `authority`, trusting `ca_file`, with `args` added and only
    /// `env` (plus PATH and HOME) in its environment: nothing of the caller's Azure or
    /// proxy settings reaches MSAL.
    pub fn start(
        flow: &str,
        authority: &str,
        ca_file: &str,
        args: &[&str],
        env: &[(&str, &str)],
        work: &std::path::Path,
    ) -> Self {
        let script = repo_root().join("tests/interop/msal_request_parity.py");
        let stderr = work.join(format!("msal-{flow}-{}.err", uuid::Uuid::new_v4()));
        let mut cmd = Command::new(python());
        cmd.arg(&script)
            .args([flow, "--authority", authority])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .env("REQUESTS_CA_BUNDLE", ca_file)
            .env("SSL_CERT_FILE", ca_file)
            .env("NO_PROXY", "localhost,127.0.0.1,::1")
            .env("no_proxy", "localhost,127.0.0.1,::1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONWARNINGS", "ignore::DeprecationWarning")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python().display()));
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            flow: flow.to_string(),
            child,
            stdin,
            lines,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The next JSON line MSAL Python prints.
    pub async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(FLOW_TIMEOUT, self.lines.next_line()).await;
        match line {
            Ok(Ok(Some(line))) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("MSAL {}: not JSON ({e}): {line}", self.flow)),
            Ok(_) => {
                let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
                panic!("MSAL {} ended early:\n{}", self.flow, self.stderr())
            }
            Err(_) => panic!("MSAL {} timed out:\n{}", self.flow, self.stderr()),
        }
    }

    /// Writes one line to MSAL Python's stdin.
    pub async fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// Waits for `{"ok": true}` and a clean exit.
    pub async fn finish(mut self) {
        self.stdin = None;
        let last = self.next().await;
        assert_eq!(
            last["ok"],
            true,
            "MSAL {}: {last}\n{}",
            self.flow,
            self.stderr()
        );
        let status = tokio::time::timeout(FLOW_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("MSAL {} did not exit", self.flow))
            .unwrap();
        assert!(
            status.success(),
            "MSAL {}: {status}\n{}",
            self.flow,
            self.stderr()
        );
    }
}
