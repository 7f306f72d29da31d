//! The HTTPS proxy for Microsoft's public hostnames: CONNECT to a served host reaches
//! the emulator over TLS with a leaf from the name-constrained intercept CA; everything
//! else is a 403; a login host answers as Entra does on it (discovery, issuers), and a
//! token issued through it validates with entra-validate's public-cloud authority.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use x509_cert::der::{Decode as _, DecodePem as _};

use crate::common::*;

async fn start() -> Harness {
    Harness::start_with(Options {
        proxy_port: Some(0),
        ..Default::default()
    })
    .await
}

fn proxy_url(h: &Harness) -> String {
    h.ready()
        .proxy
        .as_ref()
        .expect("proxy in ready.json")
        .url
        .clone()
}

/// A client that uses the proxy for everything and trusts only the intercept CA.
fn proxied_client(h: &Harness) -> reqwest::Client {
    let p = h.ready().proxy.as_ref().unwrap();
    let ca = std::fs::read(&p.ca_file).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .proxy(reqwest::Proxy::all(&p.url).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Sends `head` raw to the proxy and returns (status, body).
async fn raw(h: &Harness, head: &str) -> (u16, String) {
    let addr = proxy_url(h).trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.unwrap_or(0);
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            let done = text.split_once("\r\n\r\n").is_some_and(|(hd, body)| {
                let len = hd
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                body.len() >= len
            });
            if n == 0 || done {
                break;
            }
        }
    });
    read.await.expect("proxy answers within 10 s");
    let text = String::from_utf8_lossy(&buf).into_owned();
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

#[tokio::test]
async fn connect_to_other_hosts_is_refused_with_a_403_naming_the_host() {
    let h = start().await;
    for target in [
        "example.com:443",
        "login.microsoftonline.com.evil.example:443",
        "evil.login.microsoftonline.com:443",
        "93.184.215.14:443",
        "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443",
        "127.0.0.1:443",
        "dc.services.visualstudio.com:443",
    ] {
        let (status, body) = raw(
            &h,
            &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 403, "{target}: {body}");
        assert!(body.contains(target), "{target}: {body}");
        assert!(body.contains("nothing leaves this machine"), "{body}");
    }
    // A served host on another port.
    let (status, body) = raw(&h, "CONNECT login.microsoftonline.com:80 HTTP/1.1\r\nHost: login.microsoftonline.com:80\r\n\r\n").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("only port 443"), "{body}");
    // Plain HTTP through the proxy (absolute form), even to a served host.
    for url in [
        "http://example.com/",
        "http://login.microsoftonline.com/common/discovery/instance",
    ] {
        let host = url.split('/').nth(2).unwrap();
        let (status, body) = raw(&h, &format!("GET {url} HTTP/1.1\r\nHost: {host}\r\n\r\n")).await;
        assert_eq!(status, 403, "{url}: {body}");
        assert!(
            body.contains(host) && body.contains("nothing leaves this machine"),
            "{body}"
        );
    }
    // A browser's request, even for a served host.
    let (status, body) = raw(&h, "CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\nOrigin: https://evil.example\r\n\r\n").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("browser"), "{body}");
    // The proxy itself, addressed under a foreign name (DNS rebinding) or its own.
    let (status, _) = raw(&h, "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n").await;
    assert_eq!(status, 403);
    let (status, body) = raw(&h, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert_eq!(status, 400);
    assert!(body.contains("HTTPS proxy"), "{body}");
    let refused = h.counters().await;
    assert!(
        refused["proxy:refused:host"].as_u64().unwrap() >= 9,
        "{refused}"
    );
    assert_eq!(refused.get("proxy:connect"), None, "{refused}");
}

