//! Managed identity and workload identity, on the wire.
//!
//! IMDS and App Service (2019-08-01 and the legacy 2017-09-01) run against the emulator
//! over HTTPS. Azure Arc, Cloud Shell, Service Fabric and Azure ML run against small mock
//! hosts on 127.0.0.1 that check the exact request (method, path, headers, parameters)
//! and answer like the real host, including every `expires_on` form seen in the wild.
//! Workload identity survives a token file rotation across an emulator clock jump.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Emu, claims};
use entra_identity::http::{HttpClient, Pipeline, ReqwestClient, RetryPolicy};
use entra_identity::{
    BoxFuture, ClientAssertionCredential, ClientOptions, Env as Vars, Error, ImdsRetryPolicy,
    ManagedIdentityCredential, ManagedIdentityHost, ManagedIdentityId, ManagedIdentityOptions,
    Secret, TokenCredential, TokenRequest, WorkloadIdentityCredential, WorkloadIdentityOptions,
};
use entra_testkit::dev::{API, API_DEFAULT, DAEMON, SYSTEM_MI, TENANT, USER_MI, USER_MI_RESOURCE};
use serde_json::{Value, json};

// --- The emulator --------------------------------------------------------------------

impl Emu {
    /// The emulator's CA, short retries.
    fn client(&self) -> ClientOptions {
        crate::common::emulator_options(self, fast_retry())
    }

    fn mi(&self, id: ManagedIdentityId, env: Vars) -> ManagedIdentityCredential {
        ManagedIdentityCredential::new(
            id,
            ManagedIdentityOptions {
                client: self.client(),
                env: Some(env),
                arc_agent_installed: Some(false),
                imds_retry: fast_imds(),
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn object_id(&self, client_id: &str) -> String {
        self.emulator()
            .managed_identity_object_id(client_id)
            .unwrap()
    }
}

fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

/// IMDS's policy with the shape kept and the delays shrunk.
fn fast_imds() -> ImdsRetryPolicy {
    ImdsRetryPolicy {
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(8),
        max_retry_after: Duration::from_millis(20),
        gone_delay: Duration::from_millis(5),
        ..ImdsRetryPolicy::default()
    }
}

fn req(scope: &str) -> TokenRequest {
    TokenRequest::new([scope])
}

// --- Mock hosts --------------------------------------------------------------------

/// One request a mock host received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn q(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

pub(crate) struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

pub(crate) fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: body.to_string(),
    }
}

type Script = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

pub(crate) struct Mock {
    pub(crate) base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Mock {
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn mock_router(seen: Arc<Mutex<Vec<Seen>>>, script: Script) -> axum::Router {
    axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (seen, script) = (seen.clone(), script.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let s = Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query: serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).unwrap(),
                headers: parts.headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let n = {
                let mut all = seen.lock().unwrap();
                all.push(s.clone());
                all.len() - 1
            };
            let r = script(&s, n);
            let mut resp = axum::response::Response::builder()
                .status(r.status)
                .header("content-type", "application/json");
            for (k, v) in r.headers {
                resp = resp.header(k, v);
            }
            resp.body(axum::body::Body::from(r.body)).unwrap()
        }
    })
}

/// A plain-HTTP mock host on 127.0.0.1.
pub(crate) async fn mock(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Mock {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let router = mock_router(seen.clone(), Arc::new(script));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Mock { base, seen, task }
}

/// An HTTPS mock host with a fresh self-signed certificate; returns its SHA-1 thumbprint
/// in hex, as Service Fabric puts it in `IDENTITY_SERVER_THUMBPRINT`.
pub(crate) async fn tls_mock(
    script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> (Mock, String) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let router = mock_router(seen.clone(), Arc::new(script));
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let der = certified.cert.der().clone();
    let thumbprint: String =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![der],
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake here.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(tls),
                        hyper_util::service::TowerToHyperService::new(router),
                    )
                    .await;
            });
        }
    });
    (Mock { base, seen, task }, thumbprint)
}

fn mi(id: ManagedIdentityId, env: Vars) -> ManagedIdentityCredential {
    mi_with(id, env, |_| {})
}

fn mi_with(
    id: ManagedIdentityId,
    env: Vars,
    tweak: impl FnOnce(&mut ManagedIdentityOptions),
) -> ManagedIdentityCredential {
    let mut options = ManagedIdentityOptions {
        client: ClientOptions {
            pipeline: Some(Pipeline::new(
                Arc::new(ReqwestClient::new(None).unwrap()),
                fast_retry(),
            )),
            ..Default::default()
        },
        env: Some(env),
        arc_agent_installed: Some(false),
        imds_retry: fast_imds(),
        ..Default::default()
    };
    tweak(&mut options);
    ManagedIdentityCredential::new(id, options).unwrap()
}

// --- expires_on forms ----------------------------------------------------------------

