//! Unit tests of the public client: ID token checks, the in-memory store, redirect
//! errors, scopes and tenants.

use super::client::user_scopes;
use super::id_token::check_id_token;
use super::loopback::redirect_error;
use super::memory_store::MemoryAccountStore;
use super::*;
use crate::account::{Account, AccountStore, UserTokens};
use crate::error::interaction_required;
use crate::options::ClientOptions;

#[test]
fn id_tokens_are_checked_for_audience_issuer_and_expiry() {
    const TID: &str = "c0ffee00-0000-4000-8000-000000000001";
    let id = |claims: serde_json::Value| {
        let token = format!(
            "{}.{}.sig",
            entra_jose::b64url(r#"{"alg":"RS256","typ":"JWT"}"#),
            entra_jose::b64url(claims.to_string())
        );
        entra_jose::decode_unverified(&token).unwrap()
    };
    let now = 1_800_000_000;
    let good = serde_json::json!({
        "aud": "app", "iss": format!("https://login.microsoftonline.com/{TID}/v2.0"),
        "tid": TID, "exp": now + 3600,
    });
    let common = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let own = format!("https://login.microsoftonline.com/{TID}/v2.0");
    assert_eq!(
        check_id_token(&id(good.clone()), "app", common, now),
        Ok(())
    );
    assert_eq!(check_id_token(&id(good.clone()), "app", &own, now), Ok(()));
    // Issuer not checked when discovery gave none.
    assert_eq!(check_id_token(&id(good.clone()), "app", "", now), Ok(()));
    // Within the skew, then past it.
    assert_eq!(
        check_id_token(&id(good.clone()), "app", common, now + 3600 + 299),
        Ok(())
    );
    let e = check_id_token(&id(good.clone()), "app", common, now + 3600 + 301).unwrap_err();
    assert!(e.contains("expired"), "{e}");

    let mut other = good.clone();
    other["aud"] = "someone-else".into();
    assert!(
        check_id_token(&id(other), "app", common, now)
            .unwrap_err()
            .contains("another client")
    );
    let mut evil = good.clone();
    evil["iss"] = "https://evil.example/v2.0".into();
    let e = check_id_token(&id(evil), "app", common, now).unwrap_err();
    assert!(e.contains("https://evil.example/v2.0"), "{e}");
    // A tenant template needs a GUID tid: no `../` games with the substitution.
    let mut bad_tid = good.clone();
    bad_tid["tid"] = "x/../y".into();
    bad_tid["iss"] = "https://login.microsoftonline.com/x/../y/v2.0".into();
    assert!(
        check_id_token(&id(bad_tid), "app", common, now)
            .unwrap_err()
            .contains("tid")
    );
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert!(
        check_id_token(&id(no_exp), "app", common, now)
            .unwrap_err()
            .contains("exp")
    );
    // Another tenant's token under a tenant-specific authority.
    let mut foreign = good;
    foreign["tid"] = "deadbeef-0000-4000-8000-000000000001".into();
    foreign["iss"] =
        "https://login.microsoftonline.com/deadbeef-0000-4000-8000-000000000001/v2.0".into();
    assert!(check_id_token(&id(foreign), "app", &own, now).is_err());
}

fn account(id: &str) -> Account {
    Account {
        home_account_id: id.into(),
        environment: "login.microsoftonline.com".into(),
        tenant_id: "t".into(),
        username: format!("{id}@x"),
        local_account_id: "o".into(),
    }
}

#[test]
fn store_rotates_refresh_tokens_and_keeps_them_across_account_updates() {
    let s = MemoryAccountStore::default();
    let a = account("u.t");
    let answer = |rt: Option<&str>| UserTokens {
        realm: "t".into(),
        scopes: vec!["s".into()],
        body: match rt {
            Some(rt) => serde_json::json!({ "access_token": "at", "refresh_token": rt }),
            None => serde_json::json!({ "access_token": "at" }),
        },
    };
    let rt = |client: &str| s.refresh_token(client, &a).unwrap();
    s.save("c", &a, answer(Some("rt1"))).unwrap();
    assert_eq!(rt("c").unwrap().expose(), "rt1");
    s.save("c", &a, answer(Some("rt2"))).unwrap();
    assert_eq!(rt("c").unwrap().expose(), "rt2");
    s.save("c", &a, answer(None)).unwrap();
    assert_eq!(rt("c").unwrap().expose(), "rt2");
    assert!(rt("other-client").is_none());
    assert!(
        s.access_token("c", &a, "t", &["s".into()])
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.accounts("LOGIN.microsoftonline.com", "C").unwrap(),
        vec![a.clone()]
    );
    s.remove("c", &a).unwrap();
    assert!(
        s.accounts("login.microsoftonline.com", "c")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn redirect_errors_keep_the_aadsts_code() {
    let e = redirect_error(
        "access_denied",
        "AADSTS65004: User declined to consent to access the app.",
    );
    let entra = e.entra().unwrap();
    assert_eq!(entra.codes, vec![65004]);
    assert!(e.to_string().contains("access_denied"));
    assert!(!e.needs_interaction());
    assert!(interaction_required("X", "no account").needs_interaction());
}

#[test]
fn oidc_scopes_are_added_once() {
    assert_eq!(
        user_scopes(&["api://x/A".into(), "openid".into()]),
        "api://x/A openid profile offline_access"
    );
}

#[test]
fn tenants_follow_the_account_under_organizations_and_are_checked() {
    let opts = ClientOptions {
        authority_host: Some("https://login.example".into()),
        // A made-up host that instance discovery would (rightly) refuse.
        instance_discovery: crate::authority::InstanceDiscovery::DangerDisabled,
        additionally_allowed_tenants: vec!["fabrikam.example".into()],
        ..Default::default()
    };
    let orgs = Authorities::new(&opts, "organizations").unwrap();
    let a = account("u.t");
    assert_eq!(orgs.tenant_for(None, Some(&a)).unwrap(), "t");
    assert_eq!(orgs.tenant_for(Some("t"), Some(&a)).unwrap(), "t");
    assert!(orgs.tenant_for(Some("evil"), Some(&a)).is_err());
    let fixed = Authorities::new(&opts, "contoso.example").unwrap();
    assert_eq!(fixed.tenant_for(None, Some(&a)).unwrap(), "contoso.example");
    assert_eq!(
        fixed
            .tenant_for(Some("fabrikam.example"), Some(&a))
            .unwrap(),
        "fabrikam.example"
    );
    assert!(fixed.tenant_for(Some("t"), Some(&a)).is_err());
}
