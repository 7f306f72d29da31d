//! HTTP behind a small seam: credentials build `http::Request<Vec<u8>>` and get
//! `http::Response<Vec<u8>>` back from an [`HttpClient`]. [`ReqwestClient`] is the real
//! transport (rustls, timeouts, no redirect to another host); tests can inject their own.
//! [`Pipeline`] adds the retry policy: 429, 5xx and connection errors are retried with
//! exponential backoff and jitter, honouring `Retry-After` and `x-ms-retry-after-ms`;
//! other 4xx are final. Every response body is read through one capped reader
//! ([`MAX_RESPONSE_BYTES`]); a longer one is [`Error::ResponseTooLarge`], never retried.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, pem::PemObject};

use crate::error::Error;
use crate::token::BoxFuture;

/// The largest response body read (token responses, discovery, managed identity hosts...
/// are a few KiB). A longer body is refused with [`Error::ResponseTooLarge`], read no
/// further than this.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Marks a response whose body [`ReqwestClient`] stopped reading at `limit` bytes (the
/// body is then empty): the [`Pipeline`] answers [`Error::ResponseTooLarge`] for it. An
/// injected [`HttpClient`] may set it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTooLarge {
    /// The limit that was reached.
    pub limit: usize,
}

/// A request the pipeline can replay.
pub type Request = http::Request<Vec<u8>>;
/// A response with its whole body.
pub type Response = http::Response<Vec<u8>>;

/// Sends one HTTP request. Errors are transport failures (no response at all).
pub trait HttpClient: Send + Sync {
    /// Sends `request`.
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, String>>;
}

/// The default transport: reqwest on rustls (aws-lc-rs).
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    /// Trusts the system's roots (and `SSL_CERT_FILE`), plus `extra_ca` when given.
    ///
    /// The system's roots are read once per process (reading them opens every file of
    /// `/etc/ssl/certs` on Linux, milliseconds) and shared by every client built after:
    /// a default chain builds several. A change to `SSL_CERT_FILE` later in the process
    /// is not seen.
    pub fn new(extra_ca: Option<&Path>) -> Result<Self, Error> {
        static SYSTEM_ROOTS: std::sync::OnceLock<rustls::RootCertStore> =
            std::sync::OnceLock::new();
        let mut roots = SYSTEM_ROOTS
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
                roots
            })
            .clone();
        if let Some(path) = extra_ca {
            let pem = std::fs::read(path)
                .map_err(|e| Error::Config(format!("CA file {}: {e}", path.display())))?;
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    Error::Config(format!("CA file {}: bad PEM: {e}", path.display()))
                })?;
                roots
                    .add(cert)
                    .map_err(|e| Error::Config(format!("CA file {}: {e}", path.display())))?;
                added += 1;
            }
            if added == 0 {
                return Err(Error::Config(format!(
                    "CA file {}: no certificate in it",
                    path.display()
                )));
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self::with_tls_config(tls)
    }

    /// With a TLS configuration of the caller's (for example one that pins a server
    /// certificate, as Service Fabric's managed identity endpoint requires).
    pub fn with_tls_config(tls: rustls::ClientConfig) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(90))
            // Never follow a redirect to another host: a token request must not leak.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same_host = attempt.previous().first().is_some_and(|first| {
                    first.host_str() == attempt.url().host_str()
                        && first.port_or_known_default() == attempt.url().port_or_known_default()
                });
                if same_host && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .user_agent(concat!("entrakit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self { client })
    }
}

impl HttpClient for ReqwestClient {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, String>> {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let mut resp = self
                .client
                .request(parts.method, &url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| describe_reqwest_error(&e))?;
            let mut builder = http::Response::builder().status(resp.status());
            for (k, v) in resp.headers() {
                builder = builder.header(k, v);
            }
            let body = match read_capped(&mut resp, MAX_RESPONSE_BYTES).await? {
                Some(body) => body,
                None => {
                    builder = builder.extension(BodyTooLarge {
                        limit: MAX_RESPONSE_BYTES,
                    });
                    Vec::new()
                }
            };
            builder.body(body).map_err(|e| e.to_string())
        })
    }
}

