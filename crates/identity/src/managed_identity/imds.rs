//! IMDS (Azure VMs and scale sets, AKS pod identity): a probe of the default address,
//! then the token request with IMDS's own retry rules ([`ImdsRetryPolicy`]).

use std::time::Duration;

use tokio::sync::OnceCell;

use super::host::{ManagedIdentityHost, NAME};
use super::id::ManagedIdentityId;
use super::response::{read_token, with_query};
use crate::error::{EntraErrorResponse, Error};
use crate::http::{self, Pipeline, RetryPolicy};
use crate::token::AccessToken;

/// The IMDS token path, appended to the base.
pub(super) const IMDS_TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
/// IMDS's retry rules (Microsoft's guidance for VMs, as MSAL .NET implements it). Tests
/// shrink the delays; the shape stays.
#[derive(Debug, Clone)]
pub struct ImdsRetryPolicy {
    /// Retries after 404, 408, 429, 5xx or a connection failure.
    pub max_retries: u32,
    /// First backoff (doubled each time).
    pub base_delay: Duration,
    /// Cap of one backoff.
    pub max_delay: Duration,
    /// Cap of a server's `Retry-After`.
    pub max_retry_after: Duration,
    /// Wait after a 410 (IMDS is being upgraded).
    pub gone_delay: Duration,
    /// Retries after 410 (7 x 10 s covers the 70 s IMDS promises).
    pub gone_max_retries: u32,
}

impl Default for ImdsRetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(60),
            gone_delay: Duration::from_secs(10),
            gone_max_retries: 7,
        }
    }
}

/// A credential's IMDS state: the retry rules, and the probe's outcome (asked once).
pub(super) struct Imds {
    pub(super) retry: ImdsRetryPolicy,
    pub(super) probe_timeout: Duration,
    pub(super) reachable: OnceCell<Result<(), String>>,
}

impl Imds {
    /// A token from IMDS at `base` (probed first unless `explicit`), with IMDS's retries.
    // Over 80 lines: one retry loop with IMDS's two budgets (410 and the rest) and its
    // "identity not assigned" answer; split, the loop state would travel between helpers.
    pub(super) async fn fetch(
        &self,
        pipeline: &Pipeline,
        id: &ManagedIdentityId,
        base: &str,
        explicit: bool,
        resource: &str,
    ) -> Result<AccessToken, Error> {
        let host = ManagedIdentityHost::Imds;
        let url = format!("{base}{IMDS_TOKEN_PATH}");
        let once = pipeline.with_retry(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        });
        if !explicit {
            self.probe(&once, base, &url).await?;
        }
        let mut params = vec![("api-version", "2018-02-01"), ("resource", resource)];
        params.extend(id.param(
            host,
            [Some("client_id"), Some("object_id"), Some("msi_res_id")],
        )?);
        let full = with_query(&url, &params);
        let policy = &self.retry;
        let (mut retries, mut gone_retries) = (0u32, 0u32);
        let resp = loop {
            let request = http::get(&full, &[("metadata", "true")])?;
            let outcome = once.send(request, "IMDS").await;
            let wait = match &outcome {
                Ok(r) if r.status() == 410 && gone_retries < policy.gone_max_retries => {
                    gone_retries += 1;
                    Some(policy.gone_delay)
                }
                Ok(r) if imds_retryable(r.status().as_u16()) && retries < policy.max_retries => {
                    retries += 1;
                    Some(
                        http::server_delay(r)
                            .map(|d| d.min(policy.max_retry_after))
                            .unwrap_or_else(|| backoff(policy, retries)),
                    )
                }
                Err(e) if retries < policy.max_retries && !http::is_certificate_failure(e) => {
                    retries += 1;
                    Some(backoff(policy, retries))
                }
                _ => None,
            };
            match (wait, outcome) {
                (Some(wait), _) => {
                    tracing::debug!(
                        retries,
                        gone_retries,
                        wait_ms = wait.as_millis() as u64,
                        "retrying IMDS"
                    );
                    tokio::time::sleep(wait).await;
                }
                (None, Ok(resp)) => break resp,
                (None, Err(e)) => {
                    return Err(Error::Unavailable {
                        credential: NAME,
                        reason: format!(
                            "IMDS at {base} did not answer ({} attempt{}): {}",
                            retries + 1,
                            if retries == 0 { "" } else { "s" },
                            transport_reason(&e)
                        ),
                    });
                }
            }
        };
        if resp.status() == 400
            && let Some(e) = EntraErrorResponse::parse(400, resp.body())
            && e.error == "invalid_request"
            && e.description.to_ascii_lowercase().contains("identity")
        {
            return Err(Error::Unavailable {
                credential: NAME,
                reason: format!(
                    "IMDS at {base} says {} is not assigned to this resource",
                    id.describe()
                ),
            });
        }
        read_token(host, &url, &resp, &[])
    }

    /// One short request to the default IMDS address, remembered: no answer means this
    /// is not an Azure VM (azure-identity's probe). The request lacks `Metadata: true`, so
    /// a real IMDS refuses it at once.
    async fn probe(&self, once: &Pipeline, base: &str, url: &str) -> Result<(), Error> {
        let timeout = self.probe_timeout;
        let outcome = self
            .reachable
            .get_or_init(|| async {
                let request = http::get(url, &[]).map_err(|e| e.to_string())?;
                match tokio::time::timeout(timeout, once.send(request, "IMDS probe")).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(transport_reason(&e)),
                    Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
                }
            })
            .await;
        outcome.clone().map_err(|why| Error::Unavailable {
            credential: NAME,
            reason: format!(
                "no managed identity endpoint found: IMDS at {base} is unreachable ({why})"
            ),
        })
    }
}

fn imds_retryable(status: u16) -> bool {
    matches!(status, 404 | 408 | 429) || (500..=599).contains(&status)
}

pub(super) fn backoff(policy: &ImdsRetryPolicy, retry: u32) -> Duration {
    policy
        .base_delay
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(policy.max_delay)
}

fn transport_reason(e: &Error) -> String {
    match e {
        Error::Transport { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
