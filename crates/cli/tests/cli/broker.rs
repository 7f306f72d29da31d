//! `entra broker` as an operator runs it: `--check`, a ready file, SIGHUP reloads the
//! file (a bad one is refused and the running configuration kept), SIGTERM stops it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use entra_testkit::{Harness, dev};

use crate::common::{self, Reaped, run_bounded, stderr, stdout, wait_bounded};

/// `entra broker --config FILE --ready-file READY` with `env` added, once its ready
/// file is written (at most 30 s): the process (killed when dropped) and the file.
fn start_broker(
    file: &Path,
    ready_file: &Path,
    env: &[(&str, &str)],
) -> (Reaped, serde_json::Value) {
    let mut cmd = common::entra(file.parent().expect("the file is in a directory"));
    cmd.args(["broker", "--config"])
        .arg(file)
        .arg("--ready-file")
        .arg(ready_file)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = Reaped(cmd.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        if let Ok(b) = std::fs::read(ready_file)
            && let Ok(v) = serde_json::from_slice(&b)
        {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the broker writes its ready file"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (child, ready)
}

fn config(h: &Harness, callers: &str) -> String {
    format!(
        r#"
[broker]
listen = "127.0.0.1:0"
audit_log = "audit.jsonl"

[[identity]]
name = "daemon"
kind = "client-secret"
tenant = "{}"
client_id = "{}"
secret_file = "daemon.secret"
authority = "{}"
ca_file = "{}"
{callers}"#,
        dev::TENANT_ID,
        dev::DAEMON,
        h.base(),
        h.ready().ca_file
    )
}

const APP: &str = r#"
[[caller]]
name = "app"
secret_file = "app.secret"
identities = ["daemon"]
resources = ["api://contoso-api"]
"#;

fn get(url: &str, secret: &str) -> (u16, String) {
    let out = run_bounded({
        let mut c = Command::new("curl");
        c.args(["-s", "--max-time", "20", "-w", "\n%{http_code}", "-H"])
            .arg(format!("X-IDENTITY-HEADER: {secret}"))
            .arg(url);
        c
    });
    let text = stdout(&out);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_runs_from_a_file_reloads_on_sighup_and_stops_on_sigterm() {
    let h = Harness::start().await;
    let dir = common::temp_dir("broker");
    std::fs::write(dir.join("daemon.secret"), dev::DAEMON_SECRET).unwrap();
    std::fs::write(dir.join("app.secret"), "app-caller-secret-0123456789\n").unwrap();
    std::fs::write(dir.join("ops.secret"), "ops-caller-secret-0123456789\n").unwrap();
    let file = dir.join("broker.toml");

    // --check reads the secrets and names what is wrong.
    std::fs::write(
        &file,
        config(&h, &APP.replace("app.secret", "missing.secret")),
    )
    .unwrap();
    let out = run_bounded({
        let mut c = common::entra(&dir);
        c.args(["broker", "--check", "--config"]).arg(&file);
        c
    });
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.secret"), "{}", stderr(&out));
    std::fs::write(&file, config(&h, APP)).unwrap();
    let out = run_bounded({
        let mut c = common::entra(&dir);
        c.args(["broker", "--check", "--config"]).arg(&file);
        c
    });
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("OK (1 identities, 1 callers)"));

    let ready_file = dir.join("ready.json");
    let (mut child, ready) = start_broker(&file, &ready_file, &[]);
    let endpoint = ready["identity_endpoint"].as_str().unwrap().to_string();
    let url = format!("{endpoint}?resource=api://contoso-api&api-version=2019-08-01");
    assert_eq!(get(&url, "app-caller-secret-0123456789").0, 200);
    assert_eq!(get(&url, "ops-caller-secret-0123456789").0, 401);

    let hup = || {
        let s = Command::new("kill")
            .arg("-HUP")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(s.success());
    };
    // A new caller, by SIGHUP.
    let ops = APP
        .replace("\"app\"", "\"ops\"")
        .replace("app.secret", "ops.secret");
    std::fs::write(&file, config(&h, &format!("{APP}{ops}"))).unwrap();
    // As logrotate does: move the audit log away, then SIGHUP.
    std::fs::rename(dir.join("audit.jsonl"), dir.join("audit.jsonl.1")).unwrap();
    hup();
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&url, "ops-caller-secret-0123456789").0 != 200 {
        assert!(Instant::now() < deadline, "SIGHUP added the ops caller");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A broken file is refused; both callers keep working.
    std::fs::write(&file, "this is not toml [").unwrap();
    hup();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(get(&url, "app-caller-secret-0123456789").0, 200);
    assert_eq!(get(&url, "ops-caller-secret-0123456789").0, 200);
    assert_eq!(
        h.counter("grant:client_credentials").await,
        1,
        "one token for everyone, kept across reloads"
    );

    let s = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(s.success());
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    assert!(status.success(), "SIGTERM stops it cleanly: {status}");
    assert!(!ready_file.exists(), "the ready file is removed");
    let rotated = std::fs::read_to_string(dir.join("audit.jsonl.1")).unwrap();
    assert_eq!(
        rotated.lines().count(),
        2,
        "the lines before the rotation: {rotated}"
    );
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert!(
        rotated.contains("\"outcome\":\"unauthorized\""),
        "{rotated}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["caller"] == "ops" && l["outcome"] == "ok")
    );
    assert!(!audit.contains("eyJ"), "no token in the audit log");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_fans_out_its_hosts_managed_identity() {
    // The broker's own host has a managed identity (here: the emulator's App Service
    // endpoint, found through IDENTITY_ENDPOINT/IDENTITY_HEADER as on Azure); callers get
    // its tokens through the broker.
    let h = Harness::start().await;
    let dir = common::temp_dir("broker-mi");
    std::fs::write(dir.join("app.secret"), "app-caller-secret-0123456789\n").unwrap();
    let file = dir.join("broker.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[broker]
listen = "127.0.0.1:0"
audit_log = "off"

[[identity]]
name = "host"
kind = "managed-identity"
ca_file = "{}"
{APP}"#,
            h.ready().ca_file
        )
        .replace("identities = [\"daemon\"]", "identities = [\"host\"]"),
    )
    .unwrap();
    let ready_file = dir.join("ready.json");
    let (mut child, ready) = start_broker(
        &file,
        &ready_file,
        &[
            ("IDENTITY_ENDPOINT", &h.ready().identity_endpoint),
            ("IDENTITY_HEADER", &h.ready().identity_header),
        ],
    );
    let url = format!(
        "{}?resource=api://contoso-api&api-version=2019-08-01",
        ready["identity_endpoint"].as_str().unwrap()
    );
    let (status, body) = get(&url, "app-caller-secret-0123456789");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let c = common::claims(v["access_token"].as_str().unwrap());
    assert_eq!(
        c.get("azp").or(c.get("appid")).unwrap(),
        "b0000000-0000-4000-8000-0000000000b1",
        "the emulator's system-assigned identity"
    );
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    assert!(status.success());
    h.stop().await;
}