/// The body of `resp`, read chunk by chunk up to `max` bytes: `None` as soon as it is
/// longer (announced by `Content-Length` or found while reading), without reading the
/// rest. Every response body of this crate is read here.
async fn read_capped(resp: &mut reqwest::Response, max: usize) -> Result<Option<Vec<u8>>, String> {
    if resp.content_length().is_some_and(|l| l > max as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe_reqwest_error(&e))? {
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// What a certificate failure's error adds: how to trust the authority's CA.
const TRUST_HINT: &str = "hint: if the authority uses a CA of its own (a local emulator, a corporate proxy), trust it with ClientOptions::ca_file, SSL_CERT_FILE (or ENTRA_CA_FILE) read by ClientOptions::from_env, or the system's trust store";

/// Is `message` (a transport's) about the server's certificate: rustls's words for one it
/// refused (`InvalidCertificate`: unknown issuer, expired, wrong name;
/// `NoCertificatesPresented`)? The certificate will not change in a second: never retried.
fn is_certificate_message(message: &str) -> bool {
    message.contains("invalid peer certificate") || message.contains("peer sent no certificates")
}

/// Is `e` a certificate failure rather than a network hiccup worth retrying?
pub(crate) fn is_certificate_failure(e: &crate::Error) -> bool {
    matches!(e, crate::Error::Transport { message, .. } if is_certificate_message(message))
}

/// reqwest's errors name the URL, which may carry a query; keep the kind and the cause.
fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "refused a redirect"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {cause}")
    }
}

/// Retry settings.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff.
    pub base_delay: Duration,
    /// Cap for any single wait (including a server's `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// A transport plus the retry policy.
#[derive(Clone)]
pub struct Pipeline {
    client: Arc<dyn HttpClient>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline over `client`.
    pub fn new(client: Arc<dyn HttpClient>, retry: RetryPolicy) -> Self {
        Self { client, retry }
    }

    /// The default: [`ReqwestClient`] trusting `extra_ca` too, default retries.
    pub fn default_with_ca(extra_ca: Option<&Path>) -> Result<Self, Error> {
        Ok(Self::new(
            Arc::new(ReqwestClient::new(extra_ca)?),
            RetryPolicy::default(),
        ))
    }

    /// The same transport with another retry policy (for a caller with its own retry
    /// rules, such as IMDS's).
    pub fn with_retry(&self, retry: RetryPolicy) -> Self {
        Self {
            client: self.client.clone(),
            retry,
        }
    }

