//! [`Authority`]: who issues the tokens, and so the issuer strings and key URLs.

use crate::token::TokenVersion;

/// The Entra public cloud.
pub const PUBLIC_CLOUD: &str = "https://login.microsoftonline.com";
/// The authority that issues the tokens, and so the issuer strings and key URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    base: String,
    pub(crate) v1_issuer: String,
    pub(crate) v2_issuer: String,
}

impl Authority {
    /// Entra's public cloud: v2 issuer `https://login.microsoftonline.com/{tenantid}/v2.0`,
    /// v1 issuer `https://sts.windows.net/{tenantid}/`.
    pub fn public_cloud() -> Self {
        Self {
            base: PUBLIC_CLOUD.into(),
            v1_issuer: "https://sts.windows.net/{tenantid}/".into(),
            v2_issuer: format!("{PUBLIC_CLOUD}/{{tenantid}}/v2.0"),
        }
    }

    /// Another authority host (a sovereign cloud, or the entrakit emulator): issuers
    /// `{base}/{tenantid}/v2.0` and `{base}/{tenantid}/`, keys by discovery under `base`.
    pub fn custom(base: impl Into<String>) -> Self {
        let base = base.into().trim_end_matches('/').to_string();
        Self {
            v1_issuer: format!("{base}/{{tenantid}}/"),
            v2_issuer: format!("{base}/{{tenantid}}/v2.0"),
            base,
        }
    }

    /// Overrides the v1 issuer template (it must contain `{tenantid}`).
    pub fn with_v1_issuer(mut self, template: impl Into<String>) -> Self {
        self.v1_issuer = template.into();
        self
    }

    /// The base URL (discovery lives under it).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The issuer template for `version` (with `{tenantid}`).
    pub fn issuer_template(&self, version: TokenVersion) -> &str {
        match version {
            TokenVersion::V1 => &self.v1_issuer,
            TokenVersion::V2 => &self.v2_issuer,
        }
    }

    /// The issuer a `version` token of `tenant` must carry.
    pub fn issuer(&self, version: TokenVersion, tenant: &str) -> String {
        self.issuer_template(version).replace("{tenantid}", tenant)
    }
}

/// Whether `issuer` is `template` with `{tenantid}` (if present) replaced by `tenant`,
/// without building the string.
pub(crate) fn issuer_matches(template: &str, tenant: &str, issuer: &str) -> bool {
    // The first `{tenantid}`, found from its `{` (memchr) rather than with a substring
    // searcher built for every token.
    const TENANT: &str = "{tenantid}";
    let at = memchr::memchr_iter(b'{', template.as_bytes())
        .find(|&i| template.as_bytes()[i..].starts_with(TENANT.as_bytes()));
    match at.map(|i| (&template[..i], &template[i + TENANT.len()..])) {
        None => template == issuer,
        Some((pre, post)) => {
            issuer.len() == pre.len() + tenant.len() + post.len()
                && issuer.starts_with(pre)
                && issuer.ends_with(post)
                && &issuer[pre.len()..pre.len() + tenant.len()] == tenant
        }
    }
}

impl Default for Authority {
    fn default() -> Self {
        Self::public_cloud()
    }
}
