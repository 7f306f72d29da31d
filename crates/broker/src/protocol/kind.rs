//! The protocols and request outcomes, as the metrics and audit lines name them.

/// A token protocol the broker speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Protocol {
    /// IMDS (`GET /metadata/identity/oauth2/token`).
    Imds,
    /// App Service 2019-08-01 (`GET /msi/token`, `X-IDENTITY-HEADER`).
    AppService,
    /// App Service 2017-09-01 (`GET /msi/token`, `secret`).
    AppService2017,
    /// Cloud Shell (`POST /oauth2/token`).
    CloudShell,
    /// The native JSON API (`POST /api/v1/token`).
    Native,
}

impl Protocol {
    /// Every protocol, in the order of [`Metrics::requests`](crate::metrics::Metrics::requests).
    pub(crate) const ALL: [Protocol; 5] = [
        Protocol::Imds,
        Protocol::AppService,
        Protocol::AppService2017,
        Protocol::CloudShell,
        Protocol::Native,
    ];

    /// Its name in metrics labels and audit lines.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Protocol::Imds => "imds",
            Protocol::AppService => "app_service",
            Protocol::AppService2017 => "app_service_2017",
            Protocol::CloudShell => "cloud_shell",
            Protocol::Native => "native",
        }
    }
}

/// How a token request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Outcome {
    /// A token was handed out.
    Ok,
    /// The request was malformed (400).
    BadRequest,
    /// No or a wrong caller secret (401).
    Unauthorized,
    /// Policy (or the browser guard) refused (403).
    Denied,
    /// The authority refused (400).
    UpstreamError,
    /// The authority could not be reached, or the cache was full (503).
    Unavailable,
}

impl Outcome {
    /// Every outcome, in the order of [`Metrics::requests`](crate::metrics::Metrics::requests)'
    /// second index and of a caller's counters.
    pub(crate) const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::BadRequest,
        Outcome::Unauthorized,
        Outcome::Denied,
        Outcome::UpstreamError,
        Outcome::Unavailable,
    ];

    /// Its name in metrics labels and audit lines.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::BadRequest => "bad_request",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Denied => "denied",
            Outcome::UpstreamError => "upstream_error",
            Outcome::Unavailable => "unavailable",
        }
    }
}
