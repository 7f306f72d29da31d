//! User flows against a real emulator: the interactive sign-in through the loopback
//! listener (reqwest plays the browser: it signs in on the emulator's pages, then follows
//! the redirect to the listener), silent refresh across scopes and tenants with rotation,
//! device code (approve, decline, expiry, polling interval) and on-behalf-of, with the
//! emulator's counters proving which requests were (not) sent.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{Emu, claims, no_leak};
use entra_identity::{
    DeviceCodeInfo, Error, InteractiveOptions, OnBehalfOfCredential, PublicClient, Secret, SignIn,
    TokenCredential, TokenRequest,
};
use entra_testkit::dev::{
    ALICE, ALICE_OID, API, PUBLIC_CLIENT as PUBLIC, TENANT, TENANT_ID as CONTOSO, WEB,
};
use entra_testkit::{Browser, query_param, sign_in};

impl Emu {
    fn public_client(&self) -> PublicClient {
        PublicClient::new(TENANT, PUBLIC, self.quick_options()).unwrap()
    }
}

/// Enters a device code as alice and approves (`accept`) or declines (`cancel`).
async fn enter_device_code(b: &mut Browser<'_>, user_code: &str, action: &str) -> String {
    entra_testkit::enter_device_code(b, user_code, ALICE, "alice-dev-password", action).await
}

// --- Helpers ----------------------------------------------------------------------------

/// Interactive options that hand the URL to the test instead of a browser.
fn no_browser(
    timeout: Duration,
) -> (
    InteractiveOptions,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let options = InteractiveOptions {
        timeout,
        open_browser: false,
        on_url: Some(Arc::new(move |url: &str| {
            let _ = tx.send(url.to_string());
        })),
        ..Default::default()
    };
    (options, rx)
}

/// Runs an interactive sign-in while the stand-in browser signs in as `user` and then
/// follows the redirect (after `tamper` rewrote it) to the loopback listener. Returns
/// the outcome and the page the listener showed.
async fn interactive(
    env: &Emu,
    client: &PublicClient,
    scopes: &[&str],
    user: (&str, &str),
    consent: &str,
    tamper: impl FnOnce(String) -> String,
) -> (Result<SignIn, Error>, String) {
    let (options, mut urls) = no_browser(Duration::from_secs(30));
    let request = TokenRequest::new(scopes.iter().copied());
    let browser = async {
        let url = urls.recv().await.unwrap();
        assert!(url.contains("code_challenge_method=S256") && url.contains("nonce="));
        assert!(
            url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
            "{url}"
        );
        let mut b = Browser::new(env);
        let location = sign_in(&mut b, &url, user.0, user.1, consent).await;
        assert!(location.starts_with("http://127.0.0.1:"), "{location}");
        let resp = b.get(&tamper(location)).await;
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        resp.text().await.unwrap()
    };
    tokio::join!(client.sign_in_interactive(&request, &options), browser)
}

// --- Interactive -------------------------------------------------------------------------

#[tokio::test]
async fn auth_code_pkce_then_silent_refresh_across_scopes_and_tenants() {
    let env = Emu::start().await;
    let mut options = env.quick_options();
    options.additionally_allowed_tenants = vec![CONTOSO.into()];
    let client = PublicClient::new(TENANT, PUBLIC, options).unwrap();
    let (outcome, page) = interactive(
        &env,
        &client,
        &["api://contoso-api/Data.Read"],
        (ALICE, "alice-dev-password"),
        "accept",
        |l| l,
    )
    .await;
    let signed_in = outcome.unwrap();
    assert!(page.contains("id=\"title\">Signed in<"), "{page}");
    let c = claims(&signed_in.token.token);
    assert_eq!(
        (
            c["aud"].as_str(),
            c["scp"].as_str(),
            c["azp"].as_str(),
            c["oid"].as_str()
        ),
        (Some(API), Some("Data.Read"), Some(PUBLIC), Some(ALICE_OID))
    );
    let account = signed_in.account.clone();
    assert_eq!(account.home_account_id, format!("{ALICE_OID}.{CONTOSO}"));
    assert_eq!(
        (account.username.as_str(), account.tenant_id.as_str()),
        (ALICE, CONTOSO)
    );
    assert_eq!(client.accounts().await.unwrap(), vec![account.clone()]);
    assert_eq!(env.counter("grant:authorization_code").await, 1);

    // The sign-in's token is cached: no request.
    let again = client
        .get_token(&TokenRequest::new(["api://contoso-api/Data.Read"]))
        .await
        .unwrap();
    assert_eq!(again.token, signed_in.token.token);
    assert_eq!(env.counter("grant:refresh_token").await, 0);

    // Another scope of another resource: exactly one refresh-token grant, then cached.
    let write = TokenRequest::new(["api://contoso-api/Data.Write"]);
    let w = client.get_token(&write).await.unwrap();
    assert_eq!(claims(&w.token)["scp"], "Data.Write");
    let w2 = client.get_token_silent(&account, &write).await.unwrap();
    assert_eq!(w2.token, w.token);
    assert_eq!(env.counter("grant:refresh_token").await, 1);

    // The emulator revokes the whole family when a used refresh token is replayed, so
    // these succeeding proves the rotated token was stored each time.
    let graph = client
        .get_token(&TokenRequest::new(["User.Read"]))
        .await
        .unwrap();
    assert_eq!(claims(&graph.token)["aud"], "https://graph.microsoft.com");
    let other_tenant = TokenRequest::new(["api://contoso-api/Data.Read"]).tenant(CONTOSO);
    let t = client.get_token(&other_tenant).await.unwrap();
    assert_eq!(claims(&t.token)["tid"], CONTOSO);
    assert_eq!(env.counter("grant:refresh_token").await, 3);
    let refused = client
        .get_token(
            &TokenRequest::new(["api://contoso-api/Data.Read"]).tenant("fabrikam.onmicrosoft.com"),
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Config(_)), "{refused}");

    // A claims challenge bypasses the cache and still works on the rotated token.
    client
        .get_token(
            &write
                .clone()
                .claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#),
        )
        .await
        .unwrap();
    assert_eq!(env.counter("grant:refresh_token").await, 4);

    // Without the account, interaction is required (typed), and no request is sent.
    client.remove_account(&account).await.unwrap();
    let e = client.get_token(&write).await.unwrap_err();
    assert!(
        e.needs_interaction() && matches!(e, Error::Unavailable { .. }),
        "{e}"
    );
    assert_eq!(env.counter("grant:refresh_token").await, 4);

    let shown = format!("{client:?} {signed_in:?} {w:?} {e:?} {e}");
    no_leak(
        &shown,
        &[
            signed_in.token.token.expose(),
            w.token.expose(),
            graph.token.expose(),
        ],
    );
    env.stop().await;
}

