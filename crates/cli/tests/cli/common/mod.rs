//! Running `entra` as a user would, in a hermetic environment: nothing of the caller's
//! environment leaks in (no AZURE_*, ENTRA_*, SSL_CERT_FILE), HOME and the config and
//! data directories are in a temporary directory of the test's own, PATH is an empty
//! directory (so no `az`), colour is off; every run is bounded. [`Entra`] adds the
//! emulator's authority, CA and a token cache file. Output normalisation is in [`text`].

#![allow(dead_code, reason = "each module of the binary uses part of it")]

pub mod text;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub use entra_testkit::Harness;
use entra_testkit::dev;
use serde_json::Value;
pub use text::*;

/// How long any one `entra` run may take.
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// A temporary directory with an empty `bin/` (the hermetic PATH), removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "entra-cli-{name}-{}-{}",
            std::process::id(),
            unique()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// `entra` in the hermetic environment of `dir` (see the module doc), `dir` as its
/// working directory (so no stray entra.toml is read), stdin empty.
pub fn entra(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_entra"));
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    cmd.env_clear()
        .env("PATH", dir.join("bin"))
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

/// [`entra`] pointed at the harness's emulator (global flags first), with the token
/// cache file in `dir`.
pub fn entra_at(h: &Harness, dir: &Path) -> Command {
    let mut cmd = entra(dir);
    cmd.arg("--authority")
        .arg(h.base())
        .arg("--ca-file")
        .arg(&h.ready().ca_file)
        .arg("--token-cache")
        .arg(dir.join("cache.bin"));
    cmd
}

/// The daemon app's credentials in the environment (EnvironmentCredential).
pub fn as_daemon(cmd: &mut Command) -> &mut Command {
    cmd.env("AZURE_CLIENT_ID", dev::DAEMON)
        .env("AZURE_CLIENT_SECRET", dev::DAEMON_SECRET)
        .env("AZURE_TENANT_ID", dev::TENANT)
}

/// One test's `entra` against an emulator: [`entra`] in a directory of its own, plus
/// the emulator's authority and CA, a token cache file, variables set with
/// [`Entra::env`], and IMDS at a closed loopback port (so managed identity fails fast,
/// locally).
pub struct Entra {
    pub authority: String,
    pub ca_file: String,
    pub cache: PathBuf,
    pub dir: TempDir,
    env: Vec<(String, String)>,
}

impl Entra {
    pub fn new(h: &Harness, name: &str) -> Self {
        let dir = TempDir::new(name);
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
        self.env("AZURE_CLIENT_ID", dev::DAEMON)
            .env("AZURE_TENANT_ID", dev::TENANT_ID)
            .env("AZURE_CLIENT_SECRET", dev::DAEMON_SECRET)
    }

    /// `entra ARGS` with the global flags for this emulator and cache.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = entra(&self.dir);
        cmd.env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
            .args(args)
            .arg("--authority")
            .arg(&self.authority)
            .arg("--ca-file")
            .arg(&self.ca_file)
            .arg("--token-cache")
            .arg(&self.cache);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `entra ARGS` to completion (bounded), off the async runtime.
    pub async fn run(&self, args: &[&str]) -> Out {
        run(self.command(args), None).await
    }

    /// Replaces what varies between runs (ports, paths, ids, times) with fixed words.
    pub fn normalise(&self, text: &str) -> String {
        let mut t = text.replace(&self.authority, "https://EMULATOR");
        t = t.replace(&self.dir.display().to_string(), "TMP");
        replace_guids_after(&t, &["trace ", "correlation "])
    }
}

/// A finished run: its status, and its output as text.
#[derive(Debug)]
pub struct Out {
    pub status: ExitStatus,
    /// `status.code()`.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The run's stdout.
pub fn stdout(out: &Out) -> String {
    out.stdout.clone()
}

/// The run's stderr.
pub fn stderr(out: &Out) -> String {
    out.stderr.clone()
}

/// Runs `cmd` with `stdin` (if any) to completion, at most [`RUN_LIMIT`], off the async
/// runtime.
pub async fn run(cmd: Command, stdin: Option<Vec<u8>>) -> Out {
    tokio::task::spawn_blocking(move || run_blocking(cmd, stdin))
        .await
        .unwrap()
}

/// [`run`] without stdin, on this thread.
pub fn run_bounded(cmd: Command) -> Out {
    run_blocking(cmd, None)
}

/// Its output goes through files (no pipe can fill up and stall it).
fn run_blocking(mut cmd: Command, stdin: Option<Vec<u8>>) -> Out {
    let dir = std::env::temp_dir();
    let tag = unique();
    let (out_path, err_path) = (
        dir.join(format!("entra-out-{}-{tag}", std::process::id())),
        dir.join(format!("entra-err-{}-{tag}", std::process::id())),
    );
    cmd.stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("entra starts");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // A command that exits without reading it all is not this helper's failure.
        let _ = pipe.write_all(&input);
    }
    let status = wait_bounded(&mut child, RUN_LIMIT);
    let text = |p: &Path| String::from_utf8(std::fs::read(p).unwrap()).unwrap();
    let out = Out {
        status,
        code: status.code(),
        stdout: text(&out_path),
        stderr: text(&err_path),
    };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    out
}

/// Waits for `child` at most `limit`; kills it and panics after that.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("entra did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
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

/// Alice's tokens through the public client (username/password, for tests only).
pub async fn alice(h: &Harness, scope: &str) -> Value {
    h.token_ok(
        dev::TENANT,
        &[
            ("grant_type", "password"),
            ("client_id", dev::PUBLIC_CLIENT),
            ("username", dev::ALICE),
            ("password", dev::ALICE_PASSWORD),
            ("scope", scope),
        ],
    )
    .await
}

/// The daemon's app token for `scope`.
pub async fn daemon(h: &Harness, scope: &str) -> String {
    h.daemon_token(scope).await
}

/// The emulator's request counters, without the admin API's own requests.
pub async fn counters(h: &Harness) -> Value {
    let mut c = h.counters().await;
    if let Some(map) = c.as_object_mut() {
        map.retain(|k, _| !k.contains("admin"));
    }
    c
}

/// A fresh temporary directory (removed when dropped).
pub fn temp_dir(name: &str) -> TempDir {
    TempDir::new(name)
}