fn at(unix: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

/// `1/10/2020 8:01:28 AM +00:00` (App Service 2017 on Windows).
fn windows_date(unix: i64) -> String {
    let t = at(unix);
    let (h, ampm) = match t.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{}/{}/{} {}:{:02}:{:02} {} +00:00",
        u8::from(t.month()),
        t.day(),
        t.year(),
        h,
        t.minute(),
        t.second(),
        ampm
    )
}

/// `06/20/2019 14:57:58 +00:00` (App Service 2017 on Linux).
fn linux_date(unix: i64) -> String {
    let t = at(unix);
    format!(
        "{:02}/{:02}/{} {:02}:{:02}:{:02} +00:00",
        u8::from(t.month()),
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2024-10-18T19:51:37.0000000+00:00`.
fn iso_seven_digits(unix: i64) -> String {
    let t = at(unix);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}.0000000+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn now() -> i64 {
    entra_identity::unix_time::now()
}

// --- IMDS and App Service on the emulator --------------------------------------------

#[tokio::test]
async fn imds_over_https_system_and_user_assigned_with_the_cache() {
    let env = Emu::start().await;
    let vars = Vars::from_pairs([(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        env.ready().imds_endpoint.clone(),
    )]);
    assert!(env.ready().imds_endpoint.starts_with("https://"));
    let system = env.mi(ManagedIdentityId::System, vars.clone());
    assert_eq!(system.host(), Some(ManagedIdentityHost::Imds));
    let t = system.get_token(&req(API_DEFAULT)).await.unwrap();
    let c = claims(&t.token);
    assert_eq!(
        (c["azp"].as_str(), c["aud"].as_str()),
        (Some(SYSTEM_MI), Some(API))
    );
    assert_eq!(c["roles"], json!(["Data.Read.All"]));
    assert!(
        (t.expires_on - now() - 3600).abs() <= 2,
        "{}",
        t.expires_on - now()
    );
    assert_eq!(env.counter("endpoint:imds").await, 1);
    // Cache hit: same token, no second request.
    let again = system.get_token(&req(API_DEFAULT)).await.unwrap();
    assert_eq!(again.token, t.token);
    assert_eq!(env.counter("endpoint:imds").await, 1);
    // A claims challenge goes to the host.
    system
        .get_token(&req(API_DEFAULT).claims("{}"))
        .await
        .unwrap();
    assert_eq!(env.counter("endpoint:imds").await, 2);

    // User-assigned by client id, object id and resource id: each its own cache slot.
    let oid = env.object_id(USER_MI);
    for id in [
        ManagedIdentityId::ClientId(USER_MI.into()),
        ManagedIdentityId::ObjectId(oid.clone()),
        ManagedIdentityId::ResourceId(USER_MI_RESOURCE.into()),
    ] {
        let t = env
            .mi(id.clone(), vars.clone())
            .get_token(&req(API_DEFAULT))
            .await
            .unwrap();
        let c = claims(&t.token);
        assert_eq!(c["azp"].as_str(), Some(USER_MI), "{id:?}");
        assert_eq!(c["oid"].as_str(), Some(oid.as_str()), "{id:?}");
        assert!(c.get("roles").is_none(), "b2 has no app roles: {c:?}");
    }
    assert_eq!(env.counter("endpoint:imds").await, 5);

    // No injected transport: the extra CA from ClientOptions is trusted for the https base.
    let with_ca_file = ManagedIdentityCredential::new(
        ManagedIdentityId::System,
        ManagedIdentityOptions {
            client: ClientOptions {
                ca_file: Some(env.ready().ca_file.clone().into()),
                ..Default::default()
            },
            env: Some(vars.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let t = with_ca_file.get_token(&req(API_DEFAULT)).await.unwrap();
    assert_eq!(claims(&t.token)["azp"], SYSTEM_MI);
    assert_eq!(env.counter("endpoint:imds").await, 6);

    // IMDS_ENDPOINT alone names the base too.
    let by_imds_endpoint = env.mi(
        ManagedIdentityId::System,
        Vars::from_pairs([("IMDS_ENDPOINT", env.ready().imds_endpoint.clone())]),
    );
    by_imds_endpoint.get_token(&req(API_DEFAULT)).await.unwrap();

    // An identity not assigned here: unavailable, so a chain moves on.
    let stranger = env.mi(
        ManagedIdentityId::ClientId("99999999-0000-4000-8000-000000000000".into()),
        vars.clone(),
    );
    let err = stranger.get_token(&req(API_DEFAULT)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable { reason, .. } if reason.contains("not assigned")),
        "{err}"
    );
    // An unknown resource: Entra's error, typed, with the host named and a hint.
    let err = system
        .get_token(&req("api://nothing-here/.default"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ManagedIdentity { host: "IMDS", .. }),
        "{err:?}"
    );
    assert!(err.entra().is_some_and(|e| e.has_code(500011)), "{err}");
    assert!(err.to_string().contains("hint:"), "{err}");
    // Two scopes: refused before any request.
    let err = system
        .get_token(&TokenRequest::new([
            API_DEFAULT,
            "https://graph.microsoft.com/.default",
        ]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    env.stop().await;
}

#[tokio::test]
async fn app_service_2019_and_legacy_2017_on_the_emulator() {
    let env = Emu::start().await;
    let (endpoint, header) = (
        env.ready().identity_endpoint.clone(),
        env.ready().identity_header.clone(),
    );
    let v2019 = Vars::from_pairs([
        ("IDENTITY_ENDPOINT", endpoint.clone()),
        ("IDENTITY_HEADER", header.clone()),
    ]);
    let v2017 = Vars::from_pairs([
        ("MSI_ENDPOINT", endpoint.clone()),
        ("MSI_SECRET", header.clone()),
    ]);

    let system = env.mi(ManagedIdentityId::System, v2019.clone());
    assert_eq!(system.host(), Some(ManagedIdentityHost::AppService));
    let t = system.get_token(&req(API_DEFAULT)).await.unwrap();
    let c = claims(&t.token);
    assert_eq!(c["azp"].as_str(), Some(SYSTEM_MI));
    assert_eq!(c["roles"], json!(["Data.Read.All"]));
    assert!((t.expires_on - now() - 3600).abs() <= 2);
    let user = env.mi(ManagedIdentityId::ClientId(USER_MI.into()), v2019.clone());
    assert_eq!(
        claims(&user.get_token(&req(API_DEFAULT)).await.unwrap().token)["azp"],
        USER_MI
    );
    let by_resource = env.mi(
        ManagedIdentityId::ResourceId(USER_MI_RESOURCE.into()),
        v2019.clone(),
    );
    assert_eq!(
        claims(
            &by_resource
                .get_token(&req(API_DEFAULT))
                .await
                .unwrap()
                .token
        )["azp"],
        USER_MI
    );
    let by_principal = env.mi(
        ManagedIdentityId::ObjectId(env.object_id(USER_MI)),
        v2019.clone(),
    );
    assert_eq!(
        claims(
            &by_principal
                .get_token(&req(API_DEFAULT))
                .await
                .unwrap()
                .token
        )["azp"],
        USER_MI
    );
    system.get_token(&req(API_DEFAULT)).await.unwrap();
    assert_eq!(env.counter("endpoint:app_service").await, 4);

    // Legacy: header `secret`, `clientid`, and `expires_on` as a date.
    let legacy = env.mi(ManagedIdentityId::System, v2017.clone());
    assert_eq!(legacy.host(), Some(ManagedIdentityHost::AppService2017));
    let t = legacy.get_token(&req(API_DEFAULT)).await.unwrap();
    assert_eq!(claims(&t.token)["azp"], SYSTEM_MI);
    assert!(
        (t.expires_on - now() - 3600).abs() <= 2,
        "date parsed: {}",
        t.expires_on - now()
    );
    let legacy_user = env.mi(ManagedIdentityId::ClientId(USER_MI.into()), v2017.clone());
    assert_eq!(
        claims(
            &legacy_user
                .get_token(&req(API_DEFAULT))
                .await
                .unwrap()
                .token
        )["azp"],
        USER_MI
    );
    assert_eq!(env.counter("endpoint:app_service").await, 6);
    let err = env
        .mi(ManagedIdentityId::ObjectId("x".into()), v2017)
        .get_token(&req(API_DEFAULT))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("client id only")),
        "{err}"
    );

    // A wrong header: the host's refusal, typed, without the header in it.
    let wrong = env.mi(
        ManagedIdentityId::System,
        Vars::from_pairs([
            ("IDENTITY_ENDPOINT", endpoint),
            ("IDENTITY_HEADER", "wrong-header-value-0451".into()),
        ]),
    );
    let err = wrong.get_token(&req(API_DEFAULT)).await.unwrap_err();
    let e = err.entra().expect("typed");
    assert_eq!((e.error.as_str(), e.status), ("unauthorized", 401));
    let text = format!("{err} {err:?} {wrong:?}");
    assert!(text.contains("App Service (2019-08-01)"), "{text}");
    assert!(
        !text.contains("wrong-header-value-0451") && !text.contains(&header),
        "{text}"
    );
    env.stop().await;
}

// --- IMDS retries and reachability -----------------------------------------------------

#[tokio::test]
async fn imds_retries_404_410_429_5xx_then_succeeds() {
    let exp = now() + 3600;
    let host = mock(move |s, n| {
        assert_eq!(
            (s.method.as_str(), s.path.as_str()),
            ("GET", "/metadata/identity/oauth2/token")
        );
        assert_eq!(s.header("metadata"), Some("true"));
        assert_eq!(
            (s.q("api-version"), s.q("resource")),
            (Some("2018-02-01"), Some("https://vault.azure.net"))
        );
        assert_eq!(s.q("msi_res_id"), Some("/subscriptions/x/rg/y"));
        match n {
            0 => reply(404, json!({"error": "not_found"})),
            1 | 2 => reply(410, json!({"error": "gone"})),
            3 => Reply {
                status: 429,
                headers: vec![("retry-after", "0".into())],
                body: "{}".into(),
            },
            4 => reply(503, json!({"error": "unavailable"})),
            _ => reply(
                200,
                json!({
                    "access_token": "imds-token", "refresh_token": "", "expires_in": "3599",
                    "expires_on": exp.to_string(), "not_before": now().to_string(),
                    "resource": "https://vault.azure.net", "token_type": "Bearer"
                }),
            ),
        }
    })
    .await;
    let vars = Vars::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", host.base.clone())]);
    let cred = mi(
        ManagedIdentityId::ResourceId("/subscriptions/x/rg/y".into()),
        vars.clone(),
    );
    let t = cred
        .get_token(&req("https://vault.azure.net/.default"))
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "imds-token");
    assert!((t.expires_on - now() - 3599).abs() <= 2);
    assert_eq!(host.count(), 6);

    // 410 for longer than the budget: 1 + 7 attempts, then the host's answer, not a hang.
    let gone = mock(|_, _| Reply {
        status: 410,
        headers: vec![],
        body: String::new(),
    })
    .await;
    let cred = mi(
        ManagedIdentityId::System,
        Vars::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", gone.base.clone())]),
    );
    let err = cred
        .get_token(&req("https://vault.azure.net/.default"))
        .await
        .unwrap_err();
    assert_eq!(gone.count(), 8);
    assert!(
        err.to_string()
            .starts_with("IMDS managed identity: unexpected response"),
        "{err}"
    );
    assert!(err.to_string().contains("HTTP 410"), "{err}");
    // The real policy's shape: 410 every 10 s, 7 times (IMDS promises 70 s).
    let real = ImdsRetryPolicy::default();
    assert_eq!(
        real.gone_delay * real.gone_max_retries,
        Duration::from_secs(70)
    );
    assert_eq!(real.max_retries, 3);
}

#[tokio::test]
async fn imds_unreachable_is_unavailable() {
    // A configured base that refuses connections: retried, then unavailable.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cred = mi(
        ManagedIdentityId::System,
        Vars::from_pairs([(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            format!("http://127.0.0.1:{port}"),
        )]),
    );
    let err = cred
        .get_token(&req("https://vault.azure.net/.default"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable { credential: "ManagedIdentityCredential", reason } if reason.contains("did not answer")),
        "{err}"
    );

    // The default address, on a machine where nothing answers: one short probe, remembered.
    struct Silent(AtomicU32);
    impl HttpClient for Silent {
        fn send(
            &self,
            _: entra_identity::http::Request,
        ) -> BoxFuture<'_, Result<entra_identity::http::Response, String>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(std::future::pending())
        }
    }
    let silent = Arc::new(Silent(AtomicU32::new(0)));
    let cred = mi_with(ManagedIdentityId::System, Vars::new(), |o| {
        o.client.pipeline = Some(Pipeline::new(silent.clone(), fast_retry()));
        o.imds_probe_timeout = Duration::from_millis(150);
    });
    let start = Instant::now();
    let err = cred
        .get_token(&req("https://vault.azure.net/.default"))
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(&err, Error::Unavailable { reason, .. } if reason.contains("169.254.169.254") && reason.contains("unreachable")),
        "{err}"
    );
    let err = cred
        .get_token(&req("https://storage.azure.com/.default"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }));
    assert_eq!(
        silent.0.load(Ordering::SeqCst),
        1,
        "the probe result is remembered"
    );

    // IDENTITY_ENDPOINT alone: no usable host.
    let cred = mi(
        ManagedIdentityId::System,
        Vars::from_pairs([("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token")]),
    );
    assert_eq!(cred.host(), None);
    let err = cred
        .get_token(&req("https://vault.azure.net/.default"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable { reason, .. } if reason.contains("IDENTITY_HEADER") && reason.contains("IMDS_ENDPOINT")),
        "{err}"
    );
}

// --- Azure Arc ---------------------------------------------------------------------------

#[tokio::test]
async fn azure_arc_key_file_challenge() {
    let keys = temp_dir("entra-arc-tokens");
    let key_path = keys.join("0123-4567.key");
    std::fs::write(&key_path, "arc-key-contents-5e5e5e").unwrap();
    let realm = key_path.display().to_string();
    let exp = now() + 3600;
    let host = mock(move |s, _| {
        assert_eq!((s.method.as_str(), s.path.as_str()), ("GET", "/metadata/identity/oauth2/token"));
        assert_eq!(s.header("metadata"), Some("true"));
        assert_eq!(s.q("api-version"), Some("2020-06-01"));
        assert_eq!(s.q("resource"), Some("https://management.azure.com"));
        match s.header("authorization") {
            None => Reply {
                status: 401,
                headers: vec![("www-authenticate", format!("Basic realm={realm}"))],
                body: String::new(),
            },
            Some("Basic arc-key-contents-5e5e5e") => reply(200, json!({
                "access_token": "arc-token", "expires_in": "3599", "expires_on": exp.to_string(),
                "not_before": now().to_string(), "resource": "https://management.azure.com",
                "token_type": "Bearer"
            })),
            Some(other) => reply(403, json!({"error": "access_denied", "error_description": format!("bad {other}")})),
        }
    })
    .await;
    let vars = Vars::from_pairs([
        (
            "IDENTITY_ENDPOINT",
            format!("{}/metadata/identity/oauth2/token", host.base),
        ),
        ("IMDS_ENDPOINT", host.base.clone()),
    ]);
    let arc = |id, dir: &std::path::Path| {
        let dir = dir.to_path_buf();
        mi_with(id, vars.clone(), move |o| o.arc_key_directory = Some(dir))
    };
    let cred = arc(ManagedIdentityId::System, &keys);
    assert_eq!(cred.host(), Some(ManagedIdentityHost::AzureArc));
    let t = cred
        .get_token(&req("https://management.azure.com/.default"))
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "arc-token");
    let seen = host.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].header("authorization").is_none());
    cred.get_token(&req("https://management.azure.com/.default"))
        .await
        .unwrap();
    assert_eq!(host.count(), 2, "cached");

    // The key file must be in the agent's directory...
    let elsewhere = temp_dir("entra-arc-elsewhere");
    let err = arc(ManagedIdentityId::System, &elsewhere)
        .get_token(&req("https://management.azure.com/.default"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not in"), "{err}");
    assert_eq!(host.count(), 3, "the key was never sent");
    // ... no larger than 4096 bytes ...
    std::fs::write(&key_path, "k".repeat(4097)).unwrap();
    let err = arc(ManagedIdentityId::System, &keys)
        .get_token(&req("https://management.azure.com/.default"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("larger than 4096 bytes"), "{err}");
    assert!(matches!(
        err,
        Error::ManagedIdentity {
            host: "Azure Arc",
            ..
        }
    ));
    // ... and Arc has only the system-assigned identity.
    let err = arc(ManagedIdentityId::ClientId("c".into()), &keys)
        .get_token(&req("https://management.azure.com/.default"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("Azure Arc") && m.contains("system-assigned")),
        "{err}"
    );
    assert_eq!(host.count(), 4);

    // A challenge naming a file that is not a .key file, or outside through `..`.
    for realm in [
        keys.join("passwd").display().to_string(),
        format!(
            "{}/../{}/x.key",
            keys.display(),
            elsewhere.file_name().unwrap().to_string_lossy()
        ),
    ] {
        std::fs::write(elsewhere.join("x.key"), "k").unwrap();
        std::fs::write(keys.join("passwd"), "k").unwrap();
        let evil = mock(move |_, _| Reply {
            status: 401,
            headers: vec![("www-authenticate", format!("Basic realm={realm}"))],
            body: String::new(),
        })
        .await;
        let cred = mi_with(
            ManagedIdentityId::System,
            Vars::from_pairs([
                (
                    "IDENTITY_ENDPOINT",
                    format!("{}/metadata/identity/oauth2/token", evil.base),
                ),
                ("IMDS_ENDPOINT", evil.base.clone()),
            ]),
            |o| o.arc_key_directory = Some(keys.clone()),
        );
        let err = cred
            .get_token(&req("https://management.azure.com/.default"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("refused the key file"), "{err}");
        assert_eq!(evil.count(), 1);
    }
    // No challenge at all.
    let bare = mock(|_, _| Reply {
        status: 401,
        headers: vec![],
        body: String::new(),
    })
    .await;
    let err = mi_with(
        ManagedIdentityId::System,
        Vars::from_pairs([
            (
                "IDENTITY_ENDPOINT",
                format!("{}/metadata/identity/oauth2/token", bare.base),
            ),
            ("IMDS_ENDPOINT", bare.base.clone()),
        ]),
        |o| o.arc_key_directory = Some(keys.clone()),
    )
    .get_token(&req("https://management.azure.com/.default"))
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("without a `WWW-Authenticate: Basic realm=<key file>` challenge"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&keys);
    let _ = std::fs::remove_dir_all(&elsewhere);
}

// --- Cloud Shell -------------------------------------------------------------------------

#[tokio::test]
async fn cloud_shell_posts_a_form() {
    let exp = now() + 3000;
    let host = mock(move |s, _| {
        assert_eq!((s.method.as_str(), s.path.as_str()), ("POST", "/oauth2/token"));
        assert_eq!(s.header("metadata"), Some("true"));
        assert!(s.header("content-type").unwrap().starts_with("application/x-www-form-urlencoded"));
        assert!(s.query.is_empty());
        let form: BTreeMap<String, String> = serde_urlencoded::from_str(&s.body).unwrap();
        assert_eq!(form, BTreeMap::from([("resource".to_string(), "https://graph.microsoft.com".to_string())]));
        reply(200, json!({
            "access_token": "shell-token", "refresh_token": "", "expires_on": iso_seven_digits(exp),
            "not_before": now().to_string(), "resource": "https://graph.microsoft.com", "token_type": "Bearer"
        }))
    })
    .await;
    let vars = Vars::from_pairs([("MSI_ENDPOINT", format!("{}/oauth2/token", host.base))]);
    let cred = mi(ManagedIdentityId::System, vars.clone());
    assert_eq!(cred.host(), Some(ManagedIdentityHost::CloudShell));
    let t = cred
        .get_token(&req("https://graph.microsoft.com/.default"))
        .await
        .unwrap();
    assert_eq!((t.token.expose(), t.expires_on), ("shell-token", exp));
    let err = mi(ManagedIdentityId::ClientId("c".into()), vars)
        .get_token(&req("https://graph.microsoft.com/.default"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("Cloud Shell")),
        "{err}"
    );
    assert_eq!(host.count(), 1);
}

// --- Service Fabric ------------------------------------------------------------------------

#[tokio::test]
async fn service_fabric_over_https_pinned_to_the_thumbprint() {
    let exp = now() + 3600;
    let (host, thumbprint) = tls_mock(move |s, _| {
        assert_eq!((s.method.as_str(), s.path.as_str()), ("GET", "/metadata/identity/oauth2/token"));
        assert_eq!(s.q("api-version"), Some("2019-07-01-preview"));
        assert_eq!(s.q("resource"), Some("https://vault.azure.net"));
        if s.header("secret") != Some("sf-secret-7a7a7a") {
            return reply(401, json!({"error": {"code": "SecretHeaderNotFound", "message": "Secret is not found in the request headers."}}));
        }
        let token = match (s.q("client_id"), s.q("object_id"), s.q("mi_res_id")) {
            (None, None, None) => "sf-system",
            (Some("c1"), None, None) => "sf-c1",
            (None, Some("o1"), None) => "sf-o1",
            (None, None, Some("r1")) => "sf-r1",
            other => panic!("{other:?}"),
        };
        // Service Fabric's docs show expires_on as a number.
        reply(200, json!({"access_token": token, "expires_on": exp, "resource": "https://vault.azure.net", "token_type": "Bearer"}))
    })
    .await;
    let vars = |thumb: &str, secret: &str| {
        Vars::from_pairs([
            (
                "IDENTITY_ENDPOINT",
                format!("{}/metadata/identity/oauth2/token", host.base),
            ),
            ("IDENTITY_HEADER", secret.to_string()),
            ("IDENTITY_SERVER_THUMBPRINT", thumb.to_string()),
        ])
    };
    // No injected transport: the credential builds one that trusts only the thumbprint.
    let sf = |id, v| {
        ManagedIdentityCredential::new(
            id,
            ManagedIdentityOptions {
                env: Some(v),
                ..Default::default()
            },
        )
        .unwrap()
    };
    for (id, expected) in [
        (ManagedIdentityId::System, "sf-system"),
        (ManagedIdentityId::ClientId("c1".into()), "sf-c1"),
        (ManagedIdentityId::ObjectId("o1".into()), "sf-o1"),
        (ManagedIdentityId::ResourceId("r1".into()), "sf-r1"),
    ] {
        let cred = sf(id, vars(&thumbprint.to_lowercase(), "sf-secret-7a7a7a"));
        assert_eq!(cred.host(), Some(ManagedIdentityHost::ServiceFabric));
        let t = cred
            .get_token(&req("https://vault.azure.net/.default"))
            .await
            .unwrap();
        assert_eq!((t.token.expose(), t.expires_on), (expected, exp));
    }
    assert_eq!(host.count(), 4);
    // Another certificate's thumbprint: the TLS handshake fails, the secret never leaves.
    let err = sf(
        ManagedIdentityId::System,
        vars(&"AB".repeat(20), "sf-secret-7a7a7a"),
    )
    .get_token(&req("https://vault.azure.net/.default"))
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    assert_eq!(host.count(), 4);
    // Service Fabric's error shape, typed.
    let err = sf(
        ManagedIdentityId::System,
        vars(&thumbprint, "wrong-sf-secret"),
    )
    .get_token(&req("https://vault.azure.net/.default"))
    .await
    .unwrap_err();
    assert_eq!(
        err.entra().map(|e| e.error.as_str()),
        Some("SecretHeaderNotFound"),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("Service Fabric managed identity: SecretHeaderNotFound (HTTP 401)"),
        "{err}"
    );
    // A thumbprint that is not one: a configuration error, not a request.
    let err = sf(ManagedIdentityId::System, vars("not-hex", "s"))
        .get_token(&req("https://vault.azure.net/.default"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("IDENTITY_SERVER_THUMBPRINT")),
        "{err}"
    );
}

// --- Azure ML ----------------------------------------------------------------------------

#[tokio::test]
async fn azure_ml_sends_default_identity_client_id() {
    let exp = now() + 3600;
    let host = mock(move |s, n| {
        assert_eq!((s.method.as_str(), s.path.as_str()), ("GET", "/msi/token"));
        assert_eq!(s.header("secret"), Some("ml-secret-3c3c3c"));
        assert_eq!(s.q("api-version"), Some("2017-09-01"));
        assert_eq!(s.q("resource"), Some("https://storage.azure.com"));
        assert!(s.q("client_id").is_none() && s.q("object_id").is_none());
        // Azure ML answers epoch seconds (as a string); accept the Linux date form too.
        let expires_on = if n == 0 { exp.to_string() } else { linux_date(exp) };
        reply(200, json!({
            "access_token": format!("ml-{}", s.q("clientid").unwrap_or("none")),
            "expires_on": expires_on, "resource": "https://storage.azure.com", "token_type": "Bearer"
        }))
    })
    .await;
    let vars = Vars::from_pairs([
        ("MSI_ENDPOINT", format!("{}/msi/token", host.base)),
        ("MSI_SECRET", "ml-secret-3c3c3c".into()),
        ("DEFAULT_IDENTITY_CLIENT_ID", "ml-default".into()),
    ]);
    let system = mi(ManagedIdentityId::System, vars.clone());
    assert_eq!(system.host(), Some(ManagedIdentityHost::AzureMl));
    let t = system
        .get_token(&req("https://storage.azure.com/.default"))
        .await
        .unwrap();
    assert_eq!((t.token.expose(), t.expires_on), ("ml-ml-default", exp));
    let user = mi(ManagedIdentityId::ClientId("ml-user".into()), vars.clone());
    let t = user
        .get_token(&req("https://storage.azure.com/.default"))
        .await
        .unwrap();
    assert_eq!((t.token.expose(), t.expires_on), ("ml-ml-user", exp));
    for id in [
        ManagedIdentityId::ObjectId("o".into()),
        ManagedIdentityId::ResourceId("r".into()),
    ] {
        let err = mi(id, vars.clone())
            .get_token(&req("https://storage.azure.com/.default"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("Azure ML")),
            "{err}"
        );
    }
    assert_eq!(host.count(), 2);
}

// --- Every expires_on form -------------------------------------------------------------------

#[tokio::test]
async fn every_expires_on_and_expires_in_form() {
    let exp = now() + 3600;
    let forms: Vec<(Value, i64)> = vec![
        (json!({"expires_on": exp}), exp),
        (json!({"expires_on": exp.to_string()}), exp),
        (json!({"expires_on": windows_date(exp)}), exp),
        (json!({"expires_on": linux_date(exp)}), exp),
        (json!({"expires_on": iso_seven_digits(exp)}), exp),
        (
            json!({"expires_in": "1800", "expires_on": "garbage"}),
            now() + 1800,
        ),
        (json!({"expires_in": 1800}), now() + 1800),
    ];
    let answers = forms.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>();
    let host = mock(move |s, n| {
        assert_eq!(s.header("x-identity-header"), Some("as-header-1b1b1b"));
        assert_eq!(s.q("api-version"), Some("2019-08-01"));
        let mut body = answers[n].clone();
        body["access_token"] = json!(format!("t{n}"));
        body["token_type"] = json!("Bearer");
        reply(200, body)
    })
    .await;
    let cred = mi(
        ManagedIdentityId::System,
        Vars::from_pairs([
            ("IDENTITY_ENDPOINT", format!("{}/msi/token", host.base)),
            ("IDENTITY_HEADER", "as-header-1b1b1b".into()),
        ]),
    );
    for (n, (form, expected)) in forms.iter().enumerate() {
        let t = cred
            .get_token(&req(&format!("api://r{n}/.default")))
            .await
            .unwrap();
        assert_eq!(t.token.expose(), format!("t{n}"));
        assert!(
            (t.expires_on - expected).abs() <= 2,
            "{form}: {} vs {expected}",
            t.expires_on
        );
    }
    let bad = mock(|_, _| {
        reply(
            200,
            json!({"access_token": "tok-9f9f9f", "expires_on": "someday"}),
        )
    })
    .await;
    let err = mi(
        ManagedIdentityId::System,
        Vars::from_pairs([
            ("IDENTITY_ENDPOINT", format!("{}/msi/token", bad.base)),
            ("IDENTITY_HEADER", "h-1b1b1b".into()),
        ]),
    )
    .get_token(&req("api://r/.default"))
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("expires_on \"someday\" is in no known form"),
        "{text}"
    );
    assert!(!text.contains("tok-9f9f9f"));
}

// --- Nothing leaks -------------------------------------------------------------------------------

#[tokio::test]
async fn debug_and_errors_never_show_the_identity_header_or_tokens() {
    const HEADER: &str = "identity-header-d4d4d4d4";
    // A careless host that echoes the header back in its errors.
    let host = mock(|s, n| {
        let echoed = s.header("x-identity-header").unwrap_or("").to_string();
        match n {
            0 => reply(400, json!({"error": "invalid_request", "error_description": format!("header {echoed} is wrong")})),
            1 => reply(400, json!({"statusCode": 400, "message": format!("X-IDENTITY-HEADER {echoed} rejected")})),
            _ => reply(500, json!({"error": {"code": "Oops", "message": format!("saw {echoed}")}})),
        }
    })
    .await;
    let vars = Vars::from_pairs([
        ("IDENTITY_ENDPOINT", format!("{}/msi/token", host.base)),
        ("IDENTITY_HEADER", HEADER.into()),
    ]);
    let cred = mi_with(ManagedIdentityId::System, vars.clone(), |o| {
        // No retries, so each request meets one scripted answer.
        o.client.pipeline = Some(Pipeline::new(
            Arc::new(ReqwestClient::new(None).unwrap()),
            RetryPolicy {
                max_retries: 0,
                ..fast_retry()
            },
        ));
    });
    let mut shown = format!("{cred:?} {vars:?}");
    for n in 0..3 {
        let err = cred
            .get_token(&req(&format!("api://r{n}/.default")))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ManagedIdentity {
                    host: "App Service (2019-08-01)",
                    ..
                }
            ),
            "{err:?}"
        );
        shown += &format!(" {err} {err:?}");
    }
    assert_eq!(host.count(), 3);
    assert!(!shown.contains(HEADER), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");

    // Tokens: neither the credential nor the token shows one.
    let ok = mock(|_, _| {
        reply(
            200,
            json!({"access_token": "secret-token-e5e5e5", "expires_in": 3600}),
        )
    })
    .await;
    let cred = mi(
        ManagedIdentityId::System,
        Vars::from_pairs([("MSI_ENDPOINT", format!("{}/oauth2/token", ok.base))]),
    );
    let t = cred.get_token(&req("api://x/.default")).await.unwrap();
    let shown = format!("{t:?} {cred:?}");
    assert!(!shown.contains("secret-token-e5e5e5"), "{shown}");
}

// --- Workload identity ---------------------------------------------------------------------

#[tokio::test]
async fn workload_identity_survives_token_file_rotation() {
    let env = Emu::start().await;
    let issuer = format!("{}/federation", env.ready().authority);
    let mint = |lifetime: i64| {
        entra_emulator::mint_federated(
            env.dir(),
            &issuer,
            "system:serviceaccount:default:workload",
            "api://AzureADTokenExchange",
            lifetime,
        )
        .unwrap()
    };
    let files = temp_dir("entra-workload");
    let token_file = files.join("azure-identity-token");
    let old = mint(600);
    std::fs::write(&token_file, &old).unwrap();
    // Everything from the (injected) environment, as the AKS webhook sets it.
    let vars = Vars::from_pairs([
        ("AZURE_TENANT_ID", TENANT.to_string()),
        ("AZURE_CLIENT_ID", DAEMON.to_string()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        ("AZURE_AUTHORITY_HOST", env.ready().authority.clone()),
    ]);
    let client = ClientOptions {
        authority_host: None,
        ..env.client()
    };
    let cred = WorkloadIdentityCredential::new(WorkloadIdentityOptions {
        client: client.clone(),
        env: Some(vars.clone()),
        ..Default::default()
    })
    .unwrap();
    let t = cred.get_token(&req(API_DEFAULT)).await.unwrap();
    let c = claims(&t.token);
    assert_eq!(
        (c["azp"].as_str(), c["azpacr"].as_str()),
        (Some(DAEMON), Some("2"))
    );

    // The kubelet rotates the token; then time passes until the old one has expired.
    let new = mint(7200);
    let next = files.join("azure-identity-token.next");
    std::fs::write(&next, &new).unwrap();
    std::fs::rename(&next, &token_file).unwrap();
    env.advance_clock(1200).await;

    // The old assertion is now refused with AADSTS700024...
    let stale = old.clone();
    let callback: entra_identity::AssertionCallback = Arc::new(move || {
        let s = stale.clone();
        Box::pin(async move { Ok(Secret::new(s)) })
    });
    let err = ClientAssertionCredential::new(TENANT, DAEMON, callback, env.client())
        .unwrap()
        .get_token(&req(API_DEFAULT))
        .await
        .unwrap_err();
    assert!(err.entra().is_some_and(|e| e.has_code(700024)), "{err}");
    // ... while the workload credential reads the new file and keeps working.
    let t = cred
        .get_token(&req("api://contoso-web/.default"))
        .await
        .unwrap();
    assert_eq!(claims(&t.token)["azp"], DAEMON);

    // Through ManagedIdentityCredential, as azure-identity does on AKS.
    let via_mi = env.mi(ManagedIdentityId::System, vars.clone());
    assert_eq!(via_mi.host(), Some(ManagedIdentityHost::WorkloadIdentity));
    via_mi.get_token(&req(API_DEFAULT)).await.unwrap();

    // A missing or empty file: a clear error naming the file and the variable.
    std::fs::write(&token_file, "\n").unwrap();
    let err = cred
        .get_token(&req("https://graph.microsoft.com/.default"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("is empty")),
        "{err}"
    );
    std::fs::remove_file(&token_file).unwrap();
    let err = cred
        .get_token(&req("https://graph.microsoft.com/.default"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&token_file.display().to_string())
            && text.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{text}"
    );
    assert!(!format!("{cred:?}").contains(&new));
    let err = WorkloadIdentityCredential::new(WorkloadIdentityOptions {
        client,
        env: Some(Vars::from_pairs([("AZURE_TENANT_ID", TENANT)])),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("AZURE_CLIENT_ID"), "{err}");
    let _ = std::fs::remove_dir_all(&files);
    env.stop().await;
}
