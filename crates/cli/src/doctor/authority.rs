//! The `authority`, `CA trust` and `clock` checks, from one GET of the tenant's OIDC
//! discovery document.

use std::time::{Duration, Instant};

use entra_identity::EntraErrorResponse;
use entra_identity::http::{HttpClient as _, ReqwestClient};

use super::report::{Check, Status, first_sentence};
use crate::aadsts;
use crate::config::Config;

/// Reachability, CA trust and clock skew, from one GET of the OIDC discovery document.
pub(super) async fn checks(config: &Config) -> Vec<Check> {
    let base = config.authority.value.trim_end_matches('/');
    let url = format!(
        "{base}/{}/v2.0/.well-known/openid-configuration",
        config.tenant.value
    );
    let ca = config.ca_file.as_ref();
    let ca_text = match ca {
        Some(s) => format!("the system roots and {} ({})", s.value.display(), s.source),
        // SSL_CERT_FILE, when set, is the configured CA (the lowest layer).
        None => "the system roots".to_string(),
    };
    let client = match ReqwestClient::new(ca.map(|s| s.value.as_path())) {
        Ok(c) => c,
        Err(e) => {
            return vec![
                Check::new("authority", Status::Skip, "not checked: no usable CA file"),
                Check::new("CA trust", Status::Fail, e.to_string()).advice(
                    "point --ca-file / ENTRA_CA_FILE / ca_file at a readable PEM certificate (the emulator's is ca.pem in its state directory)",
                ),
                Check::new("clock", Status::Skip, "not checked: the authority was not reached"),
            ];
        }
    };
    let request = match entra_identity::http::get(&url, &[]) {
        Ok(r) => r,
        Err(e) => {
            return vec![
                Check::new("authority", Status::Fail, e.to_string())
                    .advice("check --authority / AZURE_AUTHORITY_HOST and --tenant"),
            ];
        }
    };
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(30), client.send(request)).await;
    let elapsed = started.elapsed().as_millis();
    let response = match answer {
        Err(_) => Err("no answer within 30 s".to_string()),
        Ok(r) => r,
    };
    let target = Target {
        base,
        url,
        ca_text,
        config,
    };
    match response {
        Err(message) => not_answered(&target, &message),
        Ok(resp) => answered(&target, &resp, elapsed),
    }
}

/// What the checks say about the authority, for their messages.
struct Target<'a> {
    /// The authority host, without a trailing `/`.
    base: &'a str,
    /// The discovery document's URL.
    url: String,
    /// Which CAs were trusted, in words.
    ca_text: String,
    config: &'a Config,
}

/// The discovery request failed: a TLS failure (reachable, but not trusted) or no
/// connection at all.
fn not_answered(target: &Target<'_>, message: &str) -> Vec<Check> {
    let Target {
        base,
        url,
        ca_text,
        config,
    } = target;
    let ca = config.ca_file.as_ref();
    let lower = message.to_ascii_lowercase();
    let tls = ["certificate", "tls", "handshake", "unknownissuer"]
        .iter()
        .any(|n| lower.contains(n));
    if tls {
        vec![
            Check::new(
                "authority",
                Status::Ok,
                format!("{base} is reachable (its TLS certificate is not trusted: see CA trust)"),
            ),
            Check::new("CA trust", Status::Fail, format!("TLS failed: {message}"))
                .detail(format!("trusted: {ca_text}"))
                .advice(match ca {
                    Some(s) => format!(
                        "{} ({}) did not sign {base}'s certificate: point it at the CA that did (for the emulator, ca.pem in the state directory of the running emulator)",
                        s.value.display(),
                        s.source
                    ),
                    None => format!(
                        "{base}'s certificate is not signed by a CA this machine trusts: pass --ca-file (or set ENTRA_CA_FILE / SSL_CERT_FILE) to the CA's PEM file; behind a TLS-inspecting proxy, that is the proxy's CA"
                    ),
                }),
            Check::new("clock", Status::Skip, "not checked: no TLS connection"),
        ]
    } else {
        vec![
            Check::new("authority", Status::Fail, format!("{base} is unreachable: {message}"))
                .detail(url)
                .advice(format!(
                    "check the authority host ({}, from {}), the network, DNS and any proxy (HTTPS_PROXY / NO_PROXY); for the emulator, is `entra emulator` running?",
                    config.authority.value, config.authority.source
                )),
            Check::new("CA trust", Status::Skip, "not checked: the authority was not reached"),
            Check::new("clock", Status::Skip, "not checked: the authority was not reached"),
        ]
    }
}

/// The authority answered: discovery's status, the TLS it verified, and its clock.
fn answered(target: &Target<'_>, resp: &http::Response<Vec<u8>>, elapsed: u128) -> Vec<Check> {
    let Target {
        base, url, ca_text, ..
    } = target;
    let status = resp.status().as_u16();
    let mut checks = Vec::new();
    if status == 200 {
        checks.push(
            Check::new(
                "authority",
                Status::Ok,
                format!("discovery answered 200 in {elapsed} ms"),
            )
            .detail(url.clone()),
        );
    } else {
        let mut c = Check::new(
            "authority",
            Status::Fail,
            format!("discovery answered HTTP {status} in {elapsed} ms"),
        )
        .detail(url.clone());
        match EntraErrorResponse::parse(status, resp.body()) {
            Some(e) => {
                c = c.detail(first_sentence(&e.description));
                let advice = e
                    .codes
                    .iter()
                    .find_map(|code| aadsts::lookup(*code))
                    .map(|x| x.action.to_string())
                    .unwrap_or_else(|| "check the tenant (--tenant) and the authority host".into());
                c = c.advice(advice);
            }
            None => {
                c = c.advice(format!(
                    "{base} does not look like an Entra authority: check --authority / AZURE_AUTHORITY_HOST"
                ));
            }
        }
        checks.push(c);
    }
    checks.push(Check::new(
        "CA trust",
        Status::Ok,
        format!("TLS verified with {ca_text}"),
    ));
    checks.push(clock(resp.headers()));
    checks
}

fn clock(headers: &http::HeaderMap) -> Check {
    let Some(date) = headers.get("date").and_then(|d| d.to_str().ok()) else {
        return Check::new("clock", Status::Skip, "the authority sent no Date header");
    };
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let Ok(server) = time::PrimitiveDateTime::parse(date, &format) else {
        return Check::new(
            "clock",
            Status::Skip,
            format!("unreadable Date header {date:?}"),
        );
    };
    let skew = entra_identity::unix_time::now() - server.assume_utc().unix_timestamp();
    let ahead = if skew >= 0 { "ahead of" } else { "behind" };
    let text = format!(
        "{} s {ahead} the authority's clock (its Date header)",
        skew.abs()
    );
    match skew.abs() {
        0..=60 => Check::new("clock", Status::Ok, text),
        61..=300 => Check::new("clock", Status::Warn, text)
            .advice("sync the clock (NTP): past 5 minutes, tokens look not yet valid or expired"),
        _ => Check::new("clock", Status::Fail, text).advice(
            "sync the clock (NTP, `timedatectl set-ntp true`): APIs refuse tokens whose times are off by more than 5 minutes, and client assertions fail with AADSTS700024",
        ),
    }
}
