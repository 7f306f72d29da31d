//! Typed errors. An Entra error keeps `error`, the AADSTS codes, trace and correlation
//! ids, and adds a one-line hint for the mistakes people make most. No error ever
//! carries a secret or a token: bodies are parsed into fields, never kept raw.

use std::fmt;

/// What Entra said when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntraErrorResponse {
    /// OAuth `error`, e.g. `invalid_client`.
    pub error: String,
    /// `error_description`, which starts with `AADSTS<code>:`.
    pub description: String,
    /// `error_codes`.
    pub codes: Vec<u32>,
    /// `trace_id`.
    pub trace_id: Option<String>,
    /// `correlation_id`.
    pub correlation_id: Option<String>,
    /// `suberror`.
    pub suberror: Option<String>,
    /// A claims challenge to send back with an interactive request.
    pub claims: Option<String>,
    /// HTTP status.
    pub status: u16,
}

impl EntraErrorResponse {
    /// Parses Entra's JSON error body; `None` if it is not one.
    pub fn parse(status: u16, body: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let error = v.get("error")?.as_str()?.to_string();
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Some(Self {
            error,
            description: s("error_description").unwrap_or_default(),
            codes: v
                .get("error_codes")
                .and_then(|c| c.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_u64())
                        .map(|x| x as u32)
                        .collect()
                })
                .unwrap_or_default(),
            trace_id: s("trace_id"),
            correlation_id: s("correlation_id"),
            suberror: s("suberror"),
            claims: s("claims"),
            status,
        })
    }

    /// Has this AADSTS code?
    pub fn has_code(&self, code: u32) -> bool {
        self.codes.contains(&code)
    }

    /// A one-line hint for the classic mistakes, if this is one: the `hint` of the
    /// first of its codes that has one in [`crate::aadsts`] (`70011` about a scope
    /// missing `/.default` reads as `1002012`).
    pub fn hint(&self) -> Option<&'static str> {
        self.codes.iter().find_map(|&code| {
            let code = if code == 70011 && self.description.contains(".default") {
                1002012
            } else {
                code
            };
            crate::aadsts::lookup(code)?.hint
        })
    }
}

