//! Unit tests of parsing and of the structural checks.

use std::path::Path;

use super::*;
use crate::error::BrokerError;

fn parse(s: &str) -> Result<BrokerConfig, BrokerError> {
    let c = BrokerConfig::from_toml(s, Path::new("/etc/b"))?;
    c.check()?;
    Ok(c)
}

const ID: &str = r#"
[[identity]]
name = "sp"
kind = "client-secret"
tenant = "contoso.onmicrosoft.com"
client_id = "d0000000-0000-4000-8000-0000000000d1"
secret_env = "SP_SECRET"
"#;

#[test]
fn minimal_and_paths() {
    let c = parse(&format!(
        "{ID}\n[[caller]]\nname = \"a\"\nsecret_file = \"a.secret\"\nidentities = [\"sp\"]\nresources = [\"*\"]\n"
    ))
    .unwrap();
    assert_eq!(c.broker.listen, "127.0.0.1:8079");
    assert_eq!(
        c.callers[0].secret_file.as_deref(),
        Some(Path::new("/etc/b/a.secret"))
    );
}

#[test]
fn refusals_are_specific() {
    let e = parse(&format!(
        "{ID}\n[[caller]]\nname = \"a\"\nsecret = \"x\"\nidentities = [\"sp\"]\nresources = [\"*\"]\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("danger_allow_secret_in_config"), "{e}");
    let e = parse(&format!(
        "{ID}\n[[caller]]\nname = \"a\"\nsecret_env = \"X\"\nidentities = [\"nope\"]\nresources = [\"*\"]\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("\"nope\", which is not defined"), "{e}");
    let e = parse(&format!("{ID}\n[broker]\nlisten = \"localhost\"\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an address:port"), "{e}");
    let e = parse(&format!("{ID}\n[broker]\nlistne = \"x\"\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field"), "{e}");
    let e = parse("[broker]\n").unwrap_err().to_string();
    assert!(e.contains("at least one upstream identity"), "{e}");
    let e = parse(&format!("{ID}{ID}")).unwrap_err().to_string();
    assert!(e.contains("defined twice"), "{e}");
    let e = parse(&format!("{ID}\n[redis]\nurl = \"redis://127.0.0.1\"\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("key_env or key_file"), "{e}");
    let e = parse(&format!(
        "{ID}\n[redis]\nurl = \"redis://:hunter2@127.0.0.1\"\nkey_env = \"K\"\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("password_env or password_file"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    let c = BrokerConfig::from_toml(
        &format!("{ID}\n[redis]\nurl = \"redis://:hunter2@127.0.0.1\"\nkey_env = \"K\"\n[[caller]]\nname = \"a\"\nsecret = \"inline-caller-secret\"\n"),
        Path::new("/"),
    )
    .unwrap();
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("inline-caller-secret"),
        "{debug}"
    );
    let e = parse(&format!(
        "{ID}\n[[caller]]\nname = \"a\"\nuids = [5]\nidentities = [\"*\"]\nresources = [\"*\"]\n[[caller]]\nname = \"b\"\nuids = [5]\nidentities = [\"*\"]\nresources = [\"*\"]\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("uid 5 belongs to two callers"), "{e}");
}

/// Configuration errors are typed: the variant names the problem and carries the field,
/// file or variable (never a secret), and prints as it always has.
#[test]
fn errors_are_typed_and_name_the_field() {
    use crate::error::ConfigError;
    let e = parse(&format!("[broker]\nlisten = \"nowhere\"\n{ID}")).unwrap_err();
    assert!(
        matches!(
            &e,
            BrokerError::Config(ConfigError::Address { field: "listen", value, .. }) if value == "nowhere"
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "configuration: [broker] listen = \"nowhere\" is not an address:port (e.g. 127.0.0.1:8079)"
    );
    let missing = Path::new("/nonexistent/entra-broker.toml");
    let e = BrokerConfig::from_file(missing).unwrap_err();
    assert!(
        matches!(&e, BrokerError::Config(ConfigError::Read { path, .. }) if path == missing),
        "{e:?}"
    );
}
