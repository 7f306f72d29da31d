//! The local Azure Resource Manager (`/arm`): subscriptions by role assignment, tenants,
//! the cloud metadata, `api-version`, and ARM's error shape for every refused token.

use crate::common::*;
use crate::graph::{authorization_code, call, cli_user_token};
use entra_testkit::dev::{OTHER_SUBSCRIPTION, SUBSCRIPTION};

const V: &str = "api-version=2022-12-01";
const ARM_SCOPE: &str = "https://management.core.windows.net//.default";

fn assert_arm_401(
    env: &Env,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
    code: &str,
) -> String {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap().to_string();
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with(&format!(
            "Bearer authorization_uri=\"{}/\", error=\"invalid_token\", error_description=\"",
            env.base
        )),
        "{challenge}"
    );
    assert!(headers.contains_key("x-ms-request-id"));
    message
}

#[tokio::test]
async fn subscriptions_and_tenants_follow_role_assignments() {
    let env = Env::start().await;
    // The daemon (Contributor), alice (Owner, through the Azure CLI's client) and bob
    // (Reader) see Contoso's dev subscription; an app with no role sees none.
    let daemon = env
        .daemon_token("https://management.azure.com/.default")
        .await;
    let alice = cli_user_token(&env, ALICE, ALICE_PASSWORD, ARM_SCOPE).await;
    let bob = cli_user_token(&env, BOB, BOB_PASSWORD, ARM_SCOPE).await;
    for token in [&daemon, &alice, &bob] {
        let (status, headers, body) =
            call(&env, &format!("/arm/subscriptions?{V}"), Some(token)).await;
        assert_eq!(status, 200, "{body}");
        assert!(headers.contains_key("x-ms-request-id"));
        let subs = body["value"].as_array().unwrap();
        assert_eq!(subs.len(), 1, "{body}");
        assert_eq!(subs[0]["subscriptionId"], SUBSCRIPTION);
        assert_eq!(subs[0]["id"], format!("/subscriptions/{SUBSCRIPTION}"));
        assert_eq!(subs[0]["tenantId"], CONTOSO);
        assert_eq!(subs[0]["displayName"], "Contoso Dev");
        assert_eq!(subs[0]["state"], "Enabled");
        assert_eq!(body["count"]["value"], 1);
        let (status, _, one) = call(
            &env,
            &format!("/arm/subscriptions/{SUBSCRIPTION}?{V}"),
            Some(token),
        )
        .await;
        assert_eq!((status, &one), (200, &subs[0]));
        let (status, _, tenants) = call(&env, &format!("/arm/tenants?{V}"), Some(token)).await;
        assert_eq!(status, 200, "{tenants}");
        assert_eq!(tenants["value"][0]["tenantId"], CONTOSO);
        assert_eq!(
            tenants["value"][0]["defaultDomain"],
            "contoso.onmicrosoft.com"
        );
    }
    let web = env
        .access_token(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", WEB),
                ("client_secret", "web-dev-secret"),
                ("scope", "https://management.azure.com/.default"),
            ],
        )
        .await;
    let (status, _, body) = call(&env, &format!("/arm/subscriptions?{V}"), Some(&web)).await;
    assert_eq!(
        (status, body["value"].as_array().unwrap().len()),
        (200, 0),
        "{body}"
    );
    let (status, _, body) = call(
        &env,
        &format!("/arm/subscriptions/{SUBSCRIPTION}?{V}"),
        Some(&web),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "AuthorizationFailed");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'Microsoft.Resources/subscriptions/read' over scope '/subscriptions/c0ffee00-5b00-4000-a000-000000000001'"),
        "{body}"
    );
    // Another tenant's subscription, an unknown one, a malformed id.
    let (status, headers, body) = call(
        &env,
        &format!("/arm/subscriptions/{OTHER_SUBSCRIPTION}?{V}"),
        Some(&daemon),
    )
    .await;
    let message = assert_arm_401(
        &env,
        status,
        &headers,
        &body,
        "InvalidAuthenticationTokenTenant",
    );
    assert!(
        message.contains("fab00000-0000-4000-8000-000000000002"),
        "{message}"
    );
    let ghost = "0badc0de-0000-4000-8000-000000000000";
    let (status, _, body) = call(
        &env,
        &format!("/arm/subscriptions/{ghost}?{V}"),
        Some(&daemon),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "SubscriptionNotFound");
    assert_eq!(
        body["error"]["message"],
        format!("The subscription '{ghost}' could not be found.")
    );
    let (status, _, body) =
        call(&env, &format!("/arm/subscriptions/nope?{V}"), Some(&daemon)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("InvalidSubscriptionId"))
    );
    // api-version is required, and must look like one.
    let (status, _, body) = call(&env, "/arm/subscriptions", Some(&daemon)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "MissingApiVersionParameter");
    assert_eq!(
        body["error"]["message"],
        "The api-version query parameter (?api-version=) is required for all requests."
    );
    let (status, _, body) =
        call(&env, "/arm/subscriptions?api-version=latest", Some(&daemon)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("InvalidApiVersionParameter"))
    );
    env.stop().await;
}