#[tokio::test]
async fn reqwest_through_the_proxy_is_refused_for_other_hosts() {
    let h = start().await;
    let c = proxied_client(&h);
    let err = c.get("https://example.com/").send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let resp = c.get("http://example.com/").send().await.unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn intercept_ca_is_name_constrained_to_the_served_hosts() {
    let h = start().await;
    let p = h.ready().proxy.clone().unwrap();
    assert_ne!(p.ca_file, h.ready().ca_file, "a CA of its own");
    let pem = std::fs::read(&p.ca_file).unwrap();
    let ca = x509_cert::Certificate::from_pem(&pem).unwrap();
    let ext = ca
        .tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .find(|e| e.extn_id.to_string() == "2.5.29.30")
        .expect("a NameConstraints extension");
    assert!(ext.critical);
    let nc = x509_cert::ext::pkix::NameConstraints::from_der(ext.extn_value.as_bytes()).unwrap();
    let mut permitted: Vec<String> = nc
        .permitted_subtrees
        .unwrap()
        .iter()
        .map(|s| match &s.base {
            x509_cert::ext::pkix::name::GeneralName::DnsName(n) => n.to_string(),
            other => panic!("only DNS names are permitted, not {other:?}"),
        })
        .collect();
    permitted.sort();
    assert_eq!(
        permitted,
        [
            "api.fabric.microsoft.com",
            "api.powerbi.com",
            "graph.microsoft.com",
            "login.microsoft.com",
            "login.microsoftonline.com",
            "login.windows.net",
            "management.azure.com",
            "management.core.windows.net",
            "sts.windows.net",
            "vault.azure.net",
        ]
    );
    let excluded = nc.excluded_subtrees.expect("IP addresses excluded");
    assert_eq!(excluded.len(), 2, "all of IPv4 and IPv6");
    // The key is private; the bundle holds both CAs.
    use std::os::unix::fs::PermissionsExt as _;
    let key = std::path::Path::new(&p.ca_file).with_file_name("intercept-ca-key.pem");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let bundle = std::fs::read_to_string(&p.ca_bundle).unwrap();
    assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(bundle.contains(std::str::from_utf8(&pem).unwrap().trim()));
    assert!(bundle.contains(std::fs::read_to_string(&h.ready().ca_file).unwrap().trim()));

    // The leaf the proxy presents chains to it (rustls trusting nothing else accepts
    // it, name constraints and all) and names exactly the host.
    let leaf_der = tls_through_proxy(&h, "management.azure.com", &pem).await;
    let leaf = x509_cert::Certificate::from_der(&leaf_der).unwrap();
    assert_eq!(
        leaf.tbs_certificate().issuer(),
        ca.tbs_certificate().subject()
    );
    assert!(format!("{}", leaf.tbs_certificate().subject()).contains("management.azure.com"));
}

/// CONNECTs to `host:443` by hand, completes a rustls handshake trusting only `ca_pem`,
/// and returns the leaf certificate the proxy presented.
async fn tls_through_proxy(h: &Harness, host: &str, ca_pem: &[u8]) -> Vec<u8> {
    use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject as _};
    let addr = proxy_url(h).trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut b))
            .await
            .unwrap()
            .unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from(host.to_string()).unwrap(), s)
        .await
        .expect("rustls accepts the intercept leaf");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn login_host_through_the_proxy_answers_as_entra() {
    let h = start().await;
    let c = proxied_client(&h);
    let doc: Value = c
        .get(format!(
            "https://login.microsoftonline.com/{CONTOSO}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public = "https://login.microsoftonline.com";
    assert_eq!(doc["issuer"], format!("{public}/{CONTOSO}/v2.0"));
    assert_eq!(
        doc["token_endpoint"],
        format!("{public}/{CONTOSO}/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{public}/{CONTOSO}/oauth2/v2.0/authorize")
    );
    assert_eq!(
        doc["jwks_uri"],
        format!("{public}/{CONTOSO}/discovery/v2.0/keys")
    );
    // An alias answers the same, and v1 names sts.windows.net as Entra does.
    let v1: Value = c
        .get(format!(
            "https://login.windows.net/{CONTOSO}/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{CONTOSO}/"));
    assert_eq!(
        v1["token_endpoint"],
        format!("{public}/{CONTOSO}/oauth2/token")
    );
    // Instance discovery knows Entra's aliases.
    let inst: Value = c
        .get(format!("{public}/common/discovery/instance?api-version=1.1&authorization_endpoint={public}/common/oauth2/authorize"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        inst["metadata"][0]["preferred_network"],
        "login.microsoftonline.com"
    );
    assert!(
        inst["metadata"][0]["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "login.windows.net")
    );
    // Device code: the verification page is on the public host too.
    let dc: Value = c
        .post(format!("{public}/{CONTOSO}/oauth2/v2.0/devicecode"))
        .form(&[("client_id", PUBLIC), ("scope", "openid")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dc["verification_uri"], format!("{public}/devicelogin"));
    // A login host does not reach the API prefixes.
    let r = c
        .get(format!("{public}/fabric/v1/workspaces"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Straight to the emulator, a Host naming Entra is not believed.
    let direct: Value = h
        .http
        .get(h.url(&format!("/{CONTOSO}/v2.0/.well-known/openid-configuration")))
        .header("host", "login.microsoftonline.com")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(direct["issuer"], format!("{}/{CONTOSO}/v2.0", h.base()));
    assert!(h.counter("proxy:connect").await >= 2);
}

/// Instance discovery on the public host also knows the emulator's direct loopback
/// authority (MSAL and azure-identity with `AZURE_AUTHORITY_HOST=https://localhost:PORT`
/// and `HTTPS_PROXY` ask there first, and gave up on `invalid_instance`); other hosts and
/// other ports stay unknown.
#[tokio::test]
async fn instance_discovery_through_the_proxy_knows_the_emulators_own_authority() {
    let h = start().await;
    let c = proxied_client(&h);
    let own = h.base().trim_end_matches('/').to_string();
    let port = own.rsplit_once(':').unwrap().1.to_string();
    let ask = |endpoint: String| {
        let c = c.clone();
        async move {
            let r = c
                .get("https://login.microsoftonline.com/common/discovery/instance")
                .query(&[
                    ("api-version", "1.1"),
                    ("authorization_endpoint", &endpoint),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // With its port, and without (MSAL Python drops it): the answer names the port.
    for endpoint in [
        format!("{own}/{CONTOSO}/oauth2/v2.0/authorize"),
        format!("https://localhost/{CONTOSO}/oauth2/v2.0/authorize"),
    ] {
        let (status, inst) = ask(endpoint.clone()).await;
        assert_eq!(status, 200, "{endpoint}: {inst}");
        assert_eq!(
            inst["tenant_discovery_endpoint"],
            format!("https://localhost:{port}/{CONTOSO}/v2.0/.well-known/openid-configuration"),
            "{endpoint}"
        );
        let host = format!("localhost:{port}");
        assert_eq!(inst["metadata"][0]["preferred_network"], host.as_str());
        assert_eq!(inst["metadata"][0]["aliases"], serde_json::json!([host]));
    }
    let other_port = if port == "1" { "2" } else { "1" };
    for endpoint in [
        format!("https://localhost:{other_port}/{CONTOSO}/oauth2/v2.0/authorize"),
        format!("https://evil.example/{CONTOSO}/oauth2/v2.0/authorize"),
        format!("https://localhost.evil.example:{port}/{CONTOSO}/oauth2/v2.0/authorize"),
    ] {
        let (status, body) = ask(endpoint.clone()).await;
        assert_eq!((status, code_of(&body)), (400, 50049), "{endpoint}: {body}");
        assert_eq!(body["error"], "invalid_instance");
    }
    h.stop().await;
}

#[tokio::test]
async fn a_token_through_the_proxy_validates_with_the_public_cloud_authority() {
    let h = start().await;
    let c = proxied_client(&h);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", DAEMON),
        ("client_secret", DAEMON_SECRET),
        ("scope", "api://contoso-api/.default"),
    ];
    let body: Value = c
        .post(format!(
            "https://login.microsoftonline.com/{CONTOSO}/oauth2/v2.0/token"
        ))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().expect("a token");
    let claims = decode_unverified(token).unwrap();
    assert_eq!(
        claims.claim_str("iss"),
        Some(format!("https://login.microsoftonline.com/{CONTOSO}/v2.0").as_str())
    );
    // entra-validate configured for Entra's public cloud, fetching the keys through
    // the proxy (its JWKS URL is https://login.microsoftonline.com/...).
    let validator = entra_validate::Validator::new(
        entra_validate::ValidatorConfig::builder()
            .authority(entra_validate::Authority::public_cloud())
            .tenant(CONTOSO)
            .audience(API)
            .http_client(c.clone())
            .build()
            .unwrap(),
    );
    let principal = validator.validate(token).await.expect("validates");
    assert_eq!(principal.tenant_id(), CONTOSO);
    assert!(principal.has_role("Data.Read.All"));
    // The same request made directly keeps the emulator's own issuer, which the
    // public-cloud validator refuses.
    let direct = h.access_token(CONTOSO, &form).await;
    let claims = decode_unverified(&direct).unwrap();
    assert_eq!(
        claims.claim_str("iss"),
        Some(format!("{}/{CONTOSO}/v2.0", h.base()).as_str())
    );
    assert!(validator.validate(&direct).await.is_err());
}

#[tokio::test]
async fn a_v1_token_through_the_proxy_names_sts_windows_net() {
    // The Azure CLI's ARM scope, through the proxy: a v1 token with Entra's v1 issuer,
    // which entra-validate's public-cloud authority accepts.
    let h = start().await;
    let c = proxied_client(&h);
    let body: Value = c
        .post(format!(
            "https://login.microsoftonline.com/{CONTOSO}/oauth2/v2.0/token"
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", "https://management.core.windows.net//.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().expect("a token");
    let claims = decode_unverified(token).unwrap();
    assert_eq!(claims.claim_str("ver"), Some("1.0"));
    assert_eq!(
        claims.claim_str("iss"),
        Some(format!("https://sts.windows.net/{CONTOSO}/").as_str())
    );
    assert_eq!(
        claims.claim_str("aud"),
        Some("https://management.core.windows.net/")
    );
    let validator = entra_validate::Validator::new(
        entra_validate::ValidatorConfig::builder()
            .authority(entra_validate::Authority::public_cloud())
            .tenant(CONTOSO)
            .audience("https://management.core.windows.net/")
            .http_client(c)
            .build()
            .unwrap(),
    );
    validator.validate(token).await.expect("validates");
}

#[tokio::test]
async fn served_hosts_need_no_name_resolution() {
    // The proxy dials nothing: a vault host that cannot resolve anywhere is served
    // (the router answers for /vault/{name}), and the request never left this process.
    let h = start().await;
    let c = proxied_client(&h);
    let resp = c
        .get("https://entrakit-no-such-kv.vault.azure.net/secrets/x?api-version=7.4")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), 403);
    assert!(resp.status().is_client_error(), "{}", resp.status());
    assert_eq!(h.counter("proxy:connect").await, 1);
    let counters = h.counters().await;
    assert!(
        counters
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("endpoint:")),
        "{counters}"
    );
}

#[tokio::test]
async fn fabric_through_the_proxy_end_to_end() {
    // Seed 000's calls with their real URLs: a token from login.microsoftonline.com,
    // then https://api.fabric.microsoft.com/v1/workspaces, both through the proxy.
    let h = start().await;
    let c = proxied_client(&h);
    let body: Value = c
        .post(format!(
            "https://login.microsoftonline.com/{CONTOSO}/oauth2/v2.0/token"
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", "https://api.fabric.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().expect("a token");
    let resp = c
        .get("https://api.fabric.microsoft.com/v1/workspaces")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(!v["value"].as_array().unwrap().is_empty(), "{v}");
    // A code (or anything else) as the bearer: Fabric's own 401, from the same route.
    let bad = c
        .get("https://api.fabric.microsoft.com/v1/workspaces")
        .bearer_auth("0.AXkAnot-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let e: Value = bad.json().await.unwrap();
    assert_eq!(e["errorCode"], "InvalidToken");
    // Links in the answers name the public host the client asked the proxy for.
    let token = c
        .post(format!(
            "https://login.microsoftonline.com/{CONTOSO}/oauth2/v2.0/token"
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .expect("an ARM token")
        .to_string();
    let subs: Value = c
        .get("https://management.azure.com/subscriptions?api-version=2022-12-01")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!subs["value"].as_array().unwrap().is_empty(), "{subs}");
    let meta: Value = c
        .get("https://management.azure.com/metadata/endpoints?api-version=2022-09-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["resourceManager"], "https://management.azure.com/");
    assert_eq!(
        meta["authentication"]["loginEndpoint"],
        "https://login.microsoftonline.com/"
    );
}
