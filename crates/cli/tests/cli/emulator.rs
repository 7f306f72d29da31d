//! `entra emulator` as a user runs it: --print-config, a bad directory file, mint-federated,
//! ready.json and SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{entra, temp_dir};

#[test]
fn print_config_prints_the_effective_directory() {
    let dir = temp_dir("print");
    let out = entra(&dir)
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
    let again = entra(&dir)
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
    let out = entra(&dir)
        .args(["emulator", "--print-config", "--config"])
        .arg(&file)
        .arg("--state-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("directory.toml:2: tenants[0].id"), "{err}");
}

#[test]
fn mint_federated_needs_a_running_emulator_or_an_issuer() {
    let dir = temp_dir("mint");
    let out = entra(&dir)
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
    let out = entra(&dir)
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
}

#[test]
fn emulator_writes_ready_json_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("run");
    let mut child = entra(&dir)
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
}

/// `approve-device-code` finds the running emulator through ready.json; without one it
/// says so (exit 2), and it refuses to run without --user.
#[test]
fn approve_device_code_needs_a_running_emulator_and_a_user() {
    let dir = temp_dir("approve");
    let out = entra(&dir)
        .args(["emulator", "approve-device-code", "ABCD-EFGH", "--user"])
        .arg("alice@contoso.onmicrosoft.com")
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no running emulator") && err.contains("ready.json"),
        "{err}"
    );
    let out = entra(&dir)
        .args(["emulator", "approve-device-code", "ABCD-EFGH"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--user"));
}
