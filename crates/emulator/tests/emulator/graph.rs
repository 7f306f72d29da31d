//! The local Microsoft Graph (`/graph`): real tokens from the emulator, Graph's
//! permissions, and Graph's error shape for every refused token.

use crate::common::*;

/// The Azure CLI's public client (pre-authorized for Microsoft's APIs).
pub(crate) const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// `GET path` with `bearer` (none when `None`): status, headers and JSON body.
pub(crate) async fn call(
    env: &Env,
    path: &str,
    bearer: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = env.http.get(env.url(path));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, headers, body)
}

/// A user's delegated token through the Azure CLI's client (password grant).
pub(crate) async fn cli_user_token(env: &Env, user: &str, password: &str, scope: &str) -> String {
    env.access_token(
        CONTOSO,
        &[
            ("grant_type", "password"),
            ("client_id", AZURE_CLI),
            ("username", user),
            ("password", password),
            ("scope", scope),
        ],
    )
    .await
}

/// A real, unredeemed authorization code for alice (what seed 001 sends as a bearer).
pub(crate) async fn authorization_code(env: &Env) -> String {
    let (_, challenge) = pkce();
    let url = format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/authorize?{}",
        env.base,
        serde_urlencoded::to_string([
            ("client_id", PUBLIC),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:53117"),
            ("scope", "User.Read"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap()
    );
    let location = sign_in(
        &mut Browser::new(env),
        &url,
        ALICE,
        ALICE_PASSWORD,
        "accept",
    )
    .await;
    query_param(&location, "code").expect("a code in the redirect")
}

/// Graph's 401 body and challenge, with `message`.
fn assert_graph_401(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
    message: &str,
) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["error"]["code"], "InvalidAuthenticationToken",
        "{body}"
    );
    assert_eq!(body["error"]["message"], message, "{body}");
    let inner = &body["error"]["innerError"];
    for k in ["date", "request-id", "client-request-id"] {
        assert!(inner[k].is_string(), "{k}: {body}");
    }
    assert_eq!(
        headers["request-id"].to_str().unwrap(),
        inner["request-id"].as_str().unwrap()
    );
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer realm=\"\", authorization_uri=\""),
        "{challenge}"
    );
    assert!(
        challenge.ends_with(
            "/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\""
        ),
        "{challenge}"
    );
}

#[tokio::test]
async fn me_users_and_organization_for_a_signed_in_user() {
    let env = Env::start().await;
    let alice = env.alice_token("User.Read").await;
    let (status, headers, me) = call(&env, "/graph/v1.0/me", Some(&alice)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], ALICE_OID);
    assert_eq!(me["userPrincipalName"], ALICE);
    assert_eq!(me["displayName"], "Alice Example");
    assert_eq!(me["givenName"], "Alice");
    assert_eq!(me["surname"], "Example");
    assert_eq!(me["businessPhones"], serde_json::json!([]));
    assert_eq!(
        me["@odata.context"],
        format!("{}/graph/v1.0/$metadata#users/$entity", env.base)
    );
    assert!(headers["request-id"].to_str().is_ok());
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json;odata.metadata=minimal")
    );
    // Her own profile by UPN (any case) and by id: User.Read is enough.
    for who in ["ALICE@contoso.onmicrosoft.com", ALICE_OID] {
        let (status, _, user) = call(&env, &format!("/graph/v1.0/users/{who}"), Some(&alice)).await;
        assert_eq!(
            (status, &user["id"]),
            (200, &serde_json::json!(ALICE_OID)),
            "{user}"
        );
    }
    // Another user, or the list: User.Read is not enough (Graph's 403).
    for path in ["/graph/v1.0/users", &format!("/graph/v1.0/users/{BOB}")] {
        let (status, _, body) = call(&env, path, Some(&alice)).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
        assert_eq!(
            body["error"]["message"],
            "Insufficient privileges to complete the operation."
        );
    }
    // The organization: User.Read is its least privileged delegated permission.
    let (status, _, org) = call(&env, "/graph/v1.0/organization", Some(&alice)).await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["value"][0]["id"], CONTOSO);
    assert_eq!(org["value"][0]["displayName"], "Contoso");
    assert_eq!(
        org["value"][0]["verifiedDomains"][0]["name"],
        "contoso.onmicrosoft.com"
    );
    env.stop().await;
}

