//! The wire protocols: request parsing, caller authentication, policy, and each
//! protocol's exact response shape (REFERENCE §4).
//!
//! | protocol | request | caller | response |
//! |---|---|---|---|
//! | IMDS | `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R`, `Metadata: true` | peer uid / `[imds] caller` | every value a string |
//! | App Service 2019-08-01 | `GET /msi/token?resource=R&api-version=2019-08-01`, `X-IDENTITY-HEADER` | the header | `expires_on` epoch string |
//! | App Service 2017-09-01 | same path, header `secret` | the header | `expires_on` as `M/D/YYYY h:mm:ss AM +00:00` |
//! | Cloud Shell | `POST /oauth2/token`, form `resource=R`, `Metadata: true` | as IMDS | as IMDS |
//! | native | `POST /api/v1/token`, JSON `{"scopes":[..],"identity":..}`, `Authorization: Bearer` | the bearer | JSON with numbers |
//!
//! Errors are `{"error":"...","error_description":"..."}` (App Service adds its own
//! `statusCode`, `message` and `correlationId`, which MSAL reads): 400 for a
//! malformed request (a resource or scope list longer than [`MAX_SCOPES_BYTES`] too) or
//! an unknown identity, 401 for a missing or wrong secret, 403 when policy refuses
//! (naming what was refused), 400 when Entra refuses, 503 with `Retry-After` when Entra
//! cannot be reached and nothing valid is cached, or when a new (identity, scopes) finds
//! the cache at `max_tokens` with every slot in use.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::audit::Record;
use crate::cache::{Cached, FetchError, Source, now, scope_key};
use crate::policy::Caller;
use crate::server::Shared;
use crate::upstream::{Identity, Selector};

pub(crate) const IMDS: usize = 0;
pub(crate) const APP_SERVICE: usize = 1;
pub(crate) const APP_SERVICE_2017: usize = 2;
pub(crate) const CLOUD_SHELL: usize = 3;
pub(crate) const NATIVE: usize = 4;

const OK: usize = 0;
const BAD_REQUEST: usize = 1;
const UNAUTHORIZED: usize = 2;
pub(crate) const DENIED: usize = 3;
const UPSTREAM_ERROR: usize = 4;
const UNAVAILABLE: usize = 5;

/// Longest resource, or list of scopes all told (space-joined), a request may name, in
/// bytes: they key the cache and the fleet store and go into audit lines; real ones are
/// a few hundred bytes at most.
pub const MAX_SCOPES_BYTES: usize = 4096;

/// A 400 when `what` (`len` bytes) is longer than [`MAX_SCOPES_BYTES`].
fn within_limit(what: &str, len: usize) -> Result<(), Refusal> {
    if len > MAX_SCOPES_BYTES {
        return Err(Refusal::bad(format!(
            "the {what} is {len} bytes long; the broker accepts at most {MAX_SCOPES_BYTES}"
        )));
    }
    Ok(())
}

/// Who is connected (per connection).
#[derive(Debug)]
pub struct Conn {
    /// Peer address for audit lines (`unix` on the socket).
    pub peer: String,
    /// TCP peer and local addresses.
    pub tcp: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
    /// The uid from `SO_PEERCRED` (Unix socket).
    pub unix_uid: Option<u32>,
    tcp_uid: OnceLock<Option<u32>>,
}

impl Conn {
    /// A TCP connection.
    pub fn tcp(peer: std::net::SocketAddr, local: std::net::SocketAddr) -> Self {
        Self {
            peer: peer.to_string(),
            tcp: Some((peer, local)),
            unix_uid: None,
            tcp_uid: OnceLock::new(),
        }
    }

    /// A Unix socket connection.
    pub fn unix(uid: Option<u32>) -> Self {
        Self {
            peer: "unix".into(),
            tcp: None,
            unix_uid: uid,
            tcp_uid: OnceLock::new(),
        }
    }

    /// Is the peer on this machine?
    fn local(&self) -> bool {
        match self.tcp {
            None => true,
            Some((peer, _)) => {
                peer.ip().is_loopback()
                    || matches!(peer.ip(), std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()))
            }
        }
    }

    /// The peer's uid, looked up once per connection.
    fn uid(&self) -> Option<u32> {
        if self.unix_uid.is_some() {
            return self.unix_uid;
        }
        let (peer, local) = self.tcp?;
        *self
            .tcp_uid
            .get_or_init(|| crate::peer::loopback_tcp_uid(peer, local))
    }
}

