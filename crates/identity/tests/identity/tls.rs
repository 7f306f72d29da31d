//! A TLS certificate failure (here an unknown issuer: a self-signed certificate) is never
//! retried: the request fails at once, after one connection, and the error says how to
//! trust the authority's CA.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use entra_identity::{
    ClientOptions, ClientSecretCredential, InstanceDiscovery, TokenCredential, TokenRequest,
};

/// A loopback TLS server with a fresh self-signed certificate that counts connections.
async fn untrusted_tls_server() -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![certified.cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            // The client refuses the certificate: the handshake ends here.
            tokio::spawn(async move { drop(acceptor.accept(stream).await) });
        }
    });
    (base, connections, task)
}

#[tokio::test]
async fn an_untrusted_certificate_fails_at_once_with_the_ca_hint() {
    let (base, connections, server) = untrusted_tls_server().await;
    let credential = ClientSecretCredential::new(
        "contoso",
        "d0000000-0000-4000-8000-0000000000d1",
        "s3cret-value",
        ClientOptions {
            authority_host: Some(base),
            // The host is a made-up one; discovery is not what this test is about.
            instance_discovery: InstanceDiscovery::DangerDisabled,
            ..Default::default()
        },
    )
    .unwrap();
    let started = Instant::now();
    let err = credential
        .get_token(&TokenRequest::new(["api://x/.default"]))
        .await
        .unwrap_err();
    let took = started.elapsed();
    let text = err.to_string();
    // The default pipeline retries transport errors after 0.8 s or more: a retry shows.
    assert!(took < Duration::from_millis(700), "took {took:?}: {text}");
    assert_eq!(connections.load(Ordering::SeqCst), 1, "{text}");
    assert!(text.contains("certificate"), "{text}");
    for hint in ["ca_file", "SSL_CERT_FILE", "ClientOptions::from_env"] {
        assert!(text.contains(hint), "{hint} missing: {text}");
    }
    // What `main() -> Result<_, Box<dyn Error>>` prints says it too.
    assert!(format!("{err:?}").contains("SSL_CERT_FILE"));
    assert!(!text.contains("s3cret"));
    server.abort();
}
