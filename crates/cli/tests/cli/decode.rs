//! `entra decode`: real emulator tokens (user and app, v1 and v2) in the human form
//! (whole-text snapshots with times and per-run keys masked), the warnings, the JSON
//! form, and what is not a JWT (a real authorization code included).

use serde_json::Value;

use entra_testkit::dev::*;

use crate::common::*;

/// Runs `entra decode -` with `token` on stdin (plus `extra` arguments).
async fn decode(dir: &std::path::Path, token: &str, extra: &[&str]) -> Out {
    let mut cmd = entra(dir);
    cmd.args(["decode", "-"]).args(extra);
    run(cmd, Some(token.as_bytes().to_vec())).await
}

/// The human output with the authority, times and signing key masked; the relative
/// times are checked here: issued and not before just now, expiry about an hour ahead.
fn normalised(h: &Harness, out: &Out) -> String {
    assert_eq!(out.code, Some(0), "{out:?}");
    let (text, relatives) = mask_times(&out.stdout);
    for r in &relatives {
        assert!(
            r == "just now" || r == "in 59m" || r == "in 1h" || r.ends_with("s ago"),
            "unexpected relative time {r:?} in\n{}",
            out.stdout
        );
    }
    let text = subst(&text, &[(h.base(), "<authority>")]);
    mask_fields(&text, &["kid", "x5t"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_app_tokens_v1_and_v2() {
    let h = Harness::start().await;
    let dir = temp_dir("decode");

    // Delegated, v2 (the Contoso API accepts v2 tokens).
    let user_v2 = alice(&h, "api://contoso-api/Data.Read").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let out = decode(&dir, &format!("Bearer {user_v2}\n"), &[]).await;
    assert_snapshot(
        &normalised(&h, &out),
        "\
Access token v2.0, delegated (a user, through an app)
  (decoded, not verified: the signature was not checked; `entra validate` checks it)

Header
  alg          RS256
  kid          <kid>
  typ          JWT

Claims
  audience     a0000000-0000-4000-8000-0000000000a1
  issuer       <authority>/c0ffee00-0000-4000-8000-000000000001/v2.0
  tenant       c0ffee00-0000-4000-8000-000000000001
  app          c1000000-0000-4000-8000-0000000000c1 (azp, public client)
  user         Alice Example <alice@contoso.onmicrosoft.com>
  object id    a11ce000-0000-4000-8000-000000000001
  scopes       Data.Read
  version      2.0
  issued       <utc> (<relative>)
  not before   <utc> (<relative>)
  expires      <utc> (<relative>)

Warnings
  none
",
    );

    // Delegated, v1 (Graph keeps v1 tokens).
    let user_v1 = alice(&h, "User.Read").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let out = decode(&dir, &user_v1, &[]).await;
    assert_snapshot(
        &normalised(&h, &out),
        "\
Access token v1.0, delegated (a user, through an app)
  (decoded, not verified: the signature was not checked; `entra validate` checks it)

Header
  alg          RS256
  kid          <kid>
  typ          JWT
  x5t          <x5t>

Claims
  audience     https://graph.microsoft.com (Microsoft Graph)
  issuer       <authority>/c0ffee00-0000-4000-8000-000000000001/
  tenant       c0ffee00-0000-4000-8000-000000000001
  app          c1000000-0000-4000-8000-0000000000c1 (appid, public client)
  user         Alice Example <alice@contoso.onmicrosoft.com>
  object id    a11ce000-0000-4000-8000-000000000001
  scopes       User.Read
  version      1.0
  issued       <utc> (<relative>)
  not before   <utc> (<relative>)
  expires      <utc> (<relative>)

Warnings
  none
",
    );

    // App-only, v2, with an app role.
    let app_v2 = daemon(&h, "api://contoso-api/.default").await;
    let out = decode(&dir, &app_v2, &[]).await;
    let text = normalised(&h, &out);
    let app_oid = line_value(&text, "object id");
    assert_snapshot(
        &text.replace(&app_oid, "<daemon object id>"),
        "\
Access token v2.0, app-only (the app as itself)
  (decoded, not verified: the signature was not checked; `entra validate` checks it)

Header
  alg          RS256
  kid          <kid>
  typ          JWT

Claims
  audience     a0000000-0000-4000-8000-0000000000a1
  issuer       <authority>/c0ffee00-0000-4000-8000-000000000001/v2.0
  tenant       c0ffee00-0000-4000-8000-000000000001
  app          d0000000-0000-4000-8000-0000000000d1 (azp, client secret)
  object id    <daemon object id>
  roles        Data.Read.All
  version      2.0
  idtyp        app
  issued       <utc> (<relative>)
  not before   <utc> (<relative>)
  expires      <utc> (<relative>)

Warnings
  none
",
    );

    // App-only, v1 (Graph, where the daemon holds User.Read.All), decoded from the
    // argument rather than stdin.
    let app_v1 = daemon(&h, "https://graph.microsoft.com/.default").await;
    let mut cmd = entra(&dir);
    cmd.args(["decode", &app_v1]);
    let out = run(cmd, None).await;
    let text = normalised(&h, &out);
    let app_oid = line_value(&text, "object id");
    assert_snapshot(
        &text.replace(&app_oid, "<daemon object id>"),
        "\
Access token v1.0, app-only (the app as itself)
  (decoded, not verified: the signature was not checked; `entra validate` checks it)

Header
  alg          RS256
  kid          <kid>
  typ          JWT
  x5t          <x5t>

Claims
  audience     https://graph.microsoft.com (Microsoft Graph)
  issuer       <authority>/c0ffee00-0000-4000-8000-000000000001/
  tenant       c0ffee00-0000-4000-8000-000000000001
  app          d0000000-0000-4000-8000-0000000000d1 (appid, client secret)
  object id    <daemon object id>
  roles        User.Read.All
  version      1.0
  idtyp        app
  issued       <utc> (<relative>)
  not before   <utc> (<relative>)
  expires      <utc> (<relative>)

Warnings
  none
",
    );
    // Nothing of a token comes back: its signature appears in no output.
    for t in [&user_v2, &user_v1, &app_v2, &app_v1] {
        let out = decode(&dir, t, &[]).await;
        let signature = t.rsplit('.').next().unwrap();
        assert!(!out.stdout.contains(signature) && !out.stderr.contains(signature));
    }
    h.stop().await;
}

fn line_value(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label} line in\n{text}"))
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_and_json() {
    let h = Harness::start().await;
    let dir = temp_dir("decode-warn");

    // An ID token sent where an access token belongs.
    let response = alice(&h, "api://contoso-api/Data.Read openid profile").await;
    let id_token = response["id_token"].as_str().unwrap();
    let out = decode(&dir, id_token, &[]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let warnings = out.stdout.split("\nWarnings\n").nth(1).unwrap();
    assert_snapshot(
        warnings,
        "  ! this is an ID token (aud is the client app c1000000-0000-4000-8000-0000000000c1), not an access token: APIs refuse it. Send the access_token of the token response, or ask for a scope of the API\n",
    );
    assert!(out.stdout.starts_with("ID token v2.0"), "{}", out.stdout);

    // A Graph token about to be sent to Fabric.
    let graph = alice(&h, "User.Read").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let out = decode(
        &dir,
        &graph,
        &["--for", "https://api.fabric.microsoft.com/v1/workspaces"],
    )
    .await;
    assert_eq!(out.code, Some(0));
    let warnings = out.stdout.split("\nWarnings\n").nth(1).unwrap();
    assert_snapshot(
        warnings,
        "  ! this token is for Microsoft Graph (https://graph.microsoft.com), not for https://api.fabric.microsoft.com/v1/workspaces: that API will answer 401. Ask for Microsoft Fabric's scope instead: `entra token --resource fabric` (https://api.fabric.microsoft.com/.default)\n",
    );
    // ... and to Graph itself: no warning.
    let out = decode(
        &dir,
        &graph,
        &["--for", "https://graph.microsoft.com/v1.0/me"],
    )
    .await;
    assert!(out.stdout.ends_with("Warnings\n  none\n"), "{}", out.stdout);

    // Not yet valid: the emulator's clock runs two hours ahead of this machine's.
    h.advance_clock(7200).await;
    let ahead = alice(&h, "User.Read").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let out = decode(&dir, &ahead, &[]).await;
    let (text, _) = mask_times(out.stdout.split("\nWarnings\n").nth(1).unwrap());
    assert_snapshot(
        &text,
        "  ! not valid until <utc> (<relative>): this machine's clock may be behind (`entra doctor` checks the skew)\n",
    );

    // Expired: the same token with exp three hours ago (decode does not check signatures).
    let parts: Vec<&str> = graph.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&entra_jose::b64url_decode(parts[1]).unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    claims["exp"] = (now - 3 * 3600).into();
    let expired = format!(
        "{}.{}.{}",
        parts[0],
        entra_jose::b64url(claims.to_string()),
        parts[2]
    );
    let out = decode(&dir, &expired, &["--json"]).await;
    assert_eq!(out.code, Some(0));
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["header"]["alg"], "RS256");
    assert_eq!(v["claims"]["aud"], "https://graph.microsoft.com");
    assert_eq!(v["claims"]["scp"], "User.Read");
    assert_eq!(v["warnings"][0]["code"], "expired");
    let message = v["warnings"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("expired 3h ago ("), "{message}");
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["claims", "header", "warnings"]
    );

    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_a_jwt() {
    let h = Harness::start().await;
    let dir = temp_dir("decode-not");

    // A real authorization code, from a browser sign-in (PKCE, plain for brevity).
    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789abcdef";
    let url = reqwest::Url::parse_with_params(
        &h.url(&format!("/{TENANT}/oauth2/v2.0/authorize")),
        [
            ("client_id", PUBLIC_CLIENT),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost"),
            ("scope", "api://contoso-api/Data.Read openid"),
            ("state", "s"),
            ("code_challenge", verifier),
            ("code_challenge_method", "plain"),
        ],
    )
    .unwrap();
    let mut browser = entra_testkit::Browser::new(&h);
    let location = entra_testkit::sign_in(
        &mut browser,
        url.as_str(),
        "alice@contoso.onmicrosoft.com",
        "alice-dev-password",
        "accept",
    )
    .await;
    let code = entra_testkit::query_param(&location, "code").expect("a code");
    let out = decode(&dir, &format!("Bearer {code}"), &[]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stdout, "");
    assert_snapshot(
        &out.stderr,
        "error: not a JWT: this looks like an authorization code (a dot-free string, or one starting 0.A / 1.A / OAQAB), not an access token. A code is redeemed once at the token endpoint (grant_type=authorization_code) for an access token; sending it as a bearer gets 401 \"Access token is invalid\". `entra token` or `entra login` do the exchange for you.\n",
    );
    assert!(!out.stderr.contains(&code));

    let out = decode(&dir, "0.AXkAsomething-code-like", &["--json"]).await;
    assert_eq!(out.code, Some(1));
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "authorization_code");

    let out = decode(&dir, "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", &[]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("encrypted token (JWE"),
        "{}",
        out.stderr
    );

    let out = decode(&dir, "opaque.value", &[]).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("not a JWT"), "{}", out.stderr);

    let out = decode(&dir, "  \n", &[]).await;
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("no token to decode"));

    h.stop().await;
}

