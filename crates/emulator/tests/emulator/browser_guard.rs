//! The managed-identity endpoints and the admin API against web browsers (DNS
//! rebinding): a browser's `Origin`/`Sec-Fetch-*`, or a `Host` that does not name the
//! emulator, is refused there; the pages and endpoints meant for browsers and MSAL keep
//! working with the same headers.

use reqwest::Method;

use crate::common::{CONTOSO, DAEMON, DAEMON_SECRET, Harness, PUBLIC, Value};

const IMDS: &str =
    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://contoso-api";

fn port(h: &Harness) -> u16 {
    h.emulator().addr.port()
}

/// `method path` with `headers`; status and JSON body.
async fn send(h: &Harness, method: Method, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = h.http.request(method, h.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn emulator_managed_identity_refuses_browser() {
    let h = Harness::start().await;
    let ready = h.ready().clone();
    let app_service = "/msi/token?resource=api://contoso-api&api-version=2019-08-01";
    let page = format!("http://attacker.example:{}", port(&h));
    let foreign = format!("attacker.example:{}", port(&h));
    let routes: [(&str, (&str, &str)); 3] = [
        (IMDS, ("Metadata", "true")),
        (
            "/metadata/identity/oauth2/token/?api-version=2018-02-01&resource=api://contoso-api",
            ("Metadata", "true"),
        ),
        (app_service, ("X-IDENTITY-HEADER", &ready.identity_header)),
    ];
    for (path, needed) in routes {
        // As an SDK asks: a token.
        for host in [
            format!("localhost:{}", port(&h)),
            format!("127.0.0.1:{}", port(&h)),
            format!("[::1]:{}", port(&h)),
        ] {
            let (s, v) = send(&h, Method::GET, path, &[needed, ("Host", &host)]).await;
            assert_eq!(s, 200, "{path} with Host {host}: {v}");
            assert!(v["access_token"].is_string());
            // Node's fetch (msal-node) sends a lone Sec-Fetch-Mode.
            let (s, v) = send(
                &h,
                Method::GET,
                path,
                &[needed, ("Host", &host), ("Sec-Fetch-Mode", "cors")],
            )
            .await;
            assert_eq!(s, 200, "{path} with Sec-Fetch-Mode alone: {v}");
        }
        // As a web page would.
        for browser in [
            ("Origin", page.as_str()),
            ("Sec-Fetch-Site", "same-origin"),
            ("Sec-Fetch-User", "?1"),
            ("Sec-Fetch-Dest", "empty"),
            ("Host", foreign.as_str()),
            ("Host", "attacker.example"),
        ] {
            let (s, v) = send(&h, Method::GET, path, &[needed, browser]).await;
            assert_eq!(s, 403, "{path} with {browser:?}: {v}");
            assert_eq!(v["error"], "forbidden", "{v}");
            assert!(v.get("access_token").is_none(), "{v}");
        }
    }
    // A CORS preflight is refused by the guard too (not answered 405).
    let (s, v) = send(
        &h,
        Method::OPTIONS,
        IMDS,
        &[
            ("Origin", page.as_str()),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "metadata"),
        ],
    )
    .await;
    assert_eq!(s, 403, "{v}");
    let counters = h.counters().await;
    assert_eq!(counters["refused:browser"], 3 * 4 + 1, "{counters}");
    assert_eq!(counters["refused:host"], 3 * 2, "{counters}");

    // What browsers are for is not behind the guard: the sign-in page and discovery
    // answer a navigation, and the token endpoint a request with an Origin.
    let authorize = format!(
        "/{CONTOSO}/oauth2/v2.0/authorize?client_id={PUBLIC}&response_type=code&redirect_uri=http://localhost:8400&scope=openid&code_challenge=x&code_challenge_method=S256"
    );
    let r = h
        .http
        .get(h.url(&authorize))
        .header("Sec-Fetch-Mode", "navigate")
        .header("Sec-Fetch-Site", "none")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("passwd"));
    let (s, _) = send(
        &h,
        Method::GET,
        &format!("/{CONTOSO}/v2.0/.well-known/openid-configuration"),
        &[
            ("Origin", "http://localhost:3000"),
            ("Sec-Fetch-Mode", "cors"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    let r = h
        .http
        .post(h.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
        .header("Origin", "http://localhost:3000")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", "api://contoso-api/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn emulator_admin_refuses_foreign_host() {
    let h = Harness::start().await;
    let admin = format!("Bearer {}", h.ready().admin_token);
    let p = port(&h);
    for host in [
        format!("localhost:{p}"),
        format!("127.0.0.1:{p}"),
        format!("[::1]:{p}"),
        "localhost".to_string(),
    ] {
        let (s, v) = send(
            &h,
            Method::GET,
            "/admin/counters",
            &[("Authorization", &admin), ("Host", &host)],
        )
        .await;
        assert_eq!(s, 200, "Host {host}: {v}");
    }
    let attacker = format!("attacker.example:{p}");
    let refused: [(&str, &str); 5] = [
        ("Host", &attacker),
        ("Host", "localhost.attacker.example"),
        ("Host", "10.9.8.7"),
        ("Origin", "http://attacker.example"),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    for (method, path) in [
        (Method::GET, "/admin/counters"),
        (Method::GET, "/admin/directory"),
        (Method::POST, "/admin/keys/rotate"),
        (
            Method::POST,
            "/admin/users/alice@contoso.onmicrosoft.com/revoke",
        ),
    ] {
        for header in refused {
            let (s, v) = send(
                &h,
                method.clone(),
                path,
                &[("Authorization", &admin), header],
            )
            .await;
            assert_eq!(s, 403, "{method} {path} with {header:?}: {v}");
            let e = v["error"].as_str().unwrap();
            assert!(
                e.contains("web browser") || e.contains("does not name this emulator"),
                "{e}"
            );
        }
        // Without the admin token too: refused before authentication.
        let (s, _) = send(&h, method.clone(), path, &[("Host", &attacker)]).await;
        assert_eq!(s, 403);
    }
    let counters = h.counters().await;
    assert_eq!(counters["refused:host"], 4 * 4, "{counters}");
    assert_eq!(counters["refused:browser"], 4 * 2, "{counters}");
}
