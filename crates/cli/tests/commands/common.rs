//! Running `entra` against a test emulator: a hermetic environment (no AZURE_*/ENTRA_*
//! from the caller, HOME and the config dir in a temp dir, no colour), bounded waits,
//! tokens straight from the emulator's token endpoint, and output normalisation.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use entra_testkit::Harness;
use serde_json::Value;

pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const TENANT_ID: &str = "c0ffee00-0000-4000-8000-000000000001";
pub const PUBLIC_CLIENT: &str = "c1000000-0000-4000-8000-0000000000c1";
pub const DAEMON: &str = "d0000000-0000-4000-8000-0000000000d1";
pub const DAEMON_SECRET: &str = "daemon-dev-secret";
pub const API: &str = "a0000000-0000-4000-8000-0000000000a1";

/// A fresh temporary directory (removed by the caller at the end, best effort).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "entra-cmd-{name}-{}-{}",
        std::process::id(),
        uuid_ish()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_ish() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// `entra` with an empty environment but PATH, HOME and the config dir inside `dir`, and
/// `dir` as the working directory (so no stray entra.toml is read).
pub fn entra(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_entra"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("NO_COLOR", "1")
        .current_dir(dir);
    cmd
}

/// `entra` pointed at the harness's emulator, with the cache file in `dir`.
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
    cmd.env("AZURE_CLIENT_ID", DAEMON)
        .env("AZURE_CLIENT_SECRET", DAEMON_SECRET)
        .env("AZURE_TENANT_ID", TENANT)
}

#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with `stdin`, off the async runtime, killed after 60 seconds.
pub async fn run(mut cmd: Command, stdin: Option<Vec<u8>>) -> Out {
    tokio::task::spawn_blocking(move || {
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("entra starts");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(&input).unwrap();
        }
        // Drain the pipes on threads so a chatty child cannot block on a full pipe.
        let mut so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let t_out = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut so, &mut s).ok();
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut se, &mut s).ok();
            s
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("entra did not finish within 60 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Out {
            code: status.code(),
            stdout: t_out.join().unwrap(),
            stderr: t_err.join().unwrap(),
        }
    })
    .await
    .unwrap()
}

/// Alice's tokens through the public client (username/password, for tests only).
pub async fn alice(h: &Harness, scope: &str) -> Value {
    h.token_ok(
        TENANT,
        &[
            ("grant_type", "password"),
            ("client_id", PUBLIC_CLIENT),
            ("username", "alice@contoso.onmicrosoft.com"),
            ("password", "alice-dev-password"),
            ("scope", scope),
        ],
    )
    .await
}

/// The daemon's app token for `scope`.
pub async fn daemon(h: &Harness, scope: &str) -> String {
    h.access_token(
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", scope),
        ],
    )
    .await
}

/// Replaces every `from` with `to`.
pub fn subst(text: &str, pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
}

/// Replaces the value of each line whose first word (after indentation) is `label`
/// with `<label>`; for keys that change per run (kid, x5t).
pub fn mask_fields(text: &str, labels: &[&str]) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            for label in labels {
                if let Some(rest) = trimmed.strip_prefix(label)
                    && rest.starts_with("  ")
                {
                    let indent = &line[..line.len() - trimmed.len()];
                    let pad = rest.len() - rest.trim_start().len();
                    return format!("{indent}{label}{}<{label}>", " ".repeat(pad));
                }
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Every `YYYY-MM-DD hh:mm:ss UTC (relative)` becomes `<utc> (<relative>)`; the
/// relative parts are returned in order for their own assertions.
pub fn mask_times(text: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut relatives = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(" UTC") {
        // The 19 characters before " UTC" are the date and time.
        let start = i.saturating_sub(19);
        let candidate = &rest[start..i];
        let looks_like_time = candidate.len() == 19
            && candidate.as_bytes()[4] == b'-'
            && candidate.as_bytes()[10] == b' '
            && candidate.as_bytes()[13] == b':';
        if !looks_like_time {
            out.push_str(&rest[..i + 4]);
            rest = &rest[i + 4..];
            continue;
        }
        out.push_str(&rest[..start]);
        out.push_str("<utc>");
        rest = &rest[i + 4..];
        if let Some(after) = rest.strip_prefix(" (")
            && let Some(end) = after.find(')')
        {
            relatives.push(after[..end].to_string());
            out.push_str(" (<relative>)");
            rest = &after[end + 1..];
        }
    }
    out.push_str(rest);
    (out, relatives)
}

/// `text` with each run of digits directly before `unit` replaced by `N`.
pub fn mask_numbers_before(text: &str, unit: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(unit) {
        let head = &rest[..i];
        let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str(&head[..head.len() - digits]);
            out.push('N');
        } else {
            out.push_str(head);
        }
        out.push_str(unit);
        rest = &rest[i + unit.len()..];
    }
    out.push_str(rest);
    out
}

/// Asserts `actual == expected`, showing both in full when they differ.
#[track_caller]
pub fn assert_snapshot(actual: &str, expected: &str) {
    if actual != expected {
        panic!(
            "output differs from the snapshot\n--- expected\n{expected}\n--- actual\n{actual}\n---"
        );
    }
}
