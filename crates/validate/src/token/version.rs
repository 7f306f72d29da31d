//! The access-token version, from the `ver` claim.

/// Access-token versions: the `ver` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVersion {
    /// `ver` `1.0`: issuer `https://sts.windows.net/{tid}/`, `appid`, `upn`.
    V1,
    /// `ver` `2.0`: issuer `https://login.microsoftonline.com/{tid}/v2.0`, `azp`.
    V2,
}

impl TokenVersion {
    /// `v1` or `v2`.
    pub fn label(self) -> &'static str {
        match self {
            TokenVersion::V1 => "v1",
            TokenVersion::V2 => "v2",
        }
    }
}
