//! The local Power BI API (`/powerbi`): groups and datasets from the same workspaces as
//! Fabric, Power BI's answers for bad bearers, missing scopes and unknown groups.

use crate::common::*;

const SALES: &str = "5a1e5000-0000-4000-8000-000000000001";
const AUTOMATION: &str = "a0700000-0000-4000-8000-000000000005";

async fn pbi_get(
    env: &Env,
    path: &str,
    bearer: Option<&str>,
) -> (u16, String, reqwest::header::HeaderMap) {
    let mut req = env.http.get(env.url(&format!("/powerbi{path}")));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.text().await.unwrap(), headers)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

fn names(v: &Value) -> Vec<&str> {
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn groups_and_datasets_for_a_user() {
    let env = Env::start().await;
    let token = env
        .alice_token("https://analysis.windows.net/powerbi/api/Workspace.Read.All https://analysis.windows.net/powerbi/api/Dataset.Read.All")
        .await;
    let (status, body, _) = pbi_get(&env, "/v1.0/myorg/groups", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let groups = json(&body);
    // "My workspace" is not a group.
    assert_eq!(
        names(&groups),
        ["Sales", "Marketing", "Finance", "Engineering"]
    );
    assert_eq!(
        groups["@odata.context"],
        format!("{}/powerbi/v1.0/myorg/$metadata#groups", env.base)
    );
    assert_eq!(groups["@odata.count"], 4);
    let sales = &groups["value"][0];
    assert_eq!(sales["id"], SALES);
    assert_eq!(sales["isOnDedicatedCapacity"], true);
    assert_eq!(
        groups["value"][2]["isReadOnly"], true,
        "alice is a Viewer of Finance"
    );
    let (_, body, _) = pbi_get(&env, "/v1.0/myorg/groups?$top=1&$skip=1", Some(&token)).await;
    assert_eq!(names(&json(&body)), ["Marketing"]);

    let (status, body, _) = pbi_get(
        &env,
        &format!("/v1.0/myorg/groups/{SALES}/datasets"),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ds = json(&body);
    assert_eq!(names(&ds), ["Sales model", "Forecast model"]);
    assert!(
        ds["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/groups/{SALES}/$metadata#datasets"))
    );
    assert_eq!(ds["value"][0]["isRefreshable"], true);

    // /myorg/datasets: the datasets of alice's "My workspace".
    let (status, body, _) = pbi_get(&env, "/v1.0/myorg/datasets", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let mine = json(&body);
    assert_eq!(names(&mine), ["Sandbox model"]);
    assert!(
        mine["value"][0]["webUrl"]
            .as_str()
            .unwrap()
            .contains("/groups/me/datasets/")
    );
    env.stop().await;
}

#[tokio::test]
async fn bad_bearers_missing_scopes_and_unknown_groups() {
    let env = Env::start().await;
    let graph = env.alice_token("User.Read").await;
    for bearer in [
        None,
        Some("garbage"),
        Some("1.AXEAcode"),
        Some(graph.as_str()),
    ] {
        let (status, body, headers) = pbi_get(&env, "/v1.0/myorg/groups", bearer).await;
        assert_eq!((status, body.as_str()), (401, ""));
        assert!(headers.contains_key("requestid"));
    }
    // Fabric's scopes only: no Dataset.* for the datasets list.
    let fabric = env
        .alice_token("https://api.fabric.microsoft.com/Workspace.Read.All")
        .await;
    let (status, _, _) = pbi_get(
        &env,
        &format!("/v1.0/myorg/groups/{SALES}/datasets"),
        Some(&fabric),
    )
    .await;
    assert_eq!(status, 401);
    // Workspace.Read.All lets the same token list the groups.
    assert_eq!(
        pbi_get(&env, "/v1.0/myorg/groups", Some(&fabric)).await.0,
        200
    );

    let datasets = env
        .alice_token("https://analysis.windows.net/powerbi/api/Dataset.Read.All")
        .await;
    let (status, body, _) = pbi_get(
        &env,
        &format!("/v1.0/myorg/groups/{AUTOMATION}/datasets"),
        Some(&datasets),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(json(&body)["error"]["code"], "PowerBIEntityNotFound");

    // Expired: Power BI's 403 TokenExpired.
    env.advance_clock(3 * 3600).await;
    let (status, body, _) = pbi_get(&env, "/v1.0/myorg/groups", Some(&fabric)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(json(&body)["error"]["code"], "TokenExpired");
    env.stop().await;
}

#[tokio::test]
async fn service_principals_see_their_groups_only() {
    let env = Env::start().await;
    let token = env
        .daemon_token("https://analysis.windows.net/powerbi/api/.default")
        .await;
    let (status, body, _) = pbi_get(&env, "/v1.0/myorg/groups", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&json(&body)), ["Sales", "Automation"]);
    // A service principal has no "My workspace".
    let (_, body, _) = pbi_get(&env, "/v1.0/myorg/datasets", Some(&token)).await;
    assert_eq!(json(&body)["value"], serde_json::json!([]));
    env.stop().await;
}
