//! Prometheus metrics (`GET /metrics`, text exposition format).
//!
//! | metric | what |
//! |---|---|
//! | `entra_broker_requests_total{protocol,outcome}` | token requests by protocol and outcome |
//! | `entra_broker_cache_hits_total`, `_cache_misses_total`, `_cache_stale_total` | answers from memory, after an upstream or fleet fetch, and stale-but-valid tokens served while upstream fails |
//! | `entra_broker_cache_evictions_total` | idle tokens (least recently used first) dropped to keep within `max_tokens` |
//! | `entra_broker_cache_full_total` | token requests for a new (identity, scopes) refused with 503 because the cache held `max_tokens` and every one had a request in flight |
//! | `entra_broker_upstream_requests_total{identity,outcome}` | requests to Entra (or the upstream credential) |
//! | `entra_broker_fleet_tokens_total` | tokens another replica fetched, read from Redis |
//! | `entra_broker_store_errors_total`, `entra_broker_store_connected` | Redis failures (callers fall back), and whether the last call reached it |
//! | `entra_broker_request_duration_seconds` | histogram, every token request |
//! | `entra_broker_cached_tokens` | tokens held |
//! | `entra_broker_soonest_expiry_seconds` | seconds until the soonest cached token expires (-1: none) |
//! | `entra_broker_caller_requests_total{caller,outcome}` | token requests of each recognised caller |
//! | `entra_broker_config_reloads_total{outcome}` | SIGHUP / admin reloads |
//! | `entra_broker_guard_refusals_total{route,reason}` | requests refused before their route ([`crate::browser_guard`]): `reason` `host` (a `Host` that does not name the broker) or `browser` (`Origin`/`Sec-Fetch-*` on IMDS or Cloud Shell) |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::protocol::kind::{Outcome, Protocol};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    protocol: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    identity: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallerLabels {
    caller: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GuardLabels {
    route: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// Every metric; counters on the hot path are resolved once, at start.
pub(crate) struct Metrics {
    registry: Registry,
    /// `requests[protocol as usize][outcome as usize]` ([`Protocol::ALL`] and
    /// [`Outcome::ALL`] order); count with [`Metrics::request`].
    pub requests: Vec<Vec<Counter>>,
    /// Cache hits.
    pub hits: Counter,
    /// Cache misses.
    pub misses: Counter,
    /// Stale tokens served while upstream failed.
    pub stale: Counter,
    /// Idle slots evicted to stay within `max_tokens`.
    pub evictions: Counter,
    /// Requests refused because the cache was full of busy slots.
    pub cache_full: Counter,
    upstream: Family<UpstreamLabels, Counter>,
    /// Tokens read from the fleet store.
    pub fleet_tokens: Counter,
    /// Store failures.
    pub store_errors: Counter,
    /// Whether the store answered last time (1/0).
    pub store_connected: Gauge,
    /// Request latency.
    pub duration: Histogram,
    /// Tokens held.
    pub cached_tokens: Gauge,
    /// Seconds to the soonest expiry.
    pub soonest_expiry: Gauge,
    reloads: Family<OutcomeLabel, Counter>,
    callers: Family<CallerLabels, Counter>,
    guard: Family<GuardLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers everything.
    // Long on purpose: one registration per metric, in the order of the table above, so
    // the list reads as one piece; splitting it would only scatter the names.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("entra_broker");
        let family = Family::<RequestLabels, Counter>::default();
        let requests = Protocol::ALL
            .iter()
            .map(|p| {
                Outcome::ALL
                    .iter()
                    .map(|o| {
                        family
                            .get_or_create(&RequestLabels {
                                protocol: p.label(),
                                outcome: o.label(),
                            })
                            .clone()
                    })
                    .collect()
            })
            .collect();
        registry.register("requests", "Token requests by protocol and outcome", family);
        let hits = Counter::default();
        registry.register(
            "cache_hits",
            "Token requests answered from memory",
            hits.clone(),
        );
        let misses = Counter::default();
        registry.register(
            "cache_misses",
            "Token requests that waited for an upstream or fleet fetch",
            misses.clone(),
        );
        let stale = Counter::default();
        registry.register(
            "cache_stale",
            "Still-valid cached tokens served because upstream failed",
            stale.clone(),
        );
        let evictions = Counter::default();
        registry.register(
            "cache_evictions",
            "Idle cached tokens dropped, least recently used first, to stay within max_tokens",
            evictions.clone(),
        );
        let cache_full = Counter::default();
        registry.register(
            "cache_full",
            "Token requests refused (503) because the cache held max_tokens and every one had a request in flight",
            cache_full.clone(),
        );
        let upstream = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_requests",
            "Token requests sent upstream, by identity and outcome",
            upstream.clone(),
        );
        let fleet_tokens = Counter::default();
        registry.register(
            "fleet_tokens",
            "Tokens another replica fetched, read from the shared store",
            fleet_tokens.clone(),
        );
        let store_errors = Counter::default();
        registry.register(
            "store_errors",
            "Shared store (Redis) operations that failed or timed out",
            store_errors.clone(),
        );
        let store_connected = Gauge::default();
        registry.register(
            "store_connected",
            "1 when the last shared store operation succeeded (0 in local mode or when Redis is unreachable)",
            store_connected.clone(),
        );
        let duration = Histogram::new(exponential_buckets(0.000_05, 2.0, 18));
        registry.register(
            "request_duration_seconds",
            "Token request latency",
            duration.clone(),
        );
        let cached_tokens = Gauge::default();
        registry.register(
            "cached_tokens",
            "Tokens held in memory",
            cached_tokens.clone(),
        );
        let soonest_expiry = Gauge::default();
        registry.register(
            "soonest_expiry_seconds",
            "Seconds until the soonest cached token expires (-1 when none is cached)",
            soonest_expiry.clone(),
        );
        let reloads = Family::<OutcomeLabel, Counter>::default();
        registry.register("config_reloads", "Configuration reloads", reloads.clone());
        let callers = Family::<CallerLabels, Counter>::default();
        registry.register(
            "caller_requests",
            "Token requests by recognised caller and outcome",
            callers.clone(),
        );
        let guard = Family::<GuardLabels, Counter>::default();
        registry.register(
            "guard_refusals",
            "Requests refused before their route: a Host that does not name the broker, or a browser's Origin/Sec-Fetch-* on a secretless route",
            guard.clone(),
        );
        Self {
            registry,
            requests,
            hits,
            misses,
            stale,
            evictions,
            cache_full,
            upstream,
            fleet_tokens,
            store_errors,
            store_connected,
            duration,
            cached_tokens,
            soonest_expiry,
            reloads,
            callers,
            guard,
        }
    }

    /// Counts a request.
    #[inline]
    pub(crate) fn request(&self, protocol: Protocol, outcome: Outcome) {
        self.requests[protocol as usize][outcome as usize].inc();
    }

    /// Counts an upstream request.
    pub(crate) fn upstream(&self, identity: &str, ok: bool) {
        self.upstream
            .get_or_create(&UpstreamLabels {
                identity: identity.to_string(),
                outcome: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// One counter per outcome ([`Outcome::ALL`] order, index `outcome as usize`) for `caller`, resolved once per
    /// configuration so counting is one atomic add.
    pub(crate) fn caller_counters(&self, caller: &str) -> Vec<Counter> {
        Outcome::ALL
            .iter()
            .map(|o| {
                self.callers
                    .get_or_create(&CallerLabels {
                        caller: caller.to_string(),
                        outcome: o.label(),
                    })
                    .clone()
            })
            .collect()
    }

    /// Counts a request the browser guard refused.
    pub(crate) fn guard_refusal(&self, route: &'static str, reason: &'static str) {
        self.guard
            .get_or_create(&GuardLabels { route, reason })
            .inc();
    }

    /// Counts a reload.
    pub(crate) fn reload(&self, ok: bool) {
        self.reloads
            .get_or_create(&OutcomeLabel {
                outcome: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// The text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::with_capacity(8192);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
