//! MSAL Python, for cache-file interop tests.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::tools::{python, repo_root};

/// Runs `tests/interop/msal_cache_interop.py COMMAND` (MSAL Python against the
/// emulator, reading or writing a shared token-cache file), bounded in time; its JSON
/// output (token digests, never tokens).
pub fn run_msal_cache_interop(
    command: &str,
    authority: &str,
    ca_file: &str,
    cache: &Path,
    work: &Path,
) -> Value {
    let script = repo_root().join("tests/interop/msal_cache_interop.py");
    let out_path = work.join(format!("msal-{command}.out"));
    let err_path = work.join(format!("msal-{command}.err"));
    let mut cmd = Command::new(python());
    cmd.arg(&script)
        .args([command, "--authority", authority, "--cache"])
        .arg(cache)
        .env("REQUESTS_CA_BUNDLE", ca_file)
        .env("SSL_CERT_FILE", ca_file)
        .env("NO_PROXY", "localhost,127.0.0.1,::1")
        .env("no_proxy", "localhost,127.0.0.1,::1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONWARNINGS", "ignore::DeprecationWarning")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("AZURE_")
            || k.starts_with("MSAL_")
            || k.to_ascii_lowercase().ends_with("_proxy") && !k.eq_ignore_ascii_case("no_proxy")
        {
            cmd.env_remove(&*k);
        }
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python().display()));
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "msal_cache_interop.py {command} timed out; stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        status.success(),
        "msal_cache_interop.py {command} failed ({status}):\n{stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"))
}
