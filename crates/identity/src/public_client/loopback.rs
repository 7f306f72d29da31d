//! The interactive sign-in: authorization code with PKCE (S256) through a one-shot
//! loopback listener on `127.0.0.1` (random port, redirect `http://127.0.0.1:PORT`, the
//! IP literal RFC 8252 §7.3 and Entra recommend: `localhost` may resolve elsewhere, or
//! to `::1` where nothing listens). The app registration needs `http://127.0.0.1` as a
//! redirect URI (Entra ignores the port of a loopback one).
//!
//! - `state` and `nonce` are random; a redirect with another `state` (forged by a page
//!   or left from an earlier sign-in) is answered 400 and ignored, and the listener keeps
//!   waiting for the right one until the timeout; the ID token must carry the `nonce`.
//! - The listener answers only `GET /` with `code` or `error`; anything else (favicon,
//!   stray requests) gets a 404 and is ignored. A redirect whose `Host` is not
//!   `127.0.0.1`, `localhost` or `[::1]` (with this port or none) gets a 421 and is
//!   ignored too: a web page that rebinds its own name to 127.0.0.1 sends its own name.
//!   Reads are bounded in size and time.
//! - It stops at the first redirect or at the timeout, whichever comes first; the
//!   browser is then shown a small page: success, or the error with its AADSTS code.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::client::{PublicClient, SignIn, check_scopes, user_scopes};
use super::interactive::{InteractiveOptions, RedirectHost};
use crate::error::{EntraErrorResponse, Error};
use crate::secret::Secret;
use crate::token::TokenRequest;
use crate::token_endpoint::{TokenForm, grant, merged_claims};

/// Largest request head the listener reads.
const MAX_HEAD: usize = 8 * 1024;
/// How long one connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

impl PublicClient {
    /// Signs a user in through the browser and returns the account and a token for
    /// `request`. The sign-in URL goes to `options.on_url` and, when
    /// `options.open_browser`, to the system browser.
    // Over 80 lines: the authorization-code sequence (URL with PKCE, state and nonce,
    // listener, redemption) reads top to bottom with its secrets in one scope.
    pub async fn sign_in_interactive(
        &self,
        request: &TokenRequest,
        options: &InteractiveOptions,
    ) -> Result<SignIn, Error> {
        check_scopes(request)?;
        let tenant = self
            .authorities
            .tenant_for(request.tenant.as_deref(), None)?;
        let metadata = self.authorities.metadata(&tenant, &self.pipeline).await?;
        let (authorize, token_endpoint) =
            (metadata.authorization_endpoint, metadata.token_endpoint);
        let listener = Loopback::bind().await?;
        let redirect_uri = listener.redirect_uri(options.redirect_host);
        let verifier = Secret::new(random_b64(32));
        let challenge = entra_jose::b64url(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.expose().as_bytes(),
        ));
        let state = random_b64(16);
        let nonce = random_b64(16);
        let scope = user_scopes(&request.scopes);
        let claims = merged_claims(request);
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", &self.client_id),
            ("response_type", "code"),
            ("redirect_uri", &redirect_uri),
            ("scope", &scope),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("response_mode", "query"),
            ("client_info", "1"),
        ];
        if let Some(p) = &options.prompt {
            params.push(("prompt", p));
        }
        if let Some(h) = &options.login_hint {
            params.push(("login_hint", h));
        }
        if let Some(c) = &claims {
            params.push(("claims", c));
        }
        let query =
            serde_urlencoded::to_string(&params).map_err(|e| Error::Config(e.to_string()))?;
        let sep = if authorize.contains('?') { '&' } else { '?' };
        let url = format!("{authorize}{sep}{query}");
        show_sign_in_url(&url, options)?;
        let (pending, answer) = listener.wait(&state, options.timeout).await?;
        let outcome = async {
            if let Some(error) = answer.get("error") {
                return Err(redirect_error(
                    error,
                    answer.get("error_description").unwrap_or(""),
                ));
            }
            let code = answer.code.as_ref().ok_or_else(|| Error::Response {
                endpoint: "the sign-in redirect".into(),
                message: "it has neither a code nor an error".into(),
            })?;
            let resp = TokenForm::new(grant::AUTHORIZATION_CODE, &self.client_id)
                .field("code", code.expose())
                .field("redirect_uri", &redirect_uri)
                .field("code_verifier", verifier.expose())
                .field("scope", &scope)
                .field("client_info", "1")
                .claims(claims.as_deref())
                .send(
                    &self.pipeline,
                    &token_endpoint,
                    "authorization code redemption",
                )
                .await?;
            let (account, token) = self
                .accept_user_tokens(
                    &token_endpoint,
                    resp.status().as_u16(),
                    resp.body(),
                    Some(&nonce),
                    None,
                    request,
                )
                .await?;
            self.remember(request, &account, &token);
            Ok(SignIn { account, token })
        }
        .await;
        pending.finish(&outcome).await;
        outcome
    }
}

