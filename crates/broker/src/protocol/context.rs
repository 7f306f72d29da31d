//! [`Ctx`]: one request's audit and metrics context, and the steps every protocol
//! shares: finding the caller, policy and the cache, answering or refusing.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::conn::Conn;
use super::kind::{Outcome, Protocol};
use super::refusal::Refusal;
use super::response::json_response;
use crate::audit::Record;
use crate::cache::{Cached, Source};
use crate::policy::Caller;
use crate::state::Shared;
use crate::upstream::{Identity, Selector};

/// One request's audit and metrics context.
pub(crate) struct Ctx<'a> {
    pub(crate) shared: &'a Shared,
    /// The configuration generation this request sees from start to end.
    pub(crate) generation: Arc<crate::state::Generation>,
    pub(crate) protocol: Protocol,
    pub(crate) started: Instant,
    pub(crate) conn: &'a Conn,
    pub(crate) uid: Option<u32>,
    /// Whether `uid` was looked up (then `None` means unknown).
    pub(crate) uid_looked_up: bool,
    pub(crate) caller: Option<Arc<str>>,
    pub(crate) caller_counters: Option<Arc<Caller>>,
    pub(crate) identity: Option<Arc<str>>,
    pub(crate) resource: Option<String>,
    pub(crate) scopes: Option<Vec<String>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(shared: &'a Shared, protocol: Protocol, conn: &'a Conn) -> Self {
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

    pub(crate) fn finish(
        &self,
        status: StatusCode,
        outcome: Outcome,
        cache: Option<Source>,
        token_id: Option<&str>,
        reason: Option<&str>,
    ) {
        let elapsed = self.started.elapsed();
        let m = &self.shared.metrics;
        m.request(self.protocol, outcome);
        if let Some(c) = &self.caller_counters {
            c.counters[outcome as usize].inc();
        }
        m.duration.observe(elapsed.as_secs_f64());
        let audit = &self.shared.audit;
        if audit.enabled() {
            audit.write(&Record {
                time: crate::audit::timestamp(),
                protocol: self.protocol.label(),
                caller: self.caller.as_deref(),
                peer: &self.conn.peer,
                uid: self.uid_looked_up.then_some(
                    self.uid
                        .map_or(crate::audit::PeerUid::Unknown, crate::audit::PeerUid::Known),
                ),
                identity: self.identity.as_deref(),
                resource: self.resource.as_deref(),
                scopes: self.scopes.as_deref(),
                outcome: outcome.label(),
                status: status.as_u16(),
                cache: cache.map(Source::as_str),
                latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                token_id,
                reason,
            });
        }
    }

    pub(crate) fn refuse(&self, r: Refusal) -> Response {
        self.finish(r.status, r.outcome, None, None, Some(&r.description));
        let body = if matches!(
            self.protocol,
            Protocol::AppService | Protocol::AppService2017
        ) {
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

    pub(crate) fn ok(&self, body: impl Into<Bytes>, t: &Cached, source: Source) -> Response {
        self.finish(
            StatusCode::OK,
            Outcome::Ok,
            Some(source),
            Some(&t.token_id),
            None,
        );
        json_response(body)
    }

    /// Policy and cache: the token for `caller`, the identity `selector` names (or the
    /// caller's default), and `scopes` under `key`.
    pub(crate) async fn token(
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
    pub(crate) fn local_caller(&mut self, headers: &HeaderMap) -> Result<Arc<Caller>, Refusal> {
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

    pub(crate) fn secret_caller(
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