#[tokio::test]
async fn a_managed_identity_sees_its_subscription() {
    let env = Env::start().await;
    let body: Value = env
        .http
        .get(env.url(
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/",
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"]
        .as_str()
        .expect("an ARM token")
        .to_string();
    let (status, _, subs) = call(&env, &format!("/arm/subscriptions?{V}"), Some(&token)).await;
    assert_eq!(status, 200, "{subs}");
    assert_eq!(subs["value"][0]["subscriptionId"], SUBSCRIPTION);
    env.stop().await;
}

#[tokio::test]
async fn refused_tokens_get_arms_401() {
    let env = Env::start().await;
    let path = format!("/arm/subscriptions?{V}");
    let (status, headers, body) = call(&env, &path, None).await;
    let message = assert_arm_401(&env, status, &headers, &body, "AuthenticationFailed");
    assert_eq!(
        message,
        "Authentication failed. The 'Authorization' header is missing."
    );
    assert!(headers["www-authenticate"].to_str().unwrap().contains(
        "error_description=\"The authentication failed because of missing 'Authorization' header.\""
    ));
    let (status, headers, body) = call(&env, &path, Some("garbage")).await;
    let message = assert_arm_401(&env, status, &headers, &body, "InvalidAuthenticationToken");
    assert_eq!(message, "The access token is invalid.");
    let code = authorization_code(&env).await;
    let (status, headers, body) = call(&env, &path, Some(&code)).await;
    assert_arm_401(&env, status, &headers, &body, "InvalidAuthenticationToken");
    // A Graph token on ARM: ARM names the token's audience and its own.
    let graph = env
        .daemon_token("https://graph.microsoft.com/.default")
        .await;
    let (status, headers, body) = call(&env, &path, Some(&graph)).await;
    let message = assert_arm_401(
        &env,
        status,
        &headers,
        &body,
        "InvalidAuthenticationTokenAudience",
    );
    assert_eq!(
        message,
        "The access token has been obtained for wrong audience or resource 'https://graph.microsoft.com'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."
    );
    // Expired, on the emulator's clock.
    let daemon = env
        .daemon_token("https://management.azure.com/.default")
        .await;
    env.advance_clock(2 * 3600).await;
    let (status, headers, body) = call(&env, &path, Some(&daemon)).await;
    let message = assert_arm_401(&env, status, &headers, &body, "ExpiredAuthenticationToken");
    assert!(
        message.starts_with("The access token expiry UTC time '")
            && message.contains("' is earlier than current UTC time '")
            && (message.ends_with(" AM'.") || message.ends_with(" PM'.")),
        "{message}"
    );
    env.stop().await;
}

#[tokio::test]
async fn cloud_metadata_names_where_a_client_should_go() {
    let env = Env::start().await;
    // Served directly: the emulator's own base; the audiences stay Microsoft's.
    let (status, _, meta) =
        call(&env, "/arm/metadata/endpoints?api-version=2022-09-01", None).await;
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["name"], "AzureCloud");
    assert_eq!(
        meta["authentication"]["loginEndpoint"],
        format!("{}/", env.base)
    );
    assert_eq!(meta["resourceManager"], format!("{}/arm/", env.base));
    assert_eq!(
        meta["authentication"]["audiences"],
        serde_json::json!([
            "https://management.core.windows.net/",
            "https://management.azure.com/"
        ])
    );
    assert_eq!(
        meta["microsoftGraphResourceId"],
        "https://graph.microsoft.com/"
    );
    assert_eq!(meta["suffixes"]["keyVaultDns"], "vault.azure.net");
    // The public names come only through the proxy (tests/emulator/proxy.rs): a
    // `Host: management.azure.com` sent straight here is refused, and the proxy's
    // internal marker cannot be forged.
    let resp = env
        .http
        .get(env.url("/arm/metadata/endpoints?api-version=2022-09-01"))
        .header("host", "management.azure.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let forged: Value = env
        .http
        .get(env.url("/arm/metadata/endpoints?api-version=2022-09-01"))
        .header("x-entrakit-via-proxy", "management.azure.com")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(forged, meta);
    // `az cloud register --endpoint-resource-manager https://…/arm/` asks for
    // `…/arm//metadata/endpoints`: ARM ignores the empty segment.
    let (status, _, again) = call(
        &env,
        "/arm//metadata/endpoints?api-version=2022-09-01",
        None,
    )
    .await;
    assert_eq!((status, &again), (200, &meta));
    let (status, _, body) = call(&env, "/arm/metadata//nothing?api-version=2022-09-01", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("NotFound"))
    );
    let (status, _, body) = call(&env, "/arm/metadata/endpoints", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
    env.stop().await;
}

/// No CORS, and no web page: a page's request (Origin, Sec-Fetch-Site), or one for a
/// host the emulator is not (DNS rebinding), is refused before any token is looked at.
#[tokio::test]
async fn web_pages_and_foreign_hosts_are_refused() {
    let env = Env::start().await;
    let daemon = env
        .daemon_token("https://management.azure.com/.default")
        .await;
    let url = env.url(&format!("/arm/subscriptions?{V}"));
    let graph_url = env.url("/graph/v1.0/organization");
    let alice = env.alice_token("User.Read").await;
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("host", "evil.example"),
    ] {
        for (u, token, service) in [
            (&url, &daemon, "Azure Resource Manager"),
            (&graph_url, &alice, "Microsoft Graph"),
        ] {
            let resp = env
                .http
                .get(u.as_str())
                .bearer_auth(token)
                .header(name, value)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 403, "{name} on {u}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], "RequestRefused", "{body}");
            assert!(
                body["error"]["message"].as_str().unwrap().contains(service),
                "{body}"
            );
        }
    }
    let resp = env
        .http
        .get(env.url("/arm/metadata/endpoints?api-version=2022-09-01"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Node's fetch sends a lone Sec-Fetch-Mode: still served.
    let resp = env
        .http
        .get(url.as_str())
        .bearer_auth(&daemon)
        .header("sec-fetch-mode", "cors")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    env.stop().await;
}
