//! Unit tests of the cache as credentials use it: keys, responses, finds.

use super::entries::Entries;
use super::*;

#[test]
fn environment_is_the_bare_host() {
    assert_eq!(
        environment_of("https://Login.MicrosoftOnline.com/contoso"),
        "login.microsoftonline.com"
    );
    assert_eq!(environment_of("https://localhost:8443"), "localhost");
    assert_eq!(
        environment_of("login.microsoftonline.us"),
        "login.microsoftonline.us"
    );
    assert_eq!(environment_of("https://[::1]:8443/t"), "::1");
}

#[test]
fn client_info_gives_home_account_id() {
    let encoded = entra_jose::b64url(r#"{"uid":"u1","utid":"t1"}"#);
    let ci = ClientInfo::decode(&encoded).unwrap();
    assert_eq!(ci.home_account_id(), "u1.t1");
    assert!(ClientInfo::decode("not base64 json").is_none());
}

#[test]
fn target_is_sorted_and_deduplicated() {
    let scopes = vec![
        "b".to_string(),
        "a c".to_string(),
        "B".to_string(),
        "a".into(),
    ];
    assert_eq!(target_of(&scopes), "B a b c");
}

#[test]
fn a_response_becomes_entries() {
    let id = format!(
        "{}.{}.sig",
        entra_jose::b64url(r#"{"alg":"RS256"}"#),
        entra_jose::b64url(r#"{"oid":"o1","sub":"s1","preferred_username":"alice@contoso.com"}"#)
    );
    let body = serde_json::json!({
        "token_type": "Bearer",
        "scope": "api://x/Read openid",
        "expires_in": "7200",
        "access_token": "at",
        "refresh_token": "rt",
        "id_token": id,
        "client_info": entra_jose::b64url(r#"{"uid":"o1","utid":"t1"}"#),
    });
    let r = TokenResponse::from_json(body, "C1", "login.microsoftonline.com", "t1", &[]);
    let e = Entries::from_response(&r, 1000);
    assert_eq!(e.home_account_id.as_deref(), Some("o1.t1"));
    let at = e.access_token.unwrap();
    assert_eq!(at.target.as_deref(), Some("api://x/Read openid"));
    assert_eq!(at.expires_on, Some(8200));
    assert_eq!(
        at.refresh_on,
        Some(4600),
        "half-life for tokens of 2 h or more"
    );
    assert_eq!(
        at.key(),
        "o1.t1-login.microsoftonline.com-accesstoken-c1-t1-api://x/read openid"
    );
    let acct = e.account.unwrap();
    assert_eq!(acct.username.as_deref(), Some("alice@contoso.com"));
    assert_eq!(acct.local_account_id.as_deref(), Some("o1"));
    assert_eq!(
        e.refresh_token.unwrap().key(),
        "o1.t1-login.microsoftonline.com-refreshtoken-c1--api://x/read openid"
    );

    let app = TokenResponse::from_json(
        serde_json::json!({"access_token": "x", "expires_in": 3599}),
        "c1",
        "h",
        "t",
        &["s/.default".to_string()],
    );
    let e = Entries::from_response(&app, 1000);
    assert!(e.home_account_id.is_none() && e.account.is_none());
    let at = e.access_token.unwrap();
    assert_eq!(at.target.as_deref(), Some("s/.default"));
    assert_eq!(at.refresh_on, None);
    let json = serde_json::to_value(&at).unwrap();
    assert!(json["home_account_id"].is_null(), "{json}");
    assert_eq!(json["expires_on"], "4599");
}

#[test]
fn the_cache_says_where_its_key_is() {
    let dir = std::env::temp_dir().join(format!("entra-key-location-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = CacheFile::new(
        dir.join("p.json"),
        Protection::DangerPlaintextForMsalInterop,
    );
    assert_eq!(plain.key_location(), KeyLocation::Plaintext);
    let key_file = KeyFile::beside(&dir.join("c.bin"));
    let path = key_file.path().to_path_buf();
    let sealed = CacheFile::new(
        dir.join("c.bin"),
        Protection::EncryptedWith(std::sync::Arc::new(key_file)),
    );
    assert_eq!(sealed.key_location(), KeyLocation::KeyFile(path));
    let custom = StaticKey::new(EncryptionKey::from_bytes([7; 32]), "the app's vault");
    assert_eq!(
        custom.location(),
        KeyLocation::Custom("the app's vault".into())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
