//! Service Fabric's endpoint serves a self-signed certificate: a TLS client that trusts
//! exactly the certificate whose thumbprint the cluster names, and nothing else.

use std::sync::Arc;

use super::response::truncate;
use crate::http::ReqwestClient;

/// Service Fabric's endpoint serves a self-signed certificate: trust exactly the one whose
/// thumbprint the cluster put in `IDENTITY_SERVER_THUMBPRINT`.
#[derive(Debug)]
struct PinnedCertificate {
    digest: &'static aws_lc_rs::digest::Algorithm,
    thumbprint: Vec<u8>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

pub(super) fn parse_thumbprint(value: &str) -> Result<Vec<u8>, String> {
    let hex: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<Vec<u8>>>();
    match bytes {
        Some(b) if b.len() == 20 || b.len() == 32 => Ok(b),
        _ => Err(format!(
            "IDENTITY_SERVER_THUMBPRINT {:?} is not a SHA-1 or SHA-256 thumbprint in hex",
            truncate(value, 100)
        )),
    }
}

pub(super) fn pinned_client(thumbprint: &str) -> Result<ReqwestClient, String> {
    let thumbprint = parse_thumbprint(thumbprint)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = PinnedCertificate {
        digest: if thumbprint.len() == 20 {
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY
        } else {
            &aws_lc_rs::digest::SHA256
        },
        thumbprint,
        provider: provider.clone(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    ReqwestClient::with_tls_config(tls).map_err(|e| e.to_string())
}

impl rustls::client::danger::ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let seen = aws_lc_rs::digest::digest(self.digest, end_entity.as_ref());
        if aws_lc_rs::constant_time::verify_slices_are_equal(seen.as_ref(), &self.thumbprint)
            .is_ok()
        {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server certificate does not match IDENTITY_SERVER_THUMBPRINT".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