/// One request's audit and metrics context.
struct Ctx<'a> {
    shared: &'a Shared,
    /// The configuration generation this request sees from start to end.
    generation: Arc<crate::server::Generation>,
    protocol: usize,
    started: Instant,
    conn: &'a Conn,
    uid: Option<u32>,
    /// Whether `uid` was looked up (then `None` means unknown).
    uid_looked_up: bool,
    caller: Option<Arc<str>>,
    caller_counters: Option<Arc<Caller>>,
    identity: Option<Arc<str>>,
    resource: Option<String>,
    scopes: Option<Vec<String>>,
}

/// A refusal or failure, in the protocol's error shape.
struct Refusal {
    status: StatusCode,
    outcome: usize,
    error: &'static str,
    description: String,
    retry_after: bool,
    www_authenticate: bool,
}

impl Refusal {
    fn new(
        status: StatusCode,
        outcome: usize,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            outcome,
            error,
            description: description.into(),
            retry_after: false,
            www_authenticate: false,
        }
    }
    fn bad(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            BAD_REQUEST,
            "invalid_request",
            description,
        )
    }
    fn unauthorized(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            UNAUTHORIZED,
            "unauthorized",
            description,
        )
    }
    fn denied(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, DENIED, "forbidden", description)
    }
    fn from_fetch(e: &FetchError, identity: &str) -> Self {
        match e {
            FetchError::Rejected { error, description } => {
                let error: &'static str = match error.as_str() {
                    "invalid_resource" => "invalid_resource",
                    "invalid_scope" => "invalid_scope",
                    "unauthorized_client" => "unauthorized_client",
                    "invalid_client" => "invalid_client",
                    _ => "invalid_request",
                };
                Self::new(
                    StatusCode::BAD_REQUEST,
                    UPSTREAM_ERROR,
                    error,
                    format!("identity {identity:?}: {description}"),
                )
            }
            FetchError::Unavailable(m) => {
                let mut r = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    UNAVAILABLE,
                    "temporarily_unavailable",
                    format!(
                        "identity {identity:?}: the authority could not be reached and no valid token is cached: {m}"
                    ),
                );
                r.retry_after = true;
                r
            }
            FetchError::CacheFull { .. } => {
                let mut r = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    UNAVAILABLE,
                    "temporarily_unavailable",
                    format!(
                        "{}; try again shortly (the operator can raise [broker] max_tokens)",
                        e.summary()
                    ),
                );
                r.retry_after = true;
                r
            }
        }
    }
}

impl<'a> Ctx<'a> {
    fn new(shared: &'a Shared, protocol: usize, conn: &'a Conn) -> Self {
        Self {
            shared,
            generation: shared.generation(),
            protocol,
            started: Instant::now(),
            conn,
            uid: None,
            uid_looked_up: false,
            caller: None,
            caller_counters: None,
            identity: None,
            resource: None,
            scopes: None,
        }
    }

    fn finish(
        &self,
        status: StatusCode,
        outcome: usize,
        cache: Option<Source>,
        token_id: Option<&str>,
        reason: Option<&str>,
    ) {
        let elapsed = self.started.elapsed();
        let m = &self.shared.metrics;
        m.request(self.protocol, outcome);
        if let Some(c) = &self.caller_counters {
            c.counters[outcome].inc();
        }
        m.duration.observe(elapsed.as_secs_f64());
        let audit = &self.shared.audit;
        if audit.enabled() {
            audit.write(&Record {
                time: crate::audit::timestamp(),
                protocol: crate::metrics::PROTOCOLS[self.protocol],
                caller: self.caller.as_deref(),
                peer: &self.conn.peer,
                uid: self.uid_looked_up.then_some(
                    self.uid
                        .map_or(crate::audit::PeerUid::Unknown, crate::audit::PeerUid::Known),
                ),
                identity: self.identity.as_deref(),
                resource: self.resource.as_deref(),
                scopes: self.scopes.as_deref(),
                outcome: crate::metrics::OUTCOMES[outcome],
                status: status.as_u16(),
                cache: cache.map(Source::as_str),
                latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                token_id,
                reason,
            });
        }
    }

