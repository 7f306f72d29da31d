//! The MSAL token-cache schema, shared by MSAL Python, Node and .NET: five top-level
//! sections (`AccessToken`, `RefreshToken`, `IdToken`, `Account`, `AppMetadata`), each
//! mapping a lower-cased key to an entry.
//!
//! Every entry keeps the fields this version does not model in `extra`, verbatim, and
//! so does the top level: MSAL writes more than the schema's core (`account_source`,
//! `ext_cache_key`, `key_id`, ...) and a cache shared with it must not lose them. A known
//! field that holds JSON `null` or an unexpected type also stays in `extra`, exactly as
//! it was, unless the typed field is set. Timestamps are strings of epoch seconds on
//! disk (numbers are accepted when reading) and `i64` in memory; `secret` is a
//! [`Secret`].

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::secret::Secret;

/// `credential_type` of access tokens.
pub const ACCESS_TOKEN: &str = "AccessToken";
/// `credential_type` of refresh tokens.
pub const REFRESH_TOKEN: &str = "RefreshToken";
/// `credential_type` of ID tokens.
pub const ID_TOKEN: &str = "IdToken";
/// `authority_type` of Entra (AAD v2 and MSA) accounts.
pub const AUTHORITY_TYPE_MSSTS: &str = "MSSTS";

/// One field of an entry, borrowed for writing.
enum Out<'a> {
    Str(&'a str),
    Owned(String),
    Null,
    Json(&'a Value),
}

impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Str(v) => s.serialize_str(v),
            Out::Owned(v) => s.serialize_str(v),
            Out::Null => s.serialize_unit(),
            Out::Json(v) => v.serialize(s),
        }
    }
}

/// How each kind of known field is read from an entry's JSON object and written back.
/// `take` removes the field only when it has the expected shape; anything else stays
/// in `extra` so that it is written back as it was.
mod field {
    // Absolute paths, not `super::*`: the file-level import checker reads `super` as
    // this file's parent.

    /// A string; absent when `None`.
    pub mod text {
        use crate::persist::schema::Out;
        use serde_json::{Map, Value};
        pub fn take(m: &mut Map<String, Value>, k: &str) -> Option<String> {
            match m.remove(k) {
                Some(Value::String(s)) => Some(s),
                Some(other) => {
                    m.insert(k.to_string(), other);
                    None
                }
                None => None,
            }
        }
        pub fn put(v: &Option<String>) -> Option<Out<'_>> {
            v.as_deref().map(Out::Str)
        }
    }

    /// A string written as `null` when `None`. MSAL Python writes `"home_account_id":
    /// null` on app tokens and matches its queries field by field, so a missing field
    /// would hide the entry from it.
    pub mod nullable_text {
        use crate::persist::schema::Out;
        use serde_json::{Map, Value};
        pub fn take(m: &mut Map<String, Value>, k: &str) -> Option<String> {
            match m.remove(k) {
                Some(Value::String(s)) => Some(s),
                Some(Value::Null) | None => None,
                Some(other) => {
                    m.insert(k.to_string(), other);
                    None
                }
            }
        }
        pub fn put(v: &Option<String>) -> Option<Out<'_>> {
            Some(v.as_deref().map_or(Out::Null, Out::Str))
        }
    }

    /// A token: moved out of the parsed JSON into a [`Secret`] without a copy.
    pub mod secret {
        use crate::persist::schema::Out;
        use crate::persist::schema::field::text;
        use crate::secret::Secret;
        use serde_json::{Map, Value};
        pub fn take(m: &mut Map<String, Value>, k: &str) -> Option<Secret> {
            text::take(m, k).map(Secret::new)
        }
        pub fn put(v: &Option<Secret>) -> Option<Out<'_>> {
            v.as_ref().map(|s| Out::Str(s.expose()))
        }
    }

    /// Epoch seconds, a string on disk (a number is accepted when reading).
    pub mod epoch {
        use crate::persist::schema::Out;
        use serde_json::{Map, Value};
        pub fn take(m: &mut Map<String, Value>, k: &str) -> Option<i64> {
            let parsed = match m.get(k)? {
                Value::String(s) => s.trim().parse::<i64>().ok(),
                Value::Number(n) => n.as_i64(),
                _ => None,
            };
            if parsed.is_some() {
                m.remove(k);
            }
            parsed
        }
        pub fn put(v: &Option<i64>) -> Option<Out<'static>> {
            v.map(|t| Out::Owned(t.to_string()))
        }
    }
}

