//! Forged and broken tokens against a validator with a static JWKS: every case of the
//! issue's hardening list, plus a randomized mutation run.

use std::time::Duration;

use entra_jose::{Algorithm, b64url};
use entra_validate::{AcceptedVersions, NotAJwt, ValidationError as E, Validator};
use serde_json::json;

use crate::common::*;

fn validator() -> (Forge, Validator) {
    let forge = Forge::test_key();
    let v = Validator::new(builder(&forge).build().unwrap());
    (forge, v)
}

#[test]
fn a_good_token_passes_and_yields_the_principal() {
    let (forge, v) = validator();
    let p = check(&v, &forge.token(&v2_claims())).unwrap();
    assert_eq!(p.tenant_id(), TENANT);
    assert_eq!(p.object_id(), Some("a11ce000-0000-4000-8000-000000000001"));
    assert_eq!(p.subject(), Some("pairwise-sub"));
    assert_eq!(p.app_id(), Some(CLIENT));
    assert_eq!(p.scopes(), ["Data.Read", "Data.Write"]);
    assert!(p.roles().is_empty());
    assert_eq!(p.version(), Some(entra_validate::TokenVersion::V2));
    assert_eq!(p.name(), Some("Alice Example"));
    assert_eq!(p.username(), Some("alice@contoso.onmicrosoft.com"));
    assert_eq!(p.claims()["uti"], "u");
    assert_eq!(p.expires_at(), NOW + 3600);

    let p = check(&v, &forge.token(&v1_claims())).unwrap();
    assert_eq!(p.app_id(), Some(CLIENT));
    assert!(p.is_app_only());
    assert!(p.has_role("Data.Read.All"));
}

/// `Principal::to_json` is the summary `entra validate` prints and an API's "who am I"
/// route returns (one copy, formerly in the cli and examples/protected-api).
#[test]
fn the_principal_as_json_names_who_called() {
    let (forge, v) = validator();
    let p = check(&v, &forge.token(&v2_claims())).unwrap();
    assert_eq!(
        p.to_json(),
        json!({
            "tenant": TENANT,
            "oid": "a11ce000-0000-4000-8000-000000000001",
            "sub": "pairwise-sub",
            "name": "Alice Example",
            "username": "alice@contoso.onmicrosoft.com",
            "app_id": CLIENT,
            "app_only": false,
            "scopes": ["Data.Read", "Data.Write"],
            "roles": [],
            "version": "v2",
            "issuer": format!("{BASE}/{TENANT}/v2.0"),
            "audience": API,
            "expires_at": NOW + 3600,
        })
    );
}

