//! Reading a managed-identity host's answer: the token ([`read_token`]), or its refusal
//! as a typed error naming the host with secrets scrubbed ([`host_error`]); small URL
//! and text helpers the hosts share.

use super::host::ManagedIdentityHost;
use crate::error::{EntraErrorResponse, Error};
use crate::http::Response;
use crate::token::AccessToken;
use crate::unix_time::{now, parse_expires_on, seconds};

pub(super) fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).expect("string pairs always encode");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

pub(super) fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() <= max {
        clean
    } else {
        clean.chars().take(max).collect::<String>() + "..."
    }
}

/// Replaces every secret in `text` and keeps it short.
pub(super) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, "[redacted]");
    }
    truncate(&out, 600)
}

/// An AADSTS code in a description, for hosts that relay Entra's text without
/// `error_codes`.
pub(super) fn aadsts_code(description: &str) -> Option<u32> {
    let at = description.find("AADSTS")? + "AADSTS".len();
    let digits: String = description[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// What a host's refusal means, typed, with the host named and secrets scrubbed.
pub(super) fn host_error(
    host: ManagedIdentityHost,
    url: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Error {
    let endpoint = strip_query(url).to_string();
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |v: &serde_json::Value, k: &str| -> Option<String> {
        match v.get(k)? {
            serde_json::Value::String(s) => Some(scrub(s, secrets)),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let inner = match &v {
        // OAuth shape: IMDS, Arc, Cloud Shell, and App Service relaying Entra.
        Some(v) if v.get("error").is_some_and(|e| e.is_string()) => {
            let mut e = EntraErrorResponse::parse(status, body).unwrap_or_default();
            e.error = scrub(&e.error, secrets);
            e.description = scrub(&e.description, secrets);
            e.claims = None;
            if e.codes.is_empty() {
                e.codes.extend(aadsts_code(&e.description));
            }
            Error::Entra(Box::new(e))
        }
        // Service Fabric: {"error": {"code": "SecretHeaderNotFound", "message": "..."}}.
        Some(v) if v.get("error").is_some_and(|e| e.is_object()) => {
            let e = &v["error"];
            let description = field(e, "message").unwrap_or_default();
            Error::Entra(Box::new(EntraErrorResponse {
                error: field(e, "code").unwrap_or_else(|| "error".into()),
                codes: aadsts_code(&description).into_iter().collect(),
                description,
                status,
                ..Default::default()
            }))
        }
        // App Service: {"statusCode": 400, "message": "..."}.
        Some(v) if v.get("message").is_some() || v.get("Message").is_some() => {
            let message = field(v, "message")
                .or_else(|| field(v, "Message"))
                .unwrap_or_default();
            Error::Response {
                endpoint,
                message: format!("HTTP {status}: {message}"),
            }
        }
        _ => Error::Response {
            endpoint,
            message: format!("HTTP {status} without a JSON error body"),
        },
    };
    Error::ManagedIdentity {
        host: host.name(),
        source: Box::new(inner),
    }
}

/// Reads a host's token response: `access_token`, then `expires_in` (number or string)
/// or `expires_on` in any form seen in the wild.
pub(super) fn read_token(
    host: ManagedIdentityHost,
    url: &str,
    resp: &Response,
    secrets: &[&str],
) -> Result<AccessToken, Error> {
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(host_error(host, url, status, resp.body(), secrets));
    }
    let bad = |message: String| Error::ManagedIdentity {
        host: host.name(),
        source: Box::new(Error::Response {
            endpoint: strip_query(url).to_string(),
            message,
        }),
    };
    let v: serde_json::Value = serde_json::from_slice(resp.body())
        .map_err(|_| bad(format!("HTTP {status} with a body that is not JSON")))?;
    let token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("no access_token in the response".into()))?;
    let issued = now();
    let expires_on = match (seconds(v.get("expires_in")), v.get("expires_on")) {
        (Some(i), _) if i > 0 => issued + i,
        (_, Some(on)) => parse_expires_on(on).ok_or_else(|| {
            bad(format!(
                "expires_on {} is in no known form",
                truncate(&on.to_string(), 80)
            ))
        })?,
        _ => return Err(bad("no expires_in or expires_on in the response".into())),
    };
    Ok(AccessToken::from_response(token, issued, expires_on, &v))
}
