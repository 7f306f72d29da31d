//! `entra doctor`: every check ok against a running emulator with the daemon in AZURE_*;
//! the wrong CA, an unreadable CA file and an unreachable authority as fail lines with
//! advice; a world-readable plaintext cache; and `--error` for codes, Entra error JSON on
//! stdin and API 401 texts.

use entra_testkit::dev::*;

use crate::common::*;

/// Replaces every line that starts with `prefix` by `prefix` + `<masked>`.
fn mask_line(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with(prefix) {
                format!("{prefix}<masked>")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn normalise(h: &Harness, dir: &std::path::Path, text: &str) -> String {
    let text = subst(
        text,
        &[
            (&h.ready().ca_file, "<ca.pem>"),
            (h.base(), "<authority>"),
            (dir.to_str().unwrap(), "<dir>"),
        ],
    );
    // The validation line depends on the CPU: it must be the one this machine calls for.
    let text = text.replace(entra_jose::RsaBackend::describe(), "<rsa>");
    let text = mask_numbers_before(&text, " ms");
    let text = mask_line(&text, "ok    clock         ");
    let text = mask_line(&text, "                    mode 0600, owner uid ");
    let text = mask_line(&text, "                    mode 0644, owner uid ");
    for rel in ["(expires in 59m)", "(expires in 1h)"] {
        if text.contains(rel) {
            return text.replace(rel, "(expires <relative>)");
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_ok_against_the_emulator_with_the_daemon_in_the_environment() {
    let h = Harness::start().await;
    let dir = temp_dir("doctor-ok");
    let mut cmd = entra_at(&h, &dir);
    as_daemon(&mut cmd).args([
        "doctor",
        "--tenant",
        TENANT,
        "--scope",
        "api://contoso-api/.default",
    ]);
    let out = run(cmd, None).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_snapshot(
        &normalise(&h, &dir, &out.stdout),
        "\
ok    configuration no entra.toml: built-in defaults, environment and flags
                    authority  <authority> (--authority)
                    tenant     contoso.onmicrosoft.com (--tenant)
                    client id  04b07795-8ddb-461a-bbee-02f9e1bf7b46 (built-in default)
                    CA file    <ca.pem> (--ca-file)
ok    environment   3 variables set
                    AZURE_CLIENT_ID=d0000000-0000-4000-8000-0000000000d1
                    AZURE_CLIENT_SECRET (set)
                    AZURE_TENANT_ID=contoso.onmicrosoft.com
ok    authority     discovery answered 200 in N ms
                    <authority>/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration
ok    CA trust      TLS verified with the system roots and <ca.pem> (--ca-file)
ok    clock         <masked>
ok    credential    EnvironmentCredential gives a token for api://contoso-api/.default (expires <relative>)
                    EnvironmentCredential       picked
                    WorkloadIdentityCredential  not tried
                    ManagedIdentityCredential   not tried
                    AzureCliCredential          not tried
                    SharedTokenCacheCredential  not tried
ok    token cache   <dir>/cache.bin (--token-cache)
                    parses: 0 account(s), 1 access token(s), 0 refresh token(s)
                    encrypted (AES-256-GCM), key: key file <dir>/cache.bin.key
                    mode 0600, owner uid <masked>
ok    validation    <rsa>
                    rsa_backend = \"auto\" (built-in default)

8 checks: 0 failed, 0 warnings
",
    );
    assert!(!out.stdout.contains(DAEMON_SECRET));

    // The JSON form says the same.
    let mut cmd = entra_at(&h, &dir);
    as_daemon(&mut cmd).args([
        "doctor",
        "--tenant",
        TENANT,
        "--scope",
        "api://contoso-api/.default",
        "--json",
    ]);
    let out = run(cmd, None).await;
    assert_eq!(out.code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["failed"], 0);
    let statuses: Vec<_> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["name"].as_str().unwrap(),
                c["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "configuration ok",
            "environment ok",
            "authority ok",
            "CA trust ok",
            "clock ok",
            "credential ok",
            "token cache ok",
            "validation ok"
        ]
    );
    // Forced onto aws-lc, it says so.
    let mut cmd = entra_at(&h, &dir);
    as_daemon(&mut cmd)
        .env("ENTRA_RSA_BACKEND", "aws-lc")
        .args(["doctor", "--tenant", TENANT, "--json"]);
    let out = run(cmd, None).await;
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let validation = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "validation")
        .expect("a validation check");
    assert_eq!(
        validation["summary"],
        "aws-lc checks RSA signatures (switched off by ENTRA_RSA_BACKEND=aws-lc)"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ca_and_unreachable_authority_fail_with_advice() {
    let h = Harness::start().await;
    let dir = temp_dir("doctor-fail");

    // No CA file: the emulator's certificate is not trusted.
    let mut cmd = entra(&dir);
    cmd.env("AZURE_TOKEN_CREDENTIALS", "dev")
        .env("PATH", dir.join("no-az"))
        .args(["doctor", "--authority", h.base(), "--tenant", TENANT])
        .arg("--token-cache")
        .arg(dir.join("cache.bin"));
    let out = run(cmd, None).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    let text = normalise(&h, &dir, &out.stdout);
    let ca = text
        .split("fail  CA trust")
        .nth(1)
        .and_then(|t| t.split("\nskip  clock").next())
        .unwrap_or_else(|| panic!("no CA trust failure in\n{text}"));
    assert_snapshot(
        ca,
        "      TLS failed: could not connect: invalid peer certificate: UnknownIssuer
                    trusted: the system roots
                    -> <authority>'s certificate is not signed by a CA this machine trusts: pass --ca-file (or set ENTRA_CA_FILE / SSL_CERT_FILE) to the CA's PEM file; behind a TLS-inspecting proxy, that is the proxy's CA",
    );

    // A CA file that is not a certificate.
    let bogus = dir.join("not-a-ca.pem");
    std::fs::write(&bogus, "hello\n").unwrap();
    let mut cmd = entra(&dir);
    cmd.env("AZURE_TOKEN_CREDENTIALS", "dev")
        .env("PATH", dir.join("no-az"))
        .args(["doctor", "--authority", h.base(), "--tenant", TENANT])
        .arg("--ca-file")
        .arg(&bogus)
        .arg("--token-cache")
        .arg(dir.join("cache.bin"));
    let out = run(cmd, None).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    let text = normalise(&h, &dir, &out.stdout);
    assert!(
        text.contains(
            "fail  CA trust      configuration: CA file <dir>/not-a-ca.pem: no certificate in it\n"
        ),
        "{text}"
    );

    // Nothing listens there; and a plaintext cache anyone can read.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cache = dir.join("plain.json");
    std::fs::write(&cache, "{}").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut cmd = entra(&dir);
    cmd.env("AZURE_TOKEN_CREDENTIALS", "dev")
        .env("PATH", dir.join("no-az"))
        .args(["doctor", "--tenant", TENANT])
        .arg("--authority")
        .arg(format!("https://{closed}"))
        .arg("--token-cache")
        .arg(&cache);
    let out = run(cmd, None).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    let text = subst(
        &normalise(&h, &dir, &out.stdout),
        &[(&closed.to_string(), "<closed>")],
    );
    let after_env = text.split("\nfail  authority").nth(1).unwrap_or(&text);
    assert_snapshot(
        &format!("fail  authority{after_env}"),
        "\
fail  authority     https://<closed> is unreachable: could not connect: Connection refused (os error 111)
                    https://<closed>/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration
                    -> check the authority host (https://<closed>, from --authority), the network, DNS and any proxy (HTTPS_PROXY / NO_PROXY); for the emulator, is `entra emulator` running?
skip  CA trust      not checked: the authority was not reached
skip  clock         not checked: the authority was not reached
fail  credential    token cache <dir>/plain.json: token cache <dir>/plain.json is plaintext MSAL JSON: open it with Protection::DangerPlaintextForMsalInterop to share it with MSAL, or delete it to start an encrypted cache
                    -> the chain keeps tokens in the cache file: see the token cache check
fail  token cache   <dir>/plain.json (--token-cache)
                    parses: 0 account(s), 0 access token(s), 0 refresh token(s)
                    plaintext MSAL JSON: anyone who can read the file can use its tokens
                    mode 0644, owner uid <masked>
                    -> chmod 600 <dir>/plain.json
ok    validation    <rsa>
                    rsa_backend = \"auto\" (built-in default)

8 checks: 3 failed, 0 warnings
",
    );
    h.stop().await;
}

async fn explain(dir: &std::path::Path, arg: &str, stdin: Option<&str>) -> Out {
    let mut cmd = entra(dir);
    cmd.args(["doctor", "--error", arg]);
    run(cmd, stdin.map(|s| s.as_bytes().to_vec())).await
}

#[tokio::test]
async fn error_explanations() {
    let dir = temp_dir("doctor-error");
    let out = explain(
        &dir,
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        None,
    )
    .await;
    assert_eq!(out.code, Some(0));
    assert_snapshot(
        &out.stdout,
        "\
AADSTS7000215 (invalid_client)
  means  Invalid client secret provided.
  do     The secret's ID was probably sent instead of its value: copy the Value column (shown once, when the secret is created), or create a new secret.
  more   https://login.microsoftonline.com/error?code=7000215
",
    );

    // Entra's error body on stdin.
    let body = r#"{"error":"interaction_required","error_description":"AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access 'api'. Trace ID: 0c2e Correlation ID: 5f1a Timestamp: 2026-11-21 08:00:00Z","error_codes":[50076],"timestamp":"2026-11-21 08:00:00Z","trace_id":"0c2e","correlation_id":"5f1a"}"#;
    let out = explain(&dir, "-", Some(body)).await;
    assert_eq!(out.code, Some(0));
    assert_snapshot(
        &out.stdout,
        "\
Entra said: interaction_required
  AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access 'api'.
  trace id 0c2e, correlation id 5f1a (give these to an admin: they find the sign-in log entry)

AADSTS50076 (interaction_required)
  means  Multi-factor authentication is required (a Conditional Access policy, or a sign-in from a new location).
  do     Use an interactive flow that can do MFA: `entra login` (browser) or `entra login --device-code`. Username/password (ROPC) cannot.
  more   https://login.microsoftonline.com/error?code=50076
",
    );

    // Bare numbers, a few of the table.
    for (code, needle) in [
        ("65001", "consent"),
        ("700016", "client id and the tenant"),
        ("1002012", "/.default"),
        ("54005", "single-use"),
        ("50011", "redirect URI"),
        ("700082", "entra login"),
    ] {
        let out = explain(&dir, code, None).await;
        assert_eq!(out.code, Some(0), "{code}");
        assert!(
            out.stdout.starts_with(&format!("AADSTS{code}")) && out.stdout.contains(needle),
            "{code}: {}",
            out.stdout
        );
    }

    // Fabric's 401 body: the code-as-bearer and wrong-audience explanation.
    let out = explain(
        &dir,
        "-",
        Some(r#"{"requestId":"r1","errorCode":"InvalidAuthenticationToken","message":"Access token is invalid"}"#),
    )
    .await;
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout
            .starts_with("the API refused the access token (HTTP 401)\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("an authorization code (0.A...)"));
    assert!(out.stdout.contains("for another audience"));

    // Fabric's own body for seed 001 (the code sent as the bearer): named, with the hint.
    let seed = r#"{"requestId":"8f49a868-987f-4716-80fd-600edd835419","errorCode":"InvalidToken","message":"Access token is invalid"}"#;
    let out = explain(&dir, "-", Some(seed)).await;
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout.starts_with(
            "Fabric said: InvalidToken\n  request id 8f49a868-987f-4716-80fd-600edd835419"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Did you send the authorization code instead of the access token?")
    );
    assert!(out.stdout.contains("entra decode"));
    // Power BI's expired-token body (a 403).
    let out = explain(
        &dir,
        "-",
        Some(r#"{"error":{"code":"TokenExpired","message":"Access token has expired, resubmit with a new access token"}}"#),
    )
    .await;
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout.starts_with("Power BI said: TokenExpired\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("403"));

    // Unknown: said so, exit 1.
    let out = explain(&dir, "AADSTS99999999: something new", None).await;
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stdout,
        "AADSTS99999999\n  not in entra's table; Microsoft's page for it: https://login.microsoftonline.com/error?code=99999999\n"
    );
    let out = explain(&dir, "it broke", None).await;
    assert_eq!(out.code, Some(1));

    // JSON.
    let mut cmd = entra(&dir);
    cmd.args(["doctor", "--error", "AADSTS50126", "--json"]);
    let out = run(cmd, None).await;
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["codes"][0]["code"], 50126);
    assert_eq!(v["codes"][0]["error"], "invalid_grant");
    assert_eq!(v["explained"], true);
}

/// `entra doctor` names the RSA implementation in use and what decided it: the CPU by
/// default, `[validate] rsa_backend = "aws-lc"` in entra.toml, or the environment.
#[tokio::test]
async fn doctor_says_which_rsa_backend_is_active_and_why() {
    let dir = temp_dir("doctor-rsa");
    // Nothing listens there: the network checks fail fast, the validation check stays.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let validation = |config: Option<&str>, env: Option<&str>| {
        let mut cmd = entra(&dir);
        cmd.env("AZURE_TOKEN_CREDENTIALS", "dev")
            .env("PATH", dir.join("no-az"))
            .args(["doctor", "--json", "--tenant", TENANT])
            .arg("--authority")
            .arg(format!("https://{closed}"));
        if let Some(text) = config {
            let file = dir.join("entra.toml");
            std::fs::write(&file, text).unwrap();
            cmd.arg("--config").arg(file);
        }
        if let Some(value) = env {
            cmd.env("ENTRA_RSA_BACKEND", value);
        }
        async move {
            let out = run(cmd, None).await;
            let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor JSON");
            v["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "validation")
                .expect("a validation check")
                .clone()
        }
    };
    // The default: what this CPU calls for.
    let by_cpu = if entra_rsa_available() {
        "entra-rsa checks RSA signatures (this CPU has AVX-512 IFMA; about twice aws-lc's speed)"
    } else {
        "aws-lc checks RSA signatures (this CPU has no AVX-512 IFMA for entra-rsa)"
    };
    let v = validation(None, None).await;
    assert_eq!(v["summary"], by_cpu);
    assert_eq!(v["details"][0], "rsa_backend = \"auto\" (built-in default)");
    // Switched off in entra.toml.
    let v = validation(Some("[validate]\nrsa_backend = \"aws-lc\"\n"), None).await;
    assert_eq!(
        v["summary"],
        "aws-lc checks RSA signatures (switched off by the configuration: rsa_backend = \"aws-lc\")"
    );
    let details = v["details"][0].as_str().unwrap();
    assert!(
        details.starts_with("rsa_backend = \"aws-lc\" (") && details.ends_with("entra.toml)"),
        "{details}"
    );
    // Switched off by the environment, with the file saying auto.
    let v = validation(Some("[validate]\nrsa_backend = \"auto\"\n"), Some("aws-lc")).await;
    assert_eq!(
        v["summary"],
        "aws-lc checks RSA signatures (switched off by ENTRA_RSA_BACKEND=aws-lc)"
    );
}

/// Whether entra-rsa runs on this CPU, asked of the CPU (AVX-512F and IFMA).
fn entra_rsa_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512ifma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
