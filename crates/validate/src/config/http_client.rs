//! The HTTP client that fetches discovery documents and key sets, and the `https://`
//! rule for their URLs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, pem::PemObject};

use super::error::ConfigError;

/// `url` is `https://` (or `http://` when the settings allow it).
pub(crate) fn https(url: &str, allow_http: bool) -> Result<(), ConfigError> {
    if url.starts_with("https://") || (allow_http && url.starts_with("http://")) {
        Ok(())
    } else {
        Err(ConfigError::NotHttps(url.to_string()))
    }
}

/// System roots plus `extra_ca`, aws-lc-rs, no redirects (a JWKS URL that redirects
/// elsewhere is not followed), 10-second timeouts.
pub(crate) fn default_client(extra_ca: Option<&Path>) -> Result<reqwest::Client, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path)
            .map_err(|e| ConfigError::Http(format!("CA file {}: {e}", path.display())))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                ConfigError::Http(format!("CA file {}: bad PEM: {e}", path.display()))
            })?;
            roots
                .add(cert)
                .map_err(|e| ConfigError::Http(format!("CA file {}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(ConfigError::Http(format!(
                "CA file {}: no certificate in it",
                path.display()
            )));
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ConfigError::Http(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("entrakit-validate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError::Http(e.to_string()))
}
