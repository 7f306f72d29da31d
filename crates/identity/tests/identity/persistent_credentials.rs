//! Credentials with a persistent (file) token cache, against a real emulator: a user
//! signs in once (device code, approved by a stand-in browser) and a second client
//! object on the same file — a later process, as far as the cache can tell — gets the
//! token silently with no request at all, and other scopes through the stored refresh
//! token; an app token written by one confidential credential is served to another;
//! a broken file is reported as `Error::Cache`; and MSAL Python finds, in a plaintext
//! cache written by the credentials, both the user's and the app's tokens, and redeems
//! the user's refresh token. The emulator's counters prove which requests were (not)
//! sent.

use std::path::Path;
use std::sync::Arc;

use crate::common::{Emu, claims, no_leak, sha256_hex};
use entra_identity::persist::{CacheFileError, PersistentCache, Protection};
use entra_identity::{
    ClientOptions, ClientSecretCredential, DeviceCodeInfo, Error, PublicClient, SignIn,
    TokenCredential, TokenRequest,
};
use entra_testkit::dev::{
    ALICE, ALICE_OID, DAEMON, PUBLIC_CLIENT as PUBLIC, TENANT, TENANT_ID as CONTOSO, WEB,
};
use entra_testkit::{Browser, enter_device_code};
use serde_json::Value;

impl Emu {
    /// Options with the cache file at `path`, opened afresh (a new object, as a new
    /// process would have).
    fn with_file(&self, path: &Path, protection: Protection) -> ClientOptions {
        self.quick_options()
            .with_persistent_cache(path, protection)
            .unwrap()
    }
}

/// Alice signs in to `client` with a device code for `scope`.
async fn device_sign_in(env: &Emu, client: &PublicClient, scope: &str) -> SignIn {
    device_sign_in_as(env, client, scope, ALICE, "alice-dev-password").await
}

/// `user` signs in to `client` with a device code for `scope` (accepting consent).
async fn device_sign_in_as(
    env: &Emu,
    client: &PublicClient,
    scope: &str,
    user: &'static str,
    password: &'static str,
) -> SignIn {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let on_code = move |i: &DeviceCodeInfo| {
        let _ = tx.send(i.clone());
    };
    let request = TokenRequest::new([scope]);
    let flow = client.sign_in_with_device_code(&request, &on_code, std::future::pending());
    let (outcome, ()) = tokio::join!(flow, async {
        let info = rx.recv().await.unwrap();
        enter_device_code(
            &mut Browser::new(env),
            &info.user_code,
            user,
            password,
            "accept",
        )
        .await;
    });
    outcome.unwrap()
}

// --- Public client ---------------------------------------------------------------------

