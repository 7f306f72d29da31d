//! The persistent token cache: the MSAL schema round trip, unknown fields kept,
//! encryption at rest (wrong key, key-file permissions, damaged files refused and kept),
//! ten processes writing one file at once, and MSAL Python sharing a plaintext file in
//! both directions against a running emulator.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Emu, sha256_hex};
use entra_identity::Secret;
use entra_identity::persist::{
    AccessTokenEntry, CacheData, CacheFile, CacheFileError, EncryptionKey, PersistentCache,
    Protection, StaticKey, TokenResponse, environment_of,
};
use entra_testkit::dev::{
    ALICE_OID, API_DEFAULT, API_READ, DAEMON, PUBLIC_CLIENT, TENANT_ID as TENANT,
};
use serde_json::{Value, json};

const ENV: &str = "login.microsoftonline.com";

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("entra-persist-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("ENTRA_KEEP_STATE").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn b64(s: &str) -> String {
    entra_jose::b64url(s)
}

/// An unsigned ID token: the cache only reads its claims, as MSAL does.
fn id_token(oid: &str, username: &str) -> String {
    format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"RS256","typ":"JWT"}"#),
        b64(&json!({"oid": oid, "sub": format!("sub-{oid}"), "tid": TENANT, "preferred_username": username}).to_string())
    )
}

/// What a user sign-in returns.
fn user_response(uid: &str, username: &str, access: &str, scopes: &str) -> TokenResponse {
    TokenResponse::from_json(
        json!({
            "token_type": "Bearer",
            "scope": scopes,
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": access,
            "refresh_token": format!("rt-{access}"),
            "id_token": id_token(uid, username),
            "client_info": b64(&json!({"uid": uid, "utid": TENANT}).to_string()),
        }),
        PUBLIC_CLIENT,
        ENV,
        TENANT,
        &[],
    )
}

fn app_response(access: &str, expires_in: i64) -> TokenResponse {
    TokenResponse::from_json(
        json!({"token_type": "Bearer", "expires_in": expires_in.to_string(), "access_token": access}),
        DAEMON,
        ENV,
        TENANT,
        &[API_DEFAULT.to_string()],
    )
}

