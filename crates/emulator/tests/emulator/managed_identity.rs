//! The managed-identity endpoints (IMDS and App Service).

use crate::common::*;

#[tokio::test]
async fn imds_and_app_service_wire_formats() {
    let env = Env::start().await;
    let ready = env.ready().clone();
    let url = env
        .url("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://contoso-api");
    let resp = env.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error_description"],
        "Required metadata header not specified"
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
    for k in [
        "access_token",
        "expires_in",
        "expires_on",
        "not_before",
        "resource",
        "token_type",
    ] {
        assert!(body[k].is_string(), "{k}: {body}");
    }
    let claims = env.verify(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["azp"], SYSTEM_MI);
    assert_eq!(claims["roles"], serde_json::json!(["Data.Read.All"]));
    let ua: Value = env
        .http
        .get(format!(
            "{url}&client_id=b0000000-0000-4000-8000-0000000000b2"
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        env.verify(ua["access_token"].as_str().unwrap()).await["azp"],
        USER_MI
    );
    let none: Value = env
        .http
        .get(format!(
            "{url}&client_id=00000000-0000-4000-8000-000000000000"
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["error"], "invalid_request");

    let app = format!(
        "{}?api-version=2019-08-01&resource=api://contoso-api",
        ready.identity_endpoint
    );
    let resp = env
        .http
        .get(&app)
        .header("X-IDENTITY-HEADER", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = env
        .http
        .get(&app)
        .header("X-IDENTITY-HEADER", &ready.identity_header)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        body["expires_on"].as_str().unwrap().parse::<i64>().is_ok(),
        "{body}"
    );
    assert_eq!(body["client_id"], SYSTEM_MI);
    let legacy = format!(
        "{}?api-version=2017-09-01&resource=api://contoso-api",
        ready.identity_endpoint
    );
    let body: Value = env
        .http
        .get(&legacy)
        .header("secret", &ready.identity_header)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expires = body["expires_on"].as_str().unwrap();
    assert!(expires.ends_with("M +00:00"), "{expires}");
    env.stop().await;
}
