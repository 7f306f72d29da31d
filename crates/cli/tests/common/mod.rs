//! Running `entra` against an in-process emulator: a hermetic environment (nothing of
//! the caller's leaks in; managed identity and the Azure CLI point nowhere), bounded
//! waits, and output normalised for whole-text comparisons.

#![allow(dead_code, reason = "each test binary uses part of it")]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use entra_testkit::Harness;
use serde_json::Value;

pub const TENANT: &str = "c0ffee00-0000-4000-8000-000000000001";
pub const DAEMON: &str = "d0000000-0000-4000-8000-0000000000d1";
pub const API: &str = "a0000000-0000-4000-8000-0000000000a1";
pub const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";

/// How long any one `entra` run may take.
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// One test's `entra`: the emulator's authority and CA, a token cache file and an empty
/// PATH directory in a temporary directory of its own.
pub struct Entra {
    pub authority: String,
    pub ca_file: String,
    pub dir: PathBuf,
    pub cache: PathBuf,
    env: Vec<(String, String)>,
}

impl Entra {
    pub fn new(h: &Harness, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "entra-cli-{name}-{}-{}",
            std::process::id(),
            uuid_ish()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        Self {
            authority: h.base().to_string(),
            ca_file: h.ready().ca_file.clone(),
            cache: dir.join("token-cache.bin"),
            dir,
            env: Vec::new(),
        }
    }

    /// Sets a variable for every later run.
    pub fn env(&mut self, k: &str, v: &str) -> &mut Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// The service principal variables for the emulator's daemon app.
    pub fn daemon(&mut self) -> &mut Self {
        self.env("AZURE_CLIENT_ID", DAEMON)
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_SECRET", "daemon-dev-secret")
    }

    /// `entra ARGS` with the global flags for this emulator and cache, in a cleared
    /// environment: no proxy, no keyring session, PATH an empty directory (so no `az`),
    /// and IMDS at a closed loopback port (so managed identity fails fast, locally).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_entra"));
        cmd.env_clear()
            .env("PATH", self.dir.join("bin"))
            .env("HOME", &self.dir)
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
            .args(args)
            .arg("--authority")
            .arg(&self.authority)
            .arg("--ca-file")
            .arg(&self.ca_file)
            .arg("--token-cache")
            .arg(&self.cache)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `entra ARGS` to completion (bounded), off the async runtime.
    pub async fn run(&self, args: &[&str]) -> Output {
        let cmd = self.command(args);
        tokio::task::spawn_blocking(move || run_bounded(cmd))
            .await
            .unwrap()
    }

    /// Replaces what varies between runs (ports, paths, ids, times) with fixed words.
    pub fn normalise(&self, text: &str) -> String {
        let mut t = text.replace(&self.authority, "https://EMULATOR");
        t = t.replace(&self.dir.display().to_string(), "TMP");
        replace_guids_after(&t, &["trace ", "correlation "])
    }
}

impl Drop for Entra {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn uuid_ish() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Waits for `cmd` at most [`RUN_LIMIT`], its output going through files (no pipe can
/// fill up and stall it).
pub fn run_bounded(mut cmd: Command) -> Output {
    let dir = std::env::temp_dir();
    let tag = uuid_ish();
    let (out_path, err_path) = (
        dir.join(format!("entra-out-{tag}")),
        dir.join(format!("entra-err-{tag}")),
    );
    cmd.stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().expect("entra starts");
    let status = wait_bounded(&mut child, RUN_LIMIT);
    let out = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    out
}

/// A long-running `entra` killed when the test ends, whether it passed or panicked (a
/// failed assertion must not leave a server behind).
pub struct Reaped(pub Child);

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("entra did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads `child`'s stderr line by line on a thread until `want` finds what it looks
/// for (bounded); returns that and the lines read so far; the thread keeps draining.
pub fn watch_stderr<T: Send + 'static>(
    child: &mut Child,
    want: impl Fn(&str) -> Option<T> + Send + 'static,
) -> (
    std::sync::mpsc::Receiver<T>,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let all = seen.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            all.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(found) = want(&line) {
                let _ = tx.send(found);
            }
        }
    });
    (rx, seen)
}

/// Replaces a GUID right after each of `markers` with `<id>`.
fn replace_guids_after(text: &str, markers: &[&str]) -> String {
    let mut out = text.to_string();
    for m in markers {
        let mut from = 0;
        while let Some(i) = out[from..].find(m) {
            let start = from + i + m.len();
            let end = start + 36;
            if out.len() >= end && out[start..end].chars().filter(|c| *c == '-').count() == 4 {
                out.replace_range(start..end, "<id>");
            }
            from = start;
        }
    }
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// The JWT's claims (not verified: the emulator's own tests do that).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64_url(payload);
    serde_json::from_slice(&bytes).unwrap()
}

fn base64_url(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = A.iter().position(|&a| a == c).expect("base64url") as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

/// The emulator's request counters, without the admin API's own requests.
pub async fn counters(h: &Harness) -> Value {
    let mut c = h.counters().await;
    if let Some(map) = c.as_object_mut() {
        map.retain(|k, _| !k.contains("admin"));
    }
    c
}