fn scopes(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn secret_of(at: &Option<AccessTokenEntry>) -> &str {
    at.as_ref().unwrap().secret.as_ref().unwrap().expose()
}

#[test]
fn round_trip_and_lookups() {
    let dir = TempDir::new("roundtrip");
    let path = dir.join("cache.bin");
    let cache = PersistentCache::open(&path, Protection::Encrypted).unwrap();
    assert!(!path.exists(), "opening creates nothing");

    let home = cache
        .save_token_response(&user_response(
            ALICE_OID,
            "alice@contoso.com",
            "alice-at",
            "api://contoso-api/Data.Read api://contoso-api/Data.Write openid profile offline_access",
        ))
        .unwrap()
        .unwrap();
    assert_eq!(home, format!("{ALICE_OID}.{TENANT}"));
    assert_eq!(
        cache
            .save_token_response(&app_response("app-at", 3599))
            .unwrap(),
        None
    );

    // Every section, with MSAL's keys.
    let data = cache.file().load().unwrap();
    assert_eq!(data.access_tokens.len(), 2);
    let user_key = format!(
        "{home}-{ENV}-accesstoken-{PUBLIC_CLIENT}-{TENANT}-api://contoso-api/data.read api://contoso-api/data.write offline_access openid profile"
    );
    let at = &data.access_tokens[&user_key];
    assert_eq!(at.credential_type.as_deref(), Some("AccessToken"));
    assert_eq!(at.secret.as_ref().unwrap().expose(), "alice-at");
    let cached = at.cached_at.unwrap();
    assert_eq!(at.expires_on, Some(cached + 3599));
    assert_eq!(at.extended_expires_on, Some(cached + 3599));
    assert!(data.access_tokens.contains_key(&format!(
        "-{ENV}-accesstoken-{DAEMON}-{TENANT}-{API_DEFAULT}"
    )));
    assert!(data.refresh_tokens.contains_key(&format!(
        "{home}-{ENV}-refreshtoken-{PUBLIC_CLIENT}--api://contoso-api/data.read api://contoso-api/data.write offline_access openid profile"
    )));
    assert!(
        data.id_tokens
            .contains_key(&format!("{home}-{ENV}-idtoken-{PUBLIC_CLIENT}-{TENANT}-"))
    );
    let account = &data.accounts[&format!("{home}-{ENV}-{TENANT}")];
    assert_eq!(account.username.as_deref(), Some("alice@contoso.com"));
    assert_eq!(account.local_account_id.as_deref(), Some(ALICE_OID));
    assert_eq!(account.authority_type.as_deref(), Some("MSSTS"));
    assert!(
        data.app_metadata
            .contains_key(&format!("appmetadata-{ENV}-{PUBLIC_CLIENT}"))
    );
    assert!(
        data.app_metadata
            .contains_key(&format!("appmetadata-{ENV}-{DAEMON}"))
    );

    // Serialise, parse: the same data; timestamps are strings of epoch seconds.
    let json = data.to_json();
    assert_eq!(CacheData::from_json(&json).unwrap(), data);
    let v: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["AccessToken"][&user_key]["cached_at"], cached.to_string());
    assert!(v["AccessToken"][&format!("-{ENV}-accesstoken-{DAEMON}-{TENANT}-{API_DEFAULT}")]["home_account_id"].is_null());

    // Lookups: superset of scopes, case-insensitive, OIDC scopes ignored.
    let find = |client: &str, home: Option<&str>, s: &[&str]| {
        cache
            .find_access_token(client, ENV, TENANT, home, &scopes(s))
            .unwrap()
    };
    assert_eq!(
        secret_of(&find(PUBLIC_CLIENT, Some(&home), &[API_READ])),
        "alice-at"
    );
    assert_eq!(
        secret_of(&find(
            PUBLIC_CLIENT,
            Some(&home),
            &["API://CONTOSO-API/data.read", "openid"]
        )),
        "alice-at"
    );
    assert!(
        find(
            PUBLIC_CLIENT,
            Some(&home),
            &[API_READ, "api://contoso-api/Data.Delete"]
        )
        .is_none()
    );
    assert!(
        find(PUBLIC_CLIENT, None, &[API_READ]).is_none(),
        "an app lookup never returns a user's token"
    );
    assert!(find(PUBLIC_CLIENT, Some("someone.else"), &[API_READ]).is_none());
    assert_eq!(secret_of(&find(DAEMON, None, &[API_DEFAULT])), "app-at");
    assert!(find(DAEMON, Some(&home), &[API_DEFAULT]).is_none());
    assert!(
        cache
            .find_access_token(DAEMON, ENV, "another-tenant", None, &scopes(&[API_DEFAULT]))
            .unwrap()
            .is_none()
    );
    assert!(
        find(DAEMON, None, &["openid"]).is_none(),
        "nothing to look for"
    );
    let token = find(DAEMON, None, &[API_DEFAULT])
        .unwrap()
        .to_token()
        .unwrap();
    assert_eq!(token.token.expose(), "app-at");
    assert_eq!(&*token.token_type, "Bearer");

    // Expired, or inside MSAL's 5-minute buffer: not returned.
    cache
        .save_token_response(&app_response("short-lived", 200))
        .unwrap();
    assert!(find(DAEMON, None, &[API_DEFAULT]).is_none());

    let rt = cache
        .find_refresh_token(PUBLIC_CLIENT, ENV, &home)
        .unwrap()
        .unwrap();
    assert_eq!(rt.secret.unwrap().expose(), "rt-alice-at");
    assert!(
        cache
            .find_refresh_token(DAEMON, ENV, &home)
            .unwrap()
            .is_none()
    );
    let id = cache
        .find_id_token(PUBLIC_CLIENT, ENV, TENANT, &home)
        .unwrap()
        .unwrap();
    assert!(id.secret.is_some());
    assert_eq!(cache.accounts(ENV).unwrap().len(), 1);
    assert!(
        cache
            .accounts("login.microsoftonline.us")
            .unwrap()
            .is_empty()
    );

    // A second open sees the same; removing the account removes its tokens only.
    let again = PersistentCache::open(&path, Protection::Encrypted).unwrap();
    assert_eq!(again.file().load().unwrap(), cache.file().load().unwrap());
    assert_eq!(again.remove_account(ENV, &home).unwrap(), 4);
    let data = cache.file().load().unwrap();
    assert_eq!(data.access_tokens.len(), 1, "the app token stays");
    assert!(
        data.refresh_tokens.is_empty() && data.id_tokens.is_empty() && data.accounts.is_empty()
    );
    assert_eq!(data.app_metadata.len(), 2);
}

#[test]
fn save_merges_with_what_is_on_disk() {
    let dir = TempDir::new("merge");
    let path = dir.join("cache.json");
    let file = CacheFile::new(&path, Protection::DangerPlaintextForMsalInterop);
    // Two writers that loaded the same (empty) state each add their own entry.
    let mut mine = file.load().unwrap();
    let mut theirs = file.load().unwrap();
    let entry = |secret: &str, target: &str, cached: i64| AccessTokenEntry {
        credential_type: Some("AccessToken".into()),
        secret: Some(Secret::new(secret)),
        environment: Some(ENV.into()),
        client_id: Some(DAEMON.into()),
        realm: Some(TENANT.into()),
        target: Some(target.into()),
        cached_at: Some(cached),
        expires_on: Some(cached + 3600),
        ..Default::default()
    };
    mine.insert_access_token(entry("mine", "a", 100));
    mine.insert_access_token(entry("mine-shared", "shared", 100));
    theirs.insert_access_token(entry("theirs", "b", 100));
    theirs.insert_access_token(entry("theirs-shared-newer", "shared", 200));
    file.save(&theirs).unwrap();
    file.save(&mine).unwrap();
    let disk = file.load().unwrap();
    let secrets: Vec<&str> = disk
        .access_tokens
        .values()
        .map(|e| e.secret.as_ref().unwrap().expose())
        .collect();
    assert_eq!(secrets.len(), 3);
    assert!(secrets.contains(&"mine") && secrets.contains(&"theirs"));
    assert!(
        secrets.contains(&"theirs-shared-newer"),
        "the newer cached_at wins: {secrets:?}"
    );
}

