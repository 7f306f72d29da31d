//! Minting access tokens and ID tokens with Entra's v1 and v2 claim sets.
//!
//! The version follows the *resource* app's `access_token_accepted_version`, not the
//! endpoint the client called (Microsoft identity platform, "Access tokens": the token
//! format is the resource's choice, set by `accessTokenAcceptedVersion` in its manifest). Claims are a typed struct serialised by
//! serde (cheaper than building a JSON map per token), and the header is precomputed per
//! signing key, so issuing a token is one serialisation and one RSA signature.

use serde::Serialize;

use crate::directory::{App, User};
use crate::keys::SigningKey;

/// Who the token is about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Principal<'a> {
    /// A signed-in user (delegated token).
    User(&'a User),
    /// An application or managed identity acting as itself (app-only token).
    App {
        /// Service principal object id.
        object_id: &'a str,
        /// Extra claim for managed identities: the Azure resource id.
        mi_resource_id: Option<&'a str>,
    },
}

/// How the client authenticated: `azpacr`/`appidacr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuthKind {
    /// Public client, no credential ("0").
    None,
    /// Client secret ("1").
    Secret,
    /// Certificate or federated assertion ("2").
    Assertion,
}

impl ClientAuthKind {
    /// The claim value.
    pub(crate) fn acr(self) -> &'static str {
        match self {
            ClientAuthKind::None => "0",
            ClientAuthKind::Secret => "1",
            ClientAuthKind::Assertion => "2",
        }
    }
}

/// Everything needed to mint one access token.
#[derive(Debug)]
pub(crate) struct AccessTokenRequest<'a> {
    /// `https://host:port`, the base the client used.
    pub(crate) base: &'a str,
    /// Tenant id of the token.
    pub(crate) tenant_id: &'a str,
    /// The resource (audience) app.
    pub(crate) resource: &'a App,
    /// The resource as the client named it (v1 `aud` keeps it).
    pub(crate) requested_resource: &'a str,
    /// The client (`azp`/`appid`).
    pub(crate) client_id: &'a str,
    /// Client authentication kind.
    pub(crate) client_auth: ClientAuthKind,
    /// The subject.
    pub(crate) principal: Principal<'a>,
    /// Delegated scopes (space-joined) for user tokens.
    pub(crate) scp: Option<String>,
    /// App roles.
    pub(crate) roles: Vec<String>,
    /// `amr` for user tokens.
    pub(crate) amr: &'a [&'a str],
    /// Issued at (unix seconds).
    pub(crate) now: i64,
    /// Lifetime in seconds.
    pub(crate) lifetime: i64,
    /// What the `claims` request parameter asked for (user tokens only).
    pub(crate) requested: RequestedClaims,
}

/// What a token request's `claims` parameter asks to put in the access token: the
/// client's capabilities (`xms_cc`, e.g. `cp1` for "handles claims challenges") and
/// Conditional Access authentication contexts (`acrs`, `c1`...`c99`), which the
/// emulator grants as a tenant whose policy for them the user satisfied would.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RequestedClaims {
    /// `xms_cc` values.
    pub(crate) capabilities: Vec<String>,
    /// `acrs` values.
    pub(crate) auth_contexts: Vec<String>,
}

impl RequestedClaims {
    /// From the `claims` parameter (JSON, OIDC Core §5.5); anything unreadable asks
    /// for nothing.
    pub(crate) fn parse(param: Option<&str>) -> Self {
        let Some(json) = param.and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        else {
            return Self::default();
        };
        let access = &json["access_token"];
        let values = |claim: &serde_json::Value| -> Vec<String> {
            let mut out: Vec<String> = claim["values"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(one) = claim["value"].as_str() {
                out.push(one.to_string());
            }
            out.dedup();
            out
        };
        let is_context = |c: &String| {
            c.strip_prefix('c')
                .and_then(|n| n.parse::<u8>().ok())
                .is_some_and(|n| (1..=99).contains(&n) && !c.starts_with("c0"))
        };
        Self {
            capabilities: values(&access["xms_cc"]),
            auth_contexts: values(&access["acrs"])
                .into_iter()
                .filter(is_context)
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    aud: &'a str,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    acrs: &'a [String],
    aio: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<&'a [&'a str]>,
    // v2 names
    #[serde(skip_serializing_if = "Option::is_none")]
    azp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    azpacr: Option<&'a str>,
    // v1 names
    #[serde(skip_serializing_if = "Option::is_none")]
    appid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    appidacr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idtyp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    oid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<&'a str>,
    rh: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scp: Option<String>,
    sub: String,
    tid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upn: Option<&'a str>,
    uti: String,
    ver: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    wids: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xms_mirid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xms_tcdt: Option<i64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    xms_cc: &'a [String],
}

/// v2 issuer for a tenant at `base`.
pub(crate) fn issuer_v2(base: &str, tenant_id: &str) -> String {
    format!("{base}/{tenant_id}/v2.0")
}

/// v1 issuer for a tenant at `base` (Entra's is `https://sts.windows.net/{tid}/`).
/// Reached through the proxy (base `https://login.microsoftonline.com`), it is Entra's.
pub(crate) fn issuer_v1(base: &str, tenant_id: &str) -> String {
    let base = if base == crate::proxy::hosts::PUBLIC_LOGIN_BASE {
        crate::proxy::hosts::PUBLIC_V1_ISSUER_BASE
    } else {
        base
    };
    format!("{base}/{tenant_id}/")
}

/// Random opaque value, base64url of `n` random bytes.
pub(crate) fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut buf)
        .expect("system RNG");
    entra_jose::b64url(buf)
}