/// Declares an entry type: typed fields named exactly as MSAL names them, plus `extra`.
macro_rules! schema_entry {
    (
        $(#[$doc:meta])*
        $name:ident {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty => $kind:ident, )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: $ty, )*
            /// Every other field, kept verbatim so that a round trip loses nothing.
            pub extra: Map<String, Value>,
        }

        impl $name {
            /// The JSON field names this type models.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn from_object(mut m: Map<String, Value>) -> Self {
                Self {
                    $( $field: field::$kind::take(&mut m, stringify!($field)), )*
                    extra: m,
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                // Written straight from the fields (no copy of the secret), keys sorted.
                let mut out: Vec<(&str, Out<'_>)> = Vec::with_capacity(16);
                $(
                    if let Some(v) = field::$kind::put(&self.$field) {
                        out.push((stringify!($field), v));
                    }
                )*
                for (k, v) in &self.extra {
                    if !out.iter().any(|(n, _)| *n == k.as_str()) {
                        out.push((k.as_str(), Out::Json(v)));
                    }
                }
                out.sort_by(|a, b| a.0.cmp(b.0));
                let mut map = s.serialize_map(Some(out.len()))?;
                for (k, v) in &out {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self::from_object(Map::deserialize(d)?))
            }
        }
    };
}

schema_entry! {
    /// An access token (`AccessToken` section).
    AccessTokenEntry {
        /// `AccessToken`.
        credential_type: Option<String> => text,
        /// The token.
        secret: Option<Secret> => secret,
        /// `uid.utid` for a user's token; `null` for an app's own token.
        home_account_id: Option<String> => nullable_text,
        /// The authority host, e.g. `login.microsoftonline.com`.
        environment: Option<String> => text,
        /// Client (application) id.
        client_id: Option<String> => text,
        /// Tenant id the token was issued in.
        realm: Option<String> => text,
        /// Scopes, space-separated, sorted.
        target: Option<String> => text,
        /// `Bearer` (absent means Bearer).
        token_type: Option<String> => text,
        /// When it was stored.
        cached_at: Option<i64> => epoch,
        /// Expiry.
        expires_on: Option<i64> => epoch,
        /// Extended expiry (resilience during outages).
        extended_expires_on: Option<i64> => epoch,
        /// When to refresh proactively.
        refresh_on: Option<i64> => epoch,
    }
}

schema_entry! {
    /// A refresh token (`RefreshToken` section). Refresh tokens are cross-tenant: the
    /// key has an empty realm.
    RefreshTokenEntry {
        /// `RefreshToken`.
        credential_type: Option<String> => text,
        /// The token.
        secret: Option<Secret> => secret,
        /// `uid.utid`.
        home_account_id: Option<String> => text,
        /// The authority host.
        environment: Option<String> => text,
        /// Client id.
        client_id: Option<String> => text,
        /// Scopes it was issued with (optional in the schema).
        target: Option<String> => text,
        /// When it was last written.
        last_modification_time: Option<i64> => epoch,
        /// Family (FOCI) id, `"1"`, when the token is a family refresh token.
        family_id: Option<String> => text,
    }
}

schema_entry! {
    /// An ID token (`IdToken` section).
    IdTokenEntry {
        /// `IdToken`.
        credential_type: Option<String> => text,
        /// The token.
        secret: Option<Secret> => secret,
        /// `uid.utid`.
        home_account_id: Option<String> => text,
        /// The authority host.
        environment: Option<String> => text,
        /// Tenant id.
        realm: Option<String> => text,
        /// Client id.
        client_id: Option<String> => text,
    }
}

