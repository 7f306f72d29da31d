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

/// App Service's identity endpoint words its errors as `statusCode`, `message` and
/// `correlationId` (MSAL Python prints "{statusCode}, {message}"; before, the emulator's
/// OAuth-shaped body made az print "None, None"); IMDS keeps the OAuth pair.
#[tokio::test]
async fn app_service_errors_have_app_services_shape() {
    let env = Env::start().await;
    let ready = env.ready().clone();
    let base = format!("{}?api-version=2019-08-01", ready.identity_endpoint);
    let cases = [
        (
            format!("{base}&resource=api://nothing-here"),
            ready.identity_header.clone(),
            400,
            "AADSTS500011: The resource principal named api://nothing-here was not found in the tenant.",
        ),
        (
            format!(
                "{base}&resource=api://contoso-api&client_id=99999999-0000-4000-8000-000000000000"
            ),
            ready.identity_header.clone(),
            400,
            "Identity not found",
        ),
        (
            format!("{base}&resource=api://contoso-api"),
            "wrong".to_string(),
            401,
            "The x-identity-header header is missing or does not match IDENTITY_HEADER.",
        ),
        (
            base.clone(),
            ready.identity_header.clone(),
            400,
            "Required audience parameter not specified",
        ),
    ];
    for (url, header, status, message) in cases {
        let resp = env
            .http
            .get(&url)
            .header("X-IDENTITY-HEADER", header)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{url}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["statusCode"], status, "{body}");
        assert_eq!(body["message"], message, "{body}");
        assert!(
            uuid::Uuid::parse_str(body["correlationId"].as_str().unwrap()).is_ok(),
            "{body}"
        );
        assert_eq!(body["error_description"], message, "{body}");
    }
    // IMDS keeps its OAuth-shaped errors.
    let body: Value = env
        .http
        .get(env.url(
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://nothing-here",
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"], "invalid_resource", "{body}");
    assert!(body.get("statusCode").is_none(), "{body}");
    env.stop().await;
}
