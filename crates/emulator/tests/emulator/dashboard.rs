//! The dashboard (`/dashboard`): getting in (admin token, one-time link), the session
//! cookie, origin and CSRF checks on its buttons, what it shows (decoded claims, never a
//! token or secret), and the sign-in page's development user picker.

use reqwest::StatusCode;

use crate::common::*;

/// A signed-in dashboard browser: the session cookie, and the origin it posts from.
struct Dash<'a> {
    env: &'a Env,
    cookie: String,
}

fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("entra_dashboard="))
}

impl<'a> Dash<'a> {
    async fn login(env: &'a Env) -> Dash<'a> {
        let resp = login(env, &env.admin, Some(&env.base)).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let set = session_cookie(&resp).expect("a session cookie");
        let cookie = set.split(';').next().unwrap().to_string();
        Dash { env, cookie }
    }

    async fn page(&self) -> String {
        let resp = self
            .env
            .http
            .get(self.env.url("/dashboard"))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    async fn post(&self, path: &str, origin: Option<&str>, form: &[(&str, &str)]) -> u16 {
        let mut req = self
            .env
            .http
            .post(self.env.url(path))
            .header("cookie", &self.cookie)
            .form(form);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send().await.unwrap().status().as_u16()
    }
}

async fn login(env: &Env, token: &str, origin: Option<&str>) -> reqwest::Response {
    let mut req = env
        .http
        .post(env.url("/dashboard/login"))
        .form(&[("token", token)]);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn the_dashboard_needs_the_admin_token_or_a_one_time_link() {
    let env = Env::start().await;
    // No session: the login page, locked down.
    let resp = env.http.get(env.url("/dashboard")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for part in [
        "default-src 'none'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    let page = resp.text().await.unwrap();
    assert!(page.contains("id=\"token\"") && !page.contains("Signing keys"));
    assert!(!page.contains("<script"), "no script anywhere");

    // A wrong token is refused, with no cookie.
    let resp = login(&env, "not-the-token", Some(&env.base)).await;
    assert_eq!(resp.status(), 401);
    assert!(session_cookie(&resp).is_none());
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("not this emulator&#39;s admin token")
    );
    // The right token without Origin (or from another origin) is refused too.
    assert_eq!(login(&env, &env.admin, None).await.status(), 403);
    assert_eq!(
        login(&env, &env.admin, Some("https://attacker.example"))
            .await
            .status(),
        403
    );
    // The right token from the dashboard's own origin: a session cookie.
    let resp = login(&env, &env.admin, Some(&env.base)).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/dashboard");
    let set = session_cookie(&resp).unwrap();
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/dashboard",
        "Max-Age=",
    ] {
        assert!(set.contains(attr), "{set}");
    }
    let dash = Dash::login(&env).await;
    assert!(dash.page().await.contains("Signing keys"));
    // A made-up session id is nobody's.
    let resp = env
        .http
        .get(env.url("/dashboard"))
        .header("cookie", "entra_dashboard=made-up")
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("id=\"token\""));

    // A one-time link works once.
    let link = env.emulator().dashboard_link();
    assert!(
        link.starts_with(&format!("{}/dashboard?once=", env.base)),
        "{link}"
    );
    let first = env.http.get(&link).send().await.unwrap();
    assert_eq!(first.status(), 303);
    assert!(session_cookie(&first).is_some());
    let again = env.http.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 401);
    assert!(session_cookie(&again).is_none());
    assert!(again.text().await.unwrap().contains("used already"));
    // The admin API makes links too.
    let made: Value = env
        .admin_post("/dashboard/link", Value::Null)
        .await
        .json()
        .await
        .unwrap();
    let link = made["url"].as_str().unwrap();
    assert_eq!(env.http.get(link).send().await.unwrap().status(), 303);

    // A rebinding page's Host is refused before anything else.
    let resp = env
        .http
        .get(env.url("/dashboard"))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    env.stop().await;
}

#[tokio::test]
async fn dashboard_buttons_need_the_own_origin_and_the_csrf_token() {
    let env = Env::start().await;
    let dash = Dash::login(&env).await;
    let page = dash.page().await;
    let csrf = field(&page, "csrf");
    let announce = [("csrf", csrf.as_str()), ("mode", "announce")];
    // No CSRF token, a wrong one, no Origin, a foreign Origin: refused, nothing rotated.
    let base = Some(env.base.as_str());
    assert_eq!(
        dash.post("/dashboard/keys/rotate", base, &[("mode", "announce")])
            .await,
        403
    );
    assert_eq!(
        dash.post(
            "/dashboard/keys/rotate",
            base,
            &[("csrf", "wrong"), ("mode", "announce")]
        )
        .await,
        403
    );
    assert_eq!(
        dash.post("/dashboard/keys/rotate", None, &announce).await,
        403
    );
    assert_eq!(
        dash.post(
            "/dashboard/keys/rotate",
            Some("https://attacker.example"),
            &announce
        )
        .await,
        403
    );
    assert_eq!(
        env.admin().get("/keys").await["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(env.counter("refused:dashboard").await >= 4);

    // From the dashboard itself: announced.
    assert_eq!(
        dash.post("/dashboard/keys/rotate", base, &announce).await,
        303
    );
    let keys = env.admin().get("/keys").await;
    assert_eq!(keys["keys"][0]["phase"], "announced");
    let page = dash.page().await;
    assert!(
        page.contains("id=\"flash\"") && page.contains("Announced key"),
        "{page}"
    );
    // The danger switch.
    let now = [("csrf", csrf.as_str()), ("mode", "danger_immediate")];
    assert_eq!(dash.post("/dashboard/keys/rotate", base, &now).await, 303);
    let keys = env.admin().get("/keys").await;
    assert_eq!(keys["keys"][0]["phase"], "signing");
    // Faults go through the admin API's checks.
    let fault = [
        ("csrf", csrf.as_str()),
        ("endpoint", "token"),
        ("status", "503"),
        ("count", "2"),
    ];
    assert_eq!(dash.post("/dashboard/faults", base, &fault).await, 303);
    assert_eq!(env.admin().get("/faults").await["token"]["count"], 2);
    let bad = [
        ("csrf", csrf.as_str()),
        ("endpoint", "token"),
        ("status", "200"),
        ("count", "1"),
    ];
    assert_eq!(dash.post("/dashboard/faults", base, &bad).await, 303);
    assert!(dash.page().await.contains("status must be 400-599"));
    assert_eq!(
        dash.post("/dashboard/faults/clear", base, &[("csrf", csrf.as_str())])
            .await,
        303
    );
    assert_eq!(env.admin().get("/faults").await, serde_json::json!({}));
    // Signing out ends the session on the server.
    assert_eq!(
        dash.post("/dashboard/logout", base, &[("csrf", csrf.as_str())])
            .await,
        303
    );
    assert_eq!(
        dash.post("/dashboard/faults/clear", base, &[("csrf", csrf.as_str())])
            .await,
        401
    );
    env.stop().await;
}

#[tokio::test]
async fn the_dashboard_shows_decoded_claims_never_tokens_or_secrets() {
    let env = Env::start().await;
    let body = env
        .token_ok(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DAEMON),
                ("client_secret", DAEMON_SECRET),
                ("scope", "api://contoso-api/.default"),
            ],
        )
        .await;
    let token = body["access_token"].as_str().unwrap().to_string();
    let user = env
        .token_ok(
            CONTOSO,
            &[
                ("grant_type", "password"),
                ("client_id", PUBLIC),
                ("username", ALICE),
                ("password", ALICE_PASSWORD),
                ("scope", "openid offline_access api://contoso-api/Data.Read"),
            ],
        )
        .await;
    let dash = Dash::login(&env).await;
    let page = dash.page().await;
    let claims = decode_unverified(&token).unwrap().claims;
    let aud = claims["aud"].as_str().unwrap();
    assert!(page.contains(aud), "the decoded aud is shown");
    assert!(
        page.contains(claims["uti"].as_str().unwrap()),
        "the token's claims are shown"
    );
    assert!(page.contains("Sign-in events") && page.contains(DAEMON));
    let signature = token.rsplit('.').next().unwrap();
    for secret in [
        token.as_str(),
        signature,
        DAEMON_SECRET,
        ALICE_PASSWORD,
        user["access_token"].as_str().unwrap(),
        user["id_token"].as_str().unwrap(),
        user["refresh_token"].as_str().unwrap(),
        &env.admin,
    ] {
        assert!(
            !page.contains(secret),
            "the page holds a secret or token: {secret:.12}..."
        );
    }
    // The directory is there: apps with their ids and URIs, users, grants.
    for text in [
        "api://contoso-api",
        "Data.Read",
        ALICE,
        "user consent",
        "contoso.onmicrosoft.com",
    ] {
        assert!(page.contains(text), "{text}");
    }
    env.stop().await;
}

fn picker_url(env: &Env) -> String {
    format!(
        "{}/{CONTOSO}/oauth2/v2.0/authorize?{}",
        env.base,
        serde_urlencoded::to_string([
            ("client_id", PUBLIC),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:53117"),
            ("scope", "openid api://contoso-api/Data.Read"),
            ("code_challenge", "x".repeat(43).as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap()
    )
}

#[tokio::test]
async fn the_dev_user_picker_signs_in_with_one_click_only_when_enabled() {
    let h = Harness::start_with(Options {
        dev_user_picker: Some(true),
        ..Default::default()
    })
    .await;
    let env = Env {
        base: h.ready().authority.clone(),
        admin: h.ready().admin_token.clone(),
        h,
    };
    let mut b = Browser::new(&env);
    let page = b.get(&picker_url(&env)).await.text().await.unwrap();
    assert!(page.contains("id=\"pick-alice\"") && page.contains("id=\"pick-bob\""));
    assert!(!page.contains(ALICE_PASSWORD) && !page.contains(BOB_PASSWORD));
    let form = [
        ("flow", field(&page, "flow")),
        ("csrf", field(&page, "csrf")),
        ("login", ALICE.to_string()),
        ("dev_pick", "1".to_string()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = b.post("/login", &form).await;
    let status = resp.status();
    let next = resp.text().await.unwrap_or_default();
    assert!(
        status == 302 || next.contains("id=\"accept\""),
        "signed in past the password: {status} {next}"
    );
    let events = env.admin().get("/events").await;
    assert!(events.to_string().contains("dev_user_picker"));
    env.stop().await;

    // Off (the default): no picker, and a hand-made dev_pick is a wrong password.
    let env = Env::start().await;
    let mut b = Browser::new(&env);
    let page = b.get(&picker_url(&env)).await.text().await.unwrap();
    assert!(!page.contains("dev-users"));
    let form = [
        ("flow", field(&page, "flow")),
        ("csrf", field(&page, "csrf")),
        ("login", ALICE.to_string()),
        ("dev_pick", "1".to_string()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = b.post("/login", &form).await.text().await.unwrap();
    assert!(page.contains("AADSTS50126"), "{page}");
    env.stop().await;
}
