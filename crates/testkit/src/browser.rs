//! [`Browser`]: plays the user's browser on the emulator's sign-in, MFA, consent and
//! device-code pages.

use std::collections::BTreeMap;

use crate::Harness;

/// A tiny browser: carries cookies and reads the hidden fields of the emulator's pages.
pub struct Browser<'a> {
    harness: &'a Harness,
    cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    /// A browser with an empty cookie jar.
    pub fn new(harness: &'a Harness) -> Self {
        Self {
            harness,
            cookies: BTreeMap::new(),
        }
    }

    /// The emulator this browser talks to.
    pub fn harness(&self) -> &'a Harness {
        self.harness
    }

    fn take_cookies(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all("set-cookie") {
            let (kv, _) = v.to_str().unwrap().split_once(';').unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// `GET url` (a full URL) with the cookies; keeps the cookies the answer sets.
    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let resp = self
            .harness
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.take_cookies(&resp);
        resp
    }

    /// Posts `form` to `path` on the emulator with the cookies.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let resp = self
            .harness
            .http
            .post(self.harness.url(path))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.take_cookies(&resp);
        resp
    }
}

/// The value of the hidden input `name` in `html`; panics with the page if missing.
pub fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page: {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// The decoded query parameter `name` of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Opens `authorize_url`, signs in as `user`, passes MFA and answers consent (if shown)
/// with `consent` (`accept` or `cancel`); returns the redirect URL.
pub async fn sign_in(
    b: &mut Browser<'_>,
    authorize_url: &str,
    user: &str,
    password: &str,
    consent: &str,
) -> String {
    let page = b.get(authorize_url).await.text().await.unwrap();
    let mut resp = b
        .post(
            "/login",
            &[
                ("flow", &field(&page, "flow")),
                ("csrf", &field(&page, "csrf")),
                ("login", user),
                ("passwd", password),
            ],
        )
        .await;
    loop {
        if resp.status() == 302 {
            return resp.headers()["location"].to_str().unwrap().to_string();
        }
        let page = resp.text().await.unwrap();
        let (path, extra) = if page.contains("id=\"approve\"") {
            ("/mfa", None)
        } else if page.contains("id=\"accept\"") {
            ("/consent", Some(("action", consent)))
        } else {
            panic!("unexpected page: {page}");
        };
        let (flow, csrf) = (field(&page, "flow"), field(&page, "csrf"));
        let mut form = vec![("flow", flow.as_str()), ("csrf", csrf.as_str())];
        form.extend(extra);
        resp = b.post(path, &form).await;
    }
}

/// Enters `user_code` on the device-code page, signs in as `user` and answers the
/// confirmation with `action` (`accept` or `cancel`); returns the final page.
pub async fn enter_device_code(
    b: &mut Browser<'_>,
    user_code: &str,
    user: &str,
    password: &str,
    action: &str,
) -> String {
    let url = b.harness().url("/devicelogin");
    let page = b.get(&url).await.text().await.unwrap();
    let page = b
        .post(
            "/devicelogin",
            &[
                ("flow", ""),
                ("csrf", &field(&page, "csrf")),
                ("otc", user_code),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    let page = b
        .post(
            "/login",
            &[
                ("flow", &field(&page, "flow")),
                ("csrf", &field(&page, "csrf")),
                ("login", user),
                ("passwd", password),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    b.post(
        "/device/confirm",
        &[
            ("flow", &field(&page, "flow")),
            ("csrf", &field(&page, "csrf")),
            ("action", action),
        ],
    )
    .await
    .text()
    .await
    .unwrap()
}