#[test]
fn alg_none_in_every_casing_is_refused() {
    let (forge, v) = validator();
    let payload = b64url(v2_claims().to_string());
    for alg in ["none", "None", "NONE", "nOnE", "NoNe"] {
        let header = b64url(format!(r#"{{"alg":"{alg}","kid":"k1","typ":"JWT"}}"#));
        // Unsigned (empty signature) and with a real signature attached.
        let real_sig = forge
            .token(&v2_claims())
            .rsplit('.')
            .next()
            .unwrap()
            .to_string();
        for sig in ["", real_sig.as_str()] {
            let err = check(&v, &format!("{header}.{payload}.{sig}")).unwrap_err();
            assert_eq!(err, E::AlgNone, "{alg}");
            assert_eq!(err.code(), "alg_none");
        }
    }
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let (forge, v) = validator();
    let public = forge.key.public_key();
    let header = b64url(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#);
    let payload = b64url(v2_claims().to_string());
    let input = format!("{header}.{payload}");
    // The classic confusion: the public key (as the JWK's n, as DER...) used as an HMAC secret.
    for secret in [
        public.n.clone(),
        b64url(&public.n).into_bytes(),
        forge.jwk(json!({})).to_string().into_bytes(),
    ] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        let token = format!("{input}.{}", b64url(tag.as_ref()));
        assert_eq!(check(&v, &token).unwrap_err(), E::AlgHmac);
    }
    for alg in ["HS384", "HS512", "hs256"] {
        let token = format!(
            "{}.{payload}.c2ln",
            b64url(format!(r#"{{"alg":"{alg}","kid":"k1"}}"#))
        );
        assert_eq!(check(&v, &token).unwrap_err(), E::AlgHmac);
    }
}

#[test]
fn other_algorithms_only_when_allowed() {
    let forge = Forge::test_key();
    let ps_header = json!({ "alg": "PS256", "kid": "k1", "typ": "JWT" });
    let token = forge.sign(&ps_header, &v2_claims());
    let rs_only = Validator::new(builder(&forge).build().unwrap());
    assert_eq!(check(&rs_only, &token).unwrap_err(), E::AlgNotAllowed);
    let both = Validator::new(
        builder(&forge)
            .algorithms([Algorithm::RS256, Algorithm::PS256])
            .build()
            .unwrap(),
    );
    check(&both, &token).unwrap();
    for alg in ["ES256", "RS384", "EdDSA", "RSA-OAEP", ""] {
        let t = format!(
            "{}.{}.c2ln",
            b64url(format!(r#"{{"alg":"{alg}","kid":"k1"}}"#)),
            b64url("{}")
        );
        assert_eq!(check(&both, &t).unwrap_err(), E::AlgNotAllowed, "{alg}");
    }
    // A key whose JWK says PS256 does not verify an RS256 token.
    let pinned = Validator::new(
        builder_with_keys(&[forge.jwk(json!({ "alg": "PS256" }))])
            .algorithms([Algorithm::RS256, Algorithm::PS256])
            .build()
            .unwrap(),
    );
    assert_eq!(
        check(&pinned, &forge.token(&v2_claims())).unwrap_err(),
        E::KeyMismatch
    );
    check(&pinned, &token).unwrap();
}

#[test]
fn kid_is_only_a_map_key() {
    let (forge, v) = validator();
    let long = "k".repeat(300);
    for kid in [
        "../../../../etc/passwd",
        "k1/../k1",
        "k1\u{0}",
        "k1 ",
        "K1",
        "https://evil.example/jwks.json",
        "' OR '1'='1",
        "$(touch /tmp/pwned)",
        "%6b%31",
        "k1#",
    ] {
        let t = forge.sign(&json!({ "alg": "RS256", "kid": kid }), &v2_claims());
        assert_eq!(check(&v, &t).unwrap_err(), E::UnknownKey, "{kid:?}");
    }
    for header in [
        json!({ "alg": "RS256" }),
        json!({ "alg": "RS256", "kid": "" }),
        json!({ "alg": "RS256", "kid": long }),
    ] {
        let t = forge.sign(&header, &v2_claims());
        assert_eq!(check(&v, &t).unwrap_err(), E::KidMissing);
    }
    let t = forge.sign(&json!({ "alg": "RS256", "kid": 1 }), &v2_claims());
    assert!(matches!(check(&v, &t).unwrap_err(), E::Malformed(_)));
}

#[test]
fn jku_x5u_jwk_x5c_are_never_fetched_or_trusted() {
    let (_, v) = validator();
    let attacker = Forge::generated("k1");
    // A listener that would see any fetch of the URLs in the header.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let embedded = attacker.jwk(json!({}));
    for (name, value) in [
        ("jku", json!(url)),
        ("x5u", json!(url)),
        ("jwk", embedded.clone()),
        (
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
    ] {
        for kid in ["k1", "attacker"] {
            let mut header = json!({ "alg": "RS256", "kid": kid });
            header[name] = value.clone();
            let t = attacker.sign(&header, &v2_claims());
            let err = check(&v, &t).unwrap_err();
            let expected = if kid == "k1" {
                E::BadSignature
            } else {
                E::UnknownKey
            };
            assert_eq!(err, expected, "{name} with kid {kid}");
        }
    }
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "nothing connected to the jku/x5u URL"
    );
}

#[test]
fn unknown_crit_is_refused() {
    let (forge, v) = validator();
    for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("x")] {
        let t = forge.sign(
            &json!({ "alg": "RS256", "kid": "k1", "crit": crit, "exp": 1, "b64": true }),
            &v2_claims(),
        );
        assert_eq!(check(&v, &t).unwrap_err(), E::CritUnsupported);
    }
}

#[test]
fn tampering_and_truncation_fail() {
    let (forge, v) = validator();
    let good = forge.token(&v2_claims());
    let parts: Vec<&str> = good.split('.').collect();
    // Payload swapped for a more generous one.
    let forged = b64url(with(v2_claims(), json!({ "scp": "Data.Read Admin" })).to_string());
    let t = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert_eq!(check(&v, &t).unwrap_err(), E::BadSignature);
    // Header swapped (same kid, different typ).
    let t = format!(
        "{}.{}.{}",
        b64url(r#"{"typ":"at+jwt","alg":"RS256","kid":"k1"}"#),
        parts[1],
        parts[2]
    );
    assert_eq!(check(&v, &t).unwrap_err(), E::BadSignature);
    // Truncated signatures: shorter by whole groups, by one character, emptied.
    for cut in [4, 8, 1, 2, parts[2].len()] {
        let sig = &parts[2][..parts[2].len() - cut];
        let t = format!("{}.{}.{sig}", parts[0], parts[1]);
        let err = check(&v, &t).unwrap_err();
        assert!(
            matches!(err, E::BadSignature | E::Malformed(_)),
            "cut {cut}: {err:?}"
        );
    }
    // Extra parts, missing parts.
    assert!(check(&v, &format!("{good}.")).is_err());
    assert!(check(&v, &format!("{}.{}", parts[0], parts[1])).is_err());
}

#[test]
fn non_canonical_base64url_is_refused() {
    let (forge, v) = validator();
    let good = forge.token(&v2_claims());
    check(&v, &good).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    // The signature is 256 bytes: its last character carries 4 unused bits. Setting one
    // gives a second spelling of the same signature, which a lax decoder would accept.
    let sig = parts[2];
    let last = sig.chars().last().unwrap();
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let value = ALPHABET.find(last).unwrap();
    assert_eq!(
        value & 0xf,
        0,
        "canonical encoders leave the unused bits zero"
    );
    let twin = ALPHABET.as_bytes()[value | 1] as char;
    let t = format!("{}.{}.{}{twin}", parts[0], parts[1], &sig[..sig.len() - 1]);
    assert!(
        entra_jose::b64url_decode(&t[t.rfind('.').unwrap() + 1..]).is_err(),
        "jose's lenient decoder refuses trailing bits too"
    );
    assert!(matches!(check(&v, &t).unwrap_err(), E::Malformed(_)));
    // Padding, standard-alphabet characters and whitespace.
    for t in [
        format!("{good}=="),
        format!("{}.{}=.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], parts[2].replace('-', "+")),
        format!("{}.{}.{}", parts[0], parts[1], parts[2].replace('_', "/")),
        format!("{}. {}.{}", parts[0], parts[1], parts[2]),
    ] {
        if t != good {
            assert!(matches!(check(&v, &t).unwrap_err(), E::Malformed(_)), "{t}");
        }
    }
}

#[test]
fn duplicate_json_members_are_refused() {
    let (forge, v) = validator();
    let claims = v2_claims().to_string();
    // {"aud":"other", ...all claims including "aud": API}: serde_json alone would keep the last.
    let payload = format!(r#"{{"aud":"https://evil.example",{}"#, &claims[1..]);
    let t = forge.sign_raw(Algorithm::RS256, r#"{"alg":"RS256","kid":"k1"}"#, &payload);
    assert_eq!(check(&v, &t).unwrap_err(), E::DuplicateMember("payload"));
    let t = forge.sign_raw(
        Algorithm::RS256,
        r#"{"alg":"none","alg":"RS256","kid":"k1"}"#,
        &claims,
    );
    assert_eq!(check(&v, &t).unwrap_err(), E::DuplicateMember("header"));
    let nested = format!(r#"{{"x":{{"a":1,"a":2}},{}"#, &claims[1..]);
    let t = forge.sign_raw(Algorithm::RS256, r#"{"alg":"RS256","kid":"k1"}"#, &nested);
    assert_eq!(check(&v, &t).unwrap_err(), E::DuplicateMember("payload"));
}

#[test]
fn huge_and_deeply_nested_parts_are_bounded() {
    let (forge, v) = validator();
    let claims = v2_claims();
    // Over the configured maximum (16 KiB) in the header or the payload.
    let big = "x".repeat(20_000);
    let t = forge.sign(
        &json!({ "alg": "RS256", "kid": "k1", "junk": big }),
        &claims,
    );
    assert_eq!(check(&v, &t).unwrap_err(), E::TooLarge { max: 16 * 1024 });
    let t = forge.token(&with(claims.clone(), json!({ "junk": big })));
    assert_eq!(check(&v, &t).unwrap_err(), E::TooLarge { max: 16 * 1024 });
    // Beyond even jose's cap.
    let huge = "a".repeat(100_000);
    assert_eq!(
        check(&v, &huge).unwrap_err(),
        E::TooLarge { max: 16 * 1024 }
    );
    // Deep nesting, signed, under the size limit.
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let t = forge.sign_raw(
        Algorithm::RS256,
        &format!(r#"{{"alg":"RS256","kid":"k1","x":{deep}}}"#),
        &claims.to_string(),
    );
    assert_eq!(check(&v, &t).unwrap_err(), E::TooDeep("header"));
    let payload = format!(r#"{{"x":{deep},{}"#, &claims.to_string()[1..]);
    let t = forge.sign_raw(Algorithm::RS256, r#"{"alg":"RS256","kid":"k1"}"#, &payload);
    assert_eq!(check(&v, &t).unwrap_err(), E::TooDeep("payload"));
    // Many members but shallow and within size: fine.
    let mut wide = claims.clone();
    for i in 0..300 {
        wide[format!("c{i}")] = json!(i);
    }
    check(&v, &forge.token(&wide)).unwrap();
    // A configured smaller limit.
    let small = Validator::new(builder(&forge).max_token_size(500).build().unwrap());
    assert_eq!(
        check(&small, &forge.token(&claims)).unwrap_err(),
        E::TooLarge { max: 500 }
    );
}

#[test]
fn times_with_skew() {
    let (forge, v) = validator();
    let at = |c: serde_json::Value| check(&v, &forge.token(&with(v2_claims(), c)));
    assert_eq!(at(json!({ "exp": NOW - 301 })).unwrap_err(), E::Expired);
    at(json!({ "exp": NOW - 299 })).unwrap();
    assert_eq!(at(json!({ "nbf": NOW + 301 })).unwrap_err(), E::NotYetValid);
    at(json!({ "nbf": NOW + 299 })).unwrap();
    assert_eq!(
        at(json!({ "iat": NOW + 301 })).unwrap_err(),
        E::IssuedInFuture
    );
    assert!(matches!(
        at(json!({ "exp": null })).unwrap_err(),
        E::Malformed(_)
    ));
    assert!(matches!(
        at(json!({ "exp": "soon" })).unwrap_err(),
        E::Malformed(_)
    ));
    assert!(matches!(
        at(json!({ "exp": 1e300 })).unwrap_err(),
        E::Malformed(_)
    ));
    // No skew at all.
    let strict = Validator::new(builder(&forge).clock_skew(Duration::ZERO).build().unwrap());
    assert_eq!(
        check(
            &strict,
            &forge.token(&with(v2_claims(), json!({ "exp": NOW - 1 })))
        )
        .unwrap_err(),
        E::Expired
    );
}

#[test]
fn audience_tenant_issuer_and_version() {
    let (forge, v) = validator();
    let at = |c: serde_json::Value| check(&v, &forge.token(&with(v2_claims(), c)));
    assert_eq!(
        at(json!({ "aud": "api://other" })).unwrap_err(),
        E::WrongAudience {
            for_graph: false,
            accepted: accepted()
        }
    );
    assert_eq!(
        at(json!({ "aud": null })).unwrap_err(),
        E::WrongAudience {
            for_graph: false,
            accepted: accepted()
        }
    );
    // A Graph token sent to the API (the most common mistake).
    let err = at(json!({ "aud": GRAPH })).unwrap_err();
    assert_eq!(
        err,
        E::WrongAudience {
            for_graph: true,
            accepted: accepted()
        }
    );
    assert!(err.to_string().contains("Microsoft Graph"));
    // The refusal names what this API accepts (configuration), never the token's aud.
    assert_eq!(
        at(json!({ "aud": "api://other" })).unwrap_err().to_string(),
        format!("the token was issued for another audience; this API accepts {API} or {API_URI}")
    );
    assert!(
        err.to_string()
            .ends_with(&format!("; this API accepts {API} or {API_URI}"))
    );
    at(json!({ "aud": [API_URI] })).unwrap();
    // A real Graph token does not even verify outside Graph (its header carries a nonce):
    // the answer still names the mistake.
    let graph = forge.token(&with(v2_claims(), json!({ "aud": GRAPH })));
    let (head, _) = graph.rsplit_once('.').unwrap();
    let unverifiable = format!("{head}.{}", b64url([7u8; 256]));
    assert_eq!(
        check(&v, &unverifiable).unwrap_err(),
        E::WrongAudience {
            for_graph: true,
            accepted: accepted()
        }
    );
    // Another tenant, consistently spelled: refused before any key lookup.
    assert_eq!(
        at(json!({ "tid": OTHER_TENANT, "iss": format!("{BASE}/{OTHER_TENANT}/v2.0") }))
            .unwrap_err(),
        E::TenantNotAllowed
    );
    assert_eq!(
        at(json!({ "tid": "contoso.onmicrosoft.com" })).unwrap_err(),
        E::BadTenantId
    );
    assert_eq!(at(json!({ "tid": null })).unwrap_err(), E::BadTenantId);
    // Right tid, issuer of another tenant, of the v1 form, of another host.
    for iss in [
        format!("{BASE}/{OTHER_TENANT}/v2.0"),
        format!("{BASE}/{TENANT}/"),
        format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
        format!("{BASE}/{{tenantid}}/v2.0"),
        format!("{BASE}/{TENANT}/v2.0/"),
    ] {
        assert_eq!(
            at(json!({ "iss": iss })).unwrap_err(),
            E::WrongIssuer,
            "{iss}"
        );
    }
    // Upper-case tid is the same tenant; the issuer is compared as the token spells it.
    let upper = TENANT.to_ascii_uppercase();
    at(json!({ "tid": upper, "iss": format!("{BASE}/{upper}/v2.0") })).unwrap();
    // Version.
    let v2_only = Validator::new(
        builder(&forge)
            .versions(AcceptedVersions::V2)
            .build()
            .unwrap(),
    );
    let err = check(&v2_only, &forge.token(&v1_claims())).unwrap_err();
    assert!(matches!(err, E::WrongVersion { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "a v1 token was sent to an API that accepts only v2 tokens"
    );
    assert!(matches!(
        at(json!({ "ver": "3.0" })).unwrap_err(),
        E::WrongVersion { found: None, .. }
    ));
}

#[test]
fn id_tokens_are_not_access_tokens() {
    let (forge, v) = validator();
    // An ID token for a client whose id the API also accepts as audience.
    let id_token = json!({
        "aud": API, "iss": format!("{BASE}/{TENANT}/v2.0"),
        "iat": NOW, "nbf": NOW, "exp": NOW + 3600,
        "name": "Alice", "nonce": "n-0S6_WzA2Mj", "oid": "a11ce000-0000-4000-8000-000000000001",
        "preferred_username": "alice@contoso.onmicrosoft.com", "sid": "s",
        "sub": "x", "tid": TENANT, "ver": "2.0",
    });
    let err = check(&v, &forge.token(&id_token)).unwrap_err();
    assert_eq!(err, E::IdToken);
    assert_eq!(err.code(), "id_token");
    // Without a nonce, it still names no client (azp/appid).
    let no_nonce = with(id_token, json!({ "nonce": null }));
    assert_eq!(check(&v, &forge.token(&no_nonce)).unwrap_err(), E::IdToken);
    // An access token with at_hash is an ID token too.
    let hashed = with(v2_claims(), json!({ "at_hash": "abc" }));
    assert_eq!(check(&v, &forge.token(&hashed)).unwrap_err(), E::IdToken);
}

#[test]
fn key_issuer_binds_the_key_to_its_tenant() {
    let forge = Forge::test_key();
    // The JWK says it signs for TENANT only: a token of OTHER_TENANT is refused even when
    // the API accepts OTHER_TENANT.
    let bound = forge.jwk(json!({ "issuer": format!("{BASE}/{TENANT}/v2.0") }));
    let v = Validator::new(
        entra_validate::ValidatorConfig::builder()
            .authority(entra_validate::Authority::custom(BASE))
            .tenants([TENANT, OTHER_TENANT])
            .audience(API)
            .static_jwks(json!({ "keys": [bound] }).to_string())
            .clock(entra_validate::Clock::manual(NOW))
            .build()
            .unwrap(),
    );
    check(&v, &forge.token(&v2_claims())).unwrap();
    // v1 tokens of the same tenant are signed by the same key, whose issuer is the v2 one.
    check(&v, &forge.token(&with(v1_claims(), json!({ "aud": API })))).unwrap();
    let other = with(
        v2_claims(),
        json!({ "tid": OTHER_TENANT, "iss": format!("{BASE}/{OTHER_TENANT}/v2.0") }),
    );
    assert_eq!(check(&v, &forge.token(&other)).unwrap_err(), E::WrongIssuer);
    // A key of another authority altogether.
    let v = Validator::new(
        builder_with_keys(
            &[forge.jwk(json!({ "issuer": "https://evil.example/{tenantid}/v2.0" }))],
        )
        .build()
        .unwrap(),
    );
    assert_eq!(
        check(&v, &forge.token(&v2_claims())).unwrap_err(),
        E::WrongIssuer
    );
}

#[test]
fn clients_scopes_and_roles_from_the_config() {
    let forge = Forge::test_key();
    let v = Validator::new(
        builder(&forge)
            .allowed_clients(["someone-else"])
            .build()
            .unwrap(),
    );
    assert_eq!(
        check(&v, &forge.token(&v2_claims())).unwrap_err(),
        E::ClientNotAllowed
    );
    let v = Validator::new(builder(&forge).allowed_clients([CLIENT]).build().unwrap());
    check(&v, &forge.token(&v2_claims())).unwrap();
    // Any of the scopes or roles.
    let v = Validator::new(
        builder(&forge)
            .require_scopes(["Data.Admin"])
            .require_roles(["Data.Read.All"])
            .build()
            .unwrap(),
    );
    let err = check(&v, &forge.token(&v2_claims())).unwrap_err();
    assert_eq!(err.code(), "insufficient_scope");
    assert_eq!(err.status(), 403);
    check(&v, &forge.token(&v1_claims())).unwrap();
    check(
        &v,
        &forge.token(&with(v2_claims(), json!({ "scp": "Data.Admin" }))),
    )
    .unwrap();
    // A whole requirement (all clauses) on top of the any-of lists: the token must meet
    // both the any-of clause and the added role.
    let v = Validator::new(
        builder(&forge)
            .require_scopes(["Data.Admin"])
            .require_roles(["Data.Read.All"])
            .require(entra_validate::Requirement::role("Auditor"))
            .build()
            .unwrap(),
    );
    let admin = forge.token(&with(v2_claims(), json!({ "scp": "Data.Admin" })));
    let err = check(&v, &admin).unwrap_err();
    assert_eq!(err.code(), "insufficient_scope");
    assert!(err.to_string().contains("Auditor"), "{err}");
    let auditor = forge.token(&with(
        v2_claims(),
        json!({ "scp": "Data.Admin", "roles": ["Auditor"] }),
    ));
    check(&v, &auditor).unwrap();
}

#[test]
fn bearers_that_are_not_jwts_get_a_specific_message() {
    let (_, v) = validator();
    for code in [
        "0.AXkA3Qk7bNq2nk2K0zGk3qRZt1bHvQ_long_code_here.AgABAAEAAAD--DLA3VO7QrddgJg7Wevr",
        "1.AR8A3Qk7bNq2nk2K0zGk3qRZt1bHvQ",
        "OAQABAAIAAADCoMpjJXrxTq9VG9te-7FXrnBIp5q",
        "de6780bc506a0446309bd9362820ba8aed28aa506c71eedbe1c5c4f9dd350e54",
    ] {
        let err = check(&v, code).unwrap_err();
        assert_eq!(err, E::NotAJwt(NotAJwt::AuthorizationCode), "{code}");
        assert_eq!(
            err.to_string(),
            "this looks like an authorization code: exchange it at the token endpoint first"
        );
        assert!(!err.to_string().contains(code));
    }
    assert_eq!(
        check(&v, "EwBwA8l6BAAU.opaque").unwrap_err(),
        E::NotAJwt(NotAJwt::Opaque)
    );
    assert_eq!(
        check(&v, "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d").unwrap_err(),
        E::NotAJwt(NotAJwt::Encrypted)
    );
}

#[test]
fn cached_validations_answer_until_exp_plus_skew() {
    let forge = Forge::test_key();
    let clock = entra_validate::Clock::manual(NOW);
    let v = Validator::new(builder(&forge).clock(clock.clone()).build().unwrap());
    let token = forge.token(&v2_claims());
    assert!(v.validate_cached(&token).is_none());
    let first = check(&v, &token).unwrap();
    let again = v.validate_cached(&token).expect("cache hit");
    assert_eq!(again.object_id(), first.object_id());
    assert_eq!(v.token_cache().len(), 1);
    // A token differing only in its last signature bit is not a hit.
    let mut other = token.clone().into_bytes();
    let last = other.len() - 2;
    other[last] = if other[last] == b'A' { b'B' } else { b'A' };
    assert!(
        v.validate_cached(std::str::from_utf8(&other).unwrap())
            .is_none()
    );
    // Same length and same last 64 bytes (so the same keyed hash and cache slot), a
    // byte changed early: the whole-token compare refuses it.
    let mut early = token.clone().into_bytes();
    early[5] = if early[5] == b'A' { b'B' } else { b'A' };
    assert!(
        v.validate_cached(std::str::from_utf8(&early).unwrap())
            .is_none()
    );
    clock.set(NOW + 3600 + 300);
    assert!(v.validate_cached(&token).is_some());
    clock.set(NOW + 3600 + 301);
    assert!(v.validate_cached(&token).is_none());
    assert_eq!(check(&v, &token).unwrap_err(), E::Expired);
    // A disabled cache never answers.
    let off = Validator::new(builder(&forge).token_cache_capacity(0).build().unwrap());
    check(&off, &token).unwrap();
    assert!(off.validate_cached(&token).is_none());
}

#[test]
fn the_cache_stays_bounded() {
    let forge = Forge::test_key();
    let v = Validator::new(builder(&forge).token_cache_capacity(64).build().unwrap());
    for i in 0..300 {
        check(&v, &forge.token(&with(v2_claims(), json!({ "uti": i })))).unwrap();
    }
    assert!(v.token_cache().len() <= 64, "{}", v.token_cache().len());
}

/// Mutated tokens: never a panic, and never accepted unless unchanged.
#[test]
fn random_mutations_never_panic_or_pass() {
    let (forge, v) = validator();
    let v_nocache = Validator::new(builder(&forge).token_cache_capacity(0).build().unwrap());
    let good = forge.token(&v2_claims());
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \"{}";
    run(async {
        for round in 0..3000 {
            let mut bytes = good.clone().into_bytes();
            match round % 4 {
                0 | 1 => {
                    for _ in 0..(next() % 3 + 1) {
                        let i = (next() % bytes.len() as u64) as usize;
                        bytes[i] = alphabet[(next() % alphabet.len() as u64) as usize];
                    }
                }
                2 => {
                    let i = (next() % bytes.len() as u64) as usize;
                    bytes.truncate(i);
                }
                _ => {
                    let i = (next() % bytes.len() as u64) as usize;
                    let j = (next() % bytes.len() as u64) as usize;
                    bytes.swap(i, j);
                }
            }
            let text = String::from_utf8(bytes).unwrap();
            let result = v_nocache.validate(&text).await;
            if text != good {
                assert!(result.is_err(), "mutation accepted: round {round}");
            }
            let _ = v.validate(&text).await;
        }
    });
}

#[test]
fn invalid_setups_are_refused_at_build_time() {
    use entra_validate::{Authority, ConfigError, ValidatorConfig};
    let base = || ValidatorConfig::builder().tenant(TENANT).audience(API);
    assert_eq!(
        ValidatorConfig::builder()
            .audience(API)
            .build()
            .unwrap_err(),
        ConfigError::NoTenant
    );
    assert_eq!(
        ValidatorConfig::builder()
            .tenant(TENANT)
            .build()
            .unwrap_err(),
        ConfigError::NoAudience
    );
    assert_eq!(
        base().tenants([OTHER_TENANT]).build().unwrap_err(),
        ConfigError::ConflictingTenancy
    );
    assert_eq!(
        ValidatorConfig::builder()
            .tenant("contoso.onmicrosoft.com")
            .audience(API)
            .build()
            .unwrap_err(),
        ConfigError::TenantNotGuid("contoso.onmicrosoft.com".into())
    );
    assert_eq!(
        ValidatorConfig::builder()
            .multi_tenant(Vec::<String>::new())
            .audience(API)
            .build()
            .unwrap_err(),
        ConfigError::EmptyList("allowed tenant")
    );
    assert_eq!(
        base().algorithms([]).build().unwrap_err(),
        ConfigError::NoAlgorithm
    );
    assert!(matches!(
        base().max_token_size(0).build().unwrap_err(),
        ConfigError::BadMaxTokenSize { .. }
    ));
    assert!(matches!(
        base().max_token_size(1 << 20).build().unwrap_err(),
        ConfigError::BadMaxTokenSize { .. }
    ));
    assert_eq!(
        base()
            .clock_skew(Duration::from_secs(7200))
            .build()
            .unwrap_err(),
        ConfigError::SkewTooLarge
    );
    assert!(matches!(
        base()
            .authority(Authority::custom("http://login.test"))
            .build()
            .unwrap_err(),
        ConfigError::NotHttps(_)
    ));
    assert!(matches!(
        base()
            .authority(Authority::custom(BASE).with_v1_issuer("https://sts.windows.net/"))
            .build()
            .unwrap_err(),
        ConfigError::IssuerTemplate(_)
    ));
    assert!(matches!(
        base().static_jwks(r#"{"keys":[]}"#).build().unwrap_err(),
        ConfigError::Jwks(_)
    ));
    assert!(matches!(
        base().tenant_header("X Tenant").build().unwrap_err(),
        ConfigError::BadHeaderName(_)
    ));
    assert!(matches!(
        base()
            .extra_ca_file("/nonexistent/ca.pem")
            .build()
            .unwrap_err(),
        ConfigError::Http(_)
    ));
    assert_eq!(
        base()
            .allowed_clients(Vec::<String>::new())
            .build()
            .unwrap_err(),
        ConfigError::EmptyList("allowed client")
    );
}
