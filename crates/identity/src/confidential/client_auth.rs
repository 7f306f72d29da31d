//! [`ClientAuth`]: how a confidential client proves who it is (a secret, a certificate,
//! or an assertion from a callback), as token request form fields.

use std::sync::Arc;

use entra_jose::Algorithm;

use super::certificate::ClientCertificate;
use crate::error::Error;
use crate::secret::Secret;
use crate::token::BoxFuture;

/// A callback that returns a client assertion (a JWT) each time one is needed.
pub type AssertionCallback =
    Arc<dyn Fn() -> BoxFuture<'static, Result<Secret, Error>> + Send + Sync>;

/// How a confidential client proves who it is.
#[derive(Clone)]
pub enum ClientAuth {
    /// A client secret.
    Secret(Secret),
    /// A certificate.
    Certificate {
        /// The certificate and key.
        cert: Arc<ClientCertificate>,
        /// RS256 (`x5t`) or PS256 (`x5t#S256`).
        alg: Algorithm,
        /// Send the `x5c` chain (subject name / issuer authentication).
        send_chain: bool,
    },
    /// An assertion from a callback.
    Assertion(AssertionCallback),
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAuth::Secret(_) => f.write_str("Secret([redacted])"),
            ClientAuth::Certificate { cert, alg, .. } => {
                write!(f, "Certificate({:?}, {alg:?})", cert.x5t)
            }
            ClientAuth::Assertion(_) => f.write_str("Assertion(callback)"),
        }
    }
}

impl ClientAuth {
    /// Appends the credential's form fields.
    pub async fn form_fields(
        &self,
        client_id: &str,
        token_endpoint: &str,
    ) -> Result<Vec<(&'static str, Secret)>, Error> {
        const TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        Ok(match self {
            ClientAuth::Secret(s) => vec![("client_secret", s.clone())],
            ClientAuth::Certificate {
                cert,
                alg,
                send_chain,
            } => vec![
                ("client_assertion_type", Secret::new(TYPE)),
                (
                    "client_assertion",
                    cert.assertion(client_id, token_endpoint, *alg, *send_chain)?,
                ),
            ],
            ClientAuth::Assertion(cb) => vec![
                ("client_assertion_type", Secret::new(TYPE)),
                ("client_assertion", cb().await?),
            ],
        })
    }
}
