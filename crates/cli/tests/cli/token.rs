//! `entra token` against an in-process emulator: an app's token from the AZURE_*
//! variables in its three output forms, the second run served from the cache file with
//! no request at all, resource aliases, the other credential kinds, and every error with
//! its exit code and whole message.

use entra_testkit::Harness;
use entra_testkit::dev::{API, API_DEFAULT, DAEMON, TENANT_ID};
use serde_json::Value;

use crate::common::{Entra, claims, counters, stderr, stdout};

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_token_in_three_forms_then_from_the_cache_file_without_a_request() {
    let h = Harness::start().await;
    let mut e = Entra::new(&h, "app");
    e.daemon();
    let before = counters(&h).await;

    // raw: the token and a newline, nothing else anywhere.
    let out = e.run(&["token", "--scope", API_DEFAULT]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let raw = stdout(&out);
    assert!(raw.ends_with('\n') && raw.matches('\n').count() == 1);
    let token = raw.trim_end().to_string();
    let c = claims(&token);
    assert_eq!(c["aud"], API);
    assert_eq!(c["azp"], DAEMON);
    assert_eq!(c["roles"], serde_json::json!(["Data.Read.All"]));
    let after_first = counters(&h).await;
    assert_eq!(
        after_first["grant:client_credentials"]
            .as_u64()
            .unwrap_or(0)
            - before["grant:client_credentials"].as_u64().unwrap_or(0),
        1,
        "{after_first}"
    );
    // The cache file is encrypted (no token in it) and private.
    let file = std::fs::read(&e.cache).unwrap();
    assert!(!String::from_utf8_lossy(&file).contains(&token[..40]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&e.cache).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // json: the same token, from the file: not one request to the emulator.
    let out = e
        .run(&["token", "--scope", API_DEFAULT, "--output", "json"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        keys(&json),
        [
            "access_token",
            "credential",
            "expires_on",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(json["access_token"], token.as_str());
    assert_eq!(json["credential"], "EnvironmentCredential");
    assert_eq!(json["scope"], API_DEFAULT);
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_on"], c["exp"]);

    // az: exactly `az account get-access-token`'s keys.
    let out = e.run(&["token", "--scope", API_DEFAULT, "-o", "az"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let az: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        keys(&az),
        [
            "accessToken",
            "expiresOn",
            "expires_on",
            "subscription",
            "tenant",
            "tokenType"
        ]
    );
    assert_eq!(az["accessToken"], token.as_str());
    assert_eq!(az["expires_on"], c["exp"]);
    assert_eq!(az["subscription"], Value::Null);
    assert_eq!(az["tenant"], TENANT_ID);
    assert_eq!(az["tokenType"], "Bearer");
    // "2026-11-21 09:41:07.000000" (local time; this process knows no more than the
    // shape, since its own offset may not be readable in a threaded test).
    let on = az["expiresOn"].as_str().unwrap();
    assert_eq!(on.len(), 26, "{on}");
    assert!(on.ends_with(".000000") && &on[4..5] == "-" && &on[10..11] == " ");

    assert_eq!(
        counters(&h).await,
        after_first,
        "runs 2 and 3 came from the cache file: no request of any kind"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_aliases_and_urls_become_default_scopes() {
    let h = Harness::start().await;
    let mut e = Entra::new(&h, "alias");
    e.daemon();
    // A URL gets /.default.
    let out = e
        .run(&["token", "--resource", "api://contoso-api", "-o", "json"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["scope"], API_DEFAULT);
    // An alias: Graph is in the emulator's directory.
    let out = e.run(&["token", "--resource", "GRAPH", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["scope"], "https://graph.microsoft.com/.default");
    assert_eq!(
        claims(json["access_token"].as_str().unwrap())["aud"],
        "https://graph.microsoft.com"
    );
    // Fabric: Microsoft's first-party app (Power BI Service) is in every tenant, as in
    // Entra (seed 000's first step); the v1 `aud` is the URI the alias stands for.
    let out = e
        .run(&["token", "--resource", "fabric", "-o", "json"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let fabric = claims(json["access_token"].as_str().unwrap());
    assert_eq!(fabric["aud"], "https://api.fabric.microsoft.com");
    assert_eq!(fabric["appid"], DAEMON);
    // A resource the directory lacks: the authority's answer names it.
    let out = e
        .run(&["token", "--resource", "https://unknown.contoso.example"])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let err = e.normalise(&stderr(&out));
    assert!(
        err.contains("https://unknown.contoso.example"),
        "the error names the resource: {err}"
    );
    assert_eq!(stdout(&out), "");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_and_name_the_aliases() {
    let h = Harness::start().await;
    let e = Entra::new(&h, "usage");
    let out = e.run(&["token"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: say what the token is for: --resource arm|fabric|graph|keyvault|powerbi|storage (or a resource URL), or --scope SCOPE\n"
    );
    let out = e.run(&["token", "--resource", "sharepoint"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: unknown resource \"sharepoint\": use one of arm, fabric, graph, keyvault, powerbi, storage or a resource URL (https://... or api://...)\n"
    );
    let out = e
        .run(&["token", "--scope", API_DEFAULT, "--output", "yaml"])
        .await;
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert_eq!(stdout(&out), "");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_failures_list_every_credential_and_exit_3_or_1_or_4() {
    let h = Harness::start().await;
    // Nothing set up and nobody signed in: every credential says why; a sign-in fixes it.
    let e = Entra::new(&h, "chain");
    let out = e.run(&["token", "--resource", "graph"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        e.normalise(&stderr(&out)),
        "error: no credential in the chain could get a token:
  - EnvironmentCredential: EnvironmentCredential is unavailable: environment variables are not fully configured: missing AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)
  - WorkloadIdentityCredential: WorkloadIdentityCredential is unavailable: missing AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE
  - ManagedIdentityCredential: ManagedIdentityCredential is unavailable: IMDS at http://127.0.0.1:9 did not answer (4 attempts): could not connect: Connection refused (os error 111)
  - AzureCliCredential: AzureCliCredential is unavailable: Azure CLI not found: install it (https://aka.ms/azure-cli) or put az on PATH, then run `az login`
  - SharedTokenCacheCredential: SharedTokenCacheCredential is unavailable: no one has signed in: TMP/token-cache.bin does not exist (run `entra login`)
hint: sign in with `entra login` (or `entra login --device-code`)
"
    );
    // --credential user alone: the same reason, exit 3.
    let out = e
        .run(&["token", "--resource", "graph", "--credential", "user"])
        .await;
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        e.normalise(&stderr(&out)),
        "error: SharedTokenCacheCredential is unavailable: no one has signed in: TMP/token-cache.bin does not exist (run `entra login`)
hint: sign in with `entra login` (or `entra login --device-code`)
"
    );

    // A wrong secret stops the chain at the environment credential: exit 1, with Entra's
    // code and the hint for the classic mistake.
    let mut wrong = Entra::new(&h, "wrong");
    wrong
        .env("AZURE_CLIENT_ID", DAEMON)
        .env("AZURE_TENANT_ID", TENANT_ID)
        .env("AZURE_CLIENT_SECRET", "not-the-secret");
    let out = wrong.run(&["token", "--scope", API_DEFAULT]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = wrong.normalise(&stderr(&out));
    assert_eq!(
        err,
        format!("error: no credential in the chain could get a token:
  - EnvironmentCredential: invalid_client (HTTP 401): AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{DAEMON}'. [trace <id>, correlation <id>]
      hint: the secret's ID was probably sent instead of its value: copy the secret's Value column, shown once when it is created
")
    );
    assert!(!err.contains("not-the-secret"));

    // An authority that does not answer: exit 4.
    let mut down = Entra::new(&h, "down");
    down.daemon();
    down.authority = "https://127.0.0.1:9".into();
    let out = down.run(&["token", "--scope", API_DEFAULT]).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("hint: check the authority"), "{err}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_and_workload_identity_kinds() {
    let h = Harness::start().await;
    let ready = h.ready().clone();
    let mut e = Entra::new(&h, "mi");
    e.env("IDENTITY_ENDPOINT", &ready.identity_endpoint)
        .env("IDENTITY_HEADER", &ready.identity_header)
        .env("SSL_CERT_FILE", &ready.ca_file);
    let out = e
        .run(&[
            "token",
            "--resource",
            "api://contoso-api",
            "--credential",
            "managed-identity",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["credential"], "ManagedIdentityCredential");
    assert_eq!(
        claims(json["access_token"].as_str().unwrap())["roles"],
        serde_json::json!(["Data.Read.All"])
    );

    let federated = h.workload_token(3600);
    let mut w = Entra::new(&h, "workload");
    let file = w.dir.join("federated-token");
    std::fs::write(&file, federated).unwrap();
    w.env("AZURE_CLIENT_ID", DAEMON)
        .env("AZURE_TENANT_ID", TENANT_ID)
        .env("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap());
    let out = w
        .run(&[
            "token",
            "--scope",
            API_DEFAULT,
            "--credential",
            "workload-identity",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["credential"], "WorkloadIdentityCredential");
    assert_eq!(
        claims(json["access_token"].as_str().unwrap())["azp"],
        DAEMON
    );
    h.stop().await;
}

/// What `entra up` prints is enough: the authority from AZURE_AUTHORITY_HOST and the CA
/// from SSL_CERT_FILE, no flag and no ENTRA_* variable; ENTRA_AUTHORITY wins when both
/// are set (`entra doctor` says where each value came from).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_library_variables_point_entra_at_the_emulator() {
    let h = Harness::start().await;
    let dir = crate::common::temp_dir("token-env");
    let token = |env: &[(&str, &str)]| {
        let mut cmd = crate::common::entra(&dir);
        cmd.args(["token", "--scope", API_DEFAULT, "--token-cache"])
            .arg(dir.join("cache.bin"))
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
            .env("AZURE_CLIENT_ID", DAEMON)
            .env("AZURE_TENANT_ID", TENANT_ID)
            .env("AZURE_CLIENT_SECRET", entra_testkit::dev::DAEMON_SECRET)
            .envs(env.iter().copied());
        crate::common::run(cmd, None)
    };
    let library = [
        ("AZURE_AUTHORITY_HOST", h.base()),
        ("SSL_CERT_FILE", h.ready().ca_file.as_str()),
    ];
    let out = token(&library).await;
    assert_eq!(out.code, Some(0), "{}", stderr(&out));
    assert_eq!(claims(stdout(&out).trim())["aud"], API);

    // ENTRA_AUTHORITY beats AZURE_AUTHORITY_HOST: a closed port, so the run fails
    // (exit 4), which shows which one was used.
    let both = [
        library[0],
        library[1],
        ("ENTRA_AUTHORITY", "https://127.0.0.1:9"),
    ];
    std::fs::remove_file(dir.join("cache.bin")).unwrap();
    let out = token(&both).await;
    assert_eq!(out.code, Some(4), "{}", stderr(&out));
    h.stop().await;
}
