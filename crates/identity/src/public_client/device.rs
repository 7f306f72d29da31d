//! The device code flow: ask the authority's `device_authorization_endpoint` for a code,
//! show the user where to enter it, then poll the token endpoint every `interval`
//! (5 s more after each `slow_down`) until the user approves or declines, the code
//! expires (`expires_in`), or the caller cancels.
//!
//! Outcomes: the authority's `authorization_declined`, `expired_token` and
//! `bad_verification_code` come back as [`Error::Entra`] with that `error`; the local
//! deadline passing and cancellation are [`Error::Transport`] with context
//! `device code sign-in`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::client::{PublicClient, SignIn, check_scopes, user_scopes};
use crate::error::{EntraErrorResponse, Error};
use crate::http::form_post;
use crate::options::ClientOptions;
use crate::secret::Secret;
use crate::token::TokenRequest;
use crate::token::{AccessToken, token_credential};
use crate::token_endpoint::{TokenForm, error_response, grant};
use crate::unix_time::{now, seconds};

/// What the user needs to finish a device code sign-in. None of it is secret: the user
/// code is meant to be shown (the device code itself stays inside the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodeInfo {
    /// The code to type.
    pub user_code: String,
    /// Where to type it.
    pub verification_uri: String,
    /// The authority's ready-made sentence saying both.
    pub message: String,
    /// When the code expires, unix seconds.
    pub expires_on: i64,
}

/// Receives the device code to show the user.
pub type DeviceCodeCallback = Arc<dyn Fn(&DeviceCodeInfo) + Send + Sync>;

/// A device code as the authority issued it: what the user sees, and what polling needs.
struct DeviceCode {
    info: DeviceCodeInfo,
    device_code: Secret,
    token_endpoint: String,
    interval: Duration,
    expires_in: i64,
}

fn stopped(message: String) -> Error {
    Error::Transport {
        context: "device code sign-in".into(),
        message,
    }
}

impl PublicClient {
    /// Signs a user in with a device code: `on_code` gets the code to show, then this
    /// polls until the user finishes, the code expires, or `cancel` completes (pass
    /// `std::future::pending()` for no cancellation; dropping the future also stops).
    pub async fn sign_in_with_device_code<C>(
        &self,
        request: &TokenRequest,
        on_code: &(dyn Fn(&DeviceCodeInfo) + Send + Sync),
        cancel: C,
    ) -> Result<SignIn, Error>
    where
        C: Future<Output = ()>,
    {
        check_scopes(request)?;
        tokio::select! {
            outcome = self.device_flow(request, on_code) => outcome,
            () = cancel => Err(stopped("cancelled by the caller".into())),
        }
    }

    async fn device_flow(
        &self,
        request: &TokenRequest,
        on_code: &(dyn Fn(&DeviceCodeInfo) + Send + Sync),
    ) -> Result<SignIn, Error> {
        let code = self.request_device_code(request).await?;
        on_code(&code.info);
        self.poll_device_code(request, code).await
    }

