//! First token in a fresh process: a `ClientSecretCredential` against a running emulator,
//! one `get_token`, then exit. Prints two numbers on stdout, microseconds: from the start
//! of `main` to the token (credential creation, TLS set-up, discovery, token request), and
//! the part of that spent seeding aws-lc's random generator, which happens once per
//! process on the first random number (aws-lc 0.47 seeds its DRBG tree from CPU jitter
//! entropy). The example draws that first random byte itself, at the start, so the
//! seeding is timed on its own; the total is what it would be without that. The third
//! number is from credential creation (options, transport, credential, runtime; after
//! the seeding) to the token.
//!
//! Run: `cargo run --release -p entra-identity --example first_token -- AUTHORITY CA_FILE [MODE]`
//! - `MODE` = `native` (default): `ClientOptions::for_emulator`, i.e. the system roots
//!   plus the emulator's CA, exactly what an application gets.
//! - `MODE` = `ca-only`: only the emulator's CA is trusted (what MSAL Python does with
//!   `REQUESTS_CA_BUNDLE` pointing at that file), so loading the system roots is excluded.
//!
//! Process start-up is measured outside (hyperfine or a shell loop).

use std::sync::Arc;
use std::time::Instant;

use entra_identity::http::{Pipeline, ReqwestClient, RetryPolicy};
use entra_identity::{ClientOptions, ClientSecretCredential, TokenCredential, TokenRequest};

fn main() {
    let start = Instant::now();
    let mut args = std::env::args().skip(1);
    let (Some(authority), Some(ca_file)) = (args.next(), args.next()) else {
        eprintln!("usage: first_token AUTHORITY CA_FILE [native|ca-only]");
        std::process::exit(2);
    };
    let mode = args.next().unwrap_or_else(|| "native".into());
    let seed_start = Instant::now();
    aws_lc_rs::rand::fill(&mut [0u8; 1]).expect("random");
    let seeding = seed_start.elapsed();
    let created = Instant::now();
    let mut options = ClientOptions::for_emulator(&authority, &ca_file);
    if mode == "ca-only" {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(&ca_file).expect("CA file");
        use rustls_pki_types::{CertificateDer, pem::PemObject};
        for cert in CertificateDer::pem_slice_iter(&pem) {
            roots.add(cert.expect("CA PEM")).expect("CA certificate");
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let client = ReqwestClient::with_tls_config(tls).expect("client");
        options.pipeline = Some(Pipeline::new(Arc::new(client), RetryPolicy::default()));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cred = ClientSecretCredential::new(
        "contoso.onmicrosoft.com",
        "d0000000-0000-4000-8000-0000000000d1",
        "daemon-dev-secret",
        options,
    )
    .expect("credential");
    let token = rt
        .block_on(cred.get_token(&TokenRequest::new(["api://contoso-api/.default"])))
        .expect("token");
    let elapsed = start.elapsed();
    assert!(!token.token.is_empty());
    println!(
        "{} {} {}",
        elapsed.as_micros(),
        seeding.as_micros(),
        created.elapsed().as_micros()
    );
}
