//! The local Fabric API (`/fabric`): real tokens from the emulator, Fabric's paging, its
//! 401/403/404 answers, membership filtering, and seed 001's mistake end to end.

use crate::common::*;

/// Fabric's delegated scope for reading workspaces.
const WORKSPACE_READ: &str = "https://api.fabric.microsoft.com/Workspace.Read.All";
const SALES: &str = "5a1e5000-0000-4000-8000-000000000001";
const FINANCE: &str = "f1a00000-0000-4000-8000-000000000003";
const AUTOMATION: &str = "a0700000-0000-4000-8000-000000000005";
const ENGINEERING: &str = "e0000000-0000-4000-8000-000000000004";
const FABRIKAM: &str = "fab0a000-0000-4000-8000-000000000006";

/// GET `path` under `/fabric` with `bearer` (none when `None`): status, raw body, headers.
pub(crate) async fn fabric_get(
    env: &Env,
    path: &str,
    bearer: Option<&str>,
) -> (u16, String, reqwest::header::HeaderMap) {
    let url = if path.starts_with("https://") {
        path.to_string()
    } else {
        env.url(&format!("/fabric{path}"))
    };
    let mut req = env.http.get(url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.text().await.unwrap(), headers)
}

/// Asserts Fabric's exact error answer: the body `{"requestId":GUID,"errorCode":CODE,...}`
/// with the `RequestId` and `x-ms-public-api-error-code` headers.
fn assert_fabric_error(
    (status, body, headers): &(u16, String, reqwest::header::HeaderMap),
    want_status: u16,
    code: &str,
) -> Value {
    assert_eq!(*status, want_status, "{body}");
    let v: Value = serde_json::from_str(body).unwrap();
    let rid = v["requestId"].as_str().unwrap();
    assert!(uuid::Uuid::try_parse(rid).is_ok(), "{body}");
    assert!(
        body.starts_with(&format!(
            "{{\"requestId\":\"{rid}\",\"errorCode\":\"{code}\""
        )),
        "{body}"
    );
    assert_eq!(headers["requestid"], rid);
    assert_eq!(headers["x-ms-public-api-error-code"], code);
    v
}

/// Follows `continuationUri` from `first` to the end: every page's `value` entries and
/// the number of pages.
async fn follow(env: &Env, first: &str, bearer: &str) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut next = Some(first.to_string());
    let mut pages = 0;
    while let Some(path) = next.take() {
        pages += 1;
        assert!(pages <= 20, "paging does not end");
        let (status, body, _) = fabric_get(env, &path, Some(bearer)).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        all.extend(v["value"].as_array().unwrap().iter().cloned());
        assert_eq!(
            v["continuationToken"].is_string(),
            v["continuationUri"].is_string()
        );
        if let Some(uri) = v["continuationUri"].as_str() {
            let token = v["continuationToken"].as_str().unwrap();
            assert!(
                uri.ends_with(&format!("?continuationToken={token}")),
                "{uri}"
            );
            next = Some(uri.to_string());
        }
    }
    (all, pages)
}

