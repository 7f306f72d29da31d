//! The `entra` binary as a user runs it: flags, exit codes, files it writes, signals.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn entra() -> Command {
    Command::new(env!("CARGO_BIN_EXE_entra"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("entra-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn print_config_prints_the_effective_directory() {
    let dir = temp_dir("print");
    let out = entra()
        .args([
            "emulator",
            "--print-config",
            "--token-lifetime",
            "1234",
            "--state-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("contoso.onmicrosoft.com"));
    assert!(text.contains("token_lifetime_seconds = 1234"));
    // What it prints is itself a valid directory file.
    let file = dir.join("printed.toml");
    std::fs::write(&file, &text).unwrap();
    let again = entra()
        .args(["emulator", "--print-config", "--config"])
        .arg(&file)
        .arg("--state-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_config_exits_2_naming_file_line_and_key() {
    let dir = temp_dir("bad");
    let file = dir.join("directory.toml");
    std::fs::write(
        &file,
        "[[tenants]]\nid = \"not-a-guid\"\ndomain = \"x.example\"\n",
    )
    .unwrap();
    let out = entra()
        .args(["emulator", "--print-config", "--config"])
        .arg(&file)
        .arg("--state-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("directory.toml:2: tenants[0].id"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn mint_federated_needs_a_running_emulator_or_an_issuer() {
    let dir = temp_dir("mint");
    let out = entra()
        .args([
            "emulator",
            "mint-federated",
            "--subject",
            "s",
            "--state-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ready.json"));
    let token_file = dir.join("token");
    let out = entra()
        .args([
            "emulator",
            "mint-federated",
            "--subject",
            "s",
            "--issuer",
            "https://issuer.example",
            "--out",
        ])
        .arg(&token_file)
        .arg("--state-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(&token_file)
            .unwrap()
            .split('.')
            .count(),
        3
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn emulator_writes_ready_json_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("run");
    let mut child = entra()
        .args(["emulator", "--port", "0", "--state-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = dir.join("ready.json");
    let start = Instant::now();
    while !ready.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&ready).unwrap_or_default();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        text.contains("\"authority\": \"https://localhost:"),
        "{text}"
    );
    for key in [
        "ca_file",
        "admin_token",
        "identity_endpoint",
        "identity_header",
        "imds_endpoint",
    ] {
        assert!(text.contains(key), "ready.json lacks {key}");
    }
    assert!(
        exit.is_some_and(|s| s.success()),
        "SIGTERM should stop it cleanly"
    );
    assert!(!ready.exists(), "ready.json is removed on shutdown");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("tls-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // The CA's key is not kept (nothing more can be issued under the trusted CA).
        assert!(!dir.join("ca-key.pem").exists());
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn demo_runs_every_scenario_against_its_own_emulator() {
    let out = entra().args(["demo", "--json"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let steps = v["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Service principal token",
            "Browser sign-in with PKCE",
            "Device code sign-in",
            "Silent refresh, rotation",
            "On-behalf-of",
            "Managed identity",
            "Token broker",
            "Protected API",
            "Code sent as a bearer"
        ]
    );
    assert!(steps.iter().all(|s| s["ok"] == true), "{text}");
    assert_eq!(v["failed"], 0);
    assert!(
        steps[6]["detail"]
            .as_str()
            .unwrap()
            .contains("(1 upstream request)")
    );
    assert!(
        steps[8]["detail"]
            .as_str()
            .unwrap()
            .contains("this looks like an authorization code")
    );
    // No token, code or secret is printed.
    for secret in ["eyJ", "daemon-dev-secret", "alice-dev-password"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }

    // The human table, with times normalised.
    let out = entra().arg("demo").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            // Up to the time column ("<n> ms"), which varies.
            let cells: Vec<&str> = l.split_whitespace().collect();
            let end = cells
                .windows(2)
                .position(|w| w[0].parse::<u64>().is_ok() && w[1] == "ms")
                .unwrap_or(cells.len());
            cells[..end].join(" ")
        })
        .collect();
    assert_eq!(
        lines,
        [
            "# step result time detail",
            "1 Service principal token ok",
            "2 Browser sign-in with PKCE ok",
            "3 Device code sign-in ok",
            "4 Silent refresh, rotation ok",
            "5 On-behalf-of ok",
            "6 Managed identity ok",
            "7 Token broker ok",
            "8 Protected API ok",
            "9 Code sent as a bearer ok"
        ]
    );
    assert!(text.contains("9 of 9 steps ok"), "{text}");
}