    /// Sends with retries. `context` names the call in errors (never the URL's query).
    pub async fn send(&self, request: Request, context: &str) -> Result<Response, Error> {
        let mut attempt = 0u32;
        loop {
            let copy = clone_request(&request);
            let outcome = self.client.send(copy).await;
            // Too long a body (cut short by the transport, or whole from an injected one)
            // is refused at once: retrying would read as much again.
            if let Ok(resp) = &outcome
                && (resp.extensions().get::<BodyTooLarge>().is_some()
                    || resp.body().len() > MAX_RESPONSE_BYTES)
            {
                return Err(Error::ResponseTooLarge {
                    context: context.to_string(),
                    limit: MAX_RESPONSE_BYTES,
                });
            }
            let retry_in = match &outcome {
                Ok(resp) if retryable_status(resp.status().as_u16()) => Some(server_delay(resp)),
                Ok(_) => None,
                // The certificate will be as untrusted next time: fail at once.
                Err(message) if is_certificate_message(message) => None,
                Err(_) => Some(None),
            };
            match (retry_in, attempt < self.retry.max_retries) {
                (Some(server), true) => {
                    let wait = server
                        .unwrap_or_else(|| self.backoff(attempt))
                        .min(self.retry.max_delay);
                    tracing::debug!(
                        context,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => {
                    return outcome.map_err(|message| Error::Transport {
                        context: context.to_string(),
                        // A pipeline without retries belongs to a caller with its own
                        // retry loop, which counts its attempts itself.
                        message: if is_certificate_message(&message) {
                            format!("{message}; {TRUST_HINT}")
                        } else if self.retry.max_retries == 0 {
                            message
                        } else {
                            format!(
                                "{message} (after {} attempt{})",
                                attempt + 1,
                                if attempt == 0 { "" } else { "s" }
                            )
                        },
                    });
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .base_delay
            .saturating_mul(1u32 << attempt.min(16));
        // Jitter: 80% to 120%.
        let mut b = [0u8; 1];
        let _ = aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut b);
        exp.mul_f64(0.8 + (b[0] as f64 / 255.0) * 0.4)
    }
}

fn retryable_status(status: u16) -> bool {
    status == 408
        || status == 429
        || (500..=599).contains(&status) && status != 501 && status != 505
}

/// `x-ms-retry-after-ms`, `retry-after-ms`, then `Retry-After` (seconds or HTTP date).
pub(crate) fn server_delay(resp: &Response) -> Option<Duration> {
    let h = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in ["x-ms-retry-after-ms", "retry-after-ms"] {
        if let Some(ms) = h(name).and_then(|v| v.parse::<f64>().ok()) {
            return Some(Duration::from_millis(ms.max(0.0) as u64));
        }
    }
    let value = h("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Some(Duration::from_millis((secs.max(0.0) * 1000.0) as u64));
    }
    let when =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let delta = when - time::OffsetDateTime::now_utc();
    Some(Duration::from_millis(
        delta.whole_milliseconds().max(0) as u64
    ))
}

fn clone_request(r: &Request) -> Request {
    let mut b = http::Request::builder()
        .method(r.method().clone())
        .uri(r.uri().clone());
    for (k, v) in r.headers() {
        b = b.header(k, v);
    }
    b.body(r.body().clone())
        .expect("a copy of a valid request is valid")
}

/// A form POST.
pub fn form_post(url: &str, form: &[(&str, &str)]) -> Result<Request, Error> {
    let body = serde_urlencoded::to_string(form).map_err(|e| Error::Config(e.to_string()))?;
    http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .header("client-request-id", uuid::Uuid::new_v4().to_string())
        .header("return-client-request-id", "true")
        .body(body.into_bytes())
        .map_err(|e| Error::Config(format!("bad URL {url:?}: {e}")))
}

/// A GET.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Request, Error> {
    let mut b = http::Request::builder()
        .method("GET")
        .uri(url)
        .header("accept", "application/json");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Vec::new())
        .map_err(|e| Error::Config(format!("bad URL {url:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A scripted answer: a status with headers, or a transport failure.
    type Answer = Result<(u16, Vec<(&'static str, &'static str)>), String>;

    struct Scripted {
        answers: Mutex<Vec<Answer>>,
        calls: Mutex<u32>,
    }

    impl HttpClient for Scripted {
        fn send(&self, _: Request) -> BoxFuture<'_, Result<Response, String>> {
            *self.calls.lock().unwrap() += 1;
            let next = self.answers.lock().unwrap().remove(0);
            Box::pin(async move {
                let (status, headers) = next?;
                let mut b = http::Response::builder().status(status);
                for (k, v) in headers {
                    b = b.header(k, v);
                }
                Ok(b.body(b"{}".to_vec()).unwrap())
            })
        }
    }

    fn pipeline(answers: Vec<Answer>) -> (Pipeline, Arc<Scripted>) {
        let s = Arc::new(Scripted {
            answers: Mutex::new(answers),
            calls: Mutex::new(0),
        });
        let retry = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(50),
        };
        (Pipeline::new(s.clone(), retry), s)
    }

    #[tokio::test]
    async fn retries_429_5xx_and_connection_errors_then_succeeds() {
        let (p, s) = pipeline(vec![
            Ok((429, vec![("retry-after", "0")])),
            Err("refused".into()),
            Ok((503, vec![])),
            Ok((200, vec![])),
        ]);
        let resp = p
            .send(get("https://x.example/", &[]).unwrap(), "test")
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(*s.calls.lock().unwrap(), 4);
    }

    #[tokio::test]
    async fn other_4xx_are_final_and_retries_are_bounded() {
        let (p, s) = pipeline(vec![Ok((400, vec![])), Ok((200, vec![]))]);
        assert_eq!(
            p.send(get("https://x.example/", &[]).unwrap(), "t")
                .await
                .unwrap()
                .status(),
            400
        );
        assert_eq!(*s.calls.lock().unwrap(), 1);
        let (p, s) = pipeline(vec![
            Ok((503, vec![])),
            Ok((503, vec![])),
            Ok((503, vec![])),
            Ok((503, vec![])),
            Ok((200, vec![])),
        ]);
        assert_eq!(
            p.send(get("https://x.example/", &[]).unwrap(), "t")
                .await
                .unwrap()
                .status(),
            503
        );
        assert_eq!(*s.calls.lock().unwrap(), 4);
    }

    /// Finding: every response body read is capped. A token endpoint that streams an
    /// endless chunked body gets `ResponseTooLarge` after about a MiB, not an
    /// out-of-memory: the server sees the client hang up long before its 64 MiB.
    #[tokio::test]
    async fn oversized_token_response_refused() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

        const SERVER_MAX: usize = 64 << 20;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let written = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (w, c) = (written.clone(), connections.clone());
        let server = tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                c.fetch_add(1, Ordering::SeqCst);
                let w = w.clone();
                tokio::spawn(async move {
                    // The request's head and its small form body.
                    let mut buf = vec![0u8; 16 * 1024];
                    let _ = sock.read(&mut buf).await;
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                transfer-encoding: chunked\r\n\r\n";
                    if sock.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let data = vec![b' '; 64 * 1024];
                    let chunk =
                        [format!("{:x}\r\n", data.len()).as_bytes(), &data, b"\r\n"].concat();
                    while w.load(Ordering::SeqCst) < SERVER_MAX {
                        if sock.write_all(&chunk).await.is_err() {
                            return;
                        }
                        w.fetch_add(data.len(), Ordering::SeqCst);
                    }
                });
            }
        });
        let pipeline = Pipeline::new(
            Arc::new(ReqwestClient::new(None).unwrap()),
            RetryPolicy {
                max_retries: 3,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(10),
            },
        );
        let request = form_post(
            &format!("http://{addr}/contoso/oauth2/v2.0/token"),
            &[("grant_type", "client_credentials")],
        )
        .unwrap();
        let outcome = tokio::time::timeout(
            Duration::from_secs(60),
            pipeline.send(request, "token request"),
        )
        .await
        .expect("the client stops early");
        match outcome {
            Err(Error::ResponseTooLarge { context, limit }) => {
                assert_eq!(
                    (context.as_str(), limit),
                    ("token request", MAX_RESPONSE_BYTES)
                );
            }
            other => panic!(
                "expected ResponseTooLarge, got {:?}",
                other.map(|r| r.status())
            ),
        }
        // The server stops writing once the client hangs up (socket buffers hold a few
        // MiB at most); the body was not read to its end, and not asked for again.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut last = usize::MAX;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = written.load(Ordering::SeqCst);
            if now == last {
                break;
            }
            last = now;
        }
        assert!(last < 16 << 20, "the server wrote {last} bytes");
        assert_eq!(connections.load(Ordering::SeqCst), 1, "not retried");
        server.abort();
    }

    #[test]
    fn server_delays_are_read() {
        let r = |k: &'static str, v: &'static str| {
            http::Response::builder()
                .status(429)
                .header(k, v)
                .body(Vec::new())
                .unwrap()
        };
        assert_eq!(
            server_delay(&r("retry-after", "3")),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            server_delay(&r("x-ms-retry-after-ms", "250")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            server_delay(&r("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(server_delay(&r("retry-after", "soon")), None);
    }
}