impl fmt::Display for EntraErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The description's first sentence carries the AADSTS code and text; trace and
        // correlation ids are repeated separately so they survive truncation.
        let first = self
            .description
            .split(" Trace ID:")
            .next()
            .unwrap_or("")
            .trim();
        write!(f, "{} (HTTP {})", self.error, self.status)?;
        if !first.is_empty() {
            write!(f, ": {first}")?;
        }
        if let Some(t) = &self.trace_id {
            write!(f, " [trace {t}")?;
            if let Some(c) = &self.correlation_id {
                write!(f, ", correlation {c}")?;
            }
            write!(f, "]")?;
        }
        if let Some(h) = self.hint() {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong getting a token.
///
/// `Debug` prints what `Display` prints (the message, and the hint when there is one),
/// not the fields: it is what `main() -> Result<(), Box<dyn std::error::Error>>` shows
/// when an error ends the program. Neither ever carries a token or a secret.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authority answered with an OAuth error.
    #[error("{0}")]
    Entra(Box<EntraErrorResponse>),
    /// The request never got a usable answer (connection, TLS, timeout), after retries.
    #[error("{context}: {message}")]
    Transport {
        /// What was being done.
        context: String,
        /// Why it failed.
        message: String,
    },
    /// An answer's body was longer than [`MAX_RESPONSE_BYTES`](crate::http::MAX_RESPONSE_BYTES):
    /// it was not read further, nor retried.
    #[error("{context}: the response body is larger than {limit} bytes; refused")]
    ResponseTooLarge {
        /// What was being done.
        context: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// An answer arrived but could not be understood.
    #[error("unexpected response from {endpoint}: {message}")]
    Response {
        /// Where from.
        endpoint: String,
        /// What was wrong with it.
        message: String,
    },
    /// The credential is set up wrongly (bad key file, missing value...).
    #[error("configuration: {0}")]
    Config(String),
    /// This credential cannot work here (for example no managed identity endpoint);
    /// a chain moves on to the next credential.
    #[error("{credential} is unavailable: {reason}")]
    Unavailable {
        /// Credential name.
        credential: &'static str,
        /// Why.
        reason: String,
    },
    /// A managed-identity host (IMDS, App Service, Azure Arc...) refused the request or
    /// answered something unusable; `source` is what it said ([`Error::Entra`] when it
    /// relayed an OAuth error, [`Error::Response`] otherwise).
    #[error("{host} managed identity: {source}")]
    ManagedIdentity {
        /// Which host, e.g. `IMDS` or `App Service (2019-08-01)`.
        host: &'static str,
        /// What went wrong.
        source: Box<Error>,
    },
    /// The persistent token cache file could not be read or written (damaged, wrong
    /// key, locked too long...). The message names the file and what to do; it never
    /// carries a token. A credential with a persistent cache reports this rather than
    /// carrying on without it, so that a broken cache is noticed, not silently bypassed.
    #[error(transparent)]
    Cache(#[from] crate::persist::error::CacheFileError),
    /// Every credential of a chain failed; each is listed with its reason.
    #[error("no credential in the chain could get a token:{}", format_chain(.0))]
    Chain(Vec<(String, Error)>),
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn format_chain(list: &[(String, Error)]) -> String {
    list.iter()
        .map(|(name, e)| format!("\n  - {name}: {}", e.to_string().replace('\n', "\n    ")))
        .collect()
}

impl Error {
    /// The Entra error, if this is one (also when a managed-identity host relayed it).
    pub fn entra(&self) -> Option<&EntraErrorResponse> {
        match self {
            Error::Entra(e) => Some(e),
            Error::ManagedIdentity { source, .. } => source.entra(),
            _ => None,
        }
    }
}

/// The start of the reason in the [`Error::Unavailable`] that asks for interaction.
const INTERACTION_REQUIRED: &str = "interaction required";

impl Error {
    /// Does getting this token need the user (a sign-in, MFA or consent)? True when no
    /// account or refresh token is cached, and for the authority's `invalid_grant`,
    /// `interaction_required`, `consent_required` and `login_required` answers.
    pub fn needs_interaction(&self) -> bool {
        match self {
            Error::Unavailable { reason, .. } => reason.starts_with(INTERACTION_REQUIRED),
            Error::Entra(e) => matches!(
                e.error.as_str(),
                "invalid_grant" | "interaction_required" | "consent_required" | "login_required"
            ),
            _ => false,
        }
    }
}

pub(crate) fn interaction_required(credential: &'static str, why: &str) -> Error {
    Error::Unavailable {
        credential,
        reason: format!("{INTERACTION_REQUIRED}: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_for_classic_mistakes() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: t Correlation ID: c Timestamp: x","error_codes":[7000215],"trace_id":"t","correlation_id":"c"}"#;
        let e = EntraErrorResponse::parse(401, body).unwrap();
        let text = Error::Entra(Box::new(e)).to_string();
        assert!(text.starts_with("invalid_client (HTTP 401): AADSTS7000215: Invalid client secret provided. [trace t, correlation c]"), "{text}");
        assert!(text.contains("hint: the secret's ID"));
        // `main() -> Result<_, Box<dyn Error>>` prints Debug: the hint must be there too.
        let debug = format!(
            "{:?}",
            Error::Entra(Box::new(EntraErrorResponse::parse(401, body).unwrap()))
        );
        assert_eq!(debug, text);
        assert!(EntraErrorResponse::parse(400, b"not json").is_none());
    }

    #[test]
    fn chain_lists_every_failure() {
        let e = Error::Chain(vec![
            (
                "EnvironmentCredential".into(),
                Error::Unavailable {
                    credential: "EnvironmentCredential",
                    reason: "AZURE_CLIENT_ID is not set".into(),
                },
            ),
            (
                "ManagedIdentityCredential".into(),
                Error::Transport {
                    context: "IMDS".into(),
                    message: "connection refused".into(),
                },
            ),
        ]);
        let text = e.to_string();
        assert!(text.contains("- EnvironmentCredential: EnvironmentCredential is unavailable: AZURE_CLIENT_ID is not set"));
        assert!(text.contains("- ManagedIdentityCredential: IMDS: connection refused"));
    }
}
