//! The emulator's shared state: the directory, keys, the clock (which tests can move),
//! the short-lived grants (codes, refresh-token families, device codes, browser
//! sessions, pending sign-ins), counters, injected faults and sign-in events.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use axum::http::HeaderMap;
use entra_jose::{RsaPublicKey, RsaSigningKey};
use serde::Serialize;

use crate::directory::{Directory, DirectoryConfig, LoadContext};
use crate::keys::{KeyStore, SigningKey};

/// Shared state handle.
pub(crate) type AppState = Arc<Inner>;

/// How many live entries a grant table holds before expired ones are swept.
const SWEEP_AT: usize = 10_000;
/// Hard cap per table: past it the oldest entries are dropped (a flood cannot eat memory).
const HARD_CAP: usize = 200_000;
/// Sign-in events kept.
const EVENTS_KEPT: usize = 1000;

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    /// Client it was issued to.
    pub(crate) client_id: String,
    /// The redirect URI of the authorize request.
    pub(crate) redirect_uri: String,
    /// The user.
    pub(crate) user_oid: String,
    /// Tenant id of the sign-in.
    pub(crate) tenant_id: String,
    /// Requested scopes, raw.
    pub(crate) scopes: Vec<String>,
    /// OIDC nonce.
    pub(crate) nonce: Option<String>,
    /// PKCE challenge and method.
    pub(crate) challenge: Option<(String, String)>,
    /// Issued (unix seconds).
    pub(crate) issued: i64,
    /// Redeemed already.
    pub(crate) used: bool,
    /// Browser session id (`sid`).
    pub(crate) session_id: String,
    /// Authentication methods.
    pub(crate) mfa: bool,
}

/// A refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    /// The family (one sign-in) it belongs to.
    pub(crate) family: String,
    /// Client.
    pub(crate) client_id: String,
    /// User.
    pub(crate) user_oid: String,
    /// Tenant of the sign-in.
    pub(crate) tenant_id: String,
    /// Issued or last rotated (unix seconds).
    pub(crate) issued: i64,
    /// Redeemed already (a replay revokes the family).
    pub(crate) used: bool,
    /// Session id.
    pub(crate) session_id: String,
    /// MFA was done.
    pub(crate) mfa: bool,
}

/// Why a refresh-token family stopped working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revoked {
    /// An already-redeemed token was presented again.
    Replay,
    /// An admin revoked the user's sessions.
    Admin,
}

/// Device-code state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// The user approved: (user oid, tenant id, mfa).
    Approved(String, String, bool),
    /// The user declined.
    Declined,
    /// Tokens were issued.
    Redeemed,
}

/// A device-code grant.
#[derive(Debug, Clone)]
pub(crate) struct DeviceCode {
    /// The code the user types.
    pub(crate) user_code: String,
    /// Client.
    pub(crate) client_id: String,
    /// Tenant path segment used.
    pub(crate) tenant_segment: String,
    /// Requested scopes.
    pub(crate) scopes: Vec<String>,
    /// Expires (unix seconds).
    pub(crate) expires: i64,
    /// Status.
    pub(crate) status: DeviceStatus,
}

/// A browser session (the emulator's ESTSAUTH cookie).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The user.
    pub(crate) user_oid: String,
    /// Completed MFA.
    pub(crate) mfa: bool,
    /// Created (unix seconds).
    pub(crate) created: i64,
}

/// The parameters of an authorize request that matter after sign-in.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizeParams {
    /// Redirect URI (verified).
    pub(crate) redirect_uri: String,
    /// `query`, `fragment` or `form_post`.
    pub(crate) response_mode: String,
    /// `state`.
    pub(crate) state: Option<String>,
    /// `nonce`.
    pub(crate) nonce: Option<String>,
    /// PKCE challenge and method.
    pub(crate) challenge: Option<(String, String)>,
}

/// What a pending interactive sign-in will finish.
#[derive(Debug, Clone)]
pub(crate) enum FlowKind {
    /// An authorize request.
    Authorize(AuthorizeParams),
    /// A device-code approval (by device code).
    Device(String),
}

/// A pending interactive sign-in.
#[derive(Debug, Clone)]
pub(crate) struct Flow {
    /// What it finishes.
    pub(crate) kind: FlowKind,
    /// Tenant path segment.
    pub(crate) tenant_segment: String,
    /// Client.
    pub(crate) client_id: String,
    /// Scopes.
    pub(crate) scopes: Vec<String>,
    /// The user, once known.
    pub(crate) user_oid: Option<String>,
    /// MFA done in this flow.
    pub(crate) mfa: bool,
    /// Consent given in this flow.
    pub(crate) consented: bool,
    /// Created (unix seconds).
    pub(crate) created: i64,
    /// `prompt=login|consent|select_account|none`.
    pub(crate) prompt: Option<String>,
    /// `login_hint`.
    pub(crate) login_hint: Option<String>,
}

