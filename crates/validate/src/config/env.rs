//! [`ValidatorConfig::from_env`]: the authority and the CA to trust, from the variables
//! `entra up` prints and the Azure SDKs read, so the same shell points clients and APIs
//! at the emulator (or a sovereign cloud).

use super::authority::{Authority, PUBLIC_CLOUD};
use super::builder::ValidatorConfigBuilder;
use super::validator_config::ValidatorConfig;

/// The authority host: the Azure SDKs' name first, then the CLI's.
const AUTHORITY_VARS: [&str; 2] = ["AZURE_AUTHORITY_HOST", "ENTRA_AUTHORITY"];
/// An extra CA file to trust: OpenSSL's (and the Azure SDKs') name first, then the CLI's.
const CA_FILE_VARS: [&str; 2] = ["SSL_CERT_FILE", "ENTRA_CA_FILE"];

impl ValidatorConfig {
    /// A builder set up from the environment: `AZURE_AUTHORITY_HOST` (or
    /// `ENTRA_AUTHORITY`) as the authority ([`Authority::custom`]; the public cloud when
    /// unset or when it names the public cloud) and `SSL_CERT_FILE` (or `ENTRA_CA_FILE`)
    /// as an extra CA to trust ([`ValidatorConfigBuilder::extra_ca_file`]). The tenant
    /// and the audience stay explicit:
    ///
    /// ```no_run
    /// # use entra_validate::{Validator, ValidatorConfig};
    /// # fn main() -> Result<(), entra_validate::ConfigError> {
    /// let validator = Validator::new(
    ///     ValidatorConfig::from_env()
    ///         .tenant("c0ffee00-0000-4000-8000-000000000001")
    ///         .audience("a0000000-0000-4000-8000-0000000000a1")
    ///         .build()?,
    /// );
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> ValidatorConfigBuilder {
        ValidatorConfigBuilder::default().env_from(|name| std::env::var(name).ok())
    }
}

impl ValidatorConfigBuilder {
    /// [`ValidatorConfig::from_env`] with the variables read through `lookup` (tests,
    /// or an embedder with its own settings). Empty values count as unset.
    pub fn env_from(self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: [&str; 2]| {
            names
                .iter()
                .filter_map(|n| lookup(n))
                .map(|v| v.trim().to_string())
                .find(|v| !v.is_empty())
        };
        let mut builder = self;
        if let Some(host) = first(AUTHORITY_VARS) {
            builder = builder.authority(authority_for(&host));
        }
        if let Some(path) = first(CA_FILE_VARS) {
            builder = builder.extra_ca_file(path);
        }
        builder
    }
}

/// The authority an authority host names: the public cloud (with its own v1 issuer,
/// `https://sts.windows.net/{tenantid}/`) or a custom one.
fn authority_for(host: &str) -> Authority {
    if host
        .trim_end_matches('/')
        .eq_ignore_ascii_case(PUBLIC_CLOUD)
    {
        Authority::public_cloud()
    } else {
        Authority::custom(host)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::TokenVersion;

    fn builder(vars: &[(&str, &str)]) -> ValidatorConfigBuilder {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ValidatorConfigBuilder::default()
            .env_from(move |k| map.get(k).cloned())
            .tenant("c0ffee00-0000-4000-8000-000000000001")
            .audience("a0000000-0000-4000-8000-0000000000a1")
    }

    fn v2_issuer(vars: &[(&str, &str)]) -> String {
        let built = builder(vars)
            .jwks_uri("https://keys.example/jwks")
            .build()
            .unwrap();
        built
            .authority
            .issuer_template(TokenVersion::V2)
            .to_string()
    }

    #[test]
    fn the_authority_comes_from_either_name_azure_first() {
        assert_eq!(
            v2_issuer(&[]),
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        );
        assert_eq!(
            v2_issuer(&[("ENTRA_AUTHORITY", "https://127.0.0.1:44300/")]),
            "https://127.0.0.1:44300/{tenantid}/v2.0"
        );
        assert_eq!(
            v2_issuer(&[
                ("AZURE_AUTHORITY_HOST", "https://login.example"),
                ("ENTRA_AUTHORITY", "https://127.0.0.1:44300"),
            ]),
            "https://login.example/{tenantid}/v2.0"
        );
        // Empty is unset.
        assert_eq!(
            v2_issuer(&[
                ("AZURE_AUTHORITY_HOST", " "),
                ("ENTRA_AUTHORITY", "https://e.example")
            ]),
            "https://e.example/{tenantid}/v2.0"
        );
        // The public cloud keeps its v1 issuer.
        let built = builder(&[("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/")])
            .jwks_uri("https://keys.example/jwks")
            .build()
            .unwrap();
        assert_eq!(
            built.authority.issuer_template(TokenVersion::V1),
            "https://sts.windows.net/{tenantid}/"
        );
    }

    #[test]
    fn the_ca_file_comes_from_either_name() {
        let missing = std::env::temp_dir().join("entra-validate-no-such-ca.pem");
        let missing = missing.to_str().unwrap();
        for name in ["SSL_CERT_FILE", "ENTRA_CA_FILE"] {
            // The file is read at build: a missing one is refused, naming it.
            let Err(crate::ConfigError::Http(text)) = builder(&[(name, missing)]).build() else {
                panic!("{name}: a missing CA file must be refused");
            };
            assert!(text.contains("entra-validate-no-such-ca.pem"), "{text}");
        }
        builder(&[]).build().unwrap();
    }
}