#[tokio::test]
async fn a_user_signed_in_once_gets_tokens_silently_in_a_later_process() {
    let env = Emu::start().await;
    let path = env.work_dir().join("cache").join("tokens.bin");
    let read = TokenRequest::new(["api://contoso-api/Data.Read"]);
    let write = TokenRequest::new(["api://contoso-api/Data.Write"]);

    // Process 1: sign in with a device code; everything goes to the encrypted file.
    let first =
        PublicClient::new(TENANT, PUBLIC, env.with_file(&path, Protection::Encrypted)).unwrap();
    let signed_in = device_sign_in(&env, &first, "api://contoso-api/Data.Read").await;
    assert_eq!(
        signed_in.account.home_account_id,
        format!("{ALICE_OID}.{CONTOSO}")
    );
    drop(first);
    let on_disk = std::fs::read(&path).unwrap();
    assert!(on_disk.starts_with(b"\0EKCACHE"), "the cache is encrypted");
    let text = String::from_utf8_lossy(&on_disk);
    no_leak(
        &text,
        &[signed_in.token.token.expose(), ALICE, "RefreshToken"],
    );
    assert!(path.with_file_name("tokens.bin.key").exists());
    let after_sign_in = env.counter("endpoint:token").await;
    assert_eq!(env.counter("grant:device_code").await, after_sign_in);

    // Process 2: a new client on the same file knows alice and her token: no request.
    let second =
        PublicClient::new(TENANT, PUBLIC, env.with_file(&path, Protection::Encrypted)).unwrap();
    assert_eq!(
        second.accounts().await.unwrap(),
        vec![signed_in.account.clone()]
    );
    assert_eq!(
        second.current_account().await.unwrap(),
        Some(signed_in.account.clone())
    );
    let silent = second.get_token(&read).await.unwrap();
    assert_eq!(silent.token, signed_in.token.token);
    assert_eq!(silent.expires_on, signed_in.token.expires_on);
    let again = second
        .get_token_silent(&signed_in.account, &read)
        .await
        .unwrap();
    assert_eq!(again.token, signed_in.token.token);
    assert_eq!(env.counter("endpoint:token").await, after_sign_in);

    // Another scope: exactly one refresh-token grant with the stored refresh token.
    assert_eq!(env.counter("grant:refresh_token").await, 0);
    let w = second.get_token(&write).await.unwrap();
    assert_eq!(claims(&w.token)["scp"], "Data.Write");
    assert_eq!(claims(&w.token)["oid"], ALICE_OID);
    assert_eq!(env.counter("grant:refresh_token").await, 1);
    assert_eq!(env.counter("endpoint:token").await, after_sign_in + 1);
    no_leak(
        &format!("{second:?}"),
        &[signed_in.token.token.expose(), w.token.expose()],
    );
    drop(second);

    // Process 3: both access tokens come from the file; a third scope works through
    // the refresh token process 2 stored after rotation (the emulator revokes the whole
    // family when a used refresh token is replayed, so this proves it was the new one).
    let third =
        PublicClient::new(TENANT, PUBLIC, env.with_file(&path, Protection::Encrypted)).unwrap();
    assert_eq!(third.get_token(&write).await.unwrap().token, w.token);
    assert_eq!(
        third.get_token(&read).await.unwrap().token,
        signed_in.token.token
    );
    assert_eq!(env.counter("endpoint:token").await, after_sign_in + 1);
    let graph = third
        .get_token(&TokenRequest::new(["User.Read"]))
        .await
        .unwrap();
    assert_eq!(claims(&graph.token)["aud"], "https://graph.microsoft.com");
    assert_eq!(env.counter("grant:refresh_token").await, 2);

    // Signing out removes alice from the file: the next process must sign in again,
    // and finds that out without a request.
    third.remove_account(&signed_in.account).await.unwrap();
    let fourth =
        PublicClient::new(TENANT, PUBLIC, env.with_file(&path, Protection::Encrypted)).unwrap();
    assert!(fourth.accounts().await.unwrap().is_empty());
    let e = fourth.get_token(&read).await.unwrap_err();
    assert!(e.needs_interaction(), "{e}");
    assert_eq!(env.counter("endpoint:token").await, after_sign_in + 2);

    // The in-memory client (no file) of the same app knows nothing of alice.
    let memory_only = PublicClient::new(TENANT, PUBLIC, env.quick_options()).unwrap();
    assert!(memory_only.accounts().await.unwrap().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn clients_sharing_a_file_redeem_a_refresh_token_once_not_in_a_stampede() {
    // Eight clients, each with its own handle on the file (its own open file, its own
    // in-process locks: as separate processes would have), ask at once for a scope none
    // has a token for. One redeems the refresh token; the others wait on the file's
    // refresh lock and then find its token. Without that, seven would replay a refresh
    // token the first had already rotated away, and Entra (like the emulator) would
    // revoke the whole family, signing the user out everywhere.
    let env = Emu::start().await;
    let path = env.work_dir().join("shared.bin");
    let first =
        PublicClient::new(TENANT, PUBLIC, env.with_file(&path, Protection::Encrypted)).unwrap();
    device_sign_in(&env, &first, "api://contoso-api/Data.Read").await;
    drop(first);

    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client =
            PublicClient::new(TENANT, PUBLIC, env.with_file(&path, Protection::Encrypted)).unwrap();
        set.spawn(async move {
            client
                .get_token(&TokenRequest::new(["api://contoso-api/Data.Write"]))
                .await
        });
    }
    let tokens: Vec<_> = set
        .join_all()
        .await
        .into_iter()
        .map(|t| t.unwrap())
        .collect();
    assert!(tokens.iter().all(|t| t.token == tokens[0].token));
    assert_eq!(env.counter("grant:refresh_token").await, 1);
    // The family is intact: a later client still refreshes with the rotated token.
    let later =
        PublicClient::new(TENANT, PUBLIC, env.with_file(&path, Protection::Encrypted)).unwrap();
    let graph = later
        .get_token(&TokenRequest::new(["User.Read"]))
        .await
        .unwrap();
    assert_eq!(claims(&graph.token)["aud"], "https://graph.microsoft.com");
    assert_eq!(env.counter("grant:refresh_token").await, 2);
    env.stop().await;
}

#[tokio::test]
async fn the_signed_in_user_is_the_default_chains_cached_account() {
    use entra_identity::{
        DefaultAzureCredential, DefaultAzureCredentialOptions, Env as Vars,
        SharedTokenCacheCredential, SharedTokenCacheOptions,
    };
    let env = Emu::start().await;
    let path = env.work_dir().join("shared").join("token-cache.bin");
    let shared = |username: Option<&str>| {
        SharedTokenCacheCredential::new(SharedTokenCacheOptions {
            client: env.quick_options(),
            cache_path: Some(path.clone()),
            client_id: Some(PUBLIC.into()),
            tenant: Some(TENANT.into()),
            username: username.map(str::to_string),
            ..Default::default()
        })
    };
    let write = TokenRequest::new(["api://contoso-api/Data.Write"]);

    // Nobody signed in yet: unavailable, saying what to do.
    let e = shared(None).get_token(&write).await.unwrap_err();
    assert!(
        matches!(&e, Error::Unavailable { .. }) && e.to_string().contains("entra login"),
        "{e}"
    );

    // Alice signs in (another process, as far as the file can tell); the credential gets
    // a token for another scope from her refresh token, without her.
    let login =
        PublicClient::new(TENANT, PUBLIC, env.with_file(&path, Protection::Encrypted)).unwrap();
    device_sign_in(&env, &login, "api://contoso-api/Data.Read").await;
    let t = shared(None).get_token(&write).await.unwrap();
    assert_eq!(claims(&t.token)["scp"], "Data.Write");
    assert_eq!(claims(&t.token)["oid"], ALICE_OID);

    // The default chain finds her there too, as its last resort.
    let chain = DefaultAzureCredential::new(DefaultAzureCredentialOptions {
        client: env.quick_options(),
        env: Some(
            Vars::new()
                .with("ENTRA_TOKEN_CACHE", path.to_string_lossy())
                .with("AZURE_TOKEN_CREDENTIALS", "SharedTokenCacheCredential")
                .with("AZURE_TENANT_ID", TENANT),
        ),
        ..Default::default()
    })
    .unwrap();
    // The chain's cached account uses the default public client id; alice signed in to
    // PUBLIC, so it finds no one for that client and says so.
    let e = chain.get_token(&write).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("no account is signed in to client 04b07795"),
        "{e}"
    );

    // Bob signs in too: now the credential must be told which account.
    device_sign_in_as(
        &env,
        &login,
        "api://contoso-api/Data.Read",
        "bob@contoso.onmicrosoft.com",
        "bob-dev-password",
    )
    .await;
    let e = shared(None).get_token(&write).await.unwrap_err();
    assert!(
        e.to_string().contains("2 accounts are signed in")
            && e.to_string().contains("AZURE_USERNAME"),
        "{e}"
    );
    // (Bob consented to Data.Read only: that is what he can have.)
    let bob = shared(Some("BOB@contoso.onmicrosoft.com"))
        .get_token(&TokenRequest::new(["api://contoso-api/Data.Read"]))
        .await
        .unwrap();
    assert_eq!(
        claims(&bob.token)["oid"],
        "b0b00000-0000-4000-8000-000000000002"
    );
    let e = shared(Some("carol@contoso.onmicrosoft.com"))
        .get_token(&write)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("carol@contoso.onmicrosoft.com is not signed in"),
        "{e}"
    );
    env.stop().await;
}

