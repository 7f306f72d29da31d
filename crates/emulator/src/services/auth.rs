//! Bearer-token checks for the local Microsoft APIs, through entra-validate.
//!
//! A real service trusts one authority. The emulator answers under several names (its
//! listen address as `localhost`, `127.0.0.1` or `[::1]`, and Entra's public names
//! through the proxy), and it signs each token with the issuer of the name the client
//! used. So the issuer host of a token is read first (unverified), checked against the
//! names this emulator answers to, and the token is then validated in full by a
//! [`Validator`] for that authority: signature against the keys the emulator publishes
//! now, issuer, audience, tenant, lifetime. Validators are cached per (authority,
//! resource app) and rebuilt when the published key set changes (rotation).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use entra_validate::{Authority, Clock, Principal, ValidationError, Validator, ValidatorConfig};

use crate::directory::App;
use crate::state::AppState;

/// At most this many cached validators (authority x resource); past it the cache is
/// cleared (the set of authorities is small; this only bounds a hostile flood).
const MAX_VALIDATORS: usize = 64;

/// The outcome of checking a request's bearer token for one resource app.
pub(crate) type TokenCheck = Result<Principal, ValidationError>;

/// Validators for the local services, built on demand.
#[derive(Default)]
pub(crate) struct ServiceAuth {
    cache: Mutex<HashMap<(String, String), Cached>>,
}

impl std::fmt::Debug for ServiceAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAuth").finish_non_exhaustive()
    }
}

struct Cached {
    /// The published key ids the validator was built with.
    kids: Vec<String>,
    validator: Validator,
    clock: Clock,
}

impl ServiceAuth {
    /// Checks the request's bearer token for `resource` (a first-party app of the
    /// directory): the token must be issued by this emulator for that app, to a tenant of
    /// the directory, and be within its lifetime. Scopes and roles are the caller's to
    /// check on the returned principal (each service words that refusal its own way).
    pub(crate) async fn check(st: &AppState, headers: &HeaderMap, resource: &App) -> TokenCheck {
        let token = entra_validate::bearer(headers)?;
        let authority = authority_of(st, headers, token);
        let (validator, clock) = st.service_auth.validator(st, &authority, resource);
        clock.set(st.now());
        let principal = validator.validate(token).await?;
        if st.dir().tenant(principal.tenant_id()).is_none() {
            return Err(ValidationError::TenantNotAllowed);
        }
        Ok(principal)
    }

    fn validator(
        &self,
        st: &AppState,
        authority: &Authority,
        resource: &App,
    ) -> (Validator, Clock) {
        let dir = st.dir();
        let now = st.now();
        let keys = st.keys.read().expect("keys lock");
        let published: Vec<_> = keys
            .published(now, dir.settings.key_grace_seconds as i64)
            .cloned()
            .collect();
        drop(keys);
        let kids: Vec<String> = published.iter().map(|k| k.kid.clone()).collect();
        let key = (authority.base().to_string(), resource.client_id.clone());
        let mut cache = self.cache.lock().expect("service auth lock");
        if let Some(c) = cache.get(&key)
            && c.kids == kids
        {
            return (c.validator.clone(), c.clock.clone());
        }
        if cache.len() >= MAX_VALIDATORS {
            cache.clear();
        }
        let jwks = serde_json::json!({
            "keys": published.iter().map(|k| k.jwk(None)).collect::<Vec<_>>()
        });
        let clock = Clock::manual(now);
        let mut builder = ValidatorConfig::builder()
            .authority(authority.clone())
            .any_tenant()
            .static_jwks(jwks.to_string())
            .clock(clock.clone())
            .audience(resource.client_id.clone());
        for uri in &resource.identifier_uris {
            // A v1 `aud` is the resource as the client wrote it: with or without the
            // URI's trailing slash.
            builder = builder.audience(uri.clone());
            let other = match uri.strip_suffix('/') {
                Some(bare) => bare.to_string(),
                None => format!("{uri}/"),
            };
            builder = builder.audience(other);
        }
        let config = builder
            .build()
            .expect("a validator for the emulator's own keys and a directory app");
        let validator = Validator::new(config);
        cache.insert(
            key,
            Cached {
                kids,
                validator: validator.clone(),
                clock: clock.clone(),
            },
        );
        (validator, clock)
    }
}

/// The authority a token claims (its `iss` host) when it is a name this emulator answers
/// to; otherwise the emulator's own, so that the validator refuses the issuer.
fn authority_of(st: &AppState, headers: &HeaderMap, token: &str) -> Authority {
    let own = st.base_url(headers);
    let Some(host) = issuer_host(token) else {
        return Authority::custom(own);
    };
    // Through the proxy the emulator issues as Entra's public cloud does
    // (`crate::client_base`): v2 `login.microsoftonline.com`, v1 `sts.windows.net`.
    if host == "sts.windows.net" || host == "login.microsoftonline.com" {
        return Authority::public_cloud();
    }
    if is_own_name(st, &host) {
        return Authority::custom(format!("{}://{host}", st.scheme));
    }
    Authority::custom(own)
}

/// Whether `host` (`name[:port]`) is one of the names the emulator's listener answers to.
fn is_own_name(st: &AppState, host: &str) -> bool {
    let Some(default) = st.default_host.get() else {
        return false;
    };
    let port = default.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
    let Some((name, p)) = host.rsplit_once(':') else {
        return false;
    };
    if p != port {
        return false;
    }
    let bind = st.bind.to_string();
    let bracketed = format!("[{bind}]");
    [
        "localhost",
        "127.0.0.1",
        "[::1]",
        bind.as_str(),
        bracketed.as_str(),
    ]
    .contains(&name)
}

/// The host of the token's `iss` (`https://HOST/...`), read without verifying anything:
/// it only picks which authority's validator then checks the token in full.
fn issuer_host(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    if payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = entra_jose::b64url_decode(payload).ok()?;
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: String,
    }
    let iss: Iss = serde_json::from_slice(&bytes).ok()?;
    let rest = iss
        .iss
        .strip_prefix("https://")
        .or_else(|| iss.iss.strip_prefix("http://"))?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}