schema_entry! {
    /// A signed-in account (`Account` section), one per tenant the user signed in to.
    AccountEntry {
        /// `uid.utid`: object id and home tenant id.
        home_account_id: Option<String> => text,
        /// The authority host.
        environment: Option<String> => text,
        /// Tenant id.
        realm: Option<String> => text,
        /// The user's object id in `realm`.
        local_account_id: Option<String> => text,
        /// `preferred_username` (or `upn`).
        username: Option<String> => text,
        /// `MSSTS` for Entra.
        authority_type: Option<String> => text,
        /// The raw `client_info` from the token response (MSAL.NET writes it).
        client_info: Option<String> => text,
    }
}

schema_entry! {
    /// What is known about an app (`AppMetadata` section), e.g. its FOCI family.
    AppMetadata {
        /// Client id.
        client_id: Option<String> => text,
        /// The authority host.
        environment: Option<String> => text,
        /// Family id when the app is in a family of client ids.
        family_id: Option<String> => text,
    }
}

fn join_key(parts: &[&str]) -> String {
    parts.join("-").to_lowercase()
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

impl AccessTokenEntry {
    /// `home_account_id-environment-accesstoken-client_id-realm-target`, lower case.
    /// An entry bound to extra request parameters (MSAL's `ext_cache_key`) is keyed as
    /// MSAL keys it: `atext` and the hash appended.
    pub fn key(&self) -> String {
        match self.extra.get("ext_cache_key").and_then(Value::as_str) {
            Some(ext) if !ext.is_empty() => join_key(&[
                s(&self.home_account_id),
                s(&self.environment),
                "atext",
                s(&self.client_id),
                s(&self.realm),
                s(&self.target),
                ext,
            ]),
            _ => join_key(&[
                s(&self.home_account_id),
                s(&self.environment),
                "accesstoken",
                s(&self.client_id),
                s(&self.realm),
                s(&self.target),
            ]),
        }
    }

    /// The token as credentials hand it out, if it has a secret and an expiry.
    pub fn to_token(&self) -> Option<crate::token::AccessToken> {
        Some(crate::token::AccessToken {
            token: self.secret.clone()?,
            expires_on: self.expires_on?,
            refresh_on: self.refresh_on,
            token_type: self.token_type.as_deref().unwrap_or("Bearer").into(),
        })
    }
}

impl RefreshTokenEntry {
    /// `home_account_id-environment-refreshtoken-client_id--target`, lower case.
    pub fn key(&self) -> String {
        join_key(&[
            s(&self.home_account_id),
            s(&self.environment),
            "refreshtoken",
            s(&self.client_id),
            "",
            s(&self.target),
        ])
    }
}

impl IdTokenEntry {
    /// `home_account_id-environment-idtoken-client_id-realm-`, lower case.
    pub fn key(&self) -> String {
        join_key(&[
            s(&self.home_account_id),
            s(&self.environment),
            "idtoken",
            s(&self.client_id),
            s(&self.realm),
            "",
        ])
    }
}

impl AccountEntry {
    /// `home_account_id-environment-realm`, lower case.
    pub fn key(&self) -> String {
        join_key(&[
            s(&self.home_account_id),
            s(&self.environment),
            s(&self.realm),
        ])
    }
}

impl AppMetadata {
    /// `appmetadata-environment-client_id`, lower case.
    pub fn key(&self) -> String {
        join_key(&["appmetadata", s(&self.environment), s(&self.client_id)])
    }
}

/// A whole cache file's content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheData {
    /// `AccessToken`.
    #[serde(rename = "AccessToken", default)]
    pub access_tokens: BTreeMap<String, AccessTokenEntry>,
    /// `RefreshToken`.
    #[serde(rename = "RefreshToken", default)]
    pub refresh_tokens: BTreeMap<String, RefreshTokenEntry>,
    /// `IdToken`.
    #[serde(rename = "IdToken", default)]
    pub id_tokens: BTreeMap<String, IdTokenEntry>,
    /// `Account`.
    #[serde(rename = "Account", default)]
    pub accounts: BTreeMap<String, AccountEntry>,
    /// `AppMetadata`.
    #[serde(rename = "AppMetadata", default)]
    pub app_metadata: BTreeMap<String, AppMetadata>,
    /// Other top-level sections, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CacheData {
    /// Parses MSAL cache JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Writes MSAL cache JSON (indented, as MSAL Python writes it).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("cache data always serialises")
    }

    /// No entries at all?
    pub fn is_empty(&self) -> bool {
        self.access_tokens.is_empty()
            && self.refresh_tokens.is_empty()
            && self.id_tokens.is_empty()
            && self.accounts.is_empty()
            && self.app_metadata.is_empty()
            && self.extra.is_empty()
    }

    /// Stores an access token under its key, replacing what was there.
    pub fn insert_access_token(&mut self, entry: AccessTokenEntry) {
        self.access_tokens.insert(entry.key(), entry);
    }

    /// Stores a refresh token under its key.
    pub fn insert_refresh_token(&mut self, entry: RefreshTokenEntry) {
        self.refresh_tokens.insert(entry.key(), entry);
    }

    /// Stores an ID token under its key.
    pub fn insert_id_token(&mut self, entry: IdTokenEntry) {
        self.id_tokens.insert(entry.key(), entry);
    }

    /// Stores an account under its key. Fields this version does not model that the
    /// stored account had (MSAL's `account_source`, `name`...) are carried over.
    pub fn insert_account(&mut self, mut entry: AccountEntry) {
        let key = entry.key();
        if let Some(old) = self.accounts.remove(&key) {
            for (k, v) in old.extra {
                entry.extra.entry(k).or_insert(v);
            }
        }
        self.accounts.insert(key, entry);
    }

    /// Stores app metadata under its key, carrying over unmodelled fields.
    pub fn insert_app_metadata(&mut self, mut entry: AppMetadata) {
        let key = entry.key();
        if let Some(old) = self.app_metadata.remove(&key) {
            for (k, v) in old.extra {
                entry.extra.entry(k).or_insert(v);
            }
        }
        self.app_metadata.insert(key, entry);
    }

    /// Merges `newer` into `self`: the union of both, and for a key in both, the entry
    /// with the later `cached_at` (access tokens) or `last_modification_time` (refresh
    /// tokens) wins; on a tie, or where entries carry no timestamp, `newer`'s wins.
    pub fn merge(&mut self, newer: CacheData) {
        merge_section(&mut self.access_tokens, newer.access_tokens, |e| {
            e.cached_at
        });
        merge_section(&mut self.refresh_tokens, newer.refresh_tokens, |e| {
            e.last_modification_time
        });
        merge_section(&mut self.id_tokens, newer.id_tokens, |_| None);
        merge_section(&mut self.accounts, newer.accounts, |_| None);
        merge_section(&mut self.app_metadata, newer.app_metadata, |_| None);
        self.extra.extend(newer.extra);
    }
}