#[tokio::test]
async fn forged_state_is_ignored_without_a_token_request() {
    let env = Emu::start().await;
    let client = env.public_client();
    let (options, mut urls) = no_browser(Duration::from_secs(30));
    let request = TokenRequest::new(["api://contoso-api/Data.Read"]);
    let browser = async {
        let url = urls.recv().await.unwrap();
        let mut b = Browser::new(&env);
        let location = sign_in(&mut b, &url, ALICE, "alice-dev-password", "accept").await;
        let code = query_param(&location, "code").unwrap();
        let state = query_param(&location, "state").unwrap();
        // A page that learned the port sends its own redirect first: refused, ignored.
        let forged = b
            .get(&location.replace(&format!("state={state}"), "state=forged"))
            .await;
        assert_eq!(forged.status(), 400);
        let text = forged.text().await.unwrap();
        assert!(text.contains("state does not match"), "{text}");
        assert_eq!(
            env.counter("grant:authorization_code").await,
            0,
            "no token request for it"
        );
        // The real redirect still completes the sign-in.
        let real = b.get(&location).await;
        assert_eq!(real.status(), 200);
        (code, text, real.text().await.unwrap())
    };
    let (outcome, (code, refused, page)) =
        tokio::join!(client.sign_in_interactive(&request, &options), browser);
    let signed_in = outcome.unwrap();
    assert!(page.contains("Signed in"), "{page}");
    assert_eq!(env.counter("grant:authorization_code").await, 1);
    no_leak(&format!("{refused} {signed_in:?}"), &[&code]);
    env.stop().await;
}

#[tokio::test]
async fn declined_consent_is_access_denied_and_shown_escaped() {
    let env = Emu::start().await;
    let client = env.public_client();
    let (outcome, page) = interactive(
        &env,
        &client,
        &["api://contoso-api/Data.Read"],
        ("bob@contoso.onmicrosoft.com", "bob-dev-password"),
        "cancel",
        |l| l,
    )
    .await;
    let e = outcome.unwrap_err();
    let entra = e.entra().expect("an Entra error");
    assert_eq!(
        (entra.error.as_str(), entra.codes.as_slice()),
        ("access_denied", &[65004][..])
    );
    assert!(!e.needs_interaction());
    assert!(
        page.contains("access_denied") && page.contains("AADSTS65004"),
        "{page}"
    );
    assert_eq!(env.counter("grant:authorization_code").await, 0);
    assert!(client.accounts().await.unwrap().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn timeout_stops_the_listener() {
    let env = Emu::start().await;
    let client = env.public_client();
    let (options, mut urls) = no_browser(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let e = client
        .sign_in_interactive(
            &TokenRequest::new(["api://contoso-api/Data.Read"]),
            &options,
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(e, Error::Transport { .. })
            && e.to_string().contains("no answer from the browser"),
        "{e}"
    );
    let url = urls.recv().await.unwrap();
    let redirect = query_param(&url, "redirect_uri").unwrap();
    let port: u16 = redirect.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "the listener on {port} is closed"
    );
    env.stop().await;
}

// --- Device code ------------------------------------------------------------------------

/// A device-code sign-in for Data.Read where `user` acts once the code is shown.
async fn device<F, Fut>(env: &Emu, client: &PublicClient, user: F) -> Result<SignIn, Error>
where
    F: FnOnce(DeviceCodeInfo) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let on_code = move |i: &DeviceCodeInfo| {
        let _ = tx.send(i.clone());
    };
    let request = TokenRequest::new(["api://contoso-api/Data.Read"]);
    let flow = client.sign_in_with_device_code(&request, &on_code, std::future::pending());
    let (outcome, ()) = tokio::join!(flow, async {
        let info = rx.recv().await.unwrap();
        assert_eq!(info.verification_uri, env.url("/devicelogin"));
        assert!(info.message.contains(&info.user_code));
        user(info).await
    });
    outcome
}

#[tokio::test]
async fn device_code_approved_after_a_pending_poll() {
    let env = Emu::start().await;
    let client = env.public_client();
    let started = std::time::Instant::now();
    let env_ref = &env;
    let signed_in = device(&env, &client, |info| async move {
        // The first poll (at 5 s) finds the sign-in pending; approve before the second.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let page = enter_device_code(&mut Browser::new(env_ref), &info.user_code, "accept").await;
        assert!(page.contains("id=\"done\""), "{page}");
    })
    .await
    .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(10) && elapsed < Duration::from_secs(20),
        "{elapsed:?}"
    );
    assert_eq!(
        env.counter("grant:device_code").await,
        2,
        "one poll per 5 s interval"
    );
    assert_eq!(claims(&signed_in.token.token)["scp"], "Data.Read");
    assert_eq!(signed_in.account.username, ALICE);
    // The device-code sign-in's refresh token works for another scope.
    let w = client
        .get_token(&TokenRequest::new(["api://contoso-api/Data.Write"]))
        .await
        .unwrap();
    assert_eq!(claims(&w.token)["scp"], "Data.Write");
    env.stop().await;
}