/// The parameters of the redirect; the code is a [`Secret`].
struct Answer {
    code: Option<Secret>,
    other: Vec<(String, String)>,
}

impl Answer {
    fn get(&self, name: &str) -> Option<&str> {
        self.other
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The listener, bound and waiting.
struct Loopback {
    listener: TcpListener,
    port: u16,
}

/// The browser's connection, held open until the outcome is known.
struct Pending {
    stream: TcpStream,
}

impl Loopback {
    async fn bind() -> Result<Self, Error> {
        let listener =
            TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| Error::Unavailable {
                    credential: "InteractiveBrowserCredential",
                    reason: format!("cannot listen on 127.0.0.1 for the sign-in redirect: {e}"),
                })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Config(e.to_string()))?
            .port();
        Ok(Self { listener, port })
    }

    fn redirect_uri(&self, host: RedirectHost) -> String {
        match host {
            RedirectHost::Localhost => format!("http://localhost:{}", self.port),
            _ => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// Waits for the redirect carrying `state` (ignoring every other request, and
    /// redirects with another state) until `timeout`; the listener is closed when this
    /// returns, whatever the outcome.
    async fn wait(self, state: &str, timeout: Duration) -> Result<(Pending, Answer), Error> {
        let state: std::sync::Arc<str> = state.into();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut readers = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(Error::Transport {
                        context: "interactive sign-in".into(),
                        message: format!(
                            "no answer from the browser within {} s; stopped listening on port {}",
                            timeout.as_secs(),
                            self.port
                        ),
                    });
                }
                accepted = self.listener.accept() => {
                    if let Ok((stream, peer)) = accepted && peer.ip().is_loopback() {
                        readers.spawn(read_redirect(stream, self.port, state.clone()));
                    }
                }
                Some(done) = readers.join_next(), if !readers.is_empty() => {
                    if let Ok(Some((stream, answer))) = done {
                        return Ok((Pending { stream }, answer));
                    }
                }
            }
        }
    }
}

/// Reads one request. Returns the redirect if this is it (it names this listener and
/// its `state` is `state`); otherwise answers the request itself (400, 404, 405, 421,
/// 431) and returns `None`.
async fn read_redirect(
    mut stream: TcpStream,
    port: u16,
    state: std::sync::Arc<str>,
) -> Option<(TcpStream, Answer)> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(h)) => h,
        Ok(Err(status)) => {
            respond(&mut stream, status, "text/plain", "bad request").await;
            return None;
        }
        Err(_) => return None,
    };
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/" {
        respond(&mut stream, "404 Not Found", "text/plain", "not found").await;
        return None;
    }
    if method != "GET" {
        respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "method not allowed",
        )
        .await;
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let mut code = None;
    let mut other = Vec::new();
    for (k, v) in pairs {
        if k == "code" {
            code = Some(Secret::new(v));
        } else {
            other.push((k, v));
        }
    }
    let answer = Answer { code, other };
    if answer.code.is_none() && answer.get("error").is_none() {
        respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            "not a sign-in response",
        )
        .await;
        return None;
    }
    if !names_listener(&head, port) {
        respond(
            &mut stream,
            "421 Misdirected Request",
            "text/plain",
            "this listener answers only http://127.0.0.1:PORT and http://localhost:PORT",
        )
        .await;
        return None;
    }
    if answer.get("state") != Some(&*state) {
        // A forged redirect (any page can make the browser request this port) or one
        // from an earlier sign-in: not this sign-in's answer, so it neither ends the
        // sign-in nor gets a token requested.
        tracing::warn!("a sign-in redirect with another state was ignored");
        respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            "this is not the answer to the sign-in in progress (its state does not match); it was ignored",
        )
        .await;
        return None;
    }
    Some((stream, answer))
}

