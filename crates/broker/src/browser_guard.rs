//! The broker against web browsers (DNS rebinding), as one layer over every route.
//!
//! A web page the user visits can make its own hostname resolve to 127.0.0.1 (DNS
//! rebinding). Its `fetch` then reaches the broker from the user's browser, which runs
//! as the user, and is *same-origin* for the page: it may add `Metadata: true` without a
//! CORS preflight and read the answer. On IMDS and Cloud Shell, which carry no secret,
//! that would hand the page the user's tokens. Azure's own IMDS is reachable only from
//! the VM's network stack at 169.254.169.254; the broker listens where browsers can
//! reach it, so it refuses what only a browser sends:
//!
//! - **`Host`, on every route** (token protocols, native API, admin API, `/metrics`,
//!   `/readyz`, `/healthz`): it must name this broker: `127.0.0.1`, `localhost`,
//!   `[::1]`, `169.254.169.254`, the listen address (any IP address when listening on
//!   `0.0.0.0`/`[::]`: a browser sends an IP literal only to that IP's own origin, which
//!   no rebinding page has), or a name in `[broker] allowed_hosts`; with any port or none.
//!   A rebinding page's requests carry the page's own name (`attacker.example:8079`). An
//!   HTTP/1.1 request without `Host`, or with two, is refused too. Requests on the Unix
//!   socket are exempt: no browser reaches it, and HTTP-over-Unix clients put the socket
//!   path there.
//! - **`Origin` or a `Sec-Fetch-*` header, on the secretless routes** (everything under
//!   `/metadata/`, and Cloud Shell's `/oauth2/token`). Browsers send `Origin` on
//!   cross-origin and non-GET requests, and `Sec-Fetch-Site`, `-Mode` and `-Dest`
//!   together to trustworthy (loopback or HTTPS) targets. SDKs send none of them, with
//!   one exception: Node's `fetch` (undici, used by msal-node) sends `Sec-Fetch-Mode:
//!   cors` alone, so a lone `Sec-Fetch-Mode` is accepted. This is a second wall behind
//!   the `Host` check.
//!
//! A refusal is a 403 in the route's error shape (App Service's for `/msi/token`), an
//! audit line (`outcome: "denied"`, the reason, no secret) and a count in
//! `entra_broker_guard_refusals_total{route,reason}` (token routes also count in
//! `entra_broker_requests_total{outcome="denied"}`).

use std::future::Ready;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;

pub(crate) mod hosts;

use hosts::{HostName, HostPolicy, parse_host};

use crate::protocol::Conn;
use crate::protocol::kind::{Outcome, Protocol};
use crate::state::Shared;

/// The route a request is for, as the guard and its metric name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Imds,
    AppService,
    AppService2017,
    CloudShell,
    Native,
    Admin,
    Metrics,
    Health,
    Other,
}

impl Route {
    fn of(req: &Request) -> Self {
        let path = req.uri().path();
        if path.starts_with("/metadata/") {
            Self::Imds
        } else if path == "/msi/token" {
            // Which App Service version matters only to a refusal's label (`refined`).
            Self::AppService
        } else if path == "/oauth2/token" {
            Self::CloudShell
        } else if path.starts_with("/api/") {
            Self::Native
        } else if path.starts_with("/admin/") {
            Self::Admin
        } else if path == "/metrics" {
            Self::Metrics
        } else if path == "/healthz" || path == "/readyz" {
            Self::Health
        } else {
            Self::Other
        }
    }

    /// App Service 2017 told apart from 2019 by its `api-version`: for a refusal's
    /// metric and audit line only, so an accepted request never parses its query here.
    fn refined(self, req: &Request) -> Self {
        let legacy = self == Self::AppService
            && req.uri().query().is_some_and(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .any(|(k, v)| k.eq_ignore_ascii_case("api-version") && v == "2017-09-01")
            });
        if legacy { Self::AppService2017 } else { self }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Imds => "imds",
            Self::AppService => "app_service",
            Self::AppService2017 => "app_service_2017",
            Self::CloudShell => "cloud_shell",
            Self::Native => "native",
            Self::Admin => "admin",
            Self::Metrics => "metrics",
            Self::Health => "health",
            Self::Other => "other",
        }
    }

    /// The token protocol of the route, if it is one.
    fn protocol(self) -> Option<Protocol> {
        match self {
            Self::Imds => Some(Protocol::Imds),
            Self::AppService => Some(Protocol::AppService),
            Self::AppService2017 => Some(Protocol::AppService2017),
            Self::CloudShell => Some(Protocol::CloudShell),
            Self::Native => Some(Protocol::Native),
            _ => None,
        }
    }

    /// No secret: the caller is whoever connects from this machine.
    fn secretless(self) -> bool {
        matches!(self, Self::Imds | Self::CloudShell)
    }
}

/// Why the guard refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// `Origin` or `Sec-Fetch-*` (but a lone `Sec-Fetch-Mode`) on a secretless route.
    Browser,
    /// `Host` names something else (or is missing or doubled).
    Host,
}