/// One sign-in attempt, as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SignInEvent {
    /// Unix seconds.
    pub(crate) time: i64,
    /// Grant or page.
    pub(crate) flow: String,
    /// Client id.
    pub(crate) client_id: String,
    /// Tenant id or path segment.
    pub(crate) tenant: String,
    /// User UPN or principal id.
    pub(crate) principal: String,
    /// `success`, or the OAuth error.
    pub(crate) outcome: String,
    /// AADSTS code on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_code: Option<u32>,
}

/// Grant tables.
#[derive(Default)]
pub(crate) struct Store {
    /// Authorization codes.
    pub(crate) codes: HashMap<String, AuthCode>,
    /// Refresh tokens.
    pub(crate) refresh_tokens: HashMap<String, RefreshToken>,
    /// Revoked families.
    pub(crate) revoked_families: HashMap<String, Revoked>,
    /// Device codes by device code.
    pub(crate) device_codes: HashMap<String, DeviceCode>,
    /// Browser sessions.
    pub(crate) sessions: HashMap<String, Session>,
    /// Pending sign-ins.
    pub(crate) flows: HashMap<String, Flow>,
}

fn cap<V>(map: &mut HashMap<String, V>, now: i64, alive: impl Fn(&V, i64) -> bool) {
    if map.len() >= SWEEP_AT {
        map.retain(|_, v| alive(v, now));
    }
    if map.len() >= HARD_CAP {
        let drop: Vec<String> = map.keys().take(map.len() / 10).cloned().collect();
        for k in drop {
            map.remove(&k);
        }
    }
}

impl Store {
    /// Sweeps tables that have grown, given the directory's lifetimes.
    pub(crate) fn sweep(&mut self, now: i64, dir: &Directory) {
        let code_life = dir.settings.auth_code_lifetime_seconds as i64;
        let rt_life = dir.settings.refresh_token_inactivity_seconds as i64;
        cap(&mut self.codes, now, |c, now| now - c.issued <= code_life);
        cap(&mut self.refresh_tokens, now, |r, now| {
            now - r.issued <= rt_life
        });
        cap(&mut self.device_codes, now, |d, now| now <= d.expires + 60);
        cap(&mut self.sessions, now, |s, now| {
            now - s.created <= 24 * 3600
        });
        cap(&mut self.flows, now, |f, now| now - f.created <= 3600);
    }
}

/// An injected fault for one endpoint.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub(crate) struct Fault {
    /// Added latency for every request.
    #[serde(default)]
    pub(crate) latency_ms: u64,
    /// Answer the next `count` requests with this status (429 or 503 or any 4xx/5xx).
    #[serde(default)]
    pub(crate) status: Option<u16>,
    /// How many answers `status` applies to.
    #[serde(default)]
    pub(crate) count: u32,
    /// `Retry-After` seconds for those answers.
    #[serde(default)]
    pub(crate) retry_after: Option<u64>,
    /// Drop the next N connections without answering.
    #[serde(default)]
    pub(crate) drop: u32,
}

/// What the connection layer should do with a request.
#[derive(Debug)]
pub(crate) enum FaultAction {
    /// Nothing injected.
    Pass,
    /// Sleep, then pass.
    Delay(u64),
    /// Sleep, then answer this status.
    Respond {
        /// Status.
        status: u16,
        /// Retry-After.
        retry_after: Option<u64>,
        /// Latency first.
        latency_ms: u64,
    },
    /// Close the connection.
    Drop,
}

/// The remote address of a request (set by the connection layer).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RemoteAddr(
    #[expect(
        dead_code,
        reason = "carried on every request; no handler reads it yet"
    )]
    pub(crate) std::net::SocketAddr,
);

/// An external issuer's keys as fetched: (fetched at, keys with their `kid`).
pub(crate) type ExternalKeys = (i64, Vec<(Option<String>, RsaPublicKey)>);