    /// Asks the authority's `device_authorization_endpoint` for a code (RFC 8628 §3.1-3.2).
    async fn request_device_code(&self, request: &TokenRequest) -> Result<DeviceCode, Error> {
        let tenant = self
            .authorities
            .tenant_for(request.tenant.as_deref(), None)?;
        let metadata = self.authorities.metadata(&tenant, &self.pipeline).await?;
        let token_endpoint = metadata.token_endpoint;
        let endpoint =
            metadata
                .device_authorization_endpoint
                .ok_or_else(|| Error::Unavailable {
                    credential: "DeviceCodeCredential",
                    reason:
                        "the authority's discovery document has no device_authorization_endpoint"
                            .into(),
                })?;
        let scope = user_scopes(&request.scopes);
        let resp = self
            .pipeline
            .send(
                form_post(
                    &endpoint,
                    &[("client_id", &self.client_id), ("scope", &scope)],
                )?,
                "device code request",
            )
            .await?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(error_response(&endpoint, status, resp.body()));
        }
        let v: serde_json::Value =
            serde_json::from_slice(resp.body()).map_err(|e| Error::Response {
                endpoint: endpoint.clone(),
                message: format!("not JSON: {e}"),
            })?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let device_code = Secret::new(text("device_code").ok_or_else(|| Error::Response {
            endpoint: endpoint.clone(),
            message: "no device_code in the response".into(),
        })?);
        let user_code = text("user_code").unwrap_or_default();
        let verification_uri = text("verification_uri")
            .or_else(|| text("verification_url"))
            .unwrap_or_default();
        let expires_in = seconds(v.get("expires_in")).unwrap_or(900).max(1);
        let interval =
            Duration::from_secs(seconds(v.get("interval")).unwrap_or(5).clamp(1, 60) as u64);
        let info = DeviceCodeInfo {
            message: text("message").unwrap_or_else(|| {
                format!("To sign in, open {verification_uri} and enter the code {user_code}.")
            }),
            user_code,
            verification_uri,
            expires_on: now() + expires_in,
        };
        Ok(DeviceCode {
            info,
            device_code,
            token_endpoint,
            interval,
            expires_in,
        })
    }

    /// Polls the token endpoint every `interval` (5 s more after each `slow_down`) until
    /// the user finishes or the code expires (RFC 8628 §3.4-3.5).
    async fn poll_device_code(
        &self,
        request: &TokenRequest,
        code: DeviceCode,
    ) -> Result<SignIn, Error> {
        let DeviceCode {
            device_code,
            token_endpoint,
            mut interval,
            expires_in,
            ..
        } = code;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(expires_in as u64);
        loop {
            let wake = tokio::time::Instant::now() + interval;
            if wake > deadline {
                tokio::time::sleep_until(deadline).await;
                return Err(stopped(format!(
                    "the code expired after {expires_in} s before the user finished signing in"
                )));
            }
            tokio::time::sleep_until(wake).await;
            let resp = TokenForm::new(grant::DEVICE_CODE, &self.client_id)
                .field("device_code", device_code.expose())
                .field("client_info", "1")
                .send(&self.pipeline, &token_endpoint, "device code poll")
                .await?;
            let status = resp.status().as_u16();
            if !(200..300).contains(&status)
                && let Some(e) = EntraErrorResponse::parse(status, resp.body())
            {
                match e.error.as_str() {
                    "authorization_pending" => continue,
                    "slow_down" => {
                        interval += Duration::from_secs(5);
                        continue;
                    }
                    _ => return Err(Error::Entra(Box::new(e))),
                }
            }
            let (account, token) = self
                .accept_user_tokens(&token_endpoint, status, resp.body(), None, None, request)
                .await?;
            self.remember(request, &account, &token);
            return Ok(SignIn { account, token });
        }
    }
}

/// Signs a user in with a device code (the user types a code on another device), then
/// gets tokens silently while the refresh token works.
pub struct DeviceCodeCredential {
    client: PublicClient,
    on_code: DeviceCodeCallback,
}

impl std::fmt::Debug for DeviceCodeCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCodeCredential")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl DeviceCodeCredential {
    /// A credential for the public client `client_id` in `tenant`; `on_code` shows the
    /// user the code and where to enter it.
    pub fn new(
        tenant: &str,
        client_id: &str,
        options: ClientOptions,
        on_code: DeviceCodeCallback,
    ) -> Result<Self, Error> {
        Ok(Self {
            client: PublicClient::new(tenant, client_id, options)?,
            on_code,
        })
    }

    /// The public client underneath (accounts, silent calls).
    pub fn client(&self) -> &PublicClient {
        &self.client
    }

    /// Signs in now, whatever is cached. Dropping the future stops polling.
    pub async fn authenticate(&self, request: &TokenRequest) -> Result<SignIn, Error> {
        self.client
            .sign_in_with_device_code(request, &*self.on_code, std::future::pending())
            .await
    }

    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        if let Some(account) = self.client.current_account().await? {
            match self.client.get_token_silent(&account, request).await {
                Err(e) if e.needs_interaction() => {}
                other => return other,
            }
        }
        Ok(self.authenticate(request).await?.token)
    }
}