/// Whether the request head has exactly one `Host`, naming this listener on loopback.
fn names_listener(head: &str, port: u16) -> bool {
    let mut hosts = head.lines().skip(1).filter_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("host")
            .then(|| value.trim())
    });
    match (hosts.next(), hosts.next()) {
        (Some(h), None) => {
            let name = match h.rsplit_once(':') {
                Some((name, p)) if !name.ends_with(':') && p == port.to_string() => name,
                _ => h,
            };
            ["127.0.0.1", "localhost", "[::1]"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n))
        }
        _ => false,
    }
}

/// The request head, up to [`MAX_HEAD`] bytes (`Err` holds the status to answer).
async fn read_head(stream: &mut TcpStream) -> Result<String, &'static str> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| "400 Bad Request")?;
        if n == 0 {
            return Err("400 Bad Request");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return String::from_utf8(buf).map_err(|_| "400 Bad Request");
        }
        if buf.len() > MAX_HEAD {
            return Err("431 Request Header Fields Too Large");
        }
    }
}

async fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream.write_all(resp.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

impl Pending {
    /// Shows the browser how the sign-in ended.
    async fn finish<T>(mut self, outcome: &Result<T, Error>) {
        let (title, text) = match outcome {
            Ok(_) => (
                "Signed in",
                "You have signed in. You can close this window and return to the application."
                    .to_string(),
            ),
            Err(Error::Entra(e)) => {
                let first = e
                    .description
                    .split(" Trace ID:")
                    .next()
                    .unwrap_or("")
                    .trim();
                (
                    "Sign-in failed",
                    if first.is_empty() {
                        e.error.clone()
                    } else {
                        format!("{}: {first}", e.error)
                    },
                )
            }
            Err(e) => ("Sign-in failed", e.to_string()),
        };
        respond(&mut self.stream, "200 OK", "text/html", &page(title, &text)).await;
    }
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}h1{{font-size:1.4rem}}</style></head>\
<body><h1 id=\"title\">{t}</h1><p id=\"message\">{m}</p></body></html>",
        t = html_escape(title),
        m = html_escape(text)
    )
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Opens `url` with `$BROWSER` (a list separated like `PATH`; `%s` stands for the URL)
/// or the platform's opener. The URL is passed as an argument, never through a shell.
fn open_browser(url: &str) -> Result<(), String> {
    let sep = if cfg!(windows) { ';' } else { ':' };
    if let Ok(list) = std::env::var("BROWSER") {
        for cmd in list.split(sep).filter(|c| !c.trim().is_empty()) {
            let mut words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
            if words.iter().any(|w| w.contains("%s")) {
                for w in &mut words {
                    *w = w.replace("%s", url);
                }
            } else {
                words.push(url.to_string());
            }
            let mut command = std::process::Command::new(&words[0]);
            command.args(&words[1..]);
            if spawn(command).is_ok() {
                return Ok(());
            }
        }
    }
    spawn(platform_opener(url)).map_err(|e| e.to_string())
}

#[cfg(target_os = "macos")]
fn platform_opener(url: &str) -> std::process::Command {
    let mut c = std::process::Command::new("open");
    c.arg(url);
    c
}