/// Everything the handlers share.
pub(crate) struct Inner {
    /// The current directory.
    pub(crate) directory: RwLock<Arc<Directory>>,
    /// Its editable source and where it came from.
    pub(crate) config: Mutex<(DirectoryConfig, LoadContext)>,
    /// Signing keys.
    pub(crate) keys: RwLock<KeyStore>,
    /// The federation issuer's key id and key.
    pub(crate) federation: (String, RsaSigningKey),
    /// Seconds added to the wall clock (admin "time travel").
    pub(crate) clock_offset: AtomicI64,
    /// Grant tables.
    pub(crate) store: Mutex<Store>,
    /// Request counters by (kind, name): `("endpoint", "token")`, `("grant", "password")`.
    pub(crate) counters: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Set once any fault was configured: until then requests skip the fault table.
    pub(crate) faults_armed: std::sync::atomic::AtomicBool,
    /// Faults per endpoint name.
    pub(crate) faults: Mutex<HashMap<String, Fault>>,
    /// Sign-in events, newest last.
    pub(crate) events: Mutex<VecDeque<SignInEvent>>,
    /// The dashboard's sessions, one-time links and token events.
    pub(crate) dashboard: crate::dashboard::store::DashboardState,
    /// Guards `/admin`.
    pub(crate) admin_token: String,
    /// The opt-in request recorder (`GET /admin/requests`).
    pub(crate) recorder: crate::recorder::ring::Recorder,
    /// The App Service `X-IDENTITY-HEADER` value.
    pub(crate) identity_header: String,
    /// `https` (or `http` with --danger-plain-http).
    pub(crate) scheme: &'static str,
    /// `localhost:PORT`, once bound.
    pub(crate) default_host: OnceLock<String>,
    /// The address it is bound to: the `Host` check of the managed-identity endpoints and
    /// the admin API accepts it besides localhost ([`crate::browser_guard`]).
    pub(crate) bind: std::net::IpAddr,
    /// The state directory.
    pub(crate) state_dir: PathBuf,
    /// For fetching external federated issuers' keys.
    pub(crate) http: reqwest::Client,
    /// External issuers' keys: issuer -> (fetched at, keys by kid).
    pub(crate) external_jwks: Mutex<HashMap<String, ExternalKeys>>,
    /// Token validators of the local Microsoft APIs.
    pub(crate) service_auth: crate::services::ServiceAuth,
    /// The local Key Vault's secrets (in memory).
    pub(crate) key_vaults: crate::services::KeyVaults,
}

impl Inner {
    /// Now, in unix seconds, including the admin clock offset.
    pub(crate) fn now(&self) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() + self.clock_offset.load(Ordering::Relaxed)
    }

    /// The directory as of now.
    pub(crate) fn dir(&self) -> Arc<Directory> {
        self.directory.read().expect("directory lock").clone()
    }

    /// The signing key as of now: an announced key takes over once its time comes
    /// ([`crate::signing_keys`]), by the emulator's clock.
    pub(crate) fn signing_key(&self) -> Arc<SigningKey> {
        self.keys.read().expect("keys lock").active_at(self.now())
    }

    /// Bumps the counter `kind:name` (e.g. `endpoint:token`, `grant:client_credentials`).
    pub(crate) fn count(&self, kind: &'static str, name: &'static str) {
        *self
            .counters
            .lock()
            .expect("counters lock")
            .entry((kind, name))
            .or_insert(0) += 1;
    }

    /// The counters as `kind:name` -> count.
    pub(crate) fn counters(&self) -> BTreeMap<String, u64> {
        let c = self.counters.lock().expect("counters lock");
        c.iter()
            .map(|((k, n), v)| (format!("{k}:{n}"), *v))
            .collect()
    }

    /// Records a sign-in event.
    pub(crate) fn event(
        &self,
        flow: &str,
        client_id: &str,
        tenant: &str,
        principal: &str,
        outcome: Result<(), (&str, u32)>,
    ) {
        let ev = SignInEvent {
            time: self.now(),
            flow: flow.into(),
            client_id: client_id.into(),
            tenant: tenant.into(),
            principal: principal.into(),
            outcome: match outcome {
                Ok(()) => "success".into(),
                Err((e, _)) => e.into(),
            },
            error_code: outcome.err().map(|(_, c)| c),
        };
        let mut events = self.events.lock().expect("events lock");
        if events.len() >= EVENTS_KEPT {
            events.pop_front();
        }
        events.push_back(ev);
    }

    /// `scheme://host` the client used: the Host header when it is a sane `host[:port]`
    /// that is not one of the public hosts the proxy serves (only the proxy may make the
    /// emulator answer as Entra: [`crate::client_base`]), else `localhost:PORT`. Issuers
    /// and endpoint URLs are built from it.
    pub(crate) fn base_url(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.len() <= 255
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
                    && !crate::proxy::hosts::is_served(h.split(':').next().unwrap_or(h))
            })
            .map(str::to_string)
            .or_else(|| self.default_host.get().cloned())
            .unwrap_or_else(|| "localhost".into());
        format!("{}://{}", self.scheme, host)
    }

    /// Decides what the connection layer does for a request to `endpoint`.
    pub(crate) fn take_fault(&self, endpoint: &str) -> FaultAction {
        if !self.faults_armed.load(Ordering::Relaxed) {
            return FaultAction::Pass;
        }
        let mut faults = self.faults.lock().expect("faults lock");
        let Some(f) = faults.get_mut(endpoint) else {
            return FaultAction::Pass;
        };
        if f.drop > 0 {
            f.drop -= 1;
            return FaultAction::Drop;
        }
        if let (Some(status), true) = (f.status, f.count > 0) {
            f.count -= 1;
            return FaultAction::Respond {
                status,
                retry_after: f.retry_after,
                latency_ms: f.latency_ms,
            };
        }
        if f.latency_ms > 0 {
            FaultAction::Delay(f.latency_ms)
        } else {
            FaultAction::Pass
        }
    }

    /// Access-token lifetime: fixed by config, or 60-90 minutes at random like Entra.
    pub(crate) fn token_lifetime(&self, dir: &Directory) -> i64 {
        match dir.settings.token_lifetime_seconds {
            Some(s) => s as i64,
            None => {
                let mut b = [0u8; 2];
                aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut b)
                    .expect("system RNG");
                3600 + (u16::from_le_bytes(b) as i64 % 1801)
            }
        }
    }
}

