//! Integration tests: a real emulator on a loopback port, spoken to over HTTPS with
//! reqwest, trusting the CA it wrote. Grouped by area; each test starts its own emulator
//! so clock moves and faults never leak between tests.

use entra_emulator::{Emulator, Options};
use entra_jose::{RsaPublicKey, decode_unverified};
use entra_testkit::{Browser, Harness, field, query_param, sign_in};
use serde_json::Value;

const CONTOSO: &str = "c0ffee00-0000-4000-8000-000000000001";
const API: &str = "a0000000-0000-4000-8000-0000000000a1";
const DAEMON: &str = "d0000000-0000-4000-8000-0000000000d1";
const WEB: &str = "e0000000-0000-4000-8000-0000000000e1";
const PUBLIC: &str = "c1000000-0000-4000-8000-0000000000c1";
const ALICE: &str = "alice@contoso.onmicrosoft.com";

/// The shared harness plus what these tests read often.
struct Env {
    h: Harness,
    base: String,
    admin: String,
}

impl std::ops::Deref for Env {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.h
    }
}

impl Env {
    async fn start() -> Self {
        let h = Harness::start().await;
        let base = h.ready().authority.clone();
        let admin = h.ready().admin_token.clone();
        Self { h, base, admin }
    }

    async fn token<F: serde::Serialize + ?Sized>(&self, tenant: &str, form: &F) -> (u16, Value) {
        self.h.token_response(tenant, form).await
    }

    async fn admin_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.h.admin().post(path, body).await
    }

    async fn jwks(&self) -> Vec<(String, RsaPublicKey)> {
        let keys: Value = self
            .http
            .get(self.url(&format!("/{CONTOSO}/discovery/v2.0/keys")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["kid"].as_str().unwrap().to_string(),
                    RsaPublicKey::from_jwk_components(
                        k["n"].as_str().unwrap(),
                        k["e"].as_str().unwrap(),
                    )
                    .unwrap(),
                )
            })
            .collect()
    }

    /// Verifies a token's signature against the published JWKS and returns its claims.
    async fn verify(&self, token: &str) -> serde_json::Map<String, Value> {
        let decoded = decode_unverified(token).unwrap();
        let kid = decoded.header_str("kid").unwrap().to_string();
        let keys = self.jwks().await;
        let (_, key) = keys.iter().find(|(k, _)| *k == kid).expect("kid published");
        key.verify_token(&decoded).expect("signature verifies");
        decoded.claims
    }

    async fn stop(self) {
        self.h.stop().await;
    }
}

/// (tenant, form, expected status, expected error, expected AADSTS code).
type ErrorCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, u64);

fn code_of(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or(0)
}

mod discovery {
    use super::*;