token_credential!(DeviceCodeCredential, "DeviceCodeCredential");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HttpClient, Pipeline, Request, Response, RetryPolicy};
    use crate::options::ClientOptions;
    use crate::token::BoxFuture;
    use std::sync::Mutex;

    /// Answers discovery, the device code request, then the scripted polls; records when
    /// each poll arrived (tokio's paused clock).
    struct Script {
        polls: Mutex<Vec<(u16, String)>>,
        at: Mutex<Vec<tokio::time::Instant>>,
        start: tokio::time::Instant,
    }

    impl HttpClient for Script {
        fn send(&self, r: Request) -> BoxFuture<'_, Result<Response, String>> {
            let path = r.uri().path().to_string();
            let (status, body) = if path.ends_with("openid-configuration") {
                (200, serde_json::json!({
                    "token_endpoint": "https://login.example/t/oauth2/v2.0/token",
                    "authorization_endpoint": "https://login.example/t/oauth2/v2.0/authorize",
                    "device_authorization_endpoint": "https://login.example/t/oauth2/v2.0/devicecode",
                }).to_string())
            } else if path.ends_with("devicecode") {
                (200, serde_json::json!({
                    "device_code": "dc-secret", "user_code": "ABC", "verification_uri": "https://login.example/devicelogin",
                    "expires_in": 60, "interval": 5, "message": "go",
                }).to_string())
            } else {
                self.at.lock().unwrap().push(tokio::time::Instant::now());
                let body = String::from_utf8(r.body().clone()).unwrap();
                assert!(body.contains("dc-secret") && body.contains("device_code"));
                let mut polls = self.polls.lock().unwrap();
                if polls.is_empty() {
                    (400, r#"{"error":"authorization_pending"}"#.to_string())
                } else {
                    polls.remove(0)
                }
            };
            Box::pin(async move {
                Ok(http::Response::builder()
                    .status(status)
                    .body(body.into_bytes())
                    .unwrap())
            })
        }
    }

    fn client(polls: Vec<(u16, String)>) -> (PublicClient, Arc<Script>) {
        let script = Arc::new(Script {
            polls: Mutex::new(polls),
            at: Mutex::new(Vec::new()),
            start: tokio::time::Instant::now(),
        });
        let options = ClientOptions {
            authority_host: Some("https://login.example".into()),
            // A made-up host that instance discovery would (rightly) refuse.
            instance_discovery: crate::authority::InstanceDiscovery::DangerDisabled,
            pipeline: Some(Pipeline::new(script.clone(), RetryPolicy::default())),
            ..Default::default()
        };
        (PublicClient::new("t", "client", options).unwrap(), script)
    }

    fn err(e: &str) -> (u16, String) {
        (400, format!(r#"{{"error":"{e}","error_codes":[1]}}"#))
    }

    #[tokio::test(start_paused = true)]
    async fn polls_at_the_interval_and_slows_down() {
        let (c, script) = client(vec![
            err("authorization_pending"),
            err("slow_down"),
            err("authorization_pending"),
            err("authorization_declined"),
        ]);
        let shown = Mutex::new(None);
        let e = c
            .sign_in_with_device_code(
                &TokenRequest::new(["api://x/A"]),
                &|i: &DeviceCodeInfo| *shown.lock().unwrap() = Some(i.clone()),
                std::future::pending(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.entra().unwrap().error, "authorization_declined");
        assert_eq!(shown.lock().unwrap().as_ref().unwrap().user_code, "ABC");
        let at: Vec<u64> = script
            .at
            .lock()
            .unwrap()
            .iter()
            .map(|t| (*t - script.start).as_secs())
            .collect();
        assert_eq!(at, vec![5, 10, 20, 30], "5 s apart, 10 s after slow_down");
        assert!(!format!("{e:?} {e}").contains("dc-secret"));
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_expiry_and_on_cancel() {
        let (c, script) = client(vec![]);
        let e = c
            .sign_in_with_device_code(
                &TokenRequest::new(["api://x/A"]),
                &|_: &DeviceCodeInfo| {},
                std::future::pending(),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("expired after 60 s"), "{e}");
        assert_eq!(
            script.at.lock().unwrap().len(),
            12,
            "polls every 5 s for 60 s"
        );
        let (c, script) = client(vec![]);
        let e = c
            .sign_in_with_device_code(
                &TokenRequest::new(["api://x/A"]),
                &|_: &DeviceCodeInfo| {},
                tokio::time::sleep(Duration::from_secs(12)),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("cancelled"), "{e}");
        assert_eq!(script.at.lock().unwrap().len(), 2);
    }
}