#[tokio::test]
async fn device_code_declined() {
    let env = Emu::start().await;
    let client = env.public_client();
    let env_ref = &env;
    let e = device(&env, &client, |info| async move {
        enter_device_code(&mut Browser::new(env_ref), &info.user_code, "cancel").await;
    })
    .await
    .unwrap_err();
    assert_eq!(
        e.entra().map(|x| x.error.as_str()),
        Some("authorization_declined"),
        "{e}"
    );
    assert!(client.accounts().await.unwrap().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn device_code_expired() {
    let env = Emu::start().await;
    let client = env.public_client();
    let e = device(&env, &client, |_| env.advance_clock(1000))
        .await
        .unwrap_err();
    let entra = e.entra().expect("an Entra error");
    assert_eq!(
        (entra.error.as_str(), entra.codes.as_slice()),
        ("expired_token", &[70019][..])
    );
    env.stop().await;
}

// --- On-behalf-of -----------------------------------------------------------------------

#[tokio::test]
async fn on_behalf_of_exchanges_and_caches_per_assertion() {
    let env = Emu::start().await;
    let client = env.public_client();
    let (outcome, _) = interactive(
        &env,
        &client,
        &["api://contoso-web/access_as_user"],
        (ALICE, "alice-dev-password"),
        "accept",
        |l| l,
    )
    .await;
    let user_token = outcome.unwrap().token.token;
    assert_eq!(claims(&user_token)["aud"], WEB);

    let obo = OnBehalfOfCredential::with_secret(TENANT, WEB, "web-dev-secret", env.quick_options())
        .unwrap();
    let request = TokenRequest::new(["api://contoso-api/Data.Read"]);
    let t = obo.get_token_for(&user_token, &request).await.unwrap();
    let c = claims(&t.token);
    assert_eq!(
        (
            c["aud"].as_str(),
            c["azp"].as_str(),
            c["scp"].as_str(),
            c["oid"].as_str()
        ),
        (Some(API), Some(WEB), Some("Data.Read"), Some(ALICE_OID))
    );
    // Same assertion: from the cache, also through the bound TokenCredential.
    let bound = obo.with_user_assertion(user_token.clone());
    assert_eq!(bound.get_token(&request).await.unwrap().token, t.token);
    assert_eq!(
        obo.get_token_for(&user_token, &request)
            .await
            .unwrap()
            .token,
        t.token
    );
    assert_eq!(env.counter("grant:on_behalf_of").await, 1);

    // Errors are typed and carry neither the assertion nor the secret.
    let bad = OnBehalfOfCredential::with_secret(TENANT, WEB, "wrong-secret", env.quick_options())
        .unwrap();
    let e = bad.get_token_for(&user_token, &request).await.unwrap_err();
    assert_eq!(
        e.entra().map(|x| x.error.as_str()),
        Some("invalid_client"),
        "{e}"
    );
    let not_a_user = obo
        .get_token_for(&Secret::new("not-a-jwt"), &request)
        .await
        .unwrap_err();
    assert!(not_a_user.entra().is_some(), "{not_a_user}");
    let shown = format!("{obo:?} {bound:?} {e} {e:?} {t:?}");
    no_leak(
        &shown,
        &[
            user_token.expose(),
            t.token.expose(),
            "web-dev-secret",
            "wrong-secret",
        ],
    );
    env.stop().await;
}