#[test]
fn unknown_fields_are_preserved() {
    let dir = TempDir::new("unknown");
    let path = dir.join("msal.json");
    // What MSAL Python and msal-node write, with fields this version does not model.
    let original = json!({
        "AccessToken": {
            "-login.microsoftonline.com-accesstoken-d1-t1-s/.default": {
                "credential_type": "AccessToken", "secret": "msal-app-at", "home_account_id": null,
                "environment": "login.microsoftonline.com", "client_id": "d1", "realm": "t1",
                "target": "s/.default", "token_type": "Bearer", "cached_at": "1700000000",
                "expires_on": "4000000000", "extended_expires_on": "4000000000",
                "ext_cache_key": "abc", "future_field": {"nested": [1, 2, {"x": null}]}
            }
        },
        "RefreshToken": {
            "u.t-login.microsoftonline.com-refreshtoken-1--": {
                "credential_type": "RefreshToken", "secret": "frt", "home_account_id": "u.t",
                "environment": "login.microsoftonline.com", "client_id": "c1", "family_id": "1",
                "last_modification_time": "1700000000", "realm": "", "userAssertionHash": "h"
            }
        },
        "Account": {
            "u.t-login.microsoftonline.com-t": {
                "home_account_id": "u.t", "environment": "login.microsoftonline.com", "realm": "t",
                "local_account_id": "u", "username": "bob@contoso.com", "authority_type": "MSSTS",
                "account_source": "password", "name": "Bob", "tenantProfiles": [{"tenantId": "t"}]
            }
        },
        "IdToken": {},
        "AppMetadata": {
            "appmetadata-login.microsoftonline.com-c1": {
                "client_id": "c1", "environment": "login.microsoftonline.com", "family_id": "1",
                "extra_meta": true
            }
        },
        "FutureSection": {"anything": ["kept", 1, null]}
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&original).unwrap()).unwrap();

    let cache = PersistentCache::open(&path, Protection::DangerPlaintextForMsalInterop).unwrap();
    // A write for someone else: read-merge-write must keep everything above as it was.
    cache
        .save_token_response(&user_response(
            ALICE_OID,
            "alice@contoso.com",
            "alice-at",
            API_READ,
        ))
        .unwrap();
    let after: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for section in ["AccessToken", "RefreshToken", "Account", "AppMetadata"] {
        for (key, entry) in original[section].as_object().unwrap() {
            assert_eq!(&after[section][key], entry, "{section} {key}");
        }
    }
    assert_eq!(after["FutureSection"], original["FutureSection"]);
    assert_eq!(after["AccessToken"].as_object().unwrap().len(), 2);

    // The app token bound to an ext_cache_key is MSAL's business, not a plain bearer token.
    assert!(
        cache
            .find_access_token("d1", ENV, "t1", None, &scopes(&["s/.default"]))
            .unwrap()
            .is_none()
    );
    let accounts = cache.accounts(ENV).unwrap();
    let bob = accounts
        .iter()
        .find(|a| a.username.as_deref() == Some("bob@contoso.com"))
        .unwrap();
    assert_eq!(bob.extra["account_source"], "password");

    // Re-signing-in an account keeps the fields MSAL put on it.
    let bob_again = TokenResponse {
        client_id: "c1".into(),
        environment: ENV.into(),
        realm: "t".into(),
        scopes: scopes(&["s/x"]),
        access_token: Some(Secret::new("bob-at")),
        client_info: Some(b64(r#"{"uid":"u","utid":"t"}"#)),
        id_token: Some(Secret::new(id_token("u", "bob@contoso.com"))),
        ..Default::default()
    };
    cache.save_token_response(&bob_again).unwrap();
    let after: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let acct = &after["Account"]["u.t-login.microsoftonline.com-t"];
    assert_eq!(acct["account_source"], "password");
    assert_eq!(acct["tenantProfiles"], json!([{"tenantId": "t"}]));
}

#[cfg(unix)]
#[test]
fn encrypted_at_rest() {
    let dir = TempDir::new("encrypted");
    let path = dir.join("cache.bin");
    let cache = PersistentCache::open(&path, Protection::Encrypted).unwrap();
    cache
        .save_token_response(&user_response(
            ALICE_OID,
            "alice@contoso.com",
            "alice-secret-token",
            API_READ,
        ))
        .unwrap();
    let key_path = dir.join("cache.bin.key");
    let raw = std::fs::read(&path).unwrap();
    assert!(serde_json::from_slice::<Value>(&raw).is_err(), "not JSON");
    assert!(raw.starts_with(b"\0EKCACHE\x01"), "versioned header");
    let needle = b"alice-secret-token";
    assert!(!raw.windows(needle.len()).any(|w| w == needle));
    assert!(
        !raw.windows(5).any(|w| w == b"alice"),
        "not even the username"
    );
    // It decrypts, with the key from the key file.
    let data = cache.file().load().unwrap();
    assert_eq!(data.accounts.len(), 1);
    let key: [u8; 32] = std::fs::read(&key_path).unwrap().try_into().unwrap();
    let with_static = CacheFile::new(
        &path,
        Protection::EncryptedWith(std::sync::Arc::new(StaticKey::new(
            EncryptionKey::from_bytes(key),
            "test key",
        ))),
    );
    assert_eq!(with_static.load().unwrap(), data);
    // Files are the owner's only.
    assert_eq!(mode(&key_path), 0o600);
    assert_eq!(mode(&path), 0o600);
    // Each write seals with a fresh nonce.
    cache.file().save(&CacheData::default()).unwrap();
    let raw2 = std::fs::read(&path).unwrap();
    assert_ne!(raw[17..29], raw2[17..29]);
    // Plaintext and encrypted files are told apart and never converted silently.
    let err = PersistentCache::open(&path, Protection::DangerPlaintextForMsalInterop).unwrap_err();
    assert!(
        matches!(err, CacheFileError::ProtectionMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("Protection::Encrypted"), "{err}");
    let plain = dir.join("plain.json");
    PersistentCache::open(&plain, Protection::DangerPlaintextForMsalInterop)
        .unwrap()
        .save_token_response(&app_response("x", 3600))
        .unwrap();
    assert!(serde_json::from_slice::<Value>(&std::fs::read(&plain).unwrap()).is_ok());
    assert_eq!(mode(&plain), 0o600);
    let err = PersistentCache::open(&plain, Protection::Encrypted).unwrap_err();
    assert!(
        matches!(err, CacheFileError::ProtectionMismatch { .. }),
        "{err}"
    );
    assert!(
        !dir.join("plain.json.key").exists(),
        "no key is created for a refused file"
    );
}

#[cfg(unix)]
#[test]
fn wrong_or_missing_key_is_a_clear_error_and_the_file_is_untouched() {
    let dir = TempDir::new("wrongkey");
    let path = dir.join("cache.bin");
    let key_path = dir.join("cache.bin.key");
    let cache = PersistentCache::open(&path, Protection::Encrypted).unwrap();
    cache
        .save_token_response(&app_response("app-at", 3600))
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let original_key = std::fs::read(&key_path).unwrap();

    let other = EncryptionKey::generate().unwrap();
    std::fs::write(&key_path, other.expose()).unwrap();
    chmod(&key_path, 0o600);
    let err = PersistentCache::open(&path, Protection::Encrypted).unwrap_err();
    assert!(matches!(err, CacheFileError::WrongKey { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("different key") && text.contains("cache.bin.key"),
        "{text}"
    );
    // A write is refused too, and nothing changes on disk.
    let err = cache
        .save_token_response(&app_response("other", 3600))
        .unwrap_err();
    assert!(matches!(err, CacheFileError::WrongKey { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(
        !dir.join("cache.bin.corrupt").exists(),
        "another key is not damage"
    );

    std::fs::remove_file(&key_path).unwrap();
    let err = PersistentCache::open(&path, Protection::Encrypted).unwrap_err();
    assert!(matches!(err, CacheFileError::MissingKey { .. }), "{err}");
    assert!(
        cache
            .save_token_response(&app_response("other", 3600))
            .is_err()
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(
        !key_path.exists(),
        "a new key is never made for an existing cache"
    );

    std::fs::write(&key_path, &original_key).unwrap();
    chmod(&key_path, 0o600);
    let again = PersistentCache::open(&path, Protection::Encrypted).unwrap();
    assert_eq!(
        secret_of(
            &again
                .find_access_token(DAEMON, ENV, TENANT, None, &scopes(&[API_DEFAULT]))
                .unwrap()
        ),
        "app-at"
    );
}

#[cfg(unix)]
#[test]
fn key_file_permissions_are_checked() {
    let dir = TempDir::new("keyperm");
    let path = dir.join("cache.bin");
    let key_path = dir.join("cache.bin.key");
    let cache = PersistentCache::open(&path, Protection::Encrypted).unwrap();
    cache
        .save_token_response(&app_response("app-at", 3600))
        .unwrap();
    assert_eq!(mode(&key_path), 0o600);
    let before = std::fs::read(&path).unwrap();
    for bad in [0o640, 0o604, 0o644, 0o660, 0o700 | 0o007] {
        chmod(&key_path, bad);
        let err = PersistentCache::open(&path, Protection::Encrypted).unwrap_err();
        assert!(
            matches!(err, CacheFileError::KeyFile { .. }),
            "{bad:o}: {err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert!(cache.save_token_response(&app_response("x", 3600)).is_err());
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    chmod(&key_path, 0o400);
    PersistentCache::open(&path, Protection::Encrypted).unwrap();

    // A key file another user owns is refused even at 0600. Only root can make one.
    if rustix::process::geteuid().is_root() {
        chmod(&key_path, 0o600);
        std::os::unix::fs::chown(&key_path, Some(65534), None).unwrap();
        let err = PersistentCache::open(&path, Protection::Encrypted).unwrap_err();
        assert!(
            err.to_string().contains("belongs to user id 65534"),
            "{err}"
        );
        std::os::unix::fs::chown(&key_path, Some(0), None).unwrap();
        PersistentCache::open(&path, Protection::Encrypted).unwrap();
    } else {
        eprintln!(
            "not root: cannot make a key file owned by someone else; owner check not exercised"
        );
    }

    // A key file of the wrong size is refused; a fresh cache beside it too.
    let short = dir.join("short.bin.key");
    std::fs::write(&short, [1u8; 16]).unwrap();
    chmod(&short, 0o600);
    let err = PersistentCache::open(dir.join("short.bin"), Protection::Encrypted)
        .unwrap()
        .save_token_response(&app_response("x", 3600))
        .unwrap_err();
    assert!(err.to_string().contains("16 bytes"), "{err}");
    assert!(!dir.join("short.bin").exists());
}

#[test]
fn a_damaged_file_is_refused_kept_and_never_overwritten() {
    let dir = TempDir::new("corrupt");

    // Plaintext cut short, as a non-atomic writer would leave it.
    let path = dir.join("msal.json");
    let damaged = br#"{"AccessToken": {"k": {"secret": "abc", "#.to_vec();
    std::fs::write(&path, &damaged).unwrap();
    let err = PersistentCache::open(&path, Protection::DangerPlaintextForMsalInterop).unwrap_err();
    let CacheFileError::Corrupt {
        copy: Some(copy), ..
    } = &err
    else {
        panic!("expected Corrupt with a copy: {err}");
    };
    assert_eq!(copy, &dir.join("msal.json.corrupt"));
    assert_eq!(std::fs::read(copy).unwrap(), damaged);
    assert!(err.to_string().contains("msal.json.corrupt"), "{err}");
    let file = CacheFile::new(&path, Protection::DangerPlaintextForMsalInterop);
    assert!(matches!(
        file.save(&CacheData::default()),
        Err(CacheFileError::Corrupt { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), damaged, "never overwritten");
    // Only an explicit reset discards it.
    file.reset().unwrap();
    let cache = PersistentCache::open(&path, Protection::DangerPlaintextForMsalInterop).unwrap();
    cache
        .save_token_response(&app_response("fresh", 3600))
        .unwrap();
    assert_eq!(std::fs::read(copy).unwrap(), damaged, "the copy stays");

    // Not MSAL JSON at all, and JSON of the wrong shape.
    for bad in [
        &b"\x01\x02garbage"[..],
        b"[1, 2, 3]",
        br#"{"AccessToken": []}"#,
    ] {
        let p = dir.join("other.json");
        std::fs::write(&p, bad).unwrap();
        let err = PersistentCache::open(&p, Protection::DangerPlaintextForMsalInterop).unwrap_err();
        assert!(matches!(err, CacheFileError::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), bad);
    }

    // An empty file (msal-extensions creates them) is an empty cache.
    let empty = dir.join("empty.json");
    std::fs::write(&empty, b"").unwrap();
    PersistentCache::open(&empty, Protection::DangerPlaintextForMsalInterop).unwrap();

    // Encrypted: truncated, or one bit flipped.
    let path = dir.join("cache.bin");
    let cache = PersistentCache::open(&path, Protection::Encrypted).unwrap();
    cache
        .save_token_response(&app_response("app-at", 3600))
        .unwrap();
    let good = std::fs::read(&path).unwrap();
    for damaged in [
        good[..good.len() - 7].to_vec(),
        {
            let mut v = good.clone();
            v[40] ^= 0x10;
            v
        },
        good[..12].to_vec(),
    ] {
        std::fs::write(&path, &damaged).unwrap();
        let err = PersistentCache::open(&path, Protection::Encrypted).unwrap_err();
        assert!(
            matches!(err, CacheFileError::Corrupt { copy: Some(_), .. }),
            "{err}"
        );
        assert!(cache.save_token_response(&app_response("x", 3600)).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), damaged);
        assert_eq!(
            std::fs::read(dir.join("cache.bin.corrupt")).unwrap(),
            damaged
        );
    }
}

#[test]
fn waiting_for_the_lock_is_bounded() {
    let dir = TempDir::new("locktimeout");
    let path = dir.join("cache.json");
    let file = CacheFile::new(&path, Protection::DangerPlaintextForMsalInterop)
        .with_lock_timeout(Duration::from_millis(300));
    file.save(&CacheData::default()).unwrap();
    // Another holder of the lock (a separate open file description, as another process).
    let holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file.lock_path())
        .unwrap();
    holder.lock().unwrap();
    let started = Instant::now();
    let err = file.update(|_| ()).unwrap_err();
    assert!(matches!(err, CacheFileError::LockTimeout { .. }), "{err}");
    assert!(err.to_string().contains("cache.json.lock"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(
        file.load(),
        Err(CacheFileError::LockTimeout { .. })
    ));
    // Readers share the lock with each other.
    holder.unlock().unwrap();
    holder.lock_shared().unwrap();
    file.load().unwrap();
    assert!(matches!(
        file.update(|_| ()),
        Err(CacheFileError::LockTimeout { .. })
    ));
    drop(holder);
    file.update(|_| ()).unwrap();
}

/// Finding: lock files are opened with O_NOFOLLOW. A symbolic link planted at
/// `<cache>.lock` or `<cache>.refresh.lock` is refused with a clear error; the file it
/// points to is neither created nor opened.
#[cfg(unix)]
#[test]
fn lock_file_symlink_refused() {
    let dir = TempDir::new("locklink");
    let path = dir.join("cache.json");
    let file = CacheFile::new(&path, Protection::DangerPlaintextForMsalInterop)
        .with_lock_timeout(Duration::from_millis(300));
    // A link to a file that does not exist yet (the process would create it) and a
    // link to an existing one (the process would lock, and hold open, someone else's file).
    let absent = dir.join("elsewhere-created");
    std::os::unix::fs::symlink(&absent, file.lock_path()).unwrap();
    let err = file.save(&CacheData::default()).unwrap_err();
    assert!(matches!(err, CacheFileError::Io { .. }), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(!absent.exists(), "the link's target was created");
    assert!(!path.exists(), "nothing written without the lock");
    assert!(file.load().is_err(), "a read is refused too");

    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let refresh_lock = dir.join("cache.json.refresh.lock");
    std::os::unix::fs::symlink(&victim, &refresh_lock).unwrap();
    let err = file.lock_for_refresh().unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    // Once the links are gone, the lock files are plain files again.
    std::fs::remove_file(file.lock_path()).unwrap();
    std::fs::remove_file(&refresh_lock).unwrap();
    file.save(&CacheData::default()).unwrap();
    drop(file.lock_for_refresh().unwrap());
    assert!(
        !std::fs::symlink_metadata(file.lock_path())
            .unwrap()
            .is_symlink()
    );
}

// --- ten processes, one file -------------------------------------------------------

const WORKERS: usize = 10;
const PER_WORKER: usize = 20;
const HAMMER_FILE: &str = "ENTRA_PERSIST_HAMMER_FILE";
const HAMMER_WORKER: &str = "ENTRA_PERSIST_HAMMER_WORKER";

fn hammer_uid(worker: usize, i: usize) -> String {
    format!("{worker:08x}-0000-4000-8000-{i:012x}")
}

/// One of the ten writers of `ten_processes_hammer_one_file`; does nothing unless that
/// test started this process.
#[test]
fn hammer_worker() {
    let (Some(path), Some(worker)) = (
        std::env::var_os(HAMMER_FILE),
        std::env::var(HAMMER_WORKER).ok(),
    ) else {
        return;
    };
    let worker: usize = worker.parse().unwrap();
    let file = CacheFile::new(PathBuf::from(path), Protection::Encrypted)
        .with_lock_timeout(Duration::from_secs(120));
    let cache = PersistentCache::from_file(file).unwrap();
    for i in 0..PER_WORKER {
        let uid = hammer_uid(worker, i);
        let access = format!("at-{worker}-{i}");
        cache
            .save_token_response(&user_response(
                &uid,
                &format!("user{worker}-{i}@contoso.com"),
                &access,
                API_READ,
            ))
            .unwrap();
        // Read back under the shared lock while the others write.
        let home = format!("{uid}.{TENANT}");
        let found = cache
            .find_access_token(
                PUBLIC_CLIENT,
                ENV,
                TENANT,
                Some(&home),
                &scopes(&[API_READ]),
            )
            .unwrap();
        assert_eq!(secret_of(&found), access);
    }
    println!("hammer worker {worker} wrote {PER_WORKER}");
}

#[test]
fn ten_processes_hammer_one_file() {
    let dir = TempDir::new("hammer");
    let path = dir.join("shared.bin");
    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    for worker in 0..WORKERS {
        let out = dir.join(format!("worker{worker}.out"));
        let child = Command::new(&exe)
            .args([
                "persist::hammer_worker",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HAMMER_FILE, &path)
            .env(HAMMER_WORKER, worker.to_string())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(dir.join(format!("worker{worker}.err"))).unwrap())
            .spawn()
            .unwrap();
        children.push((worker, child, out));
    }
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut failures = Vec::new();
    for (worker, child, out) in &mut children {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = std::fs::read_to_string(&*out).unwrap_or_default();
        let stderr =
            std::fs::read_to_string(dir.join(format!("worker{worker}.err"))).unwrap_or_default();
        match status {
            Some(s)
                if s.success()
                    && stdout.contains(&format!("hammer worker {worker} wrote {PER_WORKER}")) => {}
            other => failures.push(format!("worker {worker}: {other:?}\n{stdout}\n{stderr}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));

    // The file parses and holds every worker's every entry.
    let cache = PersistentCache::open(&path, Protection::Encrypted).unwrap();
    let data = cache.file().load().unwrap();
    assert_eq!(data.accounts.len(), WORKERS * PER_WORKER);
    assert_eq!(data.access_tokens.len(), WORKERS * PER_WORKER);
    assert_eq!(data.refresh_tokens.len(), WORKERS * PER_WORKER);
    assert_eq!(data.id_tokens.len(), WORKERS * PER_WORKER);
    assert_eq!(data.app_metadata.len(), 1);
    for worker in 0..WORKERS {
        for i in 0..PER_WORKER {
            let home = format!("{}.{TENANT}", hammer_uid(worker, i));
            let at = cache
                .find_access_token(
                    PUBLIC_CLIENT,
                    ENV,
                    TENANT,
                    Some(&home),
                    &scopes(&[API_READ]),
                )
                .unwrap();
            assert_eq!(secret_of(&at), format!("at-{worker}-{i}"));
        }
    }
    // One key (created once, though ten processes raced for it), no temporary file left.
    let mut names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("worker"))
        .collect();
    names.sort();
    assert_eq!(names, ["shared.bin", "shared.bin.key", "shared.bin.lock"]);
}

// --- MSAL Python, both directions, one plaintext file --------------------------------

impl Emu {
    /// A token request straight to the emulator; the JSON body.
    async fn token(&self, form: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .post(format!(
                "{}/{TENANT}/oauth2/v2.0/token",
                self.ready().authority
            ))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(
            status.is_success(),
            "{status}: {}",
            body["error_description"]
        );
        body
    }
}

/// Runs blocking work (a child process, file I/O under a lock) off the runtime's threads,
/// so the in-process emulator keeps serving.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_shares_a_plaintext_cache_both_ways() {
    let python = entra_testkit::python(); // fail first, and clearly, if the venv is missing
    assert!(python.exists());
    let env = Emu::start().await;
    let authority = env.ready().authority.trim_end_matches('/').to_string();
    let ca = env.ready().ca_file.clone();
    let path = env.work_dir().join("msal_cache.json");
    let environment = environment_of(&authority);
    assert_eq!(
        environment, "localhost",
        "MSAL Python records the host without the port"
    );
    let home = format!("{ALICE_OID}.{TENANT}");

    // (a) MSAL Python signs in (daemon and alice) and writes the file; we read it.
    let msal = {
        let (authority, ca, path, work) =
            (authority.clone(), ca.clone(), path.clone(), env.work_dir());
        blocking(move || {
            entra_testkit::run_msal_cache_interop("acquire", &authority, &ca, &path, &work)
        })
        .await
    };
    assert_eq!(msal["home_account_id"], home);
    let cache = PersistentCache::open(&path, Protection::DangerPlaintextForMsalInterop).unwrap();
    let app = cache
        .find_access_token(DAEMON, &environment, TENANT, None, &scopes(&[API_DEFAULT]))
        .unwrap()
        .expect("MSAL's app token");
    assert_eq!(
        sha256_hex(app.secret.as_ref().unwrap().expose()),
        msal["app_token"]
    );
    let user = cache
        .find_access_token(
            PUBLIC_CLIENT,
            &environment,
            TENANT,
            Some(&home),
            &scopes(&[API_READ]),
        )
        .unwrap()
        .expect("MSAL's token for alice");
    assert_eq!(
        sha256_hex(user.secret.as_ref().unwrap().expose()),
        msal["user_token"]
    );
    assert!(user.expires_on.unwrap() > entra_identity::unix_time::now() + 3000);
    let rt = cache
        .find_refresh_token(PUBLIC_CLIENT, &environment, &home)
        .unwrap()
        .expect("MSAL's refresh token");
    assert_eq!(
        sha256_hex(rt.secret.as_ref().unwrap().expose()),
        msal["refresh_token"]
    );
    let id = cache
        .find_id_token(PUBLIC_CLIENT, &environment, TENANT, &home)
        .unwrap()
        .expect("MSAL's ID token");
    assert_eq!(
        sha256_hex(id.secret.as_ref().unwrap().expose()),
        msal["id_token"]
    );
    let accounts = cache.accounts(&environment).unwrap();
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].home_account_id.as_deref(), Some(home.as_str()));
    assert_eq!(
        accounts[0].username.as_deref(),
        Some("alice@contoso.onmicrosoft.com")
    );
    assert_eq!(accounts[0].local_account_id.as_deref(), Some(ALICE_OID));
    assert_eq!(accounts[0].authority_type.as_deref(), Some("MSSTS"));
    assert_eq!(
        accounts[0].extra["account_source"], "password",
        "MSAL's own field, kept"
    );
    // The refresh token MSAL stored really works.
    let rt_secret = rt.secret.as_ref().unwrap().expose().to_string();
    let refreshed = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_CLIENT),
            ("refresh_token", &rt_secret),
            ("scope", API_READ),
        ])
        .await;
    assert!(refreshed["access_token"].is_string());

    // (b) We get tokens from the emulator and write them into the same file; MSAL Python
    // loads it and finds them without a token request.
    let requested = format!("{API_READ} openid profile offline_access");
    let ropc = env
        .token(&[
            ("grant_type", "password"),
            ("client_id", PUBLIC_CLIENT),
            ("username", "alice@contoso.onmicrosoft.com"),
            ("password", "alice-dev-password"),
            ("scope", &requested),
            ("client_info", "1"),
        ])
        .await;
    let ours_user = sha256_hex(ropc["access_token"].as_str().unwrap());
    let saved_home = cache
        .save_token_response(&TokenResponse::from_json(
            ropc,
            PUBLIC_CLIENT,
            &environment,
            TENANT,
            &scopes(&[&requested]),
        ))
        .unwrap();
    assert_eq!(saved_home.as_deref(), Some(home.as_str()));
    let cc = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", "daemon-dev-secret"),
            ("scope", API_DEFAULT),
        ])
        .await;
    let ours_app = sha256_hex(cc["access_token"].as_str().unwrap());
    cache
        .save_token_response(&TokenResponse::from_json(
            cc,
            DAEMON,
            &environment,
            TENANT,
            &scopes(&[API_DEFAULT]),
        ))
        .unwrap();
    // Same keys as MSAL's: our entries replaced its entries rather than adding beside them.
    let data = cache.file().load().unwrap();
    assert_eq!(
        data.access_tokens.len(),
        2,
        "{:?}",
        data.access_tokens.keys()
    );
    assert_eq!(data.accounts.len(), 1);
    assert_eq!(
        data.refresh_tokens.len(),
        1,
        "{:?}",
        data.refresh_tokens.keys()
    );
    let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        raw["Account"][format!("{home}-{environment}-{TENANT}")]["account_source"],
        "password",
        "MSAL's fields survive our write"
    );

    let token_requests = env.counter("endpoint:token").await;
    let msal = {
        let (authority, ca, path, work) =
            (authority.clone(), ca.clone(), path.clone(), env.work_dir());
        blocking(move || {
            entra_testkit::run_msal_cache_interop("silent", &authority, &ca, &path, &work)
        })
        .await
    };
    assert_eq!(msal["home_account_id"], home);
    assert_eq!(msal["username"], "alice@contoso.onmicrosoft.com");
    assert_eq!(
        msal["user_token"], ours_user,
        "MSAL returned our token for alice"
    );
    assert_eq!(msal["app_token"], ours_app, "MSAL returned our app token");
    assert_eq!(
        env.counter("endpoint:token").await,
        token_requests,
        "MSAL Python made no token request"
    );

    // And MSAL redeems the refresh token we wrote.
    let refreshes = env.counter("grant:refresh_token").await;
    let msal = {
        let (authority, ca, path, work) =
            (authority.clone(), ca.clone(), path.clone(), env.work_dir());
        blocking(move || {
            entra_testkit::run_msal_cache_interop("refresh", &authority, &ca, &path, &work)
        })
        .await
    };
    assert_ne!(msal["user_token"], ours_user);
    assert_eq!(env.counter("grant:refresh_token").await, refreshes + 1);
    env.stop().await;
}

// --- The OS keyring ------------------------------------------------------------------

/// Set (to a scratch directory) in the child process that runs inside a private D-Bus
/// session with a GNOME Keyring: see [`the_cache_key_lives_in_the_os_keyring_when_there_is_one`].
#[cfg(all(feature = "os-keyring", target_os = "linux"))]
const KEYRING_CHILD: &str = "ENTRA_TEST_KEYRING_CHILD";

/// Runs [`keyring_session_checks`] in a child process inside its own D-Bus session with
/// a freshly unlocked GNOME Keyring (a Secret Service, as on a Linux desktop), so neither
/// the developer's keyring nor this process's environment is touched. Needs
/// `gnome-keyring` and `dbus` (scripts/setup-test-deps installs them).
#[cfg(all(feature = "os-keyring", target_os = "linux"))]
#[test]
fn the_cache_key_lives_in_the_os_keyring_when_there_is_one() {
    if std::env::var_os(KEYRING_CHILD).is_some() {
        return keyring_session_checks();
    }
    for tool in ["dbus-run-session", "gnome-keyring-daemon"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .unwrap()
                .success(),
            "{tool} is missing: run scripts/setup-test-deps (it installs gnome-keyring)"
        );
    }
    let dir = TempDir::new("keyring");
    let (home, runtime) = (dir.join("home"), dir.join("run"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&runtime).unwrap();
    chmod(&runtime, 0o700);
    let script = r#"printf 'test-password' | gnome-keyring-daemon --daemonize --login >/dev/null 2>&1 &&
gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1 &&
exec "$0" "$@""#;
    let mut child = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", script])
        .arg(std::env::current_exe().unwrap())
        .args([
            "persist::the_cache_key_lives_in_the_os_keyring_when_there_is_one",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KEYRING_CHILD, dir.join("work"))
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the keyring child did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(status.success(), "keyring child failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

/// The checks, inside the private keyring session.
#[cfg(all(feature = "os-keyring", target_os = "linux"))]
fn keyring_session_checks() {
    use entra_identity::persist::{CacheKeySource, OsKeyring};
    let work = PathBuf::from(std::env::var_os(KEYRING_CHILD).unwrap());
    std::fs::create_dir_all(&work).unwrap();
    let path = work.join("cache.bin");

    // The default protection puts a new key in the keyring, not in a file.
    let cache = PersistentCache::open(&path, Protection::Encrypted).unwrap();
    cache
        .save_token_response(&app_response("keyring-at", 3600))
        .unwrap();
    assert!(std::fs::read(&path).unwrap().starts_with(b"\0EKCACHE"));
    assert!(
        !work.join("cache.bin.key").exists(),
        "no key file when a keyring exists"
    );
    let entry = OsKeyring::for_cache(&path);
    assert!(entry.load().unwrap().is_some(), "the key is in the keyring");
    assert!(entry.describe().contains(&*path.to_string_lossy()));

    // Another handle (another process, as far as the cache can tell) reads it back.
    let again = PersistentCache::open(&path, Protection::Encrypted).unwrap();
    let found = again
        .find_access_token(DAEMON, ENV, TENANT, None, &scopes(&[API_DEFAULT]))
        .unwrap()
        .expect("token read back with the keyring's key");
    assert_eq!(found.secret.unwrap().expose(), "keyring-at");

    // Without the keyring entry the file cannot be read, and it is never overwritten.
    entry.delete().unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = PersistentCache::open(&path, Protection::Encrypted).unwrap_err();
    assert!(matches!(err, CacheFileError::MissingKey { .. }), "{err}");
    assert!(err.to_string().contains("OS keyring entry"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // A key file that exists wins over the keyring (a cache keeps the key it had).
    let filed = work.join("filed.bin");
    let key_file = entra_identity::persist::KeyFile::beside(&filed);
    key_file.load_or_create().unwrap();
    PersistentCache::open(&filed, Protection::Encrypted)
        .unwrap()
        .save_token_response(&app_response("file-at", 3600))
        .unwrap();
    assert!(OsKeyring::for_cache(&filed).load().unwrap().is_none());
}
