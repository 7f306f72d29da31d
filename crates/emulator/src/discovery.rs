//! Metadata endpoints: v2 and v1 OpenID configuration, JWKS (v2 and v1 paths), instance
//! discovery, userinfo, and the emulator's own federation issuer (for workload identity).
//! Every URL in them is built from the host and port the client used.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::client_base::ClientBase;
use crate::errors::EntraError;
use crate::keys::KeyError;
use crate::proxy::hosts::{LOGIN_HOSTS, PUBLIC_LOGIN_BASE};
use crate::request::TenantSel;
use crate::state::AppState;

fn cached_json(v: Value, max_age: u32) -> Response {
    let mut r = axum::Json(v).into_response();
    if let Ok(h) = HeaderValue::from_str(&format!("max-age={max_age}, private")) {
        r.headers_mut().insert(header::CACHE_CONTROL, h);
    }
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// The tenant id written into issuers: the tenant's GUID, or `{tenantid}` for the aliases.
fn issuer_tenant(sel: TenantSel<'_>) -> String {
    match sel {
        TenantSel::Id(t) => t.id.clone(),
        TenantSel::Consumers => crate::directory::CONSUMERS_TENANT_ID.to_string(),
        _ => "{tenantid}".to_string(),
    }
}

/// The base URL and the issuer's tenant id for a discovery document about `tenant`, or
/// the error (correlated with the request) when the tenant is unknown.
fn base_and_issuer_tenant(
    st: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    base: ClientBase,
) -> Result<(String, String), EntraError> {
    let dir = st.dir();
    let sel = TenantSel::resolve(&dir, tenant).map_err(|e| e.correlate(headers))?;
    Ok((base.0, issuer_tenant(sel)))
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn openid_configuration_v2(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    base: ClientBase,
) -> Response {
    let (base, iss_tid) = match base_and_issuer_tenant(&st, &tenant, &headers, base) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let t = &tenant;
    cached_json(
        json!({
            "token_endpoint": format!("{base}/{t}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}/{t}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{base}/{iss_tid}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{base}/oidc/userinfo"),
            "authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/{t}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": format!("{base}/{t}/kerberos"),
            "code_challenge_methods_supported": ["plain", "S256"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }),
        3600,
    )
}

/// `GET /{tenant}/.well-known/openid-configuration` (v1).
pub(crate) async fn openid_configuration_v1(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    base: ClientBase,
) -> Response {
    let (base, iss_tid) = match base_and_issuer_tenant(&st, &tenant, &headers, base) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let t = &tenant;
    cached_json(
        json!({
            "token_endpoint": format!("{base}/{t}/oauth2/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}/{t}/discovery/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
            "issuer": crate::tokens::issuer_v1(&base, &iss_tid),
            "microsoft_multi_refresh_token": true,
            "authorization_endpoint": format!("{base}/{t}/oauth2/authorize"),
            "device_authorization_endpoint": format!("{base}/{t}/oauth2/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/{t}/oauth2/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"],
            "check_session_iframe": format!("{base}/{t}/oauth2/checksession"),
            "userinfo_endpoint": format!("{base}/{t}/openid/userinfo"),
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }),
        3600,
    )
}

fn jwks(st: &AppState, tenant: &str, headers: &HeaderMap, base: &str, v2: bool) -> Response {
    let dir = st.dir();
    let sel = match TenantSel::resolve(&dir, tenant) {
        Ok(s) => s,
        Err(e) => return e.correlate(headers).into_response(),
    };
    let iss_tid = issuer_tenant(sel);
    let issuer = if v2 {
        crate::tokens::issuer_v2(base, &iss_tid)
    } else {
        crate::tokens::issuer_v1(base, &iss_tid)
    };
    let now = st.now();
    let grace = dir.settings.key_grace_seconds as i64;
    let keys = st.keys.read().expect("keys lock");
    let list: Vec<Value> = keys
        .published(now, grace)
        .map(|k| k.jwk(v2.then_some(issuer.as_str())))
        .collect();
    cached_json(json!({ "keys": list }), 86400)
}

/// `GET /{tenant}/discovery/v2.0/keys`.
pub(crate) async fn keys_v2(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    ClientBase(base): ClientBase,
) -> Response {
    jwks(&st, &tenant, &headers, &base, true)
}

/// `GET /{tenant}/discovery/keys` (v1).
pub(crate) async fn keys_v1(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    ClientBase(base): ClientBase,
) -> Response {
    jwks(&st, &tenant, &headers, &base, false)
}

/// `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=...`.
pub(crate) async fn instance_discovery(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    ClientBase(base): ClientBase,
) -> Response {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let endpoint = get("authorization_endpoint").unwrap_or("");
    let (endpoint_host, path) = endpoint
        .strip_prefix("https://")
        .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
        .unwrap_or(("", ""));
    let Some(instance) = instance_for(&st, &base, endpoint_host) else {
        return EntraError::new("invalid_instance", 50049, "Unknown or invalid instance.")
            .correlate(&headers)
            .into_response();
    };
    // The tenant is the path segment after the host in the authorization endpoint.
    let tenant = path
        .split('/')
        .next()
        .filter(|t| !t.is_empty())
        .unwrap_or("common");
    let (network, metadata) = match instance {
        // Entra's public-cloud entry prefers login.windows.net for the token cache.
        Instance::PublicCloud => (
            PUBLIC_LOGIN_BASE.to_string(),
            json!({
                "preferred_network": PUBLIC_LOGIN_BASE.trim_start_matches("https://"),
                "preferred_cache": "login.windows.net",
                "aliases": LOGIN_HOSTS,
            }),
        ),
        Instance::Emulator(host) => (
            format!("{}://{host}", st.scheme),
            json!({ "preferred_network": host, "preferred_cache": host, "aliases": [host] }),
        ),
    };
    cached_json(
        json!({
            "tenant_discovery_endpoint": format!("{network}/{tenant}/v2.0/.well-known/openid-configuration"),
            "api-version": "1.1",
            "metadata": [metadata],
        }),
        86400,
    )
}

/// A cloud instance instance discovery knows.
enum Instance {
    /// Entra's public cloud (`login.microsoftonline.com` and its aliases).
    PublicCloud,
    /// This emulator at `host[:port]`.
    Emulator(String),
}

/// The instance `endpoint_host` (from an authorization endpoint) names, asked on `base`.
/// Entra answers only for the instances it knows (and their aliases). Asked directly, the
/// emulator knows itself: the loopback names it listens on, on the port the client used.
/// Asked through the proxy (on `login.microsoftonline.com`), it knows Entra's public-cloud
/// aliases and, as a cloud of its own, its direct loopback address: MSAL and
/// azure-identity with `AZURE_AUTHORITY_HOST=https://localhost:PORT` (which `entra up`
/// exports) and `HTTPS_PROXY` ask the public host about that authority first.
fn instance_for(st: &AppState, base: &str, endpoint_host: &str) -> Option<Instance> {
    if base == PUBLIC_LOGIN_BASE {
        if LOGIN_HOSTS.contains(&endpoint_host.to_ascii_lowercase().as_str()) {
            return Some(Instance::PublicCloud);
        }
        let own = st.default_host.get()?;
        return is_this_instance(endpoint_host, own).then(|| {
            // MSAL Python sends the host without its port; the answer names the port.
            let host = if endpoint_host.contains(':') && !endpoint_host.ends_with(']') {
                endpoint_host
            } else {
                own
            };
            Instance::Emulator(host.to_ascii_lowercase())
        });
    }
    let host = base.split_once("://").map(|(_, h)| h).unwrap_or_default();
    is_this_instance(endpoint_host, host).then(|| Instance::Emulator(host.to_string()))
}

/// Whether `candidate` (`host[:port]` from an authorization endpoint) names this
/// emulator, reached as `own` (`host[:port]` the client used): one of the loopback names
/// on the same port, or with no port at all (MSAL Python sends the host name only).
fn is_this_instance(candidate: &str, own: &str) -> bool {
    fn split(hp: &str) -> (&str, &str) {
        match hp.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit()) => (h, p),
            _ => (hp, ""),
        }
    }
    let loopback = |h: &str| {
        matches!(
            h.to_ascii_lowercase().as_str(),
            "localhost" | "127.0.0.1" | "[::1]"
        )
    };
    let (ch, cp) = split(candidate);
    let (oh, op) = split(own);
    (cp.is_empty() || cp == op) && (ch.eq_ignore_ascii_case(oh) || (loopback(ch) && loopback(oh)))
}

/// `GET /oidc/userinfo` with a bearer access token this emulator issued.
pub(crate) async fn userinfo(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let unauthorized = |desc: &str| {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(v) = HeaderValue::from_str(&format!(
            "Bearer error=\"invalid_token\", error_description=\"{desc}\""
        )) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    };
    let Some(token) = bearer else {
        return unauthorized("No access token was presented.");
    };
    let decoded = match crate::assertions::verify_own_token(&st, token, st.now()) {
        Ok(d) => d,
        Err(_) => return unauthorized("The access token is invalid or expired."),
    };
    let dir = st.dir();
    let Some(user) = decoded.claim_str("oid").and_then(|o| dir.user_by_oid(o)) else {
        return unauthorized("userinfo needs a delegated (user) token.");
    };
    let (given, family) = user.name.split_once(' ').unwrap_or((&user.name, ""));
    axum::Json(json!({
        "sub": decoded.claim_str("sub"),
        "name": user.name,
        "given_name": given,
        "family_name": family,
        "email": user.upn,
        "preferred_username": user.upn,
        "oid": user.object_id,
        "tid": user.tenant_id,
    }))
    .into_response()
}

/// `GET /federation/.well-known/openid-configuration`: the emulator's stand-in for a
/// Kubernetes (or other) workload token issuer.
pub(crate) async fn federation_configuration(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let base = st.base_url(&headers);
    cached_json(
        json!({
            "issuer": format!("{base}/federation"),
            "jwks_uri": format!("{base}/federation/keys"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }),
        3600,
    )
}

/// `GET /federation/keys`.
pub(crate) async fn federation_keys(State(st): State<AppState>) -> Response {
    let (kid, key) = &st.federation;
    let mut extra = serde_json::Map::new();
    extra.insert("kid".into(), kid.clone().into());
    extra.insert("alg".into(), "RS256".into());
    cached_json(json!({ "keys": [key.public_key().to_jwk(extra)] }), 3600)
}

/// Mints a federated (workload) token signed by the emulator's federation key.
pub fn mint_federated(
    state_dir: &std::path::Path,
    issuer: &str,
    subject: &str,
    audience: &str,
    lifetime: i64,
) -> Result<String, KeyError> {
    let (kid, key) = crate::keys::federation_key(state_dir)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header = entra_jose::b64url(format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{kid}"}}"#));
    let claims = json!({
        "iss": issuer,
        "sub": subject,
        "aud": [audience],
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": uuid::Uuid::new_v4().to_string(),
        "kubernetes.io": { "namespace": subject.split(':').nth(2).unwrap_or("default"), "serviceaccount": { "name": subject.rsplit(':').next().unwrap_or("") } },
    });
    key.sign_compact(
        entra_jose::Algorithm::RS256,
        &header,
        claims.to_string().as_bytes(),
    )
    .map_err(|e| KeyError::Crypto(e.to_string()))
}

/// `GET /common/userrealm/{user}`: home realm discovery (MSAL asks before a
/// username/password sign-in). Directory domains are `Managed`, others `Unknown`.
pub(crate) async fn user_realm(State(st): State<AppState>, Path(user): Path<String>) -> Response {
    let domain = user
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    let known = st.dir().tenants.iter().any(|t| t.domain == domain);
    let mut body = json!({
        "ver": "1.0",
        "account_type": if known { "Managed" } else { "Unknown" },
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    });
    if known {
        body["domain_name"] = domain.into();
    }
    axum::Json(body).into_response()
}

/// 404 in Entra's JSON shape for unknown paths.
pub(crate) async fn not_found(headers: HeaderMap) -> Response {
    EntraError::new(
        "invalid_request",
        9002313,
        "Invalid request. The requested path is not an endpoint of this authority.",
    )
    .status(StatusCode::NOT_FOUND)
    .correlate(&headers)
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::is_this_instance;

    #[test]
    fn instance_discovery_answers_only_for_this_emulator() {
        assert!(is_this_instance("localhost:8443", "localhost:8443"));
        assert!(is_this_instance("127.0.0.1:8443", "localhost:8443"));
        assert!(is_this_instance("[::1]:8443", "127.0.0.1:8443"));
        assert!(is_this_instance("LOCALHOST:8443", "localhost:8443"));
        assert!(is_this_instance("localhost", "localhost:8443"));
        assert!(!is_this_instance("localhost:9443", "localhost:8443"));
        assert!(!is_this_instance("login.contoso.example", "localhost:8443"));
        assert!(!is_this_instance("evil.example:8443", "localhost:8443"));
        assert!(!is_this_instance("", "localhost:8443"));
    }
}
