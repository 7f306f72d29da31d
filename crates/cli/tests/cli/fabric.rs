//! Microsoft Fabric and Power BI from the command line, against the emulator's local
//! APIs: `entra call` (scope from the URL, through an HTTPS proxy and around it with
//! NO_PROXY, Fabric's 401 body printed), and `entra decode` on Fabric tokens.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::*;

/// A CONNECT-only HTTP proxy on a loopback port that tunnels to 127.0.0.1 at the port
/// asked for (nothing leaves the machine): its URL and the CONNECT targets it saw.
async fn connect_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if head.len() > 8192 || conn.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let mut words = head.split_whitespace();
                let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
                    let _ = conn.write_all(b"HTTP/1.1 405 CONNECT only\r\n\r\n").await;
                    return;
                };
                log.lock().unwrap().push(target.to_string());
                let port = target.rsplit_once(':').map_or("", |(_, p)| p);
                let Ok(mut upstream) =
                    tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await
                else {
                    return;
                };
                let _ = conn
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
            });
        }
    });
    (url, seen)
}

fn display_names(stdout: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(stdout).unwrap();
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["displayName"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_fabric_directly_through_a_proxy_and_around_it() {
    let h = Harness::start().await;
    let mut e = Entra::new(&h, "call-fabric");
    e.daemon();
    let url = format!("{}/fabric/v1/workspaces", h.base());

    // The scope comes from the emulator's /fabric path: no --resource needed.
    let out = e.run(&["call", &url]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(display_names(&out.stdout), ["Sales", "Automation"]);

    // Through HTTPS_PROXY: the token request and the call are both tunnelled.
    let (proxy, seen) = connect_proxy().await;
    let port = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut cmd = e.command(&["call", &url]);
    cmd.env("HTTPS_PROXY", &proxy);
    let out = run(cmd, None).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(display_names(&out.stdout), ["Sales", "Automation"]);
    let tunnels = seen.lock().unwrap().clone();
    assert!(
        !tunnels.is_empty() && tunnels.iter().all(|t| t.ends_with(&format!(":{port}"))),
        "{tunnels:?}"
    );

    // NO_PROXY names the host: straight there.
    let host = url
        .split("://")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let mut cmd = e.command(&["call", &url]);
    cmd.env("HTTPS_PROXY", &proxy).env("NO_PROXY", &host);
    let out = run(cmd, None).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        seen.lock().unwrap().len(),
        tunnels.len(),
        "NO_PROXY={host} was not honoured"
    );

    // The CA from SSL_CERT_FILE (what `entra up` prints) instead of --ca-file.
    let mut cmd = entra(&e.dir);
    cmd.args(["call", &url, "--authority", h.base(), "--token-cache"])
        .arg(&e.cache)
        .env("SSL_CERT_FILE", &h.ready().ca_file)
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
        .env("AZURE_CLIENT_ID", entra_testkit::dev::DAEMON)
        .env("AZURE_TENANT_ID", entra_testkit::dev::TENANT_ID)
        .env("AZURE_CLIENT_SECRET", entra_testkit::dev::DAEMON_SECRET);
    let out = run(cmd, None).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(display_names(&out.stdout), ["Sales", "Automation"]);

    // A Graph token sent to Fabric: Fabric's 401 body, printed, exit 1, a hint.
    let out = e.run(&["call", &url, "--resource", "graph"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["errorCode"], "InvalidToken");
    assert_eq!(v["message"], "Access token is invalid");
    assert!(out.stderr.contains("HTTP 401"), "{}", out.stderr);

    // Power BI at /powerbi: the scope from the path too.
    let groups = format!("{}/powerbi/v1.0/myorg/groups", h.base());
    let out = e.run(&["call", &groups]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["@odata.count"], 2);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_explains_fabric_tokens() {
    let h = Harness::start().await;
    let dir = temp_dir("decode-fabric");
    let token = alice(&h, "https://api.fabric.microsoft.com/Item.Read.All").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut cmd = entra(&dir);
    cmd.args(["decode", "-"]);
    let out = run(cmd, Some(token.into_bytes())).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("https://api.fabric.microsoft.com (Microsoft Fabric: app Power BI Service, 00000009-0000-0000-c000-000000000000; api.fabric.microsoft.com and api.powerbi.com both accept it)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("403 InsufficientScopes"),
        "{}",
        out.stdout
    );

    let app = daemon(&h, "https://api.fabric.microsoft.com/.default").await;
    let mut cmd = entra(&dir);
    cmd.args(["decode", "-", "--json"]);
    let out = run(cmd, Some(app.into_bytes())).await;
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let codes: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["fabric_app_only"]);
    h.stop().await;
}