#[cfg(windows)]
fn platform_opener(url: &str) -> std::process::Command {
    use std::os::windows::process::CommandExt;
    // cmd.exe treats `&` as a command separator: quote the URL as one raw argument.
    let mut c = std::process::Command::new("cmd");
    c.args(["/c", "start", "\"\""])
        .raw_arg(format!("\"{url}\""));
    c
}

#[cfg(not(any(target_os = "macos", windows)))]
fn platform_opener(url: &str) -> std::process::Command {
    let mut c = std::process::Command::new("xdg-open");
    c.arg(url);
    c
}

fn spawn(mut command: std::process::Command) -> std::io::Result<()> {
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    // Reap the opener when it exits (it usually hands off to the browser and returns).
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Hands the sign-in URL to `options.on_url` and, when `options.open_browser`, to the
/// system browser; a browser that cannot be opened is an error only when no callback
/// got the URL.
fn show_sign_in_url(url: &str, options: &InteractiveOptions) -> Result<(), Error> {
    if let Some(cb) = &options.on_url {
        cb(url);
    }
    if options.open_browser
        && let Err(why) = open_browser(url)
    {
        if options.on_url.is_none() {
            return Err(Error::Unavailable {
                credential: "InteractiveBrowserCredential",
                reason: format!("could not open a browser: {why}"),
            });
        }
        tracing::warn!(%why, "could not open a browser; the sign-in URL went to the callback");
    }
    Ok(())
}

/// Base64url of `n` random bytes.
fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut b)
        .expect("system RNG");
    entra_jose::b64url(b)
}

