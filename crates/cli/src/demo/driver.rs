//! The demo's own scripted client for the emulator it starts: the emulator in a
//! temporary directory, its admin API (request counters), and a small browser that signs
//! a user in on the emulator's pages (sign-in, MFA, consent, device code). Unlike the
//! test kit's harness, every failure here is an `Err` with a sentence, never a panic:
//! a step that cannot go on is a failed step.

use std::collections::BTreeMap;
use std::path::PathBuf;

use entra_emulator::{Emulator, Options, Ready};
use entra_identity::http::{HttpClient as _, ReqwestClient, form_post};
use serde_json::Value;

/// How many pages (MFA, consent) a sign-in may go through before giving up.
const MAX_SIGN_IN_PAGES: usize = 5;

/// An emulator on a loopback port with its state in a temporary directory that
/// [`DemoEmulator::stop`] removes. Tokens live 3600 seconds; device codes are polled
/// every second (not Entra's usual 5), so the device-code step does not wait long.
pub(crate) struct DemoEmulator {
    /// What the emulator announced.
    ready: Ready,
    /// `None` once stopped.
    emulator: Option<Emulator>,
    dir: PathBuf,
    http: ReqwestClient,
}

impl DemoEmulator {
    /// Starts the emulator with the development directory.
    pub(crate) async fn start() -> Result<Self, String> {
        let base = std::env::temp_dir().join(format!("entra-demo-{}", unique()));
        let result = Self::start_in(&base).await;
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&base);
        }
        result
    }

    async fn start_in(base: &std::path::Path) -> Result<Self, String> {
        std::fs::create_dir_all(base).map_err(|e| format!("{}: {e}", base.display()))?;
        let mut directory =
            entra_emulator::load_directory(None, base).map_err(|e| e.to_string())?;
        directory.settings.device_code_interval_seconds = 1;
        let file = base.join("directory.toml");
        std::fs::write(&file, directory.to_toml())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let emulator = Emulator::start(Options {
            state_dir: base.join("state"),
            port: 0,
            config: Some(file),
            token_lifetime: Some(3600),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let ca = PathBuf::from(&emulator.ready.ca_file);
        let http = ReqwestClient::new(Some(&ca)).map_err(|e| e.to_string())?;
        Ok(Self {
            ready: emulator.ready.clone(),
            emulator: Some(emulator),
            dir: base.to_path_buf(),
            http,
        })
    }

    /// What the emulator announced (authority, CA file, admin token, ...).
    pub(crate) fn ready(&self) -> &Ready {
        &self.ready
    }

    /// `path` (starting with `/`) on the emulator.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.ready().authority)
    }

    /// One of the emulator's request counters (`GET /admin/counters`), 0 when it has
    /// not been counted yet.
    pub(crate) async fn counter(&self, name: &str) -> Result<u64, String> {
        let request = http::Request::builder()
            .uri(self.url("/admin/counters"))
            .header(
                "authorization",
                format!("Bearer {}", self.ready().admin_token),
            )
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        let response = self.http.send(request).await?;
        if !response.status().is_success() {
            return Err(format!(
                "the admin API answered HTTP {} for the counters",
                response.status().as_u16()
            ));
        }
        let counters: Value = serde_json::from_slice(response.body())
            .map_err(|e| format!("the admin API's counters are not JSON: {e}"))?;
        Ok(counters[name].as_u64().unwrap_or(0))
    }

    /// Shuts the emulator down and removes its directory.
    pub(crate) async fn stop(mut self) {
        if let Some(e) = self.emulator.take() {
            e.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for DemoEmulator {
    /// A demo that ends early still removes its directory (the emulator's server tasks
    /// end with the demo's runtime).
    fn drop(&mut self) {
        drop(self.emulator.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A name no other run uses at the same time.
fn unique() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}

/// A page as the browser saw it.
pub(crate) struct Page {
    pub status: u16,
    /// The `Location` of a redirect.
    pub location: Option<String>,
    pub text: String,
}

/// A tiny browser: carries cookies and reads the hidden fields of the emulator's pages.
pub(crate) struct Browser<'a> {
    emulator: &'a DemoEmulator,
    cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    /// A browser with an empty cookie jar.
    pub(crate) fn new(emulator: &'a DemoEmulator) -> Self {
        Self {
            emulator,
            cookies: BTreeMap::new(),
        }
    }

    /// `GET url` (a full URL) with the cookies; keeps the cookies the answer sets.
    pub(crate) async fn get(&mut self, url: &str) -> Result<Page, String> {
        let request = http::Request::builder()
            .uri(url)
            .header("cookie", self.cookie_header())
            .body(Vec::new())
            .map_err(|e| format!("cannot build a request for {url}: {e}"))?;
        self.send(request).await
    }

    /// Posts `form` to `path` on the emulator with the cookies.
    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Result<Page, String> {
        let mut request = form_post(&self.emulator.url(path), form)
            .map_err(|e| format!("cannot build a request for {path}: {e}"))?;
        let cookie = http::HeaderValue::from_str(&self.cookie_header())
            .map_err(|e| format!("cannot send the cookies to {path}: {e}"))?;
        request.headers_mut().insert(http::header::COOKIE, cookie);
        self.send(request).await
    }

    async fn send(&mut self, request: http::Request<Vec<u8>>) -> Result<Page, String> {
        let path = request.uri().path().to_string();
        let response = self
            .emulator
            .http
            .send(request)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        for v in response.headers().get_all("set-cookie") {
            let Ok(v) = v.to_str() else { continue };
            let pair = v.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.into(), v.into());
                }
            }
        }
        Ok(Page {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_string),
            text: String::from_utf8_lossy(response.body()).into_owned(),
        })
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The value of the hidden input `name` in `html`.
fn field(html: &str, name: &str) -> Result<String, String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .ok_or_else(|| format!("the emulator's page has no {name} field"))?
        + marker.len();
    Ok(html[start..].split('"').next().unwrap_or("").to_string())
}

/// The decoded query parameter `name` of `url`.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k)? == name).then(|| decode(v)).flatten()
    })
}

