//! The binary once over loopback: it prints its address, serves health, accepts a
//! daemon token and refuses what the router refuses.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use entra_testkit::Harness;
use serde_json::Value;

use crate::common::{API, API_DEFAULT, API_URI, OTHER_TENANT_ID, TENANT_ID};

/// Stops the child with SIGTERM (graceful shutdown) when dropped, killing it if needed.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_over_loopback() {
    let h = Harness::start().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_protected-api"))
        .args(["--listen", "127.0.0.1:0", "--authority", h.base()])
        .args([
            "--tenant",
            TENANT_ID,
            "--audience",
            API,
            "--audience",
            API_URI,
        ])
        .arg("--ca-file")
        .arg(&h.ready().ca_file)
        .env_remove("PROTECTED_API_AUDIENCE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let first_line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    });
    let base = tokio::time::timeout(Duration::from_secs(60), first_line)
        .await
        .expect("the binary prints its address")
        .unwrap()
        .trim()
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base:?}");
    assert!(!base.ends_with(":0"), "{base:?}");

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let token = h.daemon_token(API_DEFAULT).await;
    let resp = http
        .get(format!("{base}/data"))
        .bearer_auth(&token)
        .header("x-tenant-id", TENANT_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 2);

    let resp = http.get(format!("{base}/data")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"protected-api\""
    );
    let resp = http
        .get(format!("{base}/account/me"))
        .bearer_auth(&token)
        .header("x-tenant-id", OTHER_TENANT_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    drop(server);
    h.stop().await;
}