/// `error=` from a redirect as Entra's error (codes read from `AADSTS<n>:`).
pub(super) fn redirect_error(error: &str, description: &str) -> Error {
    let codes = description
        .split("AADSTS")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    Error::Entra(Box::new(EntraErrorResponse {
        error: error.to_string(),
        description: description.to_string(),
        codes,
        // The authorize endpoint answers with a 302 to the redirect URI.
        status: 302,
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn send(port: u16, raw: &[u8]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(raw).await.unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        out
    }

    #[tokio::test]
    async fn only_the_redirect_is_taken_and_reads_are_bounded() {
        let l = Loopback::bind().await.unwrap();
        let port = l.port;
        let waiter = tokio::spawn(l.wait("s", Duration::from_secs(20)));
        // A silent pre-connection must not block the others.
        let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert!(
            send(port, b"GET /favicon.ico HTTP/1.1\r\n\r\n")
                .await
                .starts_with("HTTP/1.1 404")
        );
        assert!(
            send(port, b"GET / HTTP/1.1\r\n\r\n")
                .await
                .starts_with("HTTP/1.1 404")
        );
        assert!(
            send(port, b"POST /?code=x HTTP/1.1\r\n\r\n")
                .await
                .starts_with("HTTP/1.1 405")
        );
        let mut big = b"GET /?code=x HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert!(send(port, &big).await.starts_with("HTTP/1.1 431"));
        let browser = tokio::spawn(send(
            port,
            b"GET /?code=the-code&state=s HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ));
        let (pending, answer) = waiter.await.unwrap().unwrap();
        assert_eq!(answer.code.as_ref().unwrap().expose(), "the-code");
        assert_eq!(answer.get("state"), Some("s"));
        assert!(
            TcpStream::connect(("127.0.0.1", port)).await.is_err(),
            "one-shot: the port is closed once the redirect arrived"
        );
        let outcome: Result<(), Error> = Err(redirect_error(
            "access_denied",
            "AADSTS65004: <script>alert(1)</script>",
        ));
        pending.finish(&outcome).await;
        let page = browser.await.unwrap();
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(
            page.contains("AADSTS65004") && page.contains("&lt;script&gt;"),
            "{page}"
        );
        assert!(!page.contains("<script>") && !page.contains("the-code"));
    }

    #[tokio::test]
    async fn login_loopback_refuses_foreign_host() {
        let l = Loopback::bind().await.unwrap();
        let port = l.port;
        let waiter = tokio::spawn(l.wait("s", Duration::from_secs(20)));
        // A page that rebound attacker.example to 127.0.0.1 sends its own name; a
        // request without Host, with two, or with another port is no redirect either.
        for host in [
            format!("Host: attacker.example:{port}\r\n"),
            format!("Host: localhost:{}\r\n", port.wrapping_add(1)),
            String::new(),
            format!("Host: localhost:{port}\r\nHost: attacker.example\r\n"),
        ] {
            let raw = format!("GET /?code=stolen&state=s HTTP/1.1\r\n{host}\r\n");
            let answer = tokio::time::timeout(Duration::from_secs(5), send(port, raw.as_bytes()))
                .await
                .unwrap_or_else(|_| panic!("{host:?}: taken as the redirect"));
            assert!(answer.starts_with("HTTP/1.1 421"), "{host:?}: {answer}");
        }
        assert!(!waiter.is_finished(), "still waiting for the real redirect");
        let raw = format!("GET /?code=real&state=s HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n");
        let browser = tokio::spawn(async move { send(port, raw.as_bytes()).await });
        let (pending, answer) = waiter.await.unwrap().unwrap();
        assert_eq!(answer.code.as_ref().unwrap().expose(), "real");
        pending.finish(&Ok::<(), Error>(())).await;
        assert!(browser.await.unwrap().starts_with("HTTP/1.1 200"));
    }

    #[tokio::test]
    async fn times_out_and_closes_the_port() {
        let l = Loopback::bind().await.unwrap();
        let port = l.port;
        let err = match l.wait("s", Duration::from_millis(200)).await {
            Err(e) => e,
            Ok(_) => panic!("no redirect was sent"),
        };
        assert!(
            err.to_string().contains("no answer from the browser"),
            "{err}"
        );
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }

    #[tokio::test]
    async fn loopback_redirect_uses_127_0_0_1() {
        let l = Loopback::bind().await.unwrap();
        assert_eq!(
            l.redirect_uri(RedirectHost::default()),
            format!("http://127.0.0.1:{}", l.port)
        );
        assert_eq!(
            l.redirect_uri(RedirectHost::Localhost),
            format!("http://localhost:{}", l.port)
        );
        let local = l.listener.local_addr().unwrap();
        assert_eq!(local.ip(), std::net::Ipv4Addr::LOCALHOST);
    }

    /// Finding: a redirect whose `state` is not this sign-in's is answered 400 and
    /// ignored; the listener keeps waiting, and takes the right one after it.
    #[tokio::test]
    async fn loopback_ignores_state_mismatch() {
        let l = Loopback::bind().await.unwrap();
        let port = l.port;
        let waiter = tokio::spawn(l.wait("the-state", Duration::from_secs(20)));
        for forged in [
            "GET /?code=forged&state=other",
            "GET /?code=forged",
            "GET /?error=access_denied&state=the-stat",
        ] {
            let raw = format!("{forged} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
            let answer = send(port, raw.as_bytes()).await;
            assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
            assert!(answer.contains("state does not match"), "{answer}");
        }
        assert!(!waiter.is_finished(), "still waiting for the real redirect");
        let raw =
            format!("GET /?code=real&state=the-state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        let browser = tokio::spawn(async move { send(port, raw.as_bytes()).await });
        let (pending, answer) = waiter.await.unwrap().unwrap();
        assert_eq!(answer.code.as_ref().unwrap().expose(), "real");
        pending.finish(&Ok::<(), Error>(())).await;
        assert!(browser.await.unwrap().starts_with("HTTP/1.1 200"));

        // Only forged redirects until the timeout: the sign-in times out.
        let l = Loopback::bind().await.unwrap();
        let port = l.port;
        let waiter = tokio::spawn(l.wait("the-state", Duration::from_millis(500)));
        let raw = format!("GET /?code=forged&state=x HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n");
        let answer = send(port, raw.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let err = match waiter.await.unwrap() {
            Err(e) => e,
            Ok(_) => panic!("a forged redirect was taken"),
        };
        assert!(
            err.to_string().contains("no answer from the browser"),
            "{err}"
        );
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