/// Names the endpoint a path belongs to (for counters and faults).
pub(crate) fn endpoint_name(path: &str) -> &'static str {
    let p = path.trim_end_matches('/');
    if p.starts_with("/admin") {
        "admin"
    } else if p.ends_with("/.well-known/openid-configuration") {
        if p.starts_with("/federation") {
            "federation"
        } else {
            "discovery"
        }
    } else if p == "/common/discovery/instance" {
        "instance_discovery"
    } else if p.ends_with("/discovery/v2.0/keys") || p.ends_with("/discovery/keys") {
        "jwks"
    } else if p.ends_with("/oauth2/v2.0/token") {
        "token"
    } else if p.ends_with("/oauth2/token") && !p.starts_with("/metadata") {
        "token_v1"
    } else if p.ends_with("/oauth2/v2.0/authorize") || p.ends_with("/oauth2/authorize") {
        "authorize"
    } else if p.ends_with("/oauth2/v2.0/devicecode") || p.ends_with("/oauth2/devicecode") {
        "devicecode"
    } else if p.ends_with("/logout") {
        "logout"
    } else if p.ends_with("/userinfo") {
        "userinfo"
    } else if p == "/metadata/identity/oauth2/token" {
        "imds"
    } else if p == "/msi/token" {
        "app_service"
    } else if p.starts_with("/federation") {
        "federation"
    } else if p == "/dashboard" || p.starts_with("/dashboard/") {
        // Not a fault endpoint: faults on the pages never lock the dashboard out.
        "dashboard"
    } else {
        "pages"
    }
}

/// Applies `change` to a copy of the directory source, checks it, and swaps it in.
pub(crate) fn mutate_directory(
    st: &AppState,
    change: impl FnOnce(&mut DirectoryConfig) -> Result<(), String>,
) -> Result<(), String> {
    let mut guard = st.config.lock().expect("config lock");
    let (config, ctx) = &mut *guard;
    let mut next = config.clone();
    change(&mut next)?;
    let dir = Directory::build(&next, ctx).map_err(|e| e.to_string())?;
    *config = next;
    *st.directory.write().expect("directory lock") = std::sync::Arc::new(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names() {
        assert_eq!(
            endpoint_name("/contoso.onmicrosoft.com/oauth2/v2.0/token"),
            "token"
        );
        assert_eq!(endpoint_name("/common/oauth2/token"), "token_v1");
        assert_eq!(
            endpoint_name("/x/v2.0/.well-known/openid-configuration"),
            "discovery"
        );
        assert_eq!(endpoint_name("/x/discovery/v2.0/keys"), "jwks");
        assert_eq!(endpoint_name("/metadata/identity/oauth2/token"), "imds");
        assert_eq!(endpoint_name("/msi/token"), "app_service");
        assert_eq!(endpoint_name("/admin/faults"), "admin");
        assert_eq!(endpoint_name("/devicelogin"), "pages");
        assert_eq!(endpoint_name("/dashboard"), "dashboard");
        assert_eq!(endpoint_name("/dashboard/keys/rotate"), "dashboard");
    }
}
