//! The local Key Vault (`/vault/{vault}`): the 401 challenge, RBAC, secrets set/get/
//! versions/list paging/update/delete/recover/purge, a disabled secret.

use crate::common::*;

const KV: &str = "https://vault.azure.net/.default";

/// The Azure CLI's client id, pre-authorized for Key Vault (`user_impersonation`).
const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// Alice's delegated Key Vault token, through the Azure CLI's client (password grant).
async fn alice_kv_token(env: &Env) -> String {
    let form = [
        ("grant_type", "password"),
        ("client_id", AZURE_CLI),
        ("username", ALICE),
        ("password", ALICE_PASSWORD),
        ("scope", KV),
    ];
    env.access_token(CONTOSO, &form).await
}

fn kv_url(env: &Env, path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    env.url(&format!("/vault/contoso-dev{path}{sep}api-version=7.4"))
}

async fn send(
    env: &Env,
    method: reqwest::Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        kv_url(env, path)
    };
    let mut req = env.http.request(method, url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

#[tokio::test]
async fn no_bearer_gets_the_challenge_and_a_bad_one_401() {
    let env = Env::start().await;
    let (s, body, h) = send(
        &env,
        reqwest::Method::GET,
        "/secrets/daemon-secret",
        None,
        None,
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(body["error"]["code"], "Unauthorized");
    assert_eq!(
        h["www-authenticate"],
        format!(
            "Bearer authorization=\"{}/{CONTOSO}\", resource=\"https://vault.azure.net\"",
            env.base
        )
    );
    let (s, body, h) = send(
        &env,
        reqwest::Method::GET,
        "/secrets/daemon-secret",
        Some("garbage"),
        None,
    )
    .await;
    assert_eq!(s, 401, "{body}");
    assert!(h.contains_key("www-authenticate"));
    // A token for another resource (ARM) is refused too.
    let arm = env
        .daemon_token("https://management.azure.com/.default")
        .await;
    let (s, _, _) = send(
        &env,
        reqwest::Method::GET,
        "/secrets/daemon-secret",
        Some(&arm),
        None,
    )
    .await;
    assert_eq!(s, 401);
    env.stop().await;
}

#[tokio::test]
async fn secrets_user_reads_but_cannot_write() {
    let env = Env::start().await;
    let token = env.daemon_token(KV).await;
    let (s, b, _) = send(
        &env,
        reqwest::Method::GET,
        "/secrets/daemon-secret",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["value"], DAEMON_SECRET);
    let id = b["id"].as_str().unwrap();
    assert!(
        id.starts_with(&format!(
            "{}/vault/contoso-dev/secrets/daemon-secret/",
            env.base
        )),
        "{id}"
    );
    assert_eq!(b["attributes"]["enabled"], true);
    assert_eq!(b["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    let (s, b, _) = send(
        &env,
        reqwest::Method::PUT,
        "/secrets/x",
        Some(&token),
        Some(serde_json::json!({"value": "v"})),
    )
    .await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["error"]["code"], "Forbidden");
    assert_eq!(b["error"]["innerError"]["code"], "ForbiddenByRbac");
    // Missing api-version: BadParameter.
    let url = env.url("/vault/contoso-dev/secrets/daemon-secret");
    let (s, b, _) = send(&env, reqwest::Method::GET, &url, Some(&token), None).await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["code"], "BadParameter");
    env.stop().await;
}

#[tokio::test]
async fn officer_sets_versions_pages_updates_deletes_recovers_purges() {
    use reqwest::Method as M;
    let env = Env::start().await;
    let t = alice_kv_token(&env).await;
    let t = Some(t.as_str());
    let mut versions = Vec::new();
    for i in 0..3 {
        let (s, b, _) = send(
            &env,
            M::PUT,
            "/secrets/app-secret",
            t,
            Some(serde_json::json!({"value": format!("v{i}"), "contentType": "text/plain"})),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["value"], format!("v{i}"));
        versions.push(
            b["id"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string(),
        );
    }
    let (_, b, _) = send(&env, M::GET, "/secrets/app-secret/", t, None).await;
    assert_eq!(b["value"], "v2");
    let (_, b, _) = send(
        &env,
        M::GET,
        &format!("/secrets/app-secret/{}", versions[0]),
        t,
        None,
    )
    .await;
    assert_eq!(b["value"], "v0");
    // Versions, paged two by two.
    let (_, b, _) = send(
        &env,
        M::GET,
        "/secrets/app-secret/versions?maxresults=2",
        t,
        None,
    )
    .await;
    assert_eq!(b["value"].as_array().unwrap().len(), 2);
    assert!(b["value"][0].get("value").is_none());
    let next = b["nextLink"].as_str().unwrap().to_string();
    let (_, b, _) = send(&env, M::GET, &next, t, None).await;
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    assert!(b["nextLink"].is_null());
    // List secrets: the seeded one and ours.
    let (_, b, _) = send(&env, M::GET, "/secrets?maxresults=1", t, None).await;
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    assert!(b["nextLink"].is_string());
    let (s, _, _) = send(&env, M::GET, "/secrets?maxresults=26", t, None).await;
    assert_eq!(s, 400);
    // Disable the latest: reading it is SecretDisabled.
    let (s, b, _) = send(&env, M::PATCH, "/secrets/app-secret/", t, Some(serde_json::json!({"attributes": {"enabled": false, "exp": 4_000_000_000i64}, "tags": {"k": "v"}}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["attributes"]["exp"], 4_000_000_000i64);
    assert!(b.get("value").is_none());
    let (s, b, _) = send(&env, M::GET, "/secrets/app-secret", t, None).await;
    assert_eq!(s, 403);
    assert_eq!(b["error"]["innerError"]["code"], "SecretDisabled");
    // Soft delete, recover, delete, purge.
    let (s, b, _) = send(&env, M::DELETE, "/secrets/app-secret", t, None).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["recoveryId"]
            .as_str()
            .unwrap()
            .ends_with("/deletedsecrets/app-secret")
    );
    let (s, b, _) = send(&env, M::GET, "/secrets/app-secret", t, None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("SecretNotFound"))
    );
    let (s, _, _) = send(
        &env,
        M::PUT,
        "/secrets/app-secret",
        t,
        Some(serde_json::json!({"value": "x"})),
    )
    .await;
    assert_eq!(s, 409);
    let (s, _, _) = send(&env, M::GET, "/deletedsecrets/app-secret", t, None).await;
    assert_eq!(s, 200);
    let (s, _, _) = send(&env, M::POST, "/deletedsecrets/app-secret/recover", t, None).await;
    assert_eq!(s, 200);
    let (s, b, _) = send(
        &env,
        M::GET,
        &format!("/secrets/app-secret/{}", versions[0]),
        t,
        None,
    )
    .await;
    assert_eq!((s, b["value"].as_str()), (200, Some("v0")));
    send(&env, M::DELETE, "/secrets/app-secret", t, None).await;
    let (s, _, _) = send(&env, M::DELETE, "/deletedsecrets/app-secret", t, None).await;
    assert_eq!(s, 204);
    let (s, _, _) = send(&env, M::GET, "/deletedsecrets/app-secret", t, None).await;
    assert_eq!(s, 404);
    env.stop().await;
}

#[tokio::test]
async fn through_the_proxy_with_the_real_hostname() {
    let h = Harness::start_with(Options {
        proxy_port: Some(0),
        ..Default::default()
    })
    .await;
    let p = h.ready().proxy.as_ref().unwrap();
    let ca = std::fs::read(&p.ca_file).unwrap();
    let c = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .proxy(reqwest::Proxy::all(&p.url).unwrap())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    let url = "https://contoso-dev.vault.azure.net/secrets/daemon-secret?api-version=7.5";
    // The challenge names Entra's public authority and Key Vault's resource.
    let resp = c.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        format!(
            "Bearer authorization=\"https://login.microsoftonline.com/{CONTOSO}\", resource=\"https://vault.azure.net\""
        )
    );
    let body: Value = c
        .post(format!(
            "https://login.microsoftonline.com/{CONTOSO}/oauth2/v2.0/token"
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", KV),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().expect("a token");
    let b: Value = c
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b["value"], DAEMON_SECRET);
    assert!(
        b["id"]
            .as_str()
            .unwrap()
            .starts_with("https://contoso-dev.vault.azure.net/secrets/daemon-secret/"),
        "{b}"
    );
    // Another vault's hostname: not in this directory.
    let other = c
        .get("https://other-vault.vault.azure.net/secrets/x?api-version=7.5")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    h.stop().await;
}

#[tokio::test]
async fn admin_rotation_adds_a_version() {
    use reqwest::Method as M;
    let env = Env::start().await;
    let token = env.daemon_token(KV).await;
    let t = Some(token.as_str());
    let r = env
        .admin_post(
            "/vaults/contoso-dev/secrets/daemon-secret/rotate",
            serde_json::json!({ "value": "rotated-1" }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let out: Value = r.json().await.unwrap();
    assert!(out.get("value").is_none(), "{out}");
    let (_, b, _) = send(&env, M::GET, "/secrets/daemon-secret", t, None).await;
    assert_eq!(b["value"], "rotated-1");
    assert!(
        b["id"]
            .as_str()
            .unwrap()
            .ends_with(out["version"].as_str().unwrap())
    );
    let (_, b, _) = send(&env, M::GET, "/secrets/daemon-secret/versions", t, None).await;
    assert_eq!(b["value"].as_array().unwrap().len(), 2);
    // No value given: a random one, returned to the admin caller.
    let r = env
        .admin_post(
            "/vaults/contoso-dev/secrets/daemon-secret/rotate",
            Value::Null,
        )
        .await;
    let out: Value = r.json().await.unwrap();
    let (_, b, _) = send(&env, M::GET, "/secrets/daemon-secret", t, None).await;
    assert_eq!(b["value"], out["value"]);
    let r = env
        .admin_post("/vaults/contoso-dev/secrets/nope/rotate", Value::Null)
        .await;
    assert_eq!(r.status(), 404);
    let r = env
        .admin_post("/vaults/nope/secrets/daemon-secret/rotate", Value::Null)
        .await;
    assert_eq!(r.status(), 404);
    env.stop().await;
}

#[tokio::test]
async fn bad_input_gets_bad_parameter_and_browsers_are_refused() {
    use reqwest::Method as M;
    let env = Env::start().await;
    let token = alice_kv_token(&env).await;
    let t = Some(token.as_str());
    let bad = |b: &Value| b["error"]["code"].as_str().unwrap_or_default().to_string();
    let (s, b, _) = send(&env, M::PUT, "/secrets/x", t, Some(serde_json::json!({}))).await;
    assert_eq!((s, bad(&b)), (400, "BadParameter".into()), "{b}");
    let (s, b, _) = send(
        &env,
        M::PUT,
        "/secrets/x",
        t,
        Some(serde_json::json!({"value": 1})),
    )
    .await;
    assert_eq!((s, bad(&b)), (400, "BadParameter".into()), "{b}");
    let (s, b, _) = send(
        &env,
        M::PUT,
        "/secrets/bad_name",
        t,
        Some(serde_json::json!({"value": "v"})),
    )
    .await;
    assert_eq!((s, bad(&b)), (400, "BadParameter".into()), "{b}");
    let (s, b, _) = send(
        &env,
        M::PATCH,
        "/secrets/daemon-secret/",
        t,
        Some(serde_json::json!({"value": "v"})),
    )
    .await;
    assert_eq!((s, bad(&b)), (400, "BadParameter".into()), "{b}");
    let (s, b, _) = send(&env, M::GET, "/secrets?$skiptoken=999", t, None).await;
    assert_eq!((s, bad(&b)), (400, "BadParameter".into()), "{b}");
    let (s, b, _) = send(
        &env,
        M::GET,
        "/secrets/daemon-secret/0123456789abcdef0123456789abcdef",
        t,
        None,
    )
    .await;
    assert_eq!((s, bad(&b)), (404, "SecretNotFound".into()), "{b}");
    let (s, b, _) = send(&env, M::GET, "/deletedsecrets/daemon-secret", t, None).await;
    assert_eq!((s, bad(&b)), (404, "SecretNotFound".into()), "{b}");
    // An unknown vault name.
    let url = env.url("/vault/no-such-vault/secrets/x?api-version=7.4");
    let (s, _, _) = send(&env, M::GET, &url, t, None).await;
    assert_eq!(s, 404);
    // A web page's request (Origin) never reaches the vault.
    let resp = env
        .http
        .get(kv_url(&env, "/secrets/daemon-secret"))
        .bearer_auth(&token)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(!resp.text().await.unwrap().contains(DAEMON_SECRET));
    env.stop().await;
}

/// A self-signed certificate and its key, as one PEM bundle.
fn pem_bundle(cn: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![cn.to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    format!("{}{}", cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn a_pem_certificate_is_imported_and_its_key_read_through_secrets() {
    use reqwest::Method as M;
    let env = Env::start().await;
    let token = alice_kv_token(&env).await;
    let t = Some(token.as_str());
    let pem = pem_bundle("client.contoso.test");
    let import = serde_json::json!({
        "value": pem,
        "policy": { "secret_props": { "contentType": "application/x-pem-file" } },
    });
    let (s, c, _) = send(
        &env,
        M::POST,
        "/certificates/client-cert/import",
        t,
        Some(import),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    let version = c["id"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert!(
        c["sid"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/secrets/client-cert/{version}"))
    );
    assert!(c["x5t"].is_string() && c["cer"].is_string(), "{c}");
    assert!(c["attributes"]["exp"].as_i64().unwrap() > c["attributes"]["nbf"].as_i64().unwrap());
    // The certificate again, and its private key through the secrets endpoint.
    let (_, g, _) = send(&env, M::GET, "/certificates/client-cert/", t, None).await;
    assert_eq!(g["cer"], c["cer"]);
    let (s, sec, _) = send(&env, M::GET, "/secrets/client-cert", t, None).await;
    assert_eq!(s, 200, "{sec}");
    assert_eq!(sec["value"], pem);
    assert_eq!(sec["contentType"], "application/x-pem-file");
    assert_eq!(sec["managed"], true);
    // A second import is a second version; the managed secret cannot be set directly.
    let again = serde_json::json!({ "value": pem_bundle("client.contoso.test") });
    let (s, _, _) = send(
        &env,
        M::POST,
        "/certificates/client-cert/import",
        t,
        Some(again),
    )
    .await;
    assert_eq!(s, 200);
    let (_, vs, _) = send(&env, M::GET, "/certificates/client-cert/versions", t, None).await;
    assert_eq!(vs["value"].as_array().unwrap().len(), 2);
    let (_, old, _) = send(
        &env,
        M::GET,
        &format!("/certificates/client-cert/{version}"),
        t,
        None,
    )
    .await;
    assert_eq!(old["cer"], c["cer"]);
    let (s, _, _) = send(
        &env,
        M::PUT,
        "/secrets/client-cert",
        t,
        Some(serde_json::json!({"value": "x"})),
    )
    .await;
    assert_eq!(s, 403);
    // No private key, or a PKCS#12: BadParameter. The daemon (no certificate role): 403.
    let cert_only = pem
        .split("-----BEGIN PRIVATE KEY-----")
        .next()
        .unwrap()
        .to_string();
    let (s, b, _) = send(
        &env,
        M::POST,
        "/certificates/c2/import",
        t,
        Some(serde_json::json!({"value": cert_only})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("BadParameter")),
        "{b}"
    );
    let daemon = env.daemon_token(KV).await;
    let (s, b, _) = send(
        &env,
        M::GET,
        "/certificates/client-cert",
        Some(&daemon),
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"]["innerError"]["code"].as_str()),
        (403, Some("ForbiddenByRbac"))
    );
    env.stop().await;
}
