//! User sign-ins: authorization code with PKCE through the pages, refresh tokens, device
//! code (in a browser and through the admin API), on-behalf-of, password, MFA, consent.

use crate::common::*;

fn authorize_url(env: &Env, client: &str, redirect: &str, scope: &str, challenge: &str) -> String {
    format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/authorize?{}",
        env.base,
        serde_urlencoded::to_string([
            ("client_id", client),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", scope),
            ("state", "st4te"),
            ("nonce", "n0nce"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .unwrap()
    )
}

#[tokio::test]
async fn auth_code_pkce_refresh_rotation_and_replay() {
    let env = Env::start().await;
    let mut b = Browser::new(&env);
    let (verifier, challenge) = pkce();
    let redirect = "http://localhost:53117";
    let url = authorize_url(
        &env,
        PUBLIC,
        redirect,
        "api://contoso-api/Data.Read openid profile offline_access",
        &challenge,
    );
    let location = sign_in(&mut b, &url, ALICE, ALICE_PASSWORD, "accept").await;
    assert!(location.starts_with(redirect), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("st4te"));
    let code = query_param(&location, "code").unwrap();
    let redeem = |code: String, verifier: String| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", PUBLIC.into()),
            ("code", code),
            ("redirect_uri", redirect.into()),
            ("code_verifier", verifier),
            (
                "scope",
                "api://contoso-api/Data.Read openid profile offline_access".into(),
            ),
            ("client_info", "1".into()),
        ]
    };
    let form = redeem(
        code.clone(),
        "wrong-verifier-wrong-verifier-wrong-verifier".into(),
    );
    let (_, body) = env
        .token(
            "contoso.onmicrosoft.com",
            &form
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(code_of(&body), 501481, "{body}");
    let form = redeem(code.clone(), verifier.clone());
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = env.token("contoso.onmicrosoft.com", &pairs).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "api://contoso-api/Data.Read");
    let at = env.verify(body["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (
            at["aud"].as_str(),
            at["scp"].as_str(),
            at["azp"].as_str(),
            at["azpacr"].as_str()
        ),
        (Some(API), Some("Data.Read"), Some(PUBLIC), Some("0"))
    );
    let id = env.verify(body["id_token"].as_str().unwrap()).await;
    assert_eq!(
        (
            id["aud"].as_str(),
            id["nonce"].as_str(),
            id["preferred_username"].as_str()
        ),
        (Some(PUBLIC), Some("n0nce"), Some(ALICE))
    );
    let info = String::from_utf8(
        entra_jose::b64url_decode(body["client_info"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert!(info.contains(CONTOSO));
    // Code reuse.
    let (_, again) = env.token("contoso.onmicrosoft.com", &pairs).await;
    assert_eq!(code_of(&again), 54005);
    // Refresh rotates; the old one replayed revokes the family.
    let rt1 = body["refresh_token"].as_str().unwrap().to_string();
    let refresh = |rt: &str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("client_id", PUBLIC.into()),
            ("refresh_token", rt.to_string()),
            (
                "scope",
                "api://contoso-api/Data.Write offline_access".into(),
            ),
        ]
    };
    let f = refresh(&rt1);
    let (status, body2) = env
        .token(
            CONTOSO,
            &f.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(status, 200, "{body2}");
    assert_eq!(
        env.verify(body2["access_token"].as_str().unwrap()).await["scp"],
        "Data.Write"
    );
    let rt2 = body2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    let (_, replay) = env
        .token(
            CONTOSO,
            &f.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(
        (replay["error"].as_str(), code_of(&replay)),
        (Some("invalid_grant"), 70008)
    );
    let f2 = refresh(&rt2);
    let (_, family) = env
        .token(
            CONTOSO,
            &f2.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(code_of(&family), 70008, "the whole family is revoked");
    // Silent sign-in with the browser session: no pages, straight to the redirect.
    let (_, challenge2) = pkce();
    let silent = format!(
        "{}&prompt=none",
        authorize_url(
            &env,
            PUBLIC,
            redirect,
            "api://contoso-api/Data.Read openid",
            &challenge2
        )
    );
    let resp = b.get(&silent).await;
    assert_eq!(resp.status(), 302);
    assert!(query_param(resp.headers()["location"].to_str().unwrap(), "code").is_some());
    env.stop().await;
}

#[tokio::test]
async fn consent_page_for_bob_and_decline() {
    let env = Env::start().await;
    let (_, challenge) = pkce();
    let url = authorize_url(
        &env,
        PUBLIC,
        "http://localhost:4000/cb",
        "api://contoso-api/Data.Read openid",
        &challenge,
    );
    // The public client registers http://localhost (no path): /cb is a mismatch, shown as a page.
    let mut b = Browser::new(&env);
    let resp = b.get(&url).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("AADSTS50011"));
    let url = authorize_url(
        &env,
        PUBLIC,
        "http://localhost:4000",
        "api://contoso-api/Data.Read openid",
        &challenge,
    );
    let location = sign_in(&mut Browser::new(&env), &url, BOB, BOB_PASSWORD, "cancel").await;
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    let location = sign_in(&mut Browser::new(&env), &url, BOB, BOB_PASSWORD, "accept").await;
    assert!(query_param(&location, "code").is_some(), "{location}");
    // Consent given interactively now holds for ROPC as well.
    let (status, body) = env
        .token(
            CONTOSO,
            &[
                ("grant_type", "password"),
                ("client_id", PUBLIC),
                ("username", BOB),
                ("password", BOB_PASSWORD),
                ("scope", "api://contoso-api/Data.Read"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = env
        .token(
            CONTOSO,
            &[
                ("grant_type", "password"),
                ("client_id", PUBLIC),
                ("username", BOB),
                ("password", BOB_PASSWORD),
                ("scope", "api://contoso-api/Data.Write"),
            ],
        )
        .await;
    assert_eq!(code_of(&body), 65001);
    env.stop().await;
}

/// `.default` on a resource the user has already granted the client something on: no
/// consent page (Entra's `.default` example 1: "no consent prompt is shown, regardless of
/// the contents of the client application's registered permissions"), and the token
/// carries exactly the granted scopes. With no grant at all, the page is shown.
#[tokio::test]
async fn default_scope_after_a_grant_shows_no_consent_page() {
    let env = Env::start().await;
    let (verifier, challenge) = pkce();
    let scope = "https://api.fabric.microsoft.com/.default openid offline_access";
    let url = authorize_url(&env, PUBLIC, "http://localhost", scope, &challenge);
    // Alice granted the public client four Fabric scopes and one Power BI scope (the same
    // resource app): the sign-in goes straight back to the client.
    let mut b = Browser::new(&env);
    let page = b.get(&url).await.text().await.unwrap();
    let resp = b
        .post(
            "/login",
            &[
                ("flow", &field(&page, "flow")),
                ("csrf", &field(&page, "csrf")),
                ("login", ALICE),
                ("passwd", ALICE_PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let code = query_param(&location, "code").expect("a code");
    let (status, body) = redeem_public_code(&env, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let claims = env.verify(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["aud"], "https://api.fabric.microsoft.com");
    let mut scp: Vec<&str> = claims["scp"].as_str().unwrap().split(' ').collect();
    scp.sort_unstable();
    assert_eq!(
        scp,
        [
            "Dataset.Read.All",
            "Item.Read.All",
            "Item.ReadWrite.All",
            "Workspace.Read.All",
            "Workspace.ReadWrite.All"
        ]
    );
    // Bob granted nothing there: `.default` asks him.
    let mut b = Browser::new(&env);
    let page = b.get(&url).await.text().await.unwrap();
    let resp = b
        .post(
            "/login",
            &[
                ("flow", &field(&page, "flow")),
                ("csrf", &field(&page, "csrf")),
                ("login", BOB),
                ("passwd", BOB_PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("id=\"accept\""), "{page}");
    assert!(page.contains("Workspace.Read.All"), "{page}");
    env.stop().await;
}

#[tokio::test]
async fn the_claims_parameter_adds_auth_contexts_and_client_capabilities() {
    let env = Env::start().await;
    let claims =
        r#"{"access_token":{"acrs":{"essential":true,"value":"c1"},"xms_cc":{"values":["cp1"]}}}"#;
    let user = |claims: Option<&'static str>| {
        let mut form = vec![
            ("grant_type", "password"),
            ("client_id", PUBLIC),
            ("username", "alice@contoso.onmicrosoft.com"),
            ("password", ALICE_PASSWORD),
            ("scope", "api://contoso-api/Data.Read"),
        ];
        form.extend(claims.map(|c| ("claims", c)));
        form
    };
    let at = |body: &Value| body["access_token"].as_str().unwrap().to_string();
    // Without: neither claim.
    let (status, body) = env.token(CONTOSO, &user(None)).await;
    assert_eq!(status, 200, "{body}");
    let c = env.verify(&at(&body)).await;
    assert!(
        c.get("acrs").is_none() && c.get("xms_cc").is_none(),
        "{c:?}"
    );
    // With: the context the API challenged for, and the client's capability.
    let (status, body) = env.token(CONTOSO, &user(Some(claims))).await;
    assert_eq!(status, 200, "{body}");
    let c = env.verify(&at(&body)).await;
    assert_eq!(c["acrs"], serde_json::json!(["c1"]));
    assert_eq!(c["xms_cc"], serde_json::json!(["cp1"]));
    // `values`, and ids outside c1..c99 are not contexts.
    let (_, body) = env
        .token(
            CONTOSO,
            &user(Some(
                r#"{"access_token":{"acrs":{"values":["c2","c100","c0","x1","c07","c99"]}}}"#,
            )),
        )
        .await;
    let c = env.verify(&at(&body)).await;
    assert_eq!(c["acrs"], serde_json::json!(["c2", "c99"]));
    // App-only tokens carry capabilities, never an authentication context.
    let (status, body) = env
        .token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DAEMON),
                ("client_secret", DAEMON_SECRET),
                ("scope", "api://contoso-api/.default"),
                ("claims", claims),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let c = env.verify(&at(&body)).await;
    assert!(c.get("acrs").is_none(), "{c:?}");
    assert_eq!(c["xms_cc"], serde_json::json!(["cp1"]));
    env.stop().await;
}

#[tokio::test]
async fn password_grant_errors_mfa_and_revocation() {
    let env = Env::start().await;
    let ropc = |user: &'static str, pw: &'static str| {
        vec![
            ("grant_type", "password"),
            ("client_id", PUBLIC),
            ("username", user),
            ("password", pw),
            ("scope", "api://contoso-api/Data.Read offline_access"),
        ]
    };
    let (_, b) = env.token(CONTOSO, &ropc(BOB, BOB_PASSWORD)).await;
    assert_eq!(
        (b["error"].as_str(), code_of(&b)),
        (Some("invalid_grant"), 65001)
    );
    let (_, b) = env.token(CONTOSO, &ropc(MFA_USER, MFA_PASSWORD)).await;
    assert_eq!(
        (b["error"].as_str(), code_of(&b)),
        (Some("interaction_required"), 50076)
    );
    let (_, b) = env.token(CONTOSO, &ropc(ALICE, "wrong")).await;
    assert_eq!(code_of(&b), 50126);
    let (_, b) = env
        .token(CONTOSO, &ropc("nobody@contoso.onmicrosoft.com", "x"))
        .await;
    assert_eq!(code_of(&b), 50034);
    let (status, b) = env.token(CONTOSO, &ropc(ALICE, ALICE_PASSWORD)).await;
    assert_eq!(status, 200);
    let rt = b["refresh_token"].as_str().unwrap().to_string();
    let resp = env
        .admin_post(&format!("/users/{ALICE}/revoke"), Value::Null)
        .await;
    assert_eq!(resp.status(), 200);
    let (_, b) = env
        .token(
            CONTOSO,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", PUBLIC),
                ("refresh_token", &rt),
                ("scope", "api://contoso-api/Data.Read"),
            ],
        )
        .await;
    assert_eq!(code_of(&b), 50173);
    env.stop().await;
}

/// The public client's sign-in (consenting if asked) for `scope`: (PKCE verifier, code).
async fn public_client_code(
    env: &Env,
    scope: &str,
    user: &str,
    password: &str,
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = authorize_url(env, PUBLIC, "http://localhost", scope, &challenge);
    let location = sign_in(&mut Browser::new(env), &url, user, password, "accept").await;
    (verifier, query_param(&location, "code").unwrap())
}

/// Redeems a public-client code from [`public_client_code`].
async fn redeem_public_code(env: &Env, code: &str, verifier: &str) -> (u16, Value) {
    env.token(
        CONTOSO,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC),
            ("code", code),
            ("redirect_uri", "http://localhost"),
            ("code_verifier", verifier),
        ],
    )
    .await
}

#[tokio::test]
async fn mfa_user_interactive_gets_amr_mfa() {
    let env = Env::start().await;
    let (verifier, code) = public_client_code(
        &env,
        "api://contoso-api/Data.Read openid",
        MFA_USER,
        MFA_PASSWORD,
    )
    .await;
    let (status, body) = redeem_public_code(&env, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    env.stop().await;
}

#[tokio::test]
async fn expired_code_after_the_clock_moves() {
    let env = Env::start().await;
    let (verifier, code) =
        public_client_code(&env, "api://contoso-api/Data.Read", ALICE, ALICE_PASSWORD).await;
    env.admin_post("/clock", serde_json::json!({"advance_seconds": 700}))
        .await;
    let (_, body) = redeem_public_code(&env, &code, &verifier).await;
    assert_eq!(code_of(&body), 70008, "{body}");
    env.stop().await;
}

#[tokio::test]
async fn confidential_web_app_form_post_and_on_behalf_of() {
    let env = Env::start().await;
    // Alice signs in to the public client for the web app's API...
    let (verifier, code) = public_client_code(
        &env,
        "api://contoso-web/access_as_user",
        ALICE,
        ALICE_PASSWORD,
    )
    .await;
    let (_, body) = redeem_public_code(&env, &code, &verifier).await;
    let user_token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(env.verify(&user_token).await["aud"], WEB);
    // ...and the web app exchanges it for the downstream API.
    let obo = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("client_id", WEB),
        ("client_secret", "web-dev-secret"),
        ("assertion", user_token.as_str()),
        ("requested_token_use", "on_behalf_of"),
        ("scope", "api://contoso-api/Data.Read"),
    ];
    let (status, body) = env.token(CONTOSO, &obo).await;
    assert_eq!(status, 200, "{body}");
    let claims = env.verify(body["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (
            claims["aud"].as_str(),
            claims["azp"].as_str(),
            claims["scp"].as_str(),
            claims["oid"].as_str()
        ),
        (Some(API), Some(WEB), Some("Data.Read"), Some(ALICE_OID))
    );
    // An app-only token cannot be exchanged.
    let (_, app) = env
        .token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", WEB),
                ("client_secret", "web-dev-secret"),
                ("scope", "api://contoso-web/.default"),
            ],
        )
        .await;
    let mut bad = obo;
    bad[3].1 = app["access_token"].as_str().unwrap();
    let (_, body) = env.token(CONTOSO, &bad).await;
    assert_eq!(body["error"], "invalid_grant", "{body}");
    // Web app sign-in with form_post: the code arrives in an auto-submitting form.
    let (_, challenge) = pkce();
    let url = format!(
        "{}&response_mode=form_post",
        authorize_url(
            &env,
            WEB,
            "https://localhost/callback",
            "api://contoso-api/Data.Read openid",
            &challenge
        )
    );
    let mut b = Browser::new(&env);
    let page = b.get(&url).await.text().await.unwrap();
    let resp = b
        .post(
            "/login",
            &[
                ("flow", &field(&page, "flow")),
                ("csrf", &field(&page, "csrf")),
                ("login", ALICE),
                ("passwd", ALICE_PASSWORD),
            ],
        )
        .await;
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("action=\"https://localhost/callback\"") && html.contains("name=\"code\""),
        "{html}"
    );
    env.stop().await;
}

#[tokio::test]
async fn session_prompts_userinfo_and_logout() {
    let env = Env::start().await;
    let mut b = Browser::new(&env);
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        &env,
        PUBLIC,
        "http://localhost",
        "api://contoso-api/Data.Read openid profile",
        &challenge,
    );
    let location = sign_in(&mut b, &url, ALICE, ALICE_PASSWORD, "accept").await;
    let code = query_param(&location, "code").unwrap();
    // prompt=select_account shows the picker for the signed-in account.
    let picker = b
        .get(&format!("{url}&prompt=select_account"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        picker.contains("id=\"current\"") && picker.contains(ALICE),
        "{picker}"
    );
    let resp = b
        .post(
            "/select",
            &[
                ("flow", &field(&picker, "flow")),
                ("csrf", &field(&picker, "csrf")),
                ("choice", "current"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 302);
    // prompt=login asks again even with a session.
    let page = b
        .get(&format!("{url}&prompt=login"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"passwd\""));
    // prompt=consent shows the consent page although consent exists.
    let page = b
        .get(&format!("{url}&prompt=consent"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"accept\""), "{page}");
    // userinfo takes the user's access token (Graph scopes here).
    let (_, body) = env
        .token(
            CONTOSO,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC),
                ("code", &code),
                ("redirect_uri", "http://localhost"),
                ("code_verifier", &verifier),
                ("scope", "User.Read openid"),
            ],
        )
        .await;
    let claims = env.verify(body["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (claims["aud"].as_str(), claims["ver"].as_str()),
        (Some("https://graph.microsoft.com"), Some("1.0"))
    );
    let info: Value = env
        .http
        .get(env.url("/oidc/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], ALICE);
    let resp = env
        .http
        .get(env.url("/oidc/userinfo"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Sign-out ends the session: a silent request now needs a login.
    let resp = b.get(&env.url("/contoso.onmicrosoft.com/oauth2/v2.0/logout?post_logout_redirect_uri=https://localhost/callback")).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "https://localhost/callback");
    let resp = b.get(&env.url("/contoso.onmicrosoft.com/oauth2/v2.0/logout?post_logout_redirect_uri=https://evil.example/")).await;
    assert_eq!(resp.status(), 200, "no open redirect");
    let resp = b.get(&format!("{url}&prompt=none")).await;
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("login_required")
    );
    let realm: Value = env
        .http
        .get(env.url("/common/userrealm/alice@contoso.onmicrosoft.com?api-version=1.0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(realm["account_type"], "Managed");
    env.stop().await;
}

#[tokio::test]
async fn csrf_is_enforced() {
    let env = Env::start().await;
    let (_, challenge) = pkce();
    let url = authorize_url(
        &env,
        PUBLIC,
        "http://localhost",
        "api://contoso-api/Data.Read",
        &challenge,
    );
    let mut b = Browser::new(&env);
    let page = b.get(&url).await.text().await.unwrap();
    let resp = b
        .post(
            "/login",
            &[
                ("flow", &field(&page, "flow")),
                ("csrf", "forged"),
                ("login", ALICE),
                ("passwd", ALICE_PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), 403);
    env.stop().await;
}

#[tokio::test]
async fn device_code_pending_then_approved_and_declined() {
    let env = Env::start().await;
    let start = || async {
        let resp = env
            .http
            .post(env.url("/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"))
            .form(&[
                ("client_id", PUBLIC),
                ("scope", "api://contoso-api/Data.Read offline_access"),
            ])
            .send()
            .await
            .unwrap();
        resp.json::<Value>().await.unwrap()
    };
    let dc = start().await;
    assert_eq!(dc["verification_uri"], env.url("/devicelogin"));
    let device_code = dc["device_code"].as_str().unwrap().to_string();
    let env_ref = &env;
    let poll = |code: String| async move {
        env_ref
            .token(
                CONTOSO,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("client_id", PUBLIC),
                    ("device_code", &code),
                ],
            )
            .await
    };
    let (_, pending) = poll(device_code.clone()).await;
    assert_eq!(
        (pending["error"].as_str(), code_of(&pending)),
        (Some("authorization_pending"), 70016)
    );
    let (_, bad) = poll("not-a-code".into()).await;
    assert_eq!(
        (bad["error"].as_str(), code_of(&bad)),
        (Some("bad_verification_code"), 70018)
    );
    // The user enters the code in a browser.
    let mut b = Browser::new(&env);
    let page = b.get(&env.url("/devicelogin")).await.text().await.unwrap();
    let resp = b
        .post(
            "/devicelogin",
            &[
                ("flow", ""),
                ("csrf", &field(&page, "csrf")),
                ("otc", dc["user_code"].as_str().unwrap()),
            ],
        )
        .await;
    let page = resp.text().await.unwrap();
    let resp = b
        .post(
            "/login",
            &[
                ("flow", &field(&page, "flow")),
                ("csrf", &field(&page, "csrf")),
                ("login", ALICE),
                ("passwd", ALICE_PASSWORD),
            ],
        )
        .await;
    let page = resp.text().await.unwrap();
    assert!(page.contains("id=\"accept\""), "{page}");
    let resp = b
        .post(
            "/device/confirm",
            &[
                ("flow", &field(&page, "flow")),
                ("csrf", &field(&page, "csrf")),
                ("action", "accept"),
            ],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("id=\"done\""));
    let (status, body) = poll(device_code.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string());
    // Declined.
    let dc = start().await;
    let page = b.get(&env.url("/devicelogin")).await.text().await.unwrap();
    let resp = b
        .post(
            "/devicelogin",
            &[
                ("flow", ""),
                ("csrf", &field(&page, "csrf")),
                ("otc", dc["user_code"].as_str().unwrap()),
            ],
        )
        .await;
    let page = resp.text().await.unwrap(); // signed in already: straight to the confirmation
    b.post(
        "/device/confirm",
        &[
            ("flow", &field(&page, "flow")),
            ("csrf", &field(&page, "csrf")),
            ("action", "cancel"),
        ],
    )
    .await;
    let (_, body) = poll(dc["device_code"].as_str().unwrap().to_string()).await;
    assert_eq!(body["error"], "authorization_declined");
    // Expired.
    let dc = start().await;
    env.admin_post("/clock", serde_json::json!({"advance_seconds": 1000}))
        .await;
    let (_, body) = poll(dc["device_code"].as_str().unwrap().to_string()).await;
    assert_eq!(
        (body["error"].as_str(), code_of(&body)),
        (Some("expired_token"), 70019)
    );
    env.stop().await;
}

/// `POST /admin/device-codes/{user_code}/approve` completes a device code without a
/// browser: the poll that follows gets tokens, as after a sign-in and consent.
#[tokio::test]
async fn device_code_approved_through_the_admin_api() {
    let env = Env::start().await;
    let start = |scope: &'static str| {
        let env = &env;
        async move {
            let resp = env
                .http
                .post(env.url("/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"))
                .form(&[("client_id", PUBLIC), ("scope", scope)])
                .send()
                .await
                .unwrap();
            resp.json::<Value>().await.unwrap()
        }
    };
    let poll = |code: String| {
        let env = &env;
        async move {
            env.token(
                CONTOSO,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("client_id", PUBLIC),
                    ("device_code", &code),
                ],
            )
            .await
        }
    };
    let approve = |user_code: String, body: Value| {
        let env = &env;
        async move {
            let resp = env
                .admin_post(&format!("/device-codes/{user_code}/approve"), body)
                .await;
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let dc = start("api://contoso-api/Data.Read offline_access").await;
    let user_code = dc["user_code"].as_str().unwrap().to_string();
    let device_code = dc["device_code"].as_str().unwrap().to_string();

    // An unknown code is 404, an unknown user or a body without one 400, both JSON.
    let (status, body) = approve("NOTACODE1".into(), serde_json::json!({"user": "alice"})).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("no pending device code"))
    );
    let (status, body) = approve(user_code.clone(), serde_json::json!({"user": "nobody"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].is_string());
    let (status, body) = approve(user_code.clone(), serde_json::json!({"name": "alice"})).await;
    assert_eq!(status, 400, "{body}");
    let (_, pending) = poll(device_code.clone()).await;
    assert_eq!(pending["error"], "authorization_pending");

    // The part before @ names alice; the code may be typed in lower case with a dash.
    let typed = format!("{}-{}", &user_code[..4], &user_code[4..]).to_ascii_lowercase();
    let (status, body) = approve(typed, serde_json::json!({"user": "alice"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"user_code": user_code, "user": ALICE, "client_id": PUBLIC})
    );
    let (status, tokens) = poll(device_code.clone()).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    let at = decode_unverified(tokens["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(at.claim_str("preferred_username"), Some(ALICE));
    assert_eq!(at.claim_str("scp"), Some("Data.Read"));
    // Used up: approving again is 404, polling again is refused.
    let (status, _) = approve(user_code.clone(), serde_json::json!({"user": "alice"})).await;
    assert_eq!(status, 404);
    let (_, again) = poll(device_code).await;
    assert_eq!(again["error"], "invalid_grant");

    // Bob has not consented: approving records it, as the consent page would.
    let dc = start("api://contoso-api/Data.Read").await;
    let (status, body) = approve(
        dc["user_code"].as_str().unwrap().into(),
        serde_json::json!({"user": BOB}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, tokens) = poll(dc["device_code"].as_str().unwrap().into()).await;
    assert_eq!(status, 200, "{tokens}");
    // A user who needs MFA gets tokens (the grant refuses one who has not done it, 50076).
    let dc = start("api://contoso-api/Data.Read").await;
    let (status, _) = approve(
        dc["user_code"].as_str().unwrap().into(),
        serde_json::json!({"user": "mfa"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, tokens) = poll(dc["device_code"].as_str().unwrap().into()).await;
    assert_eq!(status, 200, "{tokens}");
    // An expired code is 404.
    let dc = start("api://contoso-api/Data.Read").await;
    env.admin_post("/clock", serde_json::json!({"advance_seconds": 1000}))
        .await;
    let (status, _) = approve(
        dc["user_code"].as_str().unwrap().into(),
        serde_json::json!({"user": "alice"}),
    )
    .await;
    assert_eq!(status, 404);
    // Without the admin token: 401, like every admin route.
    let resp = env
        .http
        .post(env.url("/admin/device-codes/ABCD/approve"))
        .json(&serde_json::json!({"user": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    env.stop().await;
}