#[tokio::test]
async fn users_for_an_app_with_user_read_all() {
    let env = Env::start().await;
    let daemon = env
        .daemon_token("https://graph.microsoft.com/.default")
        .await;
    // /me needs a user.
    let (status, _, body) = call(&env, "/graph/v1.0/me", Some(&daemon)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "BadRequest");
    assert_eq!(
        body["error"]["message"],
        "/me request is only valid with delegated authentication flow."
    );
    // The whole tenant (alice, bob, mfa), a page of two then the rest.
    let (status, _, page) = call(&env, "/graph/v1.0/users?$top=2", Some(&daemon)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["value"].as_array().unwrap().len(), 2, "{page}");
    assert_eq!(
        page["@odata.context"],
        format!("{}/graph/v1.0/$metadata#users", env.base)
    );
    let next = page["@odata.nextLink"]
        .as_str()
        .expect("a next link")
        .to_string();
    let path = next.strip_prefix(&env.base).expect("on the emulator");
    let (status, _, rest) = call(&env, path, Some(&daemon)).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["value"].as_array().unwrap().len(), 1, "{rest}");
    assert!(rest.get("@odata.nextLink").is_none(), "{rest}");
    let (status, _, bob) = call(&env, &format!("/graph/v1.0/users/{BOB}"), Some(&daemon)).await;
    assert_eq!(
        (status, &bob["userPrincipalName"]),
        (200, &serde_json::json!(BOB))
    );
    // An unknown user: 404 in Graph's words.
    let ghost = "0badc0de-0000-4000-8000-000000000000";
    let (status, _, body) = call(&env, &format!("/graph/v1.0/users/{ghost}"), Some(&daemon)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
    assert_eq!(
        body["error"]["message"],
        format!(
            "Resource '{ghost}' does not exist or one of its queried reference-property objects are not present."
        )
    );
    // Bad page sizes.
    let (status, _, body) = call(&env, "/graph/v1.0/users?$top=0", Some(&daemon)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadRequest"))
    );
    // The organization needs Organization.Read.All (or Directory.*) for an app.
    let (status, _, body) = call(&env, "/graph/v1.0/organization", Some(&daemon)).await;
    assert_eq!(status, 403, "{body}");
    // A path the local Graph does not serve.
    let (status, _, body) = call(&env, "/graph/v1.0/groups", Some(&daemon)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["message"],
        "Resource not found for the segment 'groups'."
    );
    env.stop().await;
}

#[tokio::test]
async fn refused_tokens_get_graphs_401() {
    let env = Env::start().await;
    let (status, headers, body) = call(&env, "/graph/v1.0/me", None).await;
    assert_graph_401(status, &headers, &body, "Access token is empty.");
    let not_a_jwt = "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EncodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'.";
    let (status, headers, body) = call(&env, "/graph/v1.0/me", Some("garbage")).await;
    assert_graph_401(status, &headers, &body, not_a_jwt);
    // Seed 001's mistake: the authorization code itself sent as the bearer.
    let code = authorization_code(&env).await;
    let (status, headers, body) = call(&env, "/graph/v1.0/me", Some(&code)).await;
    assert_graph_401(status, &headers, &body, not_a_jwt);
    // A token for another API.
    let arm = cli_user_token(
        &env,
        ALICE,
        ALICE_PASSWORD,
        "https://management.azure.com//.default",
    )
    .await;
    let (status, headers, body) = call(&env, "/graph/v1.0/me", Some(&arm)).await;
    assert_graph_401(status, &headers, &body, "Invalid audience.");
    // A Graph token past its lifetime (the emulator's clock moves, not the test's).
    let alice = env.alice_token("User.Read").await;
    env.advance_clock(2 * 3600).await;
    let (status, headers, body) = call(&env, "/graph/v1.0/me", Some(&alice)).await;
    assert_graph_401(
        status,
        &headers,
        &body,
        "Lifetime validation failed, the token is expired.",
    );
    // The caller's client-request-id comes back.
    let resp = env
        .http
        .get(env.url("/graph/v1.0/me"))
        .header("client-request-id", "5e5e5e5e-0000-4000-8000-000000000001")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["client-request-id"],
        "5e5e5e5e-0000-4000-8000-000000000001"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["error"]["innerError"]["client-request-id"],
        "5e5e5e5e-0000-4000-8000-000000000001"
    );
    env.stop().await;
}