    fn refuse(&self, r: Refusal) -> Response {
        self.finish(r.status, r.outcome, None, None, Some(&r.description));
        let body = if matches!(self.protocol, APP_SERVICE | APP_SERVICE_2017) {
            // App Service writes `statusCode` and `message` (what MSAL reads); the OAuth
            // pair is kept for azure-identity and people.
            serde_json::json!({
                "statusCode": r.status.as_u16(),
                "message": r.description,
                "correlationId": uuid::Uuid::new_v4().to_string(),
                "error": r.error,
                "error_description": r.description,
            })
        } else {
            serde_json::json!({ "error": r.error, "error_description": r.description })
        };
        let mut resp = (r.status, axum::Json(body)).into_response();
        if r.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if r.www_authenticate {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"entra-broker\""),
            );
        }
        resp
    }

    fn ok(&self, body: impl Into<Bytes>, t: &Cached, source: Source) -> Response {
        self.finish(StatusCode::OK, OK, Some(source), Some(&t.token_id), None);
        json_response(body)
    }

    /// Policy and cache: the token for `caller`, the identity `selector` names (or the
    /// caller's default), and `scopes` under `key`.
    async fn token(
        &mut self,
        caller: &Arc<Caller>,
        selector: Option<Selector<'_>>,
        key: String,
        scopes: Vec<String>,
    ) -> Result<(Arc<Cached>, Source, Arc<Identity>), Refusal> {
        let generation = self.generation.clone();
        let identity = match selector {
            Some(sel) => generation
                .identities
                .iter()
                .find(|i| i.matches(&sel))
                .cloned()
                .ok_or_else(|| Refusal::bad("Identity not found"))?,
            None => {
                let name = caller.default_identity();
                let found = match name {
                    Some(n) => generation.by_name.get(n).cloned(),
                    None => generation.identities.first().cloned(),
                };
                found.ok_or_else(|| Refusal::bad("Identity not found"))?
            }
        };
        self.identity = Some(identity.name.clone());
        if !caller.may_use(&identity.name) {
            return Err(Refusal::denied(format!(
                "caller {:?} may not use identity {:?}",
                &*caller.name, &*identity.name
            )));
        }
        match &self.resource {
            Some(r) if !caller.may_have_resource(r) => {
                return Err(Refusal::denied(format!(
                    "caller {:?} may not have tokens for resource {r:?}",
                    &*caller.name
                )));
            }
            _ => {}
        }
        if self.resource.is_none()
            && let Some(s) = caller.refused_scope(&scopes)
        {
            return Err(Refusal::denied(format!(
                "caller {:?} may not have scope {s:?}",
                &*caller.name
            )));
        }
        match self.shared.cache.get(&identity, &key, || scopes).await {
            Ok((t, source)) => Ok((t, source, identity)),
            Err(e) => Err(Refusal::from_fetch(&e, &identity.name)),
        }
    }

    /// The caller of a secret-less protocol (IMDS, Cloud Shell).
    fn local_caller(&mut self, headers: &HeaderMap) -> Result<Arc<Caller>, Refusal> {
        // As Azure's IMDS: a request that came through a proxy is refused, so a local
        // web app tricked into fetching a URL (SSRF) through a reverse proxy on this
        // machine cannot pass for a local process.
        if headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded") {
            return Err(Refusal::bad(
                "requests through a proxy (X-Forwarded-For / Forwarded) are not accepted on this endpoint",
            ));
        }
        if !self.conn.local() {
            return Err(Refusal::denied(
                "this endpoint answers processes on the broker's own machine only (it carries no secret); use the App Service protocol or the native API with a caller secret",
            ));
        }
        let generation = self.generation.clone();
        if generation.callers.uses_uids() {
            self.uid = self.conn.uid();
            self.uid_looked_up = true;
        }
        let caller = generation.callers.for_local_process(self.uid).cloned();
        match caller {
            Some(c) => {
                self.caller = Some(c.name.clone());
                self.caller_counters = Some(c.clone());
                Ok(c)
            }
            None => Err(Refusal::denied(match self.uid {
                Some(u) => format!(
                    "no caller is configured for local user {u}: add it to a caller's uids (or set [imds] caller)"
                ),
                None if self.uid_looked_up => "the local user of this connection could not be told (its socket is closed, or the client is in another network namespace), and no [imds] caller is set".to_string(),
                None => "no caller is configured for local processes: list their uids in a caller (or set [imds] caller)".to_string(),
            })),
        }
    }

    fn secret_caller(
        &mut self,
        secret: Option<&str>,
        header_name: &str,
    ) -> Result<Arc<Caller>, Refusal> {
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return Err(Refusal::unauthorized(format!(
                "the {header_name} header is missing"
            )));
        };
        let generation = self.generation.clone();
        match generation.callers.by_secret(secret) {
            Some(c) => {
                self.caller = Some(c.name.clone());
                self.caller_counters = Some(c.clone());
                Ok(c.clone())
            }
            None => Err(Refusal::unauthorized(format!(
                "the {header_name} header matches no caller"
            ))),
        }
    }
}