// --- Confidential client -----------------------------------------------------------------

#[tokio::test]
async fn an_app_token_persisted_by_one_credential_is_served_to_the_next() {
    let env = Emu::start().await;
    let path = env.work_dir().join("app-cache.json");
    let scope = TokenRequest::new(["api://contoso-api/.default"]);
    let daemon = |protection| {
        ClientSecretCredential::new(
            TENANT,
            DAEMON,
            "daemon-dev-secret",
            env.with_file(&path, protection),
        )
        .unwrap()
    };

    let first = daemon(Protection::DangerPlaintextForMsalInterop)
        .get_token(&scope)
        .await
        .unwrap();
    assert_eq!(env.counter("grant:client_credentials").await, 1);
    // Plain MSAL JSON: an app token with home_account_id null, as MSAL Python writes it.
    let json: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let entries = json["AccessToken"].as_object().unwrap();
    assert_eq!(entries.len(), 1);
    let (key, at) = entries.iter().next().unwrap();
    assert!(at["home_account_id"].is_null(), "{at}");
    assert_eq!(at["client_id"], DAEMON);
    assert_eq!(at["environment"], "localhost");
    assert_eq!(at["target"], "api://contoso-api/.default");
    assert_eq!(at["secret"], first.token.expose());
    assert_eq!(
        key,
        &format!("-localhost-accesstoken-{DAEMON}-{TENANT}-api://contoso-api/.default")
    );

    // A second credential (a later process): the same token, no request.
    let second = daemon(Protection::DangerPlaintextForMsalInterop);
    let t = second.get_token(&scope).await.unwrap();
    assert_eq!(
        (t.token, t.expires_on),
        (first.token.clone(), first.expires_on)
    );
    assert_eq!(env.counter("grant:client_credentials").await, 1);

    // Not another app's token, even in the same file.
    let web = ClientSecretCredential::new(
        TENANT,
        WEB,
        "web-dev-secret",
        env.with_file(&path, Protection::DangerPlaintextForMsalInterop),
    )
    .unwrap();
    let w = web.get_token(&scope).await.unwrap();
    assert_ne!(w.token, first.token);
    let c = claims(&w.token);
    assert_eq!(
        c.get("azp").or(c.get("appid")).and_then(Value::as_str),
        Some(WEB)
    );
    assert_eq!(env.counter("grant:client_credentials").await, 2);

    // A claims challenge goes to the authority, and its token replaces nothing it
    // should not: a third credential still gets a fresh token without a request.
    let challenged = daemon(Protection::DangerPlaintextForMsalInterop)
        .get_token(
            &scope
                .clone()
                .claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#),
        )
        .await
        .unwrap();
    assert_eq!(env.counter("grant:client_credentials").await, 3);
    let third = daemon(Protection::DangerPlaintextForMsalInterop)
        .get_token(&scope)
        .await
        .unwrap();
    assert!(third.token == first.token || third.token == challenged.token);
    assert_eq!(env.counter("grant:client_credentials").await, 3);

    // Opening the plaintext file as an encrypted cache is refused, typed, by name.
    let refused = env
        .quick_options()
        .with_persistent_cache(&path, Protection::Encrypted)
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Cache(CacheFileError::ProtectionMismatch { .. })
        ),
        "{refused}"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_cache_file_damaged_after_opening_fails_the_request_as_a_cache_error() {
    let env = Emu::start().await;
    let path = env.work_dir().join("tokens.bin");
    let scope = TokenRequest::new(["api://contoso-api/.default"]);
    let cache = Arc::new(PersistentCache::open(&path, Protection::Encrypted).unwrap());
    let options = ClientOptions {
        persistent_cache: Some(cache),
        ..env.quick_options()
    };
    let credential =
        ClientSecretCredential::new(TENANT, DAEMON, "daemon-dev-secret", options).unwrap();
    let token = credential.get_token(&scope).await.unwrap();

    // The file is altered; the in-memory cache still answers the same scope...
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        credential.get_token(&scope).await.unwrap().token,
        token.token
    );

    // ...but another scope needs the file, and the damage is reported, not bypassed.
    let before = env.counter("endpoint:token").await;
    let e = credential
        .get_token(&TokenRequest::new(["https://graph.microsoft.com/.default"]))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Cache(CacheFileError::Corrupt { .. })),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("tokens.bin") && text.contains("unreadable"),
        "{text}"
    );
    no_leak(&format!("{text} {e:?}"), &[token.token.expose()]);
    assert_eq!(env.counter("endpoint:token").await, before);
    env.stop().await;
}