fn merge_section<E>(
    dst: &mut BTreeMap<String, E>,
    src: BTreeMap<String, E>,
    time: impl Fn(&E) -> Option<i64>,
) {
    for (key, entry) in src {
        let keep_old = dst
            .get(&key)
            .is_some_and(|old| matches!((time(old), time(&entry)), (Some(o), Some(n)) if o > n));
        if !keep_old {
            dst.insert(key, entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_follow_msal() {
        let at = AccessTokenEntry {
            home_account_id: Some("UID.UTID".into()),
            environment: Some("login.microsoftonline.com".into()),
            client_id: Some("C1".into()),
            realm: Some("T1".into()),
            target: Some("a b".into()),
            ..Default::default()
        };
        assert_eq!(
            at.key(),
            "uid.utid-login.microsoftonline.com-accesstoken-c1-t1-a b"
        );
        let app = AccessTokenEntry {
            home_account_id: None,
            ..at.clone()
        };
        assert_eq!(
            app.key(),
            "-login.microsoftonline.com-accesstoken-c1-t1-a b"
        );
        let rt = RefreshTokenEntry {
            home_account_id: Some("u.t".into()),
            environment: Some("h".into()),
            client_id: Some("c".into()),
            target: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(rt.key(), "u.t-h-refreshtoken-c--x");
        let id = IdTokenEntry {
            home_account_id: Some("u.t".into()),
            environment: Some("h".into()),
            client_id: Some("c".into()),
            realm: Some("r".into()),
            ..Default::default()
        };
        assert_eq!(id.key(), "u.t-h-idtoken-c-r-");
        let acct = AccountEntry {
            home_account_id: Some("u.t".into()),
            environment: Some("h".into()),
            realm: Some("r".into()),
            ..Default::default()
        };
        assert_eq!(acct.key(), "u.t-h-r");
        let meta = AppMetadata {
            environment: Some("h".into()),
            client_id: Some("C".into()),
            ..Default::default()
        };
        assert_eq!(meta.key(), "appmetadata-h-c");
    }

    #[test]
    fn nulls_odd_types_and_unknown_fields_survive() {
        let raw = json!({
            "credential_type": "AccessToken",
            "secret": "s3cret",
            "home_account_id": null,
            "environment": "h",
            "client_id": "c",
            "realm": null,
            "target": "x",
            "cached_at": 100,
            "expires_on": "200",
            "refresh_on": "soon",
            "key_id": "k",
            "nested": {"a": [1, 2]},
        });
        let at: AccessTokenEntry = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(at.secret.as_ref().unwrap().expose(), "s3cret");
        assert_eq!(at.home_account_id, None);
        assert_eq!(at.realm, None);
        assert_eq!(at.cached_at, Some(100));
        assert_eq!(at.expires_on, Some(200));
        assert_eq!(at.refresh_on, None);
        assert_eq!(at.extra["refresh_on"], "soon");
        let back = serde_json::to_value(&at).unwrap();
        // Timestamps are normalised to strings; everything else is as it was.
        let mut expected = raw;
        expected["cached_at"] = "100".into();
        assert_eq!(back, expected);
        assert!(!format!("{at:?}").contains("s3cret"));
    }

    #[test]
    fn merge_prefers_the_newer_entry() {
        let entry = |secret: &str, t: i64| AccessTokenEntry {
            secret: Some(Secret::new(secret)),
            cached_at: Some(t),
            target: Some("x".into()),
            ..Default::default()
        };
        let mut disk = CacheData::default();
        disk.insert_access_token(entry("disk", 200));
        disk.insert_access_token(AccessTokenEntry {
            target: Some("only-on-disk".into()),
            ..entry("d2", 1)
        });
        let mut mine = CacheData::default();
        mine.insert_access_token(entry("mine-older", 100));
        mine.insert_access_token(AccessTokenEntry {
            target: Some("only-mine".into()),
            ..entry("m2", 1)
        });
        disk.merge(mine.clone());
        assert_eq!(disk.access_tokens.len(), 3);
        assert_eq!(
            disk.access_tokens["--accesstoken---x"]
                .secret
                .as_ref()
                .unwrap()
                .expose(),
            "disk"
        );
        let mut newer = CacheData::default();
        newer.insert_access_token(entry("newest", 300));
        disk.merge(newer);
        assert_eq!(
            disk.access_tokens["--accesstoken---x"]
                .secret
                .as_ref()
                .unwrap()
                .expose(),
            "newest"
        );
    }

    #[test]
    fn top_level_sections_are_kept() {
        let raw = br#"{"AccessToken":{},"Account":{"k":{"home_account_id":"u.t","environment":"h","realm":"r","authority_type":"MSSTS","account_source":"password"}},"FutureSection":{"x":1}}"#;
        let data = CacheData::from_json(raw).unwrap();
        assert_eq!(data.extra["FutureSection"], json!({"x": 1}));
        assert_eq!(data.accounts["k"].extra["account_source"], "password");
        let back: Value = serde_json::from_slice(&data.to_json()).unwrap();
        assert_eq!(back["FutureSection"], json!({"x": 1}));
        assert_eq!(back["Account"]["k"]["account_source"], "password");
        assert!(CacheData::from_json(b"[]").is_err());
        assert!(CacheData::from_json(br#"{"AccessToken":{"k":"not an object"}}"#).is_err());
    }
}