/// `--for` with an App ID URI: a v2 token carries the API's client id, which the
/// emulator's directory maps the URI to; a v1 token the URI itself; a token for another
/// API gets a warning naming both accepted values. (The trap of issue 13: this said
/// "Warnings none" for any token.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_an_app_id_uri_accepts_the_client_id_and_names_both() {
    let h = Harness::start().await;
    let dir = temp_dir("decode-app-id-uri");
    let for_api = ["--for", API_URI];

    // v2, aud = the client id: it fits.
    let v2 = alice(&h, API_READ).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(claims(&v2)["aud"], API);
    let out = decode(&dir, &v2, &for_api).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.ends_with("\nWarnings\n  none\n"),
        "{}",
        out.stdout
    );

    // A token for another API (Graph): both of contoso-api's audiences are named.
    let graph = alice(&h, "User.Read").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let out = decode(&dir, &graph, &for_api).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let warnings = out.stdout.split("\nWarnings\n").nth(1).unwrap();
    assert_snapshot(
        warnings,
        &format!(
            "  ! this token is for Microsoft Graph (https://graph.microsoft.com), not for {API_URI}: that API accepts {API_URI} (v1 tokens) or its client id {API} (v2 tokens; from the emulator's development directory), and will answer 401. Ask for a scope of that API: `entra token --scope {API_URI}/.default`\n"
        ),
    );
    let out = decode(&dir, &graph, &["--for", API_URI, "--json"]).await;
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["warnings"][0]["code"], "wrong_audience");

    // A directory file of the user's own (ENTRA_EMULATOR_CONFIG) is read instead.
    let file = dir.join("directory.toml");
    std::fs::write(
        &file,
        format!(
            "[[apps]]\nclient_id = \"{API}\"\ntenant = \"{TENANT}\"\nidentifier_uris = [\"api://renamed\"]\n"
        ),
    )
    .unwrap();
    let mut cmd = entra(&dir);
    cmd.args(["decode", "-", "--for", "api://renamed"])
        .env("ENTRA_EMULATOR_CONFIG", &file);
    let out = run(cmd, Some(v2.clone().into_bytes())).await;
    assert!(
        out.stdout.ends_with("\nWarnings\n  none\n"),
        "{}",
        out.stdout
    );
    h.stop().await;
}
