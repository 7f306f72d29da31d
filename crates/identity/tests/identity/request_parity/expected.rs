//! The differences between MSAL Python's requests and entra-identity's that are kept on
//! purpose, each with its reason. The same table, with sources, is in
//! `docs/request-parity.md`: change both together.

/// A difference kept on purpose: in flow `flow` (`*`: every flow; `prefix*`: the flows
/// starting so), step `step` (`*`: every step), `item` is `msal` in MSAL Python's
/// request and `entra` in entra-identity's (`None`: not sent; [`ANY`]: any value).
pub struct Justified {
    pub flow: &'static str,
    pub step: &'static str,
    pub item: &'static str,
    pub msal: Option<&'static str>,
    pub entra: Option<&'static str>,
    /// The row of docs/request-parity.md that explains it.
    pub why: &'static str,
}

/// Matches any value that is sent.
pub const ANY: &str = "<any>";

const fn j(
    flow: &'static str,
    step: &'static str,
    item: &'static str,
    msal: Option<&'static str>,
    entra: Option<&'static str>,
    why: &'static str,
) -> Justified {
    Justified {
        flow,
        step,
        item,
        msal,
        entra,
        why,
    }
}

const CLIENT_CREDENTIALS: &str = "token client_credentials";
const OBO: &str = "token urn:ietf:params:oauth:grant-type:jwt-bearer";
const DEVICE: &str = "token urn:ietf:params:oauth:grant-type:device_code";

/// Every difference kept on purpose (docs/request-parity.md, table "Kept", row ids).
#[rustfmt::skip]
pub const JUSTIFIED: &[Justified] = &[
    j("*", "*", "header.return-client-request-id", None, Some("true"), "K1"),
    j("*", "devicecode", "header.accept", Some("*/*"), Some("application/json"), "K2"),
    j("mi_*", "*", "header.accept", Some("*/*"), Some("application/json"), "K2"),
    j("mi_imds_*", "imds", "header.x-ms-client-request-id", Some("<random>"), None, "K3"),
    j("mi_cloud_shell_system", "cloud_shell", "header.x-ms-client-request-id", Some("<random>"), None, "K3"),
    j("mi_cloud_shell_system", "cloud_shell", "header.client-request-id", None, Some("<random>"), "K3"),
    j("client_*", CLIENT_CREDENTIALS, "form.client_info", Some("1"), None, "K4"),
    j("on_behalf_of", OBO, "form.client_info", Some("1"), None, "K4"),
    j("on_behalf_of", OBO, "form.scope",
        Some("api://contoso-api/Data.Read offline_access openid profile"),
        Some("api://contoso-api/Data.Read"), "K5"),
    j("client_certificate*", CLIENT_CREDENTIALS, "assertion.claims.nbf", None, Some("iat+0"), "K6"),
    j("client_certificate*", CLIENT_CREDENTIALS, "assertion.claims.nbf type", None, Some("integer"), "K6"),
    j("client_certificate*", CLIENT_CREDENTIALS, "assertion.claims.iat type", Some("fraction"), Some("integer"), "K7"),
    j("client_certificate*", CLIENT_CREDENTIALS, "assertion.claims.exp type", Some("fraction"), Some("integer"), "K7"),
    j("client_certificate", CLIENT_CREDENTIALS, "assertion.header.x5t encoding", Some("padded"), Some("unpadded"), "K8"),
    j("client_certificate_*", CLIENT_CREDENTIALS, "assertion.header.x5t#S256 encoding", Some("padded"), Some("unpadded"), "K8"),
    j("device_code", DEVICE, "form.code", Some("[redacted]"), None, "K9"),
    j("auth_code", "authorize", "query.redirect_uri",
        Some("http://localhost:<port>"), Some("http://127.0.0.1:<port>"), "K10"),
    j("auth_code", "token authorization_code", "form.redirect_uri",
        Some("http://localhost:<port>"), Some("http://127.0.0.1:<port>"), "K10"),
    j("auth_code", "authorize", "query.response_mode", None, Some("query"), "K11"),
    j("mi_app_service_object_id", "app_service", "query.object_id", Some(ANY), None, "K12"),
    j("mi_app_service_object_id", "app_service", "query.principal_id", None, Some(ANY), "K12"),
    j("client_certificate_default", CLIENT_CREDENTIALS, "assertion.header.x5c",
        Some("<1 certificate(s)>"), None, "K13"),
];