    #[tokio::test]
    async fn documents_use_the_host_the_client_used() {
        let env = Env::start().await;
        for tenant in ["contoso.onmicrosoft.com", CONTOSO] {
            let doc: Value = env
                .http
                .get(env.url(&format!("/{tenant}/v2.0/.well-known/openid-configuration")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(doc["issuer"], format!("{}/{CONTOSO}/v2.0", env.base));
            assert_eq!(
                doc["token_endpoint"],
                format!("{}/{tenant}/oauth2/v2.0/token", env.base)
            );
            assert!(
                doc["authorization_endpoint"]
                    .as_str()
                    .unwrap()
                    .starts_with(&env.base)
            );
            assert!(doc["jwks_uri"].as_str().unwrap().starts_with(&env.base));
        }
        let common: Value = env
            .http
            .get(env.url("/common/v2.0/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(common["issuer"], format!("{}/{{tenantid}}/v2.0", env.base));
        let v1: Value = env
            .http
            .get(env.url(&format!("/{CONTOSO}/.well-known/openid-configuration")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v1["issuer"], format!("{}/{CONTOSO}/", env.base));
        let inst: Value = env
            .http
            .get(env.url(&format!("/common/discovery/instance?api-version=1.1&authorization_endpoint={}/contoso.onmicrosoft.com/oauth2/v2.0/authorize", env.base)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            inst["tenant_discovery_endpoint"],
            format!(
                "{}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
                env.base
            )
        );
        let (status, body) = env
            .token("nowhere.example", &[("grant_type", "client_credentials")])
            .await;
        assert_eq!((status, code_of(&body)), (400, 90002));
        env.stop().await;
    }

    #[tokio::test]
    async fn key_rotation_keeps_the_old_key_published() {
        let env = Env::start().await;
        let (_, body) = env
            .token(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", DAEMON),
                    ("client_secret", "daemon-dev-secret"),
                    ("scope", "api://contoso-api/.default"),
                ],
            )
            .await;
        let old_token = body["access_token"].as_str().unwrap().to_string();
        let before = env.jwks().await;
        assert_eq!(before.len(), 1);
        let rotated: Value = env
            .admin_post("/keys/rotate", Value::Null)
            .await
            .json()
            .await
            .unwrap();
        let after = env.jwks().await;
        assert_eq!(after.len(), 2);
        assert_eq!(after[0].0, rotated["kid"].as_str().unwrap());
        env.verify(&old_token).await; // still verifies during the grace period
        let (_, body) = env
            .token(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", DAEMON),
                    ("client_secret", "daemon-dev-secret"),
                    ("scope", "api://contoso-api/.default"),
                ],
            )
            .await;
        let new = decode_unverified(body["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(new.header_str("kid"), rotated["kid"].as_str());
        env.stop().await;
    }
}

mod client_credentials {
    use super::*;

    #[tokio::test]
    async fn secret_gives_a_v2_app_token_with_roles() {
        let env = Env::start().await;
        let (status, body) = env
            .token(
                "contoso.onmicrosoft.com",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", DAEMON),
                    ("client_secret", "daemon-dev-secret"),
                    ("scope", "api://contoso-api/.default"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        let claims = env.verify(body["access_token"].as_str().unwrap()).await;
        assert_eq!(claims["aud"], API);
        assert_eq!(claims["iss"], format!("{}/{CONTOSO}/v2.0", env.base));
        assert_eq!(claims["roles"], serde_json::json!(["Data.Read.All"]));
        assert_eq!(claims["idtyp"], "app");
        assert_eq!(claims["azpacr"], "1");
        assert_eq!(claims["ver"], "2.0");
        env.stop().await;
    }

    #[tokio::test]
    async fn basic_auth_and_v1_endpoint() {
        let env = Env::start().await;
        let resp = env
            .http
            .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
            .basic_auth(DAEMON, Some("daemon-dev-secret"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "api://contoso-api/.default"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        // v1: resource, string numbers, expires_on; Graph is a v1 resource.
        let resp = env
            .http
            .post(env.url(&format!("/{CONTOSO}/oauth2/token")))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DAEMON),
                ("client_secret", "daemon-dev-secret"),
                ("resource", "https://graph.microsoft.com"),
            ])
            .send()
            .await
            .unwrap();
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["expires_in"].is_string() && body["expires_on"].is_string(),
            "{body}"
        );
        assert_eq!(body["resource"], "https://graph.microsoft.com");
        let claims = env.verify(body["access_token"].as_str().unwrap()).await;
        assert_eq!(claims["ver"], "1.0");
        assert_eq!(claims["aud"], "https://graph.microsoft.com");
        assert_eq!(claims["iss"], format!("{}/{CONTOSO}/", env.base));
        assert_eq!(claims["appidacr"], "1");
        env.stop().await;
    }

    #[tokio::test]
    async fn certificate_assertions_rs256_and_ps256() {
        let env = Env::start().await;
        let pem = std::fs::read_to_string(&env.ready().daemon_certificate).unwrap();
        let key_b64: String = pem
            .split("-----BEGIN PRIVATE KEY-----")
            .nth(1)
            .unwrap()
            .split("-----END")
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let key = entra_jose::RsaSigningKey::from_pkcs8_der(
            &entra_jose::b64std_decode(&key_b64).unwrap(),
        )
        .unwrap();
        let cert_b64: String = pem
            .split("-----BEGIN CERTIFICATE-----")
            .nth(1)
            .unwrap()
            .split("-----END")
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let cert_der = entra_jose::b64std_decode(&cert_b64).unwrap();
        let aud = env.url(&format!("/{CONTOSO}/oauth2/v2.0/token"));
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = serde_json::json!({"aud": aud, "iss": DAEMON, "sub": DAEMON, "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "exp": now + 600});
        for (alg, header) in [
            (
                entra_jose::Algorithm::RS256,
                serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": entra_jose::x5t_sha1(&cert_der)}),
            ),
            (
                entra_jose::Algorithm::PS256,
                serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": entra_jose::x5t_sha256(&cert_der)}),
            ),
        ] {
            let jwt = key
                .sign_compact(
                    alg,
                    &entra_jose::b64url(header.to_string()),
                    claims.to_string().as_bytes(),
                )
                .unwrap();
            let (status, body) = env
                .token(
                    CONTOSO,
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", DAEMON),
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ),
                        ("client_assertion", &jwt),
                        ("scope", "api://contoso-api/.default"),
                    ],
                )
                .await;
            assert_eq!(status, 200, "{alg:?}: {body}");
            assert_eq!(
                env.verify(body["access_token"].as_str().unwrap()).await["azpacr"],
                "2"
            );
        }
        // Expired assertion: AADSTS700024. Tampered: AADSTS700027.
        let stale = serde_json::json!({"aud": aud, "iss": DAEMON, "sub": DAEMON, "jti": "x", "nbf": now - 7200, "exp": now - 3600});
        let header = entra_jose::b64url(
            serde_json::json!({"alg": "RS256", "x5t": entra_jose::x5t_sha1(&cert_der)}).to_string(),
        );
        let jwt = key
            .sign_compact(
                entra_jose::Algorithm::RS256,
                &header,
                stale.to_string().as_bytes(),
            )
            .unwrap();
        let form = |a: &str| {
            vec![
                ("grant_type", "client_credentials".to_string()),
                ("client_id", DAEMON.to_string()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ),
                ("client_assertion", a.to_string()),
                ("scope", "api://contoso-api/.default".into()),
            ]
        };
        let resp: Value = env
            .http
            .post(&aud)
            .form(&form(&jwt))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(code_of(&resp), 700024);
        let good = key
            .sign_compact(
                entra_jose::Algorithm::RS256,
                &header,
                claims.to_string().as_bytes(),
            )
            .unwrap();
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        parts[1] = entra_jose::b64url(serde_json::json!({"aud": aud, "iss": DAEMON, "sub": DAEMON, "jti": "y", "nbf": now, "exp": now + 9999}).to_string());
        let resp: Value = env
            .http
            .post(&aud)
            .form(&form(&parts.join(".")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(code_of(&resp), 700027);
        env.stop().await;
    }

    #[tokio::test]
    async fn federated_assertion_from_the_emulator_issuer() {
        let env = Env::start().await;
        let state_dir = std::path::Path::new(&env.ready().ca_file)
            .parent()
            .unwrap()
            .to_path_buf();
        let issuer = format!("{}/federation", env.base);
        let token = entra_emulator::discovery::mint_federated(
            &state_dir,
            &issuer,
            "system:serviceaccount:default:workload",
            "api://AzureADTokenExchange",
            600,
        )
        .unwrap();
        let form = |a: &str| {
            vec![
                ("grant_type", "client_credentials".to_string()),
                ("client_id", DAEMON.to_string()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ),
                ("client_assertion", a.to_string()),
                ("scope", "api://contoso-api/.default".into()),
            ]
        };
        assert_eq!(env.token(CONTOSO, &form(&token)).await.0, 200);
        let wrong = entra_emulator::discovery::mint_federated(
            &state_dir,
            &issuer,
            "system:serviceaccount:default:other",
            "api://AzureADTokenExchange",
            600,
        )
        .unwrap();
        let body: Value = env.token(CONTOSO, &form(&wrong)).await.1;
        assert_eq!(code_of(&body), 70021, "{body}");
        let stale = entra_emulator::discovery::mint_federated(
            &state_dir,
            &issuer,
            "system:serviceaccount:default:workload",
            "api://AzureADTokenExchange",
            -600,
        )
        .unwrap();
        let body: Value = env.token(CONTOSO, &form(&stale)).await.1;
        assert_eq!(code_of(&body), 700024, "{body}");
        env.stop().await;
    }

    #[tokio::test]
    async fn error_paths_carry_entras_codes() {
        let env = Env::start().await;
        let cc = |id: &'static str, secret: &'static str, scope: &'static str| {
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", scope),
            ]
        };
        let cases: Vec<ErrorCase> = vec![
            (
                CONTOSO,
                cc(DAEMON, "nope", "api://contoso-api/.default"),
                401,
                "invalid_client",
                7000215,
            ),
            (
                CONTOSO,
                cc(
                    DAEMON,
                    "daemon-expired-secret",
                    "api://contoso-api/.default",
                ),
                401,
                "invalid_client",
                7000222,
            ),
            (
                CONTOSO,
                cc(
                    "99999999-0000-4000-8000-000000000000",
                    "x",
                    "api://contoso-api/.default",
                ),
                400,
                "unauthorized_client",
                700016,
            ),
            (
                "fab00000-0000-4000-8000-000000000002",
                cc(DAEMON, "daemon-dev-secret", "api://contoso-api/.default"),
                400,
                "unauthorized_client",
                700016,
            ),
            (
                CONTOSO,
                cc(DAEMON, "daemon-dev-secret", "api://contoso-api/Data.Read"),
                400,
                "invalid_scope",
                1002012,
            ),
            (
                CONTOSO,
                cc(DAEMON, "daemon-dev-secret", "api://nothing-here/.default"),
                400,
                "invalid_resource",
                500011,
            ),
            (
                CONTOSO,
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", DAEMON),
                    ("scope", "api://contoso-api/.default"),
                ],
                401,
                "invalid_client",
                7000218,
            ),
            (
                CONTOSO,
                vec![("grant_type", "magic"), ("client_id", DAEMON)],
                400,
                "unsupported_grant_type",
                70003,
            ),
            (
                CONTOSO,
                vec![("client_id", DAEMON)],
                400,
                "invalid_request",
                900144,
            ),
            (
                "common",
                cc(DAEMON, "daemon-dev-secret", "api://contoso-api/.default"),
                400,
                "invalid_request",
                50059,
            ),
        ];
        for (tenant, form, status, error, code) in cases {
            let (s, body) = env.token(tenant, &form).await;
            assert_eq!(
                (s, body["error"].as_str().unwrap(), code_of(&body)),
                (status, error, code),
                "{form:?}: {body}"
            );
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("AADSTS{code}:"))
            );
            for k in ["trace_id", "correlation_id", "timestamp", "error_uri"] {
                assert!(body[k].is_string(), "{k} missing");
            }
        }
        // Not a form, and a malformed form.
        let resp = env
            .http
            .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
            .json(&serde_json::json!({"grant_type": "client_credentials"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        let resp = env
            .http
            .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![0xff, 0xfe, b'=', 0x80])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        // Oversized body: refused, the server stays up.
        let resp = env
            .http
            .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 1024 * 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413);
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error_codes"][0],
            9002313
        );
        let (s, _) = env
            .token(
                CONTOSO,
                &cc(DAEMON, "daemon-dev-secret", "api://contoso-api/.default"),
            )
            .await;
        assert_eq!(s, 200);
        env.stop().await;
    }
}

fn pkce() -> (String, String) {
    let verifier = entra_emulator::tokens::random_token(32);
    let challenge = entra_jose::b64url(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    (verifier, challenge)
}

mod user_flows {
    use super::*;

    fn authorize_url(
        env: &Env,
        client: &str,
        redirect: &str,
        scope: &str,
        challenge: &str,
    ) -> String {
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
        let location = sign_in(&mut b, &url, ALICE, "alice-dev-password", "accept").await;
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
        let location = sign_in(
            &mut Browser::new(&env),
            &url,
            "bob@contoso.onmicrosoft.com",
            "bob-dev-password",
            "cancel",
        )
        .await;
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some("access_denied")
        );
        let location = sign_in(
            &mut Browser::new(&env),
            &url,
            "bob@contoso.onmicrosoft.com",
            "bob-dev-password",
            "accept",
        )
        .await;
        assert!(query_param(&location, "code").is_some(), "{location}");
        // Consent given interactively now holds for ROPC as well.
        let (status, body) = env
            .token(
                CONTOSO,
                &[
                    ("grant_type", "password"),
                    ("client_id", PUBLIC),
                    ("username", "bob@contoso.onmicrosoft.com"),
                    ("password", "bob-dev-password"),
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
                    ("username", "bob@contoso.onmicrosoft.com"),
                    ("password", "bob-dev-password"),
                    ("scope", "api://contoso-api/Data.Write"),
                ],
            )
            .await;
        assert_eq!(code_of(&body), 65001);
        env.stop().await;
    }

    #[tokio::test]
    async fn the_claims_parameter_adds_auth_contexts_and_client_capabilities() {
        let env = Env::start().await;
        let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"},"xms_cc":{"values":["cp1"]}}}"#;
        let user = |claims: Option<&'static str>| {
            let mut form = vec![
                ("grant_type", "password"),
                ("client_id", PUBLIC),
                ("username", "alice@contoso.onmicrosoft.com"),
                ("password", "alice-dev-password"),
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
                    ("client_secret", "daemon-dev-secret"),
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
        let (_, b) = env
            .token(
                CONTOSO,
                &ropc("bob@contoso.onmicrosoft.com", "bob-dev-password"),
            )
            .await;
        assert_eq!(
            (b["error"].as_str(), code_of(&b)),
            (Some("invalid_grant"), 65001)
        );
        let (_, b) = env
            .token(
                CONTOSO,
                &ropc("mfa@contoso.onmicrosoft.com", "mfa-dev-password"),
            )
            .await;
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
        let (status, b) = env.token(CONTOSO, &ropc(ALICE, "alice-dev-password")).await;
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
            "mfa@contoso.onmicrosoft.com",
            "mfa-dev-password",
        )
        .await;
        let (status, body) = redeem_public_code(&env, &code, &verifier).await;
        assert_eq!(status, 200, "{body}");
        env.stop().await;
    }

    #[tokio::test]
    async fn expired_code_after_the_clock_moves() {
        let env = Env::start().await;
        let (verifier, code) = public_client_code(
            &env,
            "api://contoso-api/Data.Read",
            ALICE,
            "alice-dev-password",
        )
        .await;
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
            "alice-dev-password",
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
            (
                Some(API),
                Some(WEB),
                Some("Data.Read"),
                Some("a11ce000-0000-4000-8000-000000000001")
            )
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
                    ("passwd", "alice-dev-password"),
                ],
            )
            .await;
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("action=\"https://localhost/callback\"")
                && html.contains("name=\"code\""),
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
        let location = sign_in(&mut b, &url, ALICE, "alice-dev-password", "accept").await;
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
                    ("passwd", "alice-dev-password"),
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
                    ("passwd", "alice-dev-password"),
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
}

mod managed_identity {
    use super::*;

    #[tokio::test]
    async fn imds_and_app_service_wire_formats() {
        let env = Env::start().await;
        let ready = env.ready().clone();
        let url = env.url(
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://contoso-api",
        );
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
        assert_eq!(claims["azp"], "b0000000-0000-4000-8000-0000000000b1");
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
            "b0000000-0000-4000-8000-0000000000b2"
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
        assert_eq!(body["client_id"], "b0000000-0000-4000-8000-0000000000b1");
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
}

mod operations {
    use super::*;

    #[tokio::test]
    async fn faults_counters_and_admin_guard() {
        let env = Env::start().await;
        let resp = env
            .http
            .get(env.url("/admin/counters"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let cc = [
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", "daemon-dev-secret"),
            ("scope", "api://contoso-api/.default"),
        ];
        let resp = env.admin_post("/faults", serde_json::json!({"endpoint": "token", "status": 429, "count": 2, "retry_after": 3})).await;
        assert_eq!(resp.status(), 204);
        for _ in 0..2 {
            let resp = env
                .http
                .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
                .form(&cc)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 429);
            assert_eq!(resp.headers()["retry-after"], "3");
        }
        let (status, _) = env.token(CONTOSO, &cc).await;
        assert_eq!(status, 200);
        env.admin_post(
            "/faults",
            serde_json::json!({"endpoint": "token", "drop": 1}),
        )
        .await;
        let dropped = env
            .http
            .post(env.url(&format!("/{CONTOSO}/oauth2/v2.0/token")))
            .form(&cc)
            .send()
            .await;
        assert!(
            dropped.is_err(),
            "the connection is closed without an answer"
        );
        let (status, _) = env.token(CONTOSO, &cc).await;
        assert_eq!(status, 200);
        let counters: Value = env
            .http
            .get(env.url("/admin/counters"))
            .bearer_auth(&env.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(counters["endpoint:token"], 5); // two 429s, one 200, one dropped, one 200
        assert_eq!(counters["grant:client_credentials"], 2);
        let events: Value = env
            .http
            .get(env.url("/admin/events"))
            .bearer_auth(&env.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!events["events"].as_array().unwrap().is_empty());
        env.stop().await;
    }

    /// Hostile bodies on every form endpoint: each gets an Entra-shaped 4xx, and the
    /// server keeps answering.
    #[tokio::test]
    async fn random_form_bodies_get_entra_errors() {
        let env = Env::start().await;
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pieces: [&[u8]; 12] = [
            b"grant_type=",
            b"client_credentials",
            b"&",
            b"=",
            b"%",
            b"%zz",
            b"scope=api://contoso-api/.default",
            b"client_id=",
            DAEMON.as_bytes(),
            b"\xff\xfe",
            b"code=",
            b"+",
        ];
        let paths = [
            "/common/oauth2/v2.0/token",
            "/contoso.onmicrosoft.com/oauth2/token",
            "/contoso.onmicrosoft.com/oauth2/v2.0/devicecode",
            "/login",
            "/consent",
            "/devicelogin",
            "/device/confirm",
        ];
        for round in 0..300 {
            let mut body = Vec::new();
            for _ in 0..(next() % 8) {
                body.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let path = paths[round % paths.len()];
            let resp = env
                .http
                .post(env.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "{path} {:?} -> {status}",
                String::from_utf8_lossy(&body)
            );
        }
        let (status, _) = env
            .token(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", DAEMON),
                    ("client_secret", "daemon-dev-secret"),
                    ("scope", "api://contoso-api/.default"),
                ],
            )
            .await;
        assert_eq!(status, 200);
        env.stop().await;
    }

    #[tokio::test]
    async fn admin_adds_apps_secrets_and_users() {
        let env = Env::start().await;
        let resp = env
            .admin_post("/apps", serde_json::json!({"client_id": "f0000000-0000-4000-8000-0000000000f1", "name": "New daemon", "tenant": "contoso.onmicrosoft.com", "app_role_assignments": ["api://contoso-api/Data.Write.All"]}))
            .await;
        assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
        let secret: Value = env
            .admin_post(
                "/apps/f0000000-0000-4000-8000-0000000000f1/secrets",
                serde_json::json!({}),
            )
            .await
            .json()
            .await
            .unwrap();
        let value = secret["value"].as_str().unwrap();
        let (status, body) = env
            .token(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "f0000000-0000-4000-8000-0000000000f1"),
                    ("client_secret", value),
                    ("scope", "api://contoso-api/.default"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            env.verify(body["access_token"].as_str().unwrap()).await["roles"],
            serde_json::json!(["Data.Write.All"])
        );
        let bad = env
            .admin_post(
                "/apps",
                serde_json::json!({"client_id": "not-a-guid", "tenant": "contoso.onmicrosoft.com"}),
            )
            .await;
        assert_eq!(bad.status(), 400);
        let resp = env
            .admin_post(
                "/users",
                serde_json::json!({"upn": "carol@contoso.onmicrosoft.com", "password": "carol-pw"}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let resp = env
            .http
            .delete(env.url("/admin/apps/f0000000-0000-4000-8000-0000000000f1"))
            .bearer_auth(&env.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        let (_, body) = env
            .token(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "f0000000-0000-4000-8000-0000000000f1"),
                    ("client_secret", value),
                    ("scope", "api://contoso-api/.default"),
                ],
            )
            .await;
        assert_eq!(code_of(&body), 700016);
        env.stop().await;
    }

    #[tokio::test]
    async fn bad_config_is_refused_with_file_line_and_key() {
        let dir = std::env::temp_dir().join(format!("entra-badcfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("dir.toml");
        std::fs::write(&cfg, "[[tenants]]\nid = \"c0ffee00-0000-4000-8000-000000000001\"\ndomain = \"x.example\"\n[[apps]]\nclient_id = \"a0000000-0000-4000-8000-0000000000a1\"\ntenant = \"y.example\"\n").unwrap();
        let err = Emulator::start(Options {
            state_dir: dir.join("state"),
            port: 0,
            config: Some(cfg.clone()),
            ..Default::default()
        })
        .await
        .err()
        .unwrap();
        assert!(err.contains("dir.toml:6: apps[0].tenant"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }
}