fn json_response(body: impl Into<Bytes>) -> Response {
    let mut r = Response::new(axum::body::Body::from(body.into()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// Query parameters, decoded, first occurrence wins, names case-insensitive.
struct Params<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Params<'a> {
    fn parse(q: &'a [u8]) -> Self {
        Self(form_urlencoded::parse(q).collect())
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
            .filter(|v| !v.is_empty())
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn metadata_true(headers: &HeaderMap) -> bool {
    header(headers, "metadata").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn resource_scopes(resource: &str) -> Vec<String> {
    vec![format!("{resource}/.default")]
}

/// A JSON object written field by field: the answers are small and fixed in shape, and
/// the token (1-2 KB) is copied as is when it needs no escaping.
struct Json(Vec<u8>);

impl Json {
    fn new(t: &Cached) -> Self {
        let mut v = Vec::with_capacity(t.token.expose().len() + 384);
        v.push(b'{');
        Self(v)
    }
    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(k.as_bytes());
        self.0.extend_from_slice(b"\":");
    }
    fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.0, v);
        self
    }
    fn num(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        self.0.extend_from_slice(v.to_string().as_bytes());
        self
    }
    fn token(&mut self, t: &Cached) -> &mut Self {
        if t.json_safe {
            self.key("access_token");
            self.0.push(b'"');
            self.0.extend_from_slice(t.token.expose().as_bytes());
            self.0.push(b'"');
            self
        } else {
            self.str("access_token", t.token.expose())
        }
    }
    fn opt(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }
    fn finish(&mut self) -> Vec<u8> {
        self.0.push(b'}');
        std::mem::take(&mut self.0)
    }
}

/// IMDS and Cloud Shell: every value a string.
fn imds_body(t: &Cached, resource: &str) -> Vec<u8> {
    let remaining = (t.expires_on - now()).max(0).to_string();
    Json::new(t)
        .token(t)
        .str("refresh_token", "")
        .str("expires_in", &remaining)
        .str("expires_on", &t.expires_on.to_string())
        .str("ext_expires_in", &remaining)
        .str("not_before", &t.fetched_at.to_string())
        .str("resource", resource)
        .str("token_type", "Bearer")
        .opt("client_id", t.client_id.as_deref())
        .finish()
}

/// `GET /metadata/identity/oauth2/token`.
pub(crate) async fn imds(
    State(shared): State<Arc<Shared>>,
    Extension(conn): Extension<Arc<Conn>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = q.unwrap_or_default();
    let p = Params::parse(q.as_bytes());
    let selector = p
        .get("client_id")
        .map(Selector::ClientId)
        .or_else(|| p.get("object_id").map(Selector::ObjectId))
        .or_else(|| {
            p.get("msi_res_id")
                .or(p.get("mi_res_id"))
                .map(Selector::ResourceId)
        });
    secretless(Ctx::new(&shared, IMDS, &conn), &headers, &p, selector).await
}

/// `POST /oauth2/token` (Cloud Shell).
pub(crate) async fn cloud_shell(
    State(shared): State<Arc<Shared>>,
    Extension(conn): Extension<Arc<Conn>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::parse(&body);
    let selector = p.get("client_id").map(Selector::ClientId);
    secretless(
        Ctx::new(&shared, CLOUD_SHELL, &conn),
        &headers,
        &p,
        selector,
    )
    .await
}

/// IMDS and Cloud Shell, which differ only in where their parameters come from (and
/// IMDS's required `api-version`): no secret, `Metadata: true`, a local caller, and
/// every value of the answer a string.
async fn secretless(
    mut ctx: Ctx<'_>,
    headers: &HeaderMap,
    p: &Params<'_>,
    selector: Option<Selector<'_>>,
) -> Response {
    let imds = ctx.protocol == IMDS;
    if !ctx.generation.imds_enabled {
        return ctx.refuse(Refusal::new(
            StatusCode::NOT_FOUND,
            BAD_REQUEST,
            "not_found",
            format!(
                "the {} protocol is disabled on this broker ([imds] disabled = true)",
                if imds { "IMDS" } else { "Cloud Shell" }
            ),
        ));
    }
    if !metadata_true(headers) {
        return ctx.refuse(Refusal::bad("Required metadata header not specified"));
    }
    if imds && p.get("api-version").is_none() {
        return ctx.refuse(Refusal::bad(
            "Required query variable 'api-version' is missing",
        ));
    }
    let Some(resource) = p.get("resource") else {
        return ctx.refuse(Refusal::bad("Required audience parameter not specified"));
    };
    if let Err(r) = within_limit("resource", resource.len()) {
        return ctx.refuse(r);
    }
    ctx.resource = Some(resource.to_string());
    let caller = match ctx.local_caller(headers) {
        Ok(c) => c,
        Err(r) => return ctx.refuse(r),
    };
    match ctx
        .token(
            &caller,
            selector,
            resource.to_string(),
            resource_scopes(resource),
        )
        .await
    {
        Ok((t, source, _)) => ctx.ok(imds_body(&t, resource), &t, source),
        Err(r) => ctx.refuse(r),
    }
}

/// `GET /msi/token` (App Service 2019-08-01 and 2017-09-01).
pub(crate) async fn app_service(
    State(shared): State<Arc<Shared>>,
    Extension(conn): Extension<Arc<Conn>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = q.unwrap_or_default();
    let p = Params::parse(q.as_bytes());
    let api = p.get("api-version").unwrap_or("");
    let legacy = api == "2017-09-01";
    let mut ctx = Ctx::new(
        &shared,
        if legacy {
            APP_SERVICE_2017
        } else {
            APP_SERVICE
        },
        &conn,
    );
    if !legacy && api != "2019-08-01" {
        return ctx.refuse(Refusal::bad(format!(
            "api-version {api:?} is not supported: use 2019-08-01 (or the legacy 2017-09-01)"
        )));
    }
    let header_name = if legacy {
        "secret"
    } else {
        "X-IDENTITY-HEADER"
    };
    let caller = match ctx.secret_caller(header(&headers, header_name), header_name) {
        Ok(c) => c,
        Err(r) => return ctx.refuse(r),
    };
    let Some(resource) = p.get("resource") else {
        return ctx.refuse(Refusal::bad("Required audience parameter not specified"));
    };
    if let Err(r) = within_limit("resource", resource.len()) {
        return ctx.refuse(r);
    }
    ctx.resource = Some(resource.to_string());
    let selector = if legacy {
        p.get("clientid").map(Selector::ClientId)
    } else {
        p.get("client_id")
            .map(Selector::ClientId)
            .or_else(|| {
                p.get("principal_id")
                    .or(p.get("object_id"))
                    .map(Selector::ObjectId)
            })
            .or_else(|| p.get("mi_res_id").map(Selector::ResourceId))
    };
    match ctx
        .token(
            &caller,
            selector,
            resource.to_string(),
            resource_scopes(resource),
        )
        .await
    {
        Ok((t, source, _)) => {
            let expires_on = if legacy {
                legacy_date(t.expires_on)
            } else {
                t.expires_on.to_string()
            };
            let body = Json::new(&t)
                .token(&t)
                .str("expires_on", &expires_on)
                .str("not_before", &t.fetched_at.to_string())
                .str("resource", resource)
                .str("token_type", "Bearer")
                .opt("client_id", t.client_id.as_deref())
                .finish();
            ctx.ok(body, &t, source)
        }
        Err(r) => ctx.refuse(r),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeRequest {
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    identity: Option<String>,
}

/// The credentials of `Authorization: Bearer ...` (scheme in any case).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = header(headers, "authorization")?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// `POST /api/v1/token`.
pub(crate) async fn native(
    State(shared): State<Arc<Shared>>,
    Extension(conn): Extension<Arc<Conn>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut ctx = Ctx::new(&shared, NATIVE, &conn);
    let caller = match ctx.secret_caller(bearer(&headers), "Authorization: Bearer") {
        Ok(c) => c,
        Err(mut r) => {
            r.www_authenticate = true;
            return ctx.refuse(r);
        }
    };
    let req: NativeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return ctx.refuse(Refusal::bad(format!(
                "the body must be JSON like {{\"scopes\": [\"https://graph.microsoft.com/.default\"]}}: {e}"
            )));
        }
    };
    let scopes = match (req.scopes.is_empty(), &req.resource) {
        (false, None) => req.scopes,
        (true, Some(r)) if !r.is_empty() => resource_scopes(r),
        _ => {
            return ctx.refuse(Refusal::bad(
                "give either \"scopes\" (a non-empty list) or \"resource\"",
            ));
        }
    };
    let joined = scopes
        .iter()
        .map(|s| s.len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    if let Err(r) = within_limit("scope list (space-joined)", joined) {
        return ctx.refuse(r);
    }
    if scopes
        .iter()
        .any(|s| s.is_empty() || s.chars().any(char::is_whitespace))
    {
        return ctx.refuse(Refusal::bad("a scope is empty or contains whitespace"));
    }
    ctx.scopes = Some(scopes.clone());
    let key = scope_key(&scopes);
    let selector = req.identity.as_deref().map(Selector::Name);
    let answer_scopes = scopes.clone();
    match ctx.token(&caller, selector, key, scopes).await {
        Ok((t, source, identity)) => {
            let mut json = Json::new(&t);
            json.token(&t)
                .str("token_type", "Bearer")
                .num("expires_on", t.expires_on)
                .num("expires_in", (t.expires_on - now()).max(0))
                .str("identity", &identity.name)
                .opt("client_id", t.client_id.as_deref());
            json.key("scopes");
            let _ = serde_json::to_writer(&mut json.0, &answer_scopes);
            let body = json.str("token_id", &t.token_id).finish();
            ctx.ok(body, &t, source)
        }
        Err(r) => ctx.refuse(r),
    }
}

/// `1/10/2020 8:01:28 AM +00:00`, the legacy App Service form.
pub fn legacy_date(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (h, ampm) = match t.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{}/{}/{} {}:{:02}:{:02} {} +00:00",
        u8::from(t.month()),
        t.day(),
        t.year(),
        h,
        t.minute(),
        t.second(),
        ampm
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(token: &str) -> Cached {
        Cached {
            token: entra_identity::Secret::new(token),
            expires_on: 2_000_000_000,
            refresh_at: 1_999_999_000,
            fetched_at: 1_999_996_400,
            token_id: "uti:x".into(),
            client_id: Some("c\"id".into()),
            json_safe: crate::cache::json_safe(token),
        }
    }

    #[test]
    fn bodies_are_valid_json_whatever_the_values() {
        for token in ["eyJhbGciOi.eyJhdWQi.c2ln-_", "we\"ird\\tok\nen"] {
            let t = cached(token);
            let v: serde_json::Value =
                serde_json::from_slice(&imds_body(&t, "api://x\"y")).unwrap();
            assert_eq!(v["access_token"], token);
            assert_eq!(v["resource"], "api://x\"y");
            assert_eq!(v["client_id"], "c\"id");
            assert_eq!(v["expires_on"], "2000000000");
            assert_eq!(v["not_before"], "1999996400");
            assert_eq!(v["refresh_token"], "");
        }
        assert!(crate::cache::json_safe("a.b-c_D9"));
        assert!(!crate::cache::json_safe("a\"b"));
        let t = cached("abc");
        let mut j = Json::new(&t);
        let body = j.num("n", -5).str("s", "").finish();
        assert_eq!(body, br#"{"n":-5,"s":""}"#);
    }

    #[test]
    fn a_full_cache_is_a_retryable_503() {
        let r = Refusal::from_fetch(&FetchError::CacheFull { max: 7 }, "daemon");
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.error, "temporarily_unavailable");
        assert!(r.retry_after);
        assert_eq!(
            r.description,
            "the token cache is full: it holds max_tokens (7) and every one has a request in flight; try again shortly (the operator can raise [broker] max_tokens)"
        );
    }

    #[test]
    fn legacy_date_format() {
        assert_eq!(
            super::legacy_date(1578643288),
            "1/10/2020 8:01:28 AM +00:00"
        );
        assert_eq!(
            super::legacy_date(1578686400),
            "1/10/2020 8:00:00 PM +00:00"
        );
    }
}