fn names(list: &[Value], field: &str) -> Vec<String> {
    list.iter()
        .map(|w| w[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn users_list_their_workspaces_page_by_page() {
    let env = Env::start().await;
    let token = env.alice_token(WORKSPACE_READ).await;
    let (status, body, _) = fabric_get(&env, "/v1/workspaces", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let first: Value = serde_json::from_str(&body).unwrap();
    // The default directory's page size is 3: alice's five workspaces take two pages.
    assert_eq!(first["value"].as_array().unwrap().len(), 3);
    let uri = first["continuationUri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!(
            "{}/fabric/v1/workspaces?continuationToken=",
            env.base
        )),
        "{uri}"
    );
    let (all, pages) = follow(&env, "/v1/workspaces", &token).await;
    assert_eq!(pages, 2);
    assert_eq!(
        names(&all, "displayName"),
        [
            "My workspace",
            "Sales",
            "Marketing",
            "Finance",
            "Engineering"
        ]
    );
    let sales = &all[1];
    assert_eq!(sales["id"], SALES);
    assert_eq!(sales["type"], "Workspace");
    assert_eq!(sales["description"], "Sales analytics");
    assert_eq!(sales["capacityId"], "ca9ac170-0000-4000-8000-000000000001");
    assert_eq!(all[0]["type"], "Personal");
    assert!(all[2].get("capacityId").is_none());

    // One workspace.
    let (status, body, _) =
        fabric_get(&env, &format!("/v1/workspaces/{FINANCE}"), Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let finance: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(finance["displayName"], "Finance");
    env.stop().await;
}

#[tokio::test]
async fn items_page_and_filter_by_type() {
    let env = Env::start().await;
    let token = env.alice_token(WORKSPACE_READ).await;
    let (all, pages) = follow(&env, &format!("/v1/workspaces/{SALES}/items"), &token).await;
    assert_eq!((all.len(), pages), (7, 3));
    assert!(all.iter().all(|i| i["workspaceId"] == SALES));
    assert_eq!(all[0]["type"], "Lakehouse");
    assert_eq!(all[0]["displayName"], "SalesLakehouse");
    let ids: std::collections::BTreeSet<_> = names(&all, "id").into_iter().collect();
    assert_eq!(ids.len(), 7, "no item twice across pages");

    // `?type=` filters, and the filter rides in the continuation token.
    let (models, pages) = follow(
        &env,
        &format!("/v1/workspaces/{SALES}/items?type=SemanticModel"),
        &token,
    )
    .await;
    assert_eq!(
        names(&models, "displayName"),
        ["Sales model", "Forecast model"]
    );
    assert_eq!(pages, 1);
    let r = fabric_get(
        &env,
        &format!("/v1/workspaces/{SALES}/items?type=Spreadsheet"),
        Some(&token),
    )
    .await;
    assert_fabric_error(&r, 400, "InvalidItemType");

    // A token of one listing is refused by another, and garbage is refused.
    let (_, body, _) =
        fabric_get(&env, &format!("/v1/workspaces/{SALES}/items"), Some(&token)).await;
    let first: Value = serde_json::from_str(&body).unwrap();
    let ct = first["continuationToken"].as_str().unwrap();
    for path in [
        format!("/v1/workspaces?continuationToken={ct}"),
        format!("/v1/workspaces/{FINANCE}/items?continuationToken={ct}"),
        "/v1/workspaces?continuationToken=not-a-token".to_string(),
    ] {
        let r = fabric_get(&env, &path, Some(&token)).await;
        assert_fabric_error(&r, 400, "InvalidContinuationToken");
    }
    env.stop().await;
}

#[tokio::test]
async fn every_bad_bearer_gets_invalid_token() {
    let env = Env::start().await;
    let graph = env.alice_token("User.Read").await;
    let api = env.alice_token("api://contoso-api/Data.Read").await;
    let fabric = env.alice_token(WORKSPACE_READ).await;
    for (what, bearer) in [
        ("none", None),
        ("garbage", Some("garbage")),
        ("a code", Some("1.AXEAexample-code_not-a-token")),
        ("a Graph token", Some(graph.as_str())),
        ("a token for another API", Some(api.as_str())),
    ] {
        let r = fabric_get(&env, "/v1/workspaces", bearer).await;
        let v = assert_fabric_error(&r, 401, "InvalidToken");
        assert_eq!(v["message"], "Access token is invalid", "{what}");
    }
    // Expired: the emulator's clock moves past the token's lifetime (at most 90 minutes).
    assert_eq!(
        fabric_get(&env, "/v1/workspaces", Some(&fabric)).await.0,
        200
    );
    env.advance_clock(3 * 3600).await;
    let r = fabric_get(&env, "/v1/workspaces", Some(&fabric)).await;
    assert_fabric_error(&r, 401, "InvalidToken");
    env.stop().await;
}

#[tokio::test]
async fn a_token_without_the_scope_gets_insufficient_scopes() {
    let env = Env::start().await;
    // Alice consented to Item.Read.All too, but list workspaces wants Workspace.*.
    let token = env
        .alice_token("https://api.fabric.microsoft.com/Item.Read.All")
        .await;
    for path in [
        "/v1/workspaces".to_string(),
        format!("/v1/workspaces/{SALES}/items"),
    ] {
        let r = fabric_get(&env, &path, Some(&token)).await;
        assert_fabric_error(&r, 403, "InsufficientScopes");
    }
    env.stop().await;
}

#[tokio::test]
async fn unknown_or_foreign_workspaces_are_not_found() {
    let env = Env::start().await;
    let token = env.alice_token(WORKSPACE_READ).await;
    for id in [
        "00000000-0000-4000-8000-000000000000",
        AUTOMATION,
        FABRIKAM,
        "nope",
    ] {
        for path in [
            format!("/v1/workspaces/{id}"),
            format!("/v1/workspaces/{id}/items"),
        ] {
            let r = fabric_get(&env, &path, Some(&token)).await;
            assert_fabric_error(&r, 404, "WorkspaceNotFound");
        }
    }
    env.stop().await;
}

#[tokio::test]
async fn service_principals_see_only_their_workspaces() {
    let env = Env::start().await;
    // App-only: no scopes needed, membership decides (the daemon is in Sales and Automation).
    let token = env
        .daemon_token("https://api.fabric.microsoft.com/.default")
        .await;
    let (all, _) = follow(&env, "/v1/workspaces", &token).await;
    assert_eq!(names(&all, "displayName"), ["Sales", "Automation"]);
    let (items, _) = follow(&env, &format!("/v1/workspaces/{AUTOMATION}/items"), &token).await;
    assert_eq!(names(&items, "displayName"), ["Sync"]);
    let r = fabric_get(&env, &format!("/v1/workspaces/{FINANCE}"), Some(&token)).await;
    assert_fabric_error(&r, 404, "WorkspaceNotFound");
    // The Power BI audience is the same app: Fabric accepts it.
    let pbi = env
        .daemon_token("https://analysis.windows.net/powerbi/api/.default")
        .await;
    assert_eq!(fabric_get(&env, "/v1/workspaces", Some(&pbi)).await.0, 200);
    env.stop().await;
}

#[tokio::test]
async fn a_managed_identity_sees_its_workspace() {
    let env = Env::start().await;
    // The system-assigned identity (contoso-vm) is a Viewer of Engineering, through IMDS.
    let url = env.url(
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://api.fabric.microsoft.com",
    );
    let body: Value = env
        .http
        .get(&url)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    let (all, _) = follow(&env, "/v1/workspaces", token).await;
    assert_eq!(names(&all, "displayName"), ["Engineering"]);
    assert_eq!(names(&all, "id"), [ENGINEERING]);
    env.stop().await;
}

#[tokio::test]
async fn browsers_and_foreign_hosts_are_refused() {
    let env = Env::start().await;
    let token = env.alice_token(WORKSPACE_READ).await;
    let url = env.url("/fabric/v1/workspaces");
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("host", "evil.example"),
    ] {
        let resp = env
            .http
            .get(&url)
            .bearer_auth(&token)
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{name}");
    }
    // A public hostname sent straight here is as foreign as any other (only the
    // in-process proxy serves api.fabric.microsoft.com), and the proxy's internal marker
    // cannot be forged: links keep naming the emulator.
    let resp = env
        .http
        .get(&url)
        .bearer_auth(&token)
        .header("host", "api.fabric.microsoft.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = env
        .http
        .get(&url)
        .bearer_auth(&token)
        .header("x-entrakit-via-proxy", "api.fabric.microsoft.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let uri = v["continuationUri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!("{url}?continuationToken=")),
        "{uri}"
    );
    env.stop().await;
}

/// Seed 001: the authorization code sent as the bearer gets Fabric's exact 401; the
/// redeemed access token then lists alice's workspaces.
#[tokio::test]
async fn seed_001_the_code_as_bearer_then_the_exchange() {
    let env = Env::start().await;
    let (verifier, challenge) = pkce();
    let scope =
        format!("{WORKSPACE_READ} https://api.fabric.microsoft.com/Item.Read.All offline_access");
    let url = format!(
        "{}/{CONTOSO}/oauth2/v2.0/authorize?{}",
        env.base,
        serde_urlencoded::to_string([
            ("client_id", PUBLIC),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost"),
            ("scope", scope.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap()
    );
    let location = sign_in(
        &mut Browser::new(&env),
        &url,
        ALICE,
        ALICE_PASSWORD,
        "accept",
    )
    .await;
    let code = query_param(&location, "code").unwrap();

    // The mistake: the code as the bearer.
    let r = fabric_get(&env, "/v1/workspaces", Some(&code)).await;
    let v = assert_fabric_error(&r, 401, "InvalidToken");
    let rid = v["requestId"].as_str().unwrap();
    assert_eq!(
        r.1,
        format!(
            r#"{{"requestId":"{rid}","errorCode":"InvalidToken","message":"Access token is invalid"}}"#
        )
    );

    // The fix: redeem the code, send the access token.
    let body = env
        .h
        .token_ok(
            CONTOSO,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC),
                ("code", code.as_str()),
                ("redirect_uri", "http://localhost"),
                ("code_verifier", verifier.as_str()),
            ],
        )
        .await;
    let token = body["access_token"].as_str().unwrap();
    let (all, _) = follow(&env, "/v1/workspaces", token).await;
    assert_eq!(all.len(), 5);
    assert!(names(&all, "displayName").contains(&"Sales".to_string()));
    env.stop().await;
}