/// Compares secrets in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Pairwise `sub`: stable per (user, app), different across apps, as Entra does.
pub(crate) fn pairwise_sub(oid: &str, client_id: &str) -> String {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{oid}|{client_id}").as_bytes(),
    );
    entra_jose::b64url(&d.as_ref()[..32])
}

/// Mints an access token; returns the compact JWT.
pub(crate) fn mint_access_token(
    key: &SigningKey,
    req: &AccessTokenRequest<'_>,
) -> Result<String, entra_jose::JoseError> {
    let v2 = req.resource.token_version == 2;
    let user = match req.principal {
        Principal::User(u) => Some(u),
        Principal::App { .. } => None,
    };
    let (oid, mirid) = match req.principal {
        Principal::User(u) => (u.object_id.as_str(), None),
        Principal::App {
            object_id,
            mi_resource_id,
        } => (object_id, mi_resource_id),
    };
    let iss = if v2 {
        issuer_v2(req.base, req.tenant_id)
    } else {
        issuer_v1(req.base, req.tenant_id)
    };
    let aud: &str = if v2 {
        &req.resource.client_id
    } else {
        req.requested_resource
    };
    let claims = AccessClaims {
        aud,
        idp: user.is_none().then(|| {
            if v2 {
                iss.clone()
            } else {
                issuer_v1(req.base, req.tenant_id)
            }
        }),
        iss,
        iat: req.now,
        nbf: req.now,
        exp: req.now + req.lifetime,
        acr: (user.is_some() && !v2).then_some("1"),
        acrs: if user.is_some() {
            &req.requested.auth_contexts
        } else {
            &[]
        },
        aio: random_token(48),
        amr: user.and((!v2).then_some(req.amr)),
        azp: v2.then_some(req.client_id),
        azpacr: v2.then(|| req.client_auth.acr()),
        appid: (!v2).then_some(req.client_id),
        appidacr: (!v2).then(|| req.client_auth.acr()),
        groups: user.map(|u| u.groups.as_slice()).filter(|g| !g.is_empty()),
        idtyp: user.is_none().then_some("app"),
        name: user.map(|u| u.name.as_str()),
        oid,
        preferred_username: user.filter(|_| v2).map(|u| u.upn.as_str()),
        rh: format!("0.{}.", random_token(24)),
        roles: req.roles.clone(),
        scp: req.scp.clone(),
        sub: match user {
            Some(u) => pairwise_sub(&u.object_id, req.client_id),
            None => oid.to_string(),
        },
        tid: req.tenant_id,
        unique_name: user.filter(|_| !v2).map(|u| u.upn.as_str()),
        upn: user.filter(|_| !v2).map(|u| u.upn.as_str()),
        uti: random_token(16),
        ver: if v2 { "2.0" } else { "1.0" },
        wids: user.map(|u| u.roles.as_slice()).filter(|w| !w.is_empty()),
        xms_mirid: mirid,
        xms_tcdt: None,
        xms_cc: &req.requested.capabilities,
    };
    let payload = serde_json::to_vec(&claims).expect("claims serialise");
    let header = if v2 { &key.header_v2 } else { &key.header_v1 };
    key.key
        .sign_compact(entra_jose::Algorithm::RS256, header, &payload)
}

#[derive(Serialize)]
struct IdClaims<'a> {
    aud: &'a str,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    aio: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    oid: &'a str,
    preferred_username: &'a str,
    rh: String,
    sid: &'a str,
    sub: String,
    tid: &'a str,
    uti: String,
    ver: &'static str,
}

/// Mints a v2 ID token for `user` signing in to `client_id`.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors the claim set; a struct adds nothing"
)]
pub(crate) fn mint_id_token(
    key: &SigningKey,
    base: &str,
    tenant_id: &str,
    client_id: &str,
    user: &User,
    nonce: Option<&str>,
    session_id: &str,
    now: i64,
    lifetime: i64,
    email: bool,
) -> Result<String, entra_jose::JoseError> {
    let claims = IdClaims {
        aud: client_id,
        iss: issuer_v2(base, tenant_id),
        iat: now,
        nbf: now,
        exp: now + lifetime,
        aio: random_token(48),
        email: email.then_some(user.upn.as_str()),
        name: &user.name,
        nonce,
        oid: &user.object_id,
        preferred_username: &user.upn,
        rh: format!("0.{}.", random_token(24)),
        sid: session_id,
        sub: pairwise_sub(&user.object_id, client_id),
        tid: tenant_id,
        uti: random_token(16),
        ver: "2.0",
    };
    let payload = serde_json::to_vec(&claims).expect("claims serialise");
    key.key
        .sign_compact(entra_jose::Algorithm::RS256, &key.header_v2, &payload)
}

/// `client_info`: base64url JSON `{"uid","utid"}`; MSAL builds `home_account_id` from it.
pub(crate) fn client_info(user: &User) -> String {
    entra_jose::b64url(format!(
        r#"{{"uid":"{}","utid":"{}"}}"#,
        user.object_id, user.tenant_id
    ))
}

/// App roles `principal_roles` grants on `resource`.
pub(crate) fn roles_for(assignments: &[(String, String)], resource: &App) -> Vec<String> {
    let mut roles: Vec<String> = assignments
        .iter()
        .filter(|(r, _)| *r == resource.client_id)
        .map(|(_, role)| role.clone())
        .collect();
    roles.sort();
    roles.dedup();
    roles
}