/// Percent-decoding (and `+` as a space), `None` for a malformed escape or non-UTF-8.
fn decode(s: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// Answers the sign-in page `page` with `user`'s name and password; returns the next page.
async fn submit_password(
    b: &mut Browser<'_>,
    page: &Page,
    user: &str,
    password: &str,
) -> Result<Page, String> {
    b.post(
        "/login",
        &[
            ("flow", &field(&page.text, "flow")?),
            ("csrf", &field(&page.text, "csrf")?),
            ("login", user),
            ("passwd", password),
        ],
    )
    .await
}

/// Opens `authorize_url`, signs in as `user`, passes MFA and accepts consent (if
/// shown); returns the URL the emulator redirects the browser to (the app's, with the
/// code).
pub(crate) async fn sign_in(
    b: &mut Browser<'_>,
    authorize_url: &str,
    user: &str,
    password: &str,
) -> Result<String, String> {
    let page = b.get(authorize_url).await?;
    let mut page = submit_password(b, &page, user, password).await?;
    for _ in 0..MAX_SIGN_IN_PAGES {
        if page.status == 302 {
            return page
                .location
                .ok_or_else(|| "the emulator redirected without a Location".to_string());
        }
        let (path, extra) = if page.text.contains("id=\"approve\"") {
            ("/mfa", None)
        } else if page.text.contains("id=\"accept\"") {
            ("/consent", Some(("action", "accept")))
        } else {
            return Err(format!(
                "unexpected sign-in page (HTTP {}): {}",
                page.status,
                first_line(&page.text)
            ));
        };
        let (flow, csrf) = (field(&page.text, "flow")?, field(&page.text, "csrf")?);
        let mut form = vec![("flow", flow.as_str()), ("csrf", csrf.as_str())];
        form.extend(extra);
        page = b.post(path, &form).await?;
    }
    Err(format!(
        "the sign-in did not finish within {MAX_SIGN_IN_PAGES} pages"
    ))
}

/// Enters `user_code` on the device-code page, signs in as `user` and accepts; returns
/// the final page.
pub(crate) async fn enter_device_code(
    b: &mut Browser<'_>,
    user_code: &str,
    user: &str,
    password: &str,
) -> Result<String, String> {
    let url = b.emulator.url("/devicelogin");
    let page = b.get(&url).await?;
    let page = b
        .post(
            "/devicelogin",
            &[
                ("flow", ""),
                ("csrf", &field(&page.text, "csrf")?),
                ("otc", user_code),
            ],
        )
        .await?;
    let page = submit_password(b, &page, user, password).await?;
    let done = b
        .post(
            "/device/confirm",
            &[
                ("flow", &field(&page.text, "flow")?),
                ("csrf", &field(&page.text, "csrf")?),
                ("action", "accept"),
            ],
        )
        .await?;
    Ok(done.text)
}

/// The first line of a page, for an error message.
fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_queries_round_trip() {
        let form = "a%20b=x%26y%3Dz%2F%C3%A9&flow=";
        let url = format!("http://localhost:1/?{form}&code=0.A%2Bb");
        assert_eq!(query_param(&url, "a b").as_deref(), Some("x&y=z/é"));
        assert_eq!(query_param(&url, "flow").as_deref(), Some(""));
        assert_eq!(query_param(&url, "code").as_deref(), Some("0.A+b"));
        assert_eq!(query_param(&url, "none"), None);
        assert_eq!(query_param("http://x/?bad=%zz", "bad"), None);
        assert_eq!(query_param("http://x/?bad=%", "bad"), None);
    }

    #[test]
    fn fields_are_read_or_named_missing() {
        let page = r#"<input type="hidden" name="csrf" value="abc">"#;
        assert_eq!(field(page, "csrf").unwrap(), "abc");
        assert!(field(page, "flow").unwrap_err().contains("flow"));
    }
}
