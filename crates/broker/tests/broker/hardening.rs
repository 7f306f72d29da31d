//! Findings of the security review that need no authority: the admin token's length,
//! plain Redis beyond loopback, the uid of a peer that has already closed its socket.

use std::io::Write as _;

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use entra_broker::{BrokerConfig, CallerConfig, IdentityConfig, IdentityKind, RedisSection};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "entra-broker-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One identity (never asked for a token here) and one caller.
fn config(audit: &Path) -> BrokerConfig {
    let mut c = BrokerConfig::default();
    c.broker.listen = "127.0.0.1:0".into();
    c.broker.threads = Some(0);
    c.broker.audit_log = Some(audit.display().to_string());
    c.identities.push(IdentityConfig {
        tenant: Some("contoso.onmicrosoft.com".into()),
        client_id: Some("d0000000-0000-4000-8000-0000000000d1".into()),
        secret: Some("not-used-in-these-tests".into()),
        danger_allow_secret_in_config: true,
        authority: Some("https://localhost:1".into()),
        ..IdentityConfig::new("sp", IdentityKind::ClientSecret)
    });
    c.callers.push(CallerConfig {
        secret: Some("caller-secret-0123456789abcdef".into()),
        danger_allow_secret_in_config: true,
        identities: vec!["*".into()],
        resources: vec!["*".into()],
        ..CallerConfig::new("app")
    });
    c
}

#[test]
fn short_admin_token_refused() {
    let dir = temp_dir("admin-len");
    let mut c = config(&dir.join("audit.jsonl"));
    let file = dir.join("admin.token");
    c.broker.admin_token_file = Some(file.clone());
    std::fs::write(&file, "short-admin-token-123\n").unwrap();
    let e = entra_broker::check(&c).unwrap_err().to_string();
    assert!(e.contains("admin token is 21 characters"), "{e}");
    assert!(e.contains("at least 32"), "{e}");
    assert!(
        !e.contains("short-admin-token-123"),
        "the token is not echoed: {e}"
    );
    std::fs::write(&file, "a-long-enough-admin-token-0123456789\n").unwrap();
    entra_broker::check(&c).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn plain_redis_to_remote_host_refused() {
    let dir = temp_dir("redis-plain");
    let redis = |url: &str, danger: bool| RedisSection {
        url: url.into(),
        key_env: Some("ENTRA_BROKER_TEST_REDIS_KEY".into()),
        key_file: None,
        previous_key_env: None,
        previous_key_file: None,
        prefix: None,
        timeout_ms: None,
        ca_file: None,
        password_env: None,
        password_file: None,
        danger_allow_secret_in_config: false,
        danger_allow_plain_redis: danger,
    };
    let mut c = config(&dir.join("audit.jsonl"));
    for url in [
        "redis://10.0.0.5:6379",
        "redis://cache.internal/0",
        "redis://user@redis.example.com:6380",
        "redis://[2001:db8::5]:6379",
    ] {
        c.redis = Some(redis(url, false));
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("not loopback"), "{url}: {e}");
        assert!(e.contains("danger_allow_plain_redis"), "{url}: {e}");
        // Said by name, it is allowed.
        c.redis = Some(redis(url, true));
        c.check().unwrap();
    }
    for url in [
        "redis://127.0.0.1:6379",
        "redis://localhost/2",
        "redis://[::1]:6379",
        "rediss://10.0.0.5:6380",
        "unix:///run/redis.sock",
    ] {
        c.redis = Some(redis(url, false));
        c.check().unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    // From a file too: the switch has its name in [redis].
    let toml = r#"
[redis]
url = "redis://10.0.0.5:6379"
key_env = "K"
danger_allow_plain_redis = true
[[identity]]
name = "sp"
kind = "client-secret"
tenant = "t"
client_id = "c"
secret_env = "S"
"#;
    let c = BrokerConfig::from_toml(toml, Path::new("/")).unwrap();
    c.check().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// A client that sends an IMDS request and closes its socket before the broker looks at
/// it: its uid is unknown (the kernel reports 0 for a socket no process holds, which
/// must not read as root), and it is no caller.
#[tokio::test]
async fn audit_unknown_uid_for_closed_socket() {
    let dir = temp_dir("closed-uid");
    let audit = dir.join("audit.jsonl");
    let mut c = config(&audit);
    // IMDS by uid, for a uid that is not ours: the lookup happens, and refuses us.
    let me = rustix::process::geteuid().as_raw();
    c.callers[0].uids = vec![me.wrapping_add(4242)];
    let b = entra_broker::start(c, Default::default()).await.unwrap();
    // The broker serves on this (current-thread) runtime: it accepts only once this test
    // awaits, so the client's socket is closed before the broker reads the request.
    {
        let mut s = std::net::TcpStream::connect(b.addr()).unwrap();
        write!(
            s,
            "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://x HTTP/1.1\r\nHost: 127.0.0.1\r\nMetadata: true\r\n\r\n"
        )
        .unwrap();
    }
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let line = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let text = std::fs::read_to_string(&audit).unwrap_or_default();
        if let Some(l) = text.lines().next() {
            break serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
        assert!(std::time::Instant::now() < until, "no audit line");
    };
    assert_eq!(line["protocol"], "imds", "{line}");
    assert_eq!(line["uid"], "unknown", "{line}");
    assert_eq!(line["outcome"], "denied", "{line}");
    assert!(line.get("caller").is_none(), "{line}");
    // A live client is still known by its uid.
    let mut s = tokio::net::TcpStream::connect(b.addr()).await.unwrap();
    s.write_all(b"GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://x HTTP/1.1\r\nHost: 127.0.0.1\r\nMetadata: true\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    b.shutdown().await;
    let text = std::fs::read_to_string(&audit).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["uid"], me, "{last}");
    std::fs::remove_dir_all(&dir).ok();
}
