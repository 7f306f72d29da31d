//! An oversized request body is answered, not reset: the client that is still sending
//! (as Python requests does, the whole body before reading) gets the 413 JSON.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use entra_emulator::{Emulator, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_token_body_gets_413_json() {
    let dir = std::env::temp_dir().join(format!("entra-bodies-{}", uuid::Uuid::new_v4()));
    let emu = Emulator::start(Options {
        state_dir: dir.clone(),
        port: 0,
        danger_plain_http: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let addr = emu.addr;
    let answers = tokio::task::spawn_blocking(move || {
        let body = vec![b'a'; 5 * 1024 * 1024];
        let mut out = Vec::new();
        // Twice on one connection: once drained, the connection serves the next request.
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        for last in [false, true] {
            let head = format!(
                "POST /contoso.onmicrosoft.com/oauth2/v2.0/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n{}\r\n",
                body.len(),
                if last { "Connection: close\r\n" } else { "" }
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&body).expect("the whole body is taken, not reset");
            let mut answer = Vec::new();
            if last {
                s.read_to_end(&mut answer).unwrap();
            } else {
                // Read one response: headers, then Content-Length bytes.
                let mut buf = [0u8; 4096];
                loop {
                    let n = s.read(&mut buf).unwrap();
                    assert!(n > 0, "connection closed early");
                    answer.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&answer).to_string();
                    if let Some((h, b)) = text.split_once("\r\n\r\n") {
                        let len: usize = h
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                            .unwrap();
                        if b.len() >= len {
                            break;
                        }
                    }
                }
            }
            out.push(String::from_utf8_lossy(&answer).into_owned());
        }
        out
    })
    .await
    .unwrap();
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 413"), "{a}");
        let json: serde_json::Value =
            serde_json::from_str(a.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(json["error"], "invalid_request", "{json}");
        assert_eq!(json["error_codes"][0], 9002313, "{json}");
        assert!(
            json["error_description"]
                .as_str()
                .unwrap()
                .starts_with("AADSTS9002313")
        );
    }
    emu.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}
