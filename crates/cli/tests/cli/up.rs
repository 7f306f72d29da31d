//! `entra up` as a user runs it: it prints shell `export` lines, a second shell that
//! sources them gets tokens with no other setup (entra's own variables, and the
//! managed-identity ones), and SIGTERM stops it cleanly.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use entra_testkit::dev::{DAEMON, TENANT_ID};

use crate::common::{Reaped, claims, entra, run_bounded, stderr, stdout, temp_dir, wait_bounded};

#[test]
fn up_prints_exports_that_work_and_stops_on_sigterm() {
    let dir = temp_dir("up");
    let mut child = Reaped(
        entra(&dir)
            .args(["up", "--port", "0", "--state-dir"])
            .arg(dir.join("state"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Read the export block: it ends with the admin line.
    let stdout_pipe = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout_pipe).lines() {
            let Ok(line) = line else { break };
            let last = line.starts_with("# admin API");
            text.push_str(&line);
            text.push('\n');
            if last {
                let _ = tx.send(text.clone());
            }
        }
    });
    let text = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("entra up prints its exports");
    let exports: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect();
    let names: Vec<&str> = exports.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "AZURE_AUTHORITY_HOST",
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "CURL_CA_BUNDLE",
            "HTTPS_PROXY",
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
            "NODE_EXTRA_CA_CERTS",
            "NO_PROXY",
            "REQUESTS_CA_BUNDLE",
            "SSL_CERT_FILE",
            "https_proxy",
            "no_proxy",
        ]
    );
    let authority = &exports["AZURE_AUTHORITY_HOST"];
    assert!(authority.starts_with("https://localhost:"), "{text}");
    // The whole block, with what varies replaced.
    let broker = exports["AZURE_POD_IDENTITY_AUTHORITY_HOST"].clone();
    assert!(broker.starts_with("http://127.0.0.1:"), "{text}");
    let mut normal = text.replace(authority.as_str(), "https://EMULATOR");
    normal = normal.replace(broker.as_str(), "http://BROKER");
    let proxy = exports["HTTPS_PROXY"].clone();
    assert!(proxy.starts_with("http://127.0.0.1:"), "{text}");
    normal = normal.replace(proxy.as_str(), "http://PROXY");
    normal = normal.replace(&dir.join("state").display().to_string(), "STATE");
    normal = normal.replace(&exports["IDENTITY_HEADER"], "HEADER");
    let admin = normal.lines().last().unwrap().to_string();
    assert!(admin.starts_with("# admin API: Authorization: Bearer "));
    let normal = normal.replace(&admin, "# admin API: Authorization: Bearer ADMIN");
    assert_eq!(
        normal,
        format!(
            "# entra, the entrakit libraries, MSAL and azure-identity (Python, Node, .NET): this authority and its CA; MSAL: disable instance discovery
export AZURE_AUTHORITY_HOST=https://EMULATOR
export SSL_CERT_FILE=STATE/ca-bundle.pem
export REQUESTS_CA_BUNDLE=STATE/ca-bundle.pem
export NODE_EXTRA_CA_CERTS=STATE/ca-bundle.pem

# unmodified code with Microsoft's real URLs (https://login.microsoftonline.com, https://api.fabric.microsoft.com, ...): served by the emulator through this proxy, which refuses every other host (nothing leaves this machine); the CA variables above name both local CAs
export HTTPS_PROXY=http://PROXY
export https_proxy=http://PROXY
export NO_PROXY=127.0.0.1,localhost,::1
export no_proxy=127.0.0.1,localhost,::1
export CURL_CA_BUNDLE=STATE/ca-bundle.pem

# managed-identity clients, served by the broker as the daemon app (App Service protocol; IMDS at this base)
export IDENTITY_ENDPOINT=http://BROKER/msi/token
export IDENTITY_HEADER=HEADER
export AZURE_POD_IDENTITY_AUTHORITY_HOST=http://BROKER

# a service principal for EnvironmentCredential (optional):
# export AZURE_TENANT_ID={TENANT_ID} AZURE_CLIENT_ID={DAEMON} AZURE_CLIENT_SECRET=daemon-dev-secret
# a public client for your own MSAL app: c1000000-0000-4000-8000-0000000000c1 (users alice, bob, mfa; passwords <name>-dev-password)
# admin API: Authorization: Bearer ADMIN
"
        )
    );

    // ready.json names the broker too.
    let ready: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("state/ready.json")).unwrap()).unwrap();
    assert_eq!(ready["broker"]["imds_endpoint"], broker.as_str());
    assert_eq!(
        ready["broker"]["identity_header"],
        exports["IDENTITY_HEADER"].as_str()
    );
    assert_eq!(ready["broker"]["metrics_url"], format!("{broker}/metrics"));
    assert_eq!(ready["proxy"]["url"], proxy.as_str());
    assert_eq!(
        ready["proxy"]["ca_bundle"],
        exports["SSL_CERT_FILE"].as_str()
    );

    // A shell with those exports: the default chain picks the managed identity, which
    // the broker serves as the daemon app.
    let mut token = entra(&dir);
    token
        .args(["token", "--resource", "api://contoso-api", "-o", "json"])
        .envs(&exports);
    let out = run_bounded(token);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["credential"], "ManagedIdentityCredential");
    let c = claims(json["access_token"].as_str().unwrap());
    assert_eq!(c["tid"], TENANT_ID);
    assert_eq!(c.get("azp").or(c.get("appid")).unwrap(), DAEMON);
    let audit = std::fs::read_to_string(dir.join("state/broker-audit.jsonl")).unwrap();
    assert!(audit.contains("\"outcome\":\"ok\""), "{audit}");

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    assert!(status.success(), "SIGTERM stops it cleanly: {status}");
    assert!(!dir.join("state/ready.json").exists());
}

/// `entra up` and `entra emulator` do not start in a state directory others may write
/// to: the error names the path, its owner and mode, and the fix; nothing is written.
#[test]
fn up_refuses_untrusted_state_dir() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = temp_dir("up-open");
    let dir = home.join("open");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    for args in [&["up", "--port", "0"][..], &["emulator", "--port", "0"][..]] {
        let mut cmd = entra(&home);
        cmd.args(args).arg("--state-dir").arg(&dir);
        let out = run_bounded(cmd);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&dir.display().to_string()), "{err}");
        assert!(err.contains("mode 0777"), "{err}");
        assert!(err.contains("chmod 700"), "{err}");
        assert!(
            std::fs::read_dir(&dir).unwrap().next().is_none(),
            "{args:?}"
        );
    }
}
