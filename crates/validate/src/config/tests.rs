//! Unit tests of the CA file and of issuer templates.

use super::http_client::default_client;
use super::{ConfigError, issuer_matches};

/// A CA file whose PEM is broken is refused with the file and the PEM error; it
/// used to be skipped block by block (rustls-pemfile's iterator flattened), which
/// could leave the file's good certificates trusted and the broken one silently out.
#[test]
fn a_ca_file_with_broken_pem_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("entra-ca-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let Err(ConfigError::Http(text)) = default_client(Some(&ca)) else {
        panic!("a broken CA file must be refused");
    };
    assert!(
        text.contains("ca.pem") && text.contains("bad PEM"),
        "{text}"
    );
    std::fs::write(&ca, "no PEM here\n").unwrap();
    let Err(ConfigError::Http(text)) = default_client(Some(&ca)) else {
        panic!("a CA file without a certificate must be refused");
    };
    assert!(text.contains("no certificate in it"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn issuer_templates() {
    let t = "c0ffee00-0000-4000-8000-000000000001";
    let v2 = "https://login.microsoftonline.com/{tenantid}/v2.0";
    assert!(issuer_matches(v2, t, &v2.replace("{tenantid}", t)));
    assert!(!issuer_matches(v2, t, &v2.replace("{tenantid}", "other")));
    assert!(!issuer_matches(v2, t, v2));
    assert!(!issuer_matches(
        v2,
        t,
        &format!("{}/", v2.replace("{tenantid}", t))
    ));
    // No template: exact match. A `{` that does not start `{tenantid}` is literal,
    // and only the first `{tenantid}` is replaced.
    assert!(issuer_matches(
        "https://sts.example/",
        t,
        "https://sts.example/"
    ));
    assert!(!issuer_matches(
        "https://sts.example/",
        t,
        "https://sts.example"
    ));
    assert!(issuer_matches(
        "https://x/{a}/{tenantid}/",
        t,
        &format!("https://x/{{a}}/{t}/")
    ));
    assert!(issuer_matches(
        "{tenantid}{tenantid}",
        t,
        &format!("{t}{{tenantid}}")
    ));
    assert!(!issuer_matches("{tenantid", t, t));
}
