//! A token endpoint answer as the cache stores it ([`TokenResponse`]), and the keys MSAL
//! derives from it ([`environment_of`], [`ClientInfo`], [`target_of`]).

use serde_json::Value;

use crate::secret::Secret;
use crate::unix_time::seconds;

/// The authority host as MSAL Python and MSAL.NET record it in `environment`: lower
/// case, without scheme, port or path. `https://login.microsoftonline.com/contoso` and
/// `login.microsoftonline.com` both give `login.microsoftonline.com`.
pub fn environment_of(authority: &str) -> String {
    let rest = authority.split_once("://").map_or(authority, |(_, r)| r);
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split_once(']').map_or(v6, |(h, _)| h)
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.to_ascii_lowercase()
}

/// `client_info` from a token response: the user's object id and home tenant id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Object id in the home tenant.
    pub uid: String,
    /// Home tenant id.
    pub utid: String,
}

impl ClientInfo {
    /// Decodes the response's base64url JSON `{"uid":..,"utid":..}`.
    pub fn decode(encoded: &str) -> Option<Self> {
        let bytes = entra_jose::b64url_decode(encoded.trim().trim_end_matches('=')).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        Some(Self {
            uid: v.get("uid")?.as_str()?.to_string(),
            utid: v.get("utid")?.as_str()?.to_string(),
        })
    }

    /// `uid.utid`, MSAL's `home_account_id`.
    pub fn home_account_id(&self) -> String {
        format!("{}.{}", self.uid, self.utid)
    }
}

/// What a token response gives, and where it came from: the input of
/// [`PersistentCache::save_token_response`](super::PersistentCache::save_token_response).
#[derive(Debug, Clone, Default)]
pub struct TokenResponse {
    /// The client that asked.
    pub client_id: String,
    /// The authority host ([`environment_of`]).
    pub environment: String,
    /// The tenant id.
    pub realm: String,
    /// Granted scopes (the response's `scope`, else the requested ones).
    pub scopes: Vec<String>,
    /// `access_token`.
    pub access_token: Option<Secret>,
    /// `token_type` (Bearer when absent).
    pub token_type: Option<String>,
    /// `expires_in`, seconds.
    pub expires_in: Option<i64>,
    /// `ext_expires_in`, seconds.
    pub ext_expires_in: Option<i64>,
    /// `refresh_in`, seconds.
    pub refresh_in: Option<i64>,
    /// `refresh_token`.
    pub refresh_token: Option<Secret>,
    /// `id_token`.
    pub id_token: Option<Secret>,
    /// `client_info`, raw (base64url JSON); gives the account's `home_account_id`.
    pub client_info: Option<String>,
    /// `foci`: the family id when the app is in a family of client ids.
    pub family_id: Option<String>,
}

impl TokenResponse {
    /// Reads an Entra token endpoint response leniently (`expires_in` as number or
    /// string). The tokens are moved out of `body` into [`Secret`]s.
    pub fn from_json(
        mut body: Value,
        client_id: &str,
        environment: &str,
        realm: &str,
        requested_scopes: &[String],
    ) -> Self {
        let mut take = |k: &str| match body.get_mut(k).map(Value::take) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let access_token = take("access_token").map(Secret::new);
        let refresh_token = take("refresh_token").map(Secret::new);
        let id_token = take("id_token").map(Secret::new);
        let client_info = take("client_info");
        let token_type = take("token_type");
        let family_id = take("foci");
        let scopes = match take("scope") {
            Some(s) if !s.trim().is_empty() => s.split_whitespace().map(str::to_string).collect(),
            _ => requested_scopes.to_vec(),
        };
        Self {
            client_id: client_id.to_string(),
            environment: environment.to_string(),
            realm: realm.to_string(),
            scopes,
            access_token,
            token_type,
            expires_in: seconds(body.get("expires_in")),
            ext_expires_in: seconds(body.get("ext_expires_in")),
            refresh_in: seconds(body.get("refresh_in")),
            refresh_token,
            id_token,
            client_info,
            family_id,
        }
    }
}

/// The space-joined, sorted scope list MSAL writes as `target` (exact duplicates dropped;
/// case is kept, as Entra returned it).
pub fn target_of(scopes: &[String]) -> String {
    let mut v: Vec<&str> = scopes.iter().flat_map(|s| s.split_whitespace()).collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}