// --- MSAL Python reads what the credentials wrote -------------------------------------

/// Runs MSAL off the runtime's thread: the emulator serves it from this runtime.
async fn msal(env: &Emu, command: &'static str, cache: &Path) -> Value {
    let (authority, ca, cache, work) = (
        env.ready().authority.clone(),
        env.ready().ca_file.clone(),
        cache.to_path_buf(),
        env.work_dir().clone(),
    );
    tokio::task::spawn_blocking(move || {
        entra_testkit::run_msal_cache_interop(command, &authority, &ca, &cache, &work)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn msal_python_uses_the_tokens_the_credentials_wrote_in_plaintext_mode() {
    let env = Emu::start().await;
    let path = env.work_dir().join("shared-with-msal.json");
    let options = || env.with_file(&path, Protection::DangerPlaintextForMsalInterop);
    // The tenant id in the authority, as MSAL keys tokens by the authority's tenant.
    let client = PublicClient::new(CONTOSO, PUBLIC, options()).unwrap();
    let user = device_sign_in(&env, &client, "api://contoso-api/Data.Read").await;
    let daemon =
        ClientSecretCredential::new(CONTOSO, DAEMON, "daemon-dev-secret", options()).unwrap();
    let app = daemon
        .get_token(&TokenRequest::new(["api://contoso-api/.default"]))
        .await
        .unwrap();
    let requests = env.counter("endpoint:token").await;

    // MSAL Python finds alice and both access tokens in the file: no request.
    let found = msal(&env, "silent", &path).await;
    assert_eq!(found["username"], ALICE);
    assert_eq!(found["home_account_id"], user.account.home_account_id);
    assert_eq!(found["user_token"], sha256_hex(user.token.token.expose()));
    assert_eq!(found["app_token"], sha256_hex(app.token.expose()));
    assert_eq!(env.counter("endpoint:token").await, requests);

    // And it redeems the refresh token the public client stored.
    let refreshed = msal(&env, "refresh", &path).await;
    assert_ne!(refreshed["user_token"], found["user_token"]);
    assert_eq!(env.counter("grant:refresh_token").await, 1);
    env.stop().await;
}
