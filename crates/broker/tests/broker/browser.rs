//! The broker against web browsers (DNS rebinding): a request that carries a browser's
//! headers, or a `Host` that does not name the broker, gets no token and no answer from
//! any route; `/metrics` on a listener of its own, or behind a bearer. Requests are
//! written by hand so every header (and its absence) is exactly what is tested.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::*;
use entra_broker::{BrokerConfig, RunningBroker, StartOptions};
use entra_testkit::Harness;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef0123456789";
const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef012345";
const IMDS_QUERY: &str =
    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://contoso-api";

async fn start(config: BrokerConfig) -> RunningBroker {
    entra_broker::start(config, StartOptions::default())
        .await
        .expect("broker starts")
}

/// One request, written as given (`head` holds the request line and headers without the
/// blank line); returns the status and body.
async fn raw(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{head}Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .expect("the broker answers within 30 s")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A request to `path` with `host` (none when empty) and `extra` header lines.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    extra: &str,
    body: &str,
) -> (u16, String) {
    let host = if host.is_empty() {
        String::new()
    } else {
        format!("Host: {host}\r\n")
    };
    raw(
        addr,
        &format!("{method} {path} HTTP/1.1\r\n{host}{extra}"),
        body,
    )
    .await
}

/// Audit lines (the writer thread flushes within milliseconds) once `n` refusals (403)
/// are there.
async fn audit_after(path: &std::path::Path, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let lines = audit_lines(path);
        if lines.iter().filter(|l| l["status"] == 403).count() >= n {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    audit_lines(path)
}

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn assert_refused(status: u16, body: &str, what: &str) {
    assert_eq!(status, 403, "{what}: {body}");
    assert!(!body.contains("access_token"), "{what}: {body}");
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert_eq!(v["error"], "forbidden", "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imds_refuses_origin_header() {
    let h = Harness::start().await;
    let dir = temp_dir("origin");
    let audit = dir.join("audit.jsonl");
    let b = start(config(&h, &audit)).await;
    let addr = b.addr();
    let host = format!("127.0.0.1:{}", addr.port());
    let page = format!("Origin: http://attacker.example:{}\r\n", addr.port());

    // The same requests without Origin get a token: the refusal is the header's doing.
    let (s, body) = request(addr, "GET", IMDS_QUERY, &host, "Metadata: true\r\n", "").await;
    assert_eq!(s, 200, "{body}");
    let form = "resource=api://contoso-api";
    let cloud_shell = "Metadata: true\r\nContent-Type: application/x-www-form-urlencoded\r\n";
    let (s, body) = request(addr, "POST", "/oauth2/token", &host, cloud_shell, form).await;
    assert_eq!(s, 200, "{body}");

    let (s, body) = request(
        addr,
        "GET",
        IMDS_QUERY,
        &host,
        &format!("Metadata: true\r\n{page}"),
        "",
    )
    .await;
    assert_refused(s, &body, "IMDS with Origin");
    assert!(body.contains("Origin header"), "{body}");
    let (s, body) = request(
        addr,
        "GET",
        "/metadata/identity/oauth2/token/?api-version=2018-02-01&resource=api://contoso-api",
        &host,
        &format!("Metadata: true\r\n{page}"),
        "",
    )
    .await;
    assert_refused(s, &body, "IMDS (trailing slash) with Origin");
    let (s, body) = request(
        addr,
        "POST",
        "/oauth2/token",
        &host,
        &format!("{cloud_shell}{page}"),
        form,
    )
    .await;
    assert_refused(s, &body, "Cloud Shell with Origin");
    // A CORS preflight is refused the same way.
    let (s, body) = request(
        addr,
        "OPTIONS",
        IMDS_QUERY,
        &host,
        &format!("{page}Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: metadata\r\n"),
        "",
    )
    .await;
    assert_refused(s, &body, "preflight");

    let lines = audit_after(&audit, 4).await;
    let refused: Vec<&Value> = lines.iter().filter(|l| l["status"] == 403).collect();
    assert_eq!(refused.len(), 3 + 1, "{lines:?}");
    for l in &refused {
        assert_eq!(l["outcome"], "denied");
        assert!(l["reason"].as_str().unwrap().contains("web browser"), "{l}");
        assert!(
            l.get("token_id").is_none() && l.get("caller").is_none(),
            "{l}"
        );
    }
    assert_eq!(refused[2]["protocol"], "cloud_shell");
    let m = metrics_text(&b).await;
    assert_eq!(
        metric(
            &m,
            "entra_broker_guard_refusals_total{route=\"imds\",reason=\"browser\"}"
        ),
        3.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "entra_broker_requests_total{protocol=\"cloud_shell\",outcome=\"denied\"}"
        ),
        1.0
    );
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imds_refuses_sec_fetch_headers() {
    let h = Harness::start().await;
    let dir = temp_dir("secfetch");
    let b = start(config(&h, &dir.join("audit.jsonl"))).await;
    let addr = b.addr();
    let host = format!("localhost:{}", addr.port());
    // What Chromium sends to a trustworthy (loopback) origin, with Sec-Fetch-Mode; each
    // one alone is enough.
    for header in [
        "Sec-Fetch-Site: same-origin",
        "Sec-Fetch-Dest: empty",
        "Sec-Fetch-User: ?1",
        "sec-fetch-storage-access: none",
        "Sec-Fetch-Mode: cors\r\nSec-Fetch-Site: same-origin",
    ] {
        let (s, body) = request(
            addr,
            "GET",
            IMDS_QUERY,
            &host,
            &format!("Metadata: true\r\n{header}\r\n"),
            "",
        )
        .await;
        assert_refused(s, &body, header);
        let (s, body) = request(
            addr,
            "POST",
            "/oauth2/token",
            &host,
            &format!("Metadata: true\r\n{header}\r\n"),
            "resource=api://contoso-api",
        )
        .await;
        assert_refused(s, &body, header);
    }
    // Without them, the same request is answered; so is one with a lone Sec-Fetch-Mode,
    // which is what Node's fetch (msal-node) sends.
    let (s, body) = request(addr, "GET", IMDS_QUERY, &host, "Metadata: true\r\n", "").await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = request(
        addr,
        "GET",
        IMDS_QUERY,
        &host,
        "Metadata: true\r\nsec-fetch-mode: cors\r\n",
        "",
    )
    .await;
    assert_eq!(s, 200, "{body}");
    // Routes with a secret, and the operational ones, take requests from browsers (a
    // person looking at /readyz); only the Host check applies there.
    let (s, body) = request(
        addr,
        "GET",
        "/readyz",
        &host,
        "Sec-Fetch-Mode: navigate\r\n",
        "",
    )
    .await;
    assert_eq!(s, 200, "{body}");
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_foreign_host() {
    let h = Harness::start().await;
    let dir = temp_dir("host");
    let audit = dir.join("audit.jsonl");
    let token_file = dir.join("admin.token");
    std::fs::write(&token_file, ADMIN_TOKEN).unwrap();
    let mut c = config(&h, &audit);
    c.broker.admin_token_file = Some(token_file);
    c.broker.allowed_hosts = vec!["entra-broker".into()];
    let b = start(c).await;
    let addr = b.addr();
    let port = addr.port();
    let admin = format!("Authorization: Bearer {ADMIN_TOKEN}\r\n");
    let secret = format!("X-IDENTITY-HEADER: {DEV_SECRET}\r\n");
    let bearer =
        format!("Authorization: Bearer {DEV_SECRET}\r\nContent-Type: application/json\r\n");
    let routes: Vec<(&str, String, String, &str, u16)> = vec![
        (
            "GET",
            IMDS_QUERY.into(),
            "Metadata: true\r\n".into(),
            "",
            200,
        ),
        (
            "GET",
            "/metadata/identity/oauth2/token/?api-version=2018-02-01&resource=api://contoso-api"
                .into(),
            "Metadata: true\r\n".into(),
            "",
            200,
        ),
        (
            "GET",
            format!("/msi/token?{CONTOSO_2019}"),
            secret.clone(),
            "",
            200,
        ),
        (
            "GET",
            "/msi/token?resource=api://contoso-api&api-version=2017-09-01".into(),
            format!("secret: {DEV_SECRET}\r\n"),
            "",
            200,
        ),
        (
            "POST",
            "/oauth2/token".into(),
            "Metadata: true\r\n".into(),
            "resource=api://contoso-api",
            200,
        ),
        (
            "POST",
            "/api/v1/token".into(),
            bearer.clone(),
            r#"{"scopes":["api://contoso-api/.default"]}"#,
            200,
        ),
        ("GET", "/api/v1/identities".into(), bearer, "", 200),
        ("GET", "/admin/tokens".into(), admin.clone(), "", 200),
        (
            "POST",
            "/admin/purge".into(),
            admin.clone(),
            r#"{"identity":"daemon"}"#,
            200,
        ),
        // Not started from a file: 422, but past the guard.
        ("POST", "/admin/reload".into(), admin, "", 422),
        ("GET", "/metrics".into(), String::new(), "", 200),
        ("GET", "/readyz".into(), String::new(), "", 200),
        ("GET", "/healthz".into(), String::new(), "", 200),
        ("GET", "/no-such-route".into(), String::new(), "", 404),
    ];
    let foreign = [
        format!("attacker.example:{port}"),
        "attacker.example".to_string(),
        format!("localhost.attacker.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("10.9.8.7:{port}"),
        "localhost:not-a-port".to_string(),
    ];
    let mut refusals: u32 = 0;
    for (method, path, headers, body, ok) in &routes {
        for host in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
            "169.254.169.254".to_string(),
            format!("ENTRA-BROKER:{port}"),
        ] {
            let (s, text) = request(addr, method, path, &host, headers, body).await;
            assert_eq!(s, *ok, "{method} {path} with Host {host}: {text}");
        }
        for host in &foreign {
            let (s, text) = request(addr, method, path, host, headers, body).await;
            assert_refused(s, &text, &format!("{method} {path} with Host {host}"));
            assert!(text.contains("does not name this broker"), "{text}");
            refusals += 1;
        }
        // No Host at all on HTTP/1.1, or two of them.
        let (s, text) = request(addr, method, path, "", headers, body).await;
        assert_refused(s, &text, &format!("{method} {path} without Host"));
        let two = format!("{headers}Host: attacker.example\r\n");
        let (s, text) = request(addr, method, path, &format!("127.0.0.1:{port}"), &two, body).await;
        assert_refused(s, &text, &format!("{method} {path} with two Hosts"));
        // An absolute-form request line names the host too.
        let (s, text) = raw(
            addr,
            &format!(
                "{method} http://attacker.example:{port}{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}"
            ),
            body,
        )
        .await;
        assert_refused(s, &text, &format!("{method} {path} in absolute form"));
        refusals += 3;
    }
    // App Service refusals keep App Service's shape (what MSAL reads).
    let (_, text) = request(
        addr,
        "GET",
        &format!("/msi/token?{CONTOSO_2019}"),
        &foreign[0],
        &secret,
        "",
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["statusCode"], 403);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("does not name this broker")
    );
    refusals += 1;

    let lines = audit_after(&audit, refusals as usize).await;
    let imds_refused = lines
        .iter()
        .filter(|l| l["protocol"] == "imds" && l["status"] == 403)
        .count();
    assert_eq!(imds_refused, 2 * (foreign.len() + 3), "{lines:?}");
    for protocol in [
        "admin",
        "metrics",
        "health",
        "native",
        "app_service_2017",
        "other",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l["protocol"] == protocol && l["outcome"] == "denied"),
            "an audit line for {protocol}"
        );
    }
    let m = metrics_text(&b).await;
    let total: f64 = m
        .lines()
        .filter(|l| l.starts_with("entra_broker_guard_refusals_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(total, f64::from(refusals), "{m}");
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_separate_listener() {
    let h = Harness::start().await;
    let dir = temp_dir("metrics-listen");
    let mut c = config(&h, &dir.join("audit.jsonl"));
    c.broker.metrics_listen = Some("127.0.0.1:0".into());
    let b = start(c).await;
    let metrics = b.metrics_addr().expect("a metrics listener");
    assert_ne!(metrics, b.addr());
    assert_eq!(b.metrics_url(), format!("http://{metrics}/metrics"));
    let on = |a: SocketAddr| format!("127.0.0.1:{}", a.port());

    let (s, text) = request(b.addr(), "GET", "/metrics", &on(b.addr()), "", "").await;
    assert_eq!(s, 404, "not on the main listener: {text}");
    assert!(text.contains("metrics_listen"), "{text}");
    let (s, text) = request(metrics, "GET", "/metrics", &on(metrics), "", "").await;
    assert_eq!(s, 200, "{text}");
    assert!(text.contains("entra_broker_requests_total"), "{text}");
    // Nothing else there, and the Host check holds.
    for path in ["/healthz", IMDS_QUERY, "/admin/tokens"] {
        let (s, _) = request(metrics, "GET", path, &on(metrics), "Metadata: true\r\n", "").await;
        assert_eq!(s, 404, "{path} on the metrics listener");
    }
    let (s, text) = request(metrics, "GET", "/metrics", "attacker.example", "", "").await;
    assert_refused(s, &text, "metrics listener, foreign Host");

    // The same address twice is a clear configuration error.
    let mut c = config(&h, &dir.join("audit2.jsonl"));
    c.broker.listen = "127.0.0.1:18150".into();
    c.broker.metrics_listen = Some("127.0.0.1:18150".into());
    let e = entra_broker::check(&c).unwrap_err().to_string();
    assert!(
        e.contains("metrics_listen") && e.contains("another port"),
        "{e}"
    );
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_bearer_required() {
    let h = Harness::start().await;
    let dir = temp_dir("metrics-bearer");
    let token_file = dir.join("metrics.token");
    std::fs::write(&token_file, format!("{METRICS_TOKEN}\n")).unwrap();
    let mut c = config(&h, &dir.join("audit.jsonl"));
    c.broker.metrics_token_file = Some(token_file);
    let b = start(c).await;
    let addr = b.addr();
    let host = format!("127.0.0.1:{}", addr.port());
    let (s, text) = request(addr, "GET", "/metrics", &host, "", "").await;
    assert_eq!(s, 401, "{text}");
    assert!(
        text.contains("metrics token") && !text.contains(METRICS_TOKEN),
        "{text}"
    );
    let (s, _) = request(
        addr,
        "GET",
        "/metrics",
        &host,
        "Authorization: Bearer wrong-token\r\n",
        "",
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = request(
        addr,
        "GET",
        "/metrics",
        &host,
        &format!("Authorization: Bearer {DEV_SECRET}\r\n"),
        "",
    )
    .await;
    assert_eq!(s, 401, "a caller's secret is not the metrics token");
    let (s, text) = request(
        addr,
        "GET",
        "/metrics",
        &host,
        &format!("Authorization: bearer {METRICS_TOKEN}\r\n"),
        "",
    )
    .await;
    assert_eq!(s, 200, "{text}");
    assert!(text.contains("entra_broker_requests_total"), "{text}");
    // Only /metrics: health and readiness stay open.
    let (s, _) = request(addr, "GET", "/readyz", &host, "", "").await;
    assert_eq!(s, 200);
    // The Host check comes first.
    let (s, text) = request(
        addr,
        "GET",
        "/metrics",
        "attacker.example",
        &format!("Authorization: Bearer {METRICS_TOKEN}\r\n"),
        "",
    )
    .await;
    assert_refused(s, &text, "metrics with the bearer, foreign Host");
    b.shutdown().await;
}

/// The Unix socket is out of a browser's reach: HTTP-over-Unix clients put the socket's
/// path (or anything) in Host, and are answered; browser headers are still refused.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_skips_the_host_check() {
    let h = Harness::start().await;
    let dir = temp_dir("unix-host");
    let sock = dir.join("broker.sock");
    let mut c = config(&h, &dir.join("audit.jsonl"));
    c.broker.unix_socket = Some(sock.clone());
    let b = start(c).await;
    let send = |extra: &'static str| {
        let sock = sock.clone();
        async move {
            let mut s = tokio::net::UnixStream::connect(&sock).await.unwrap();
            let req = format!(
                "GET {IMDS_QUERY} HTTP/1.1\r\nHost: %2Frun%2Fentra-broker.sock\r\nMetadata: true\r\n{extra}Connection: close\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        }
    };
    let ok = send("").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let refused = send("Sec-Fetch-Site: same-origin\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    b.shutdown().await;
}