impl Reason {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Host => "host",
        }
    }
}

/// The browser header a request carries, if any: `Origin` or the first `Sec-Fetch-*`
/// besides `Sec-Fetch-Mode`.
fn browser_header(headers: &HeaderMap) -> Option<&str> {
    if headers.contains_key(header::ORIGIN) {
        return Some("Origin");
    }
    // Node's fetch (undici, which msal-node uses) sends `Sec-Fetch-Mode: cors` and no
    // other; a browser sends `Sec-Fetch-Site` and `Sec-Fetch-Dest` with it, always.
    headers
        .keys()
        .map(|k| k.as_str())
        .find(|k| k.starts_with("sec-fetch-") && *k != "sec-fetch-mode")
}

/// `Err` with the reason and its description when `req` must be refused. `extra` says
/// whether a host is in `[broker] allowed_hosts` (asked only for hosts `policy` does not
/// know: it reads the current generation).
fn check(
    policy: &HostPolicy,
    extra: &dyn Fn(&HostName) -> bool,
    req: &Request,
    route: Route,
) -> Result<(), (Reason, String)> {
    let headers = req.headers();
    if route.secretless()
        && let Some(h) = browser_header(headers)
    {
        return Err((
            Reason::Browser,
            format!(
                "requests from a web browser ({h} header) are not accepted on this endpoint: it carries no secret, so a web page must never reach it"
            ),
        ));
    }
    let unix = req
        .extensions()
        .get::<Arc<Conn>>()
        .is_some_and(|c| c.tcp.is_none());
    if unix {
        return Ok(());
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(h), None) => Some(h.to_str().unwrap_or("")),
        (Some(_), Some(_)) => {
            return Err((
                Reason::Host,
                "the request has more than one Host header".into(),
            ));
        }
        (None, _) => None,
    };
    let named = |value: &str| -> Result<(), (Reason, String)> {
        match parse_host(value) {
            Some(h) if policy.allows(&h) || extra(&h) => Ok(()),
            _ => Err((
                Reason::Host,
                format!(
                    "Host {:?} does not name this broker: it answers to 127.0.0.1, localhost, [::1], 169.254.169.254, its listen address and [broker] allowed_hosts (a web page rebinding its own name to this machine is refused)",
                    value.chars().take(100).collect::<String>()
                ),
            )),
        }
    };
    match host {
        Some(h) => named(h)?,
        None if req.version() >= Version::HTTP_11 => {
            return Err((
                Reason::Host,
                "an HTTP/1.1 request needs a Host header naming this broker".into(),
            ));
        }
        None => {}
    }
    // An absolute-form request line (`GET http://name/... HTTP/1.1`) names a host too.
    if let Some(authority) = req.uri().authority() {
        named(authority.as_str())?;
    }
    Ok(())
}

/// The layer over every route: every request passes here before its route. A plain
/// tower service rather than `axum::middleware::from_fn`, whose boxed future was most
/// of the guard's cost on a cache hit (BENCHMARKS.md, "The browser guard's cost").
#[derive(Clone)]
pub(crate) struct GuardLayer(pub(crate) Arc<Shared>);

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            shared: self.0.clone(),
        }
    }
}

/// [`GuardLayer`]'s service.
#[derive(Clone)]
pub(crate) struct Guard<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> tower::Service<Request> for Guard<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = Instant::now();
        let route = Route::of(&req);
        let shared = &self.shared;
        let extra = |h: &HostName| shared.generation().allowed_hosts.contains(h);
        match check(&shared.host_policy, &extra, &req, route) {
            Ok(()) => Either::Left(self.inner.call(req)),
            Err((reason, description)) => Either::Right(std::future::ready(Ok(refuse(
                shared,
                &req,
                route.refined(&req),
                reason,
                &description,
                started,
            )))),
        }
    }
}

fn refuse(
    shared: &Shared,
    req: &Request,
    route: Route,
    reason: Reason,
    description: &str,
    started: Instant,
) -> Response {
    let status = StatusCode::FORBIDDEN;
    let m = &shared.metrics;
    m.guard_refusal(route.name(), reason.name());
    if let Some(p) = route.protocol() {
        m.request(p, Outcome::Denied);
    }
    let peer = req
        .extensions()
        .get::<Arc<Conn>>()
        .map_or("unknown", |c| c.peer.as_str());
    if shared.audit.enabled() {
        shared.audit.write(&crate::audit::Record {
            time: crate::audit::timestamp(),
            protocol: route.name(),
            caller: None,
            peer,
            uid: None,
            identity: None,
            resource: None,
            scopes: None,
            outcome: Outcome::Denied.label(),
            status: status.as_u16(),
            cache: None,
            latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            token_id: None,
            reason: Some(description),
        });
    }
    let body = if matches!(route, Route::AppService | Route::AppService2017) {
        serde_json::json!({
            "statusCode": status.as_u16(),
            "message": description,
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "error": "forbidden",
            "error_description": description,
        })
    } else {
        serde_json::json!({ "error": "forbidden", "error_description": description })
    };
    (status, axum::Json(body)).into_response()
}
