//! The parser's unit tests: strictness, bounds, and the fast reader against the walker.

use entra_jose::{Algorithm, b64url};

use super::base64::BAD_BASE64;
use super::claims::Claims;
use super::json_error::check_json;
use super::payload::read_claims;
use super::*;
use crate::error::{NotAJwt, ValidationError};
use crate::json::fast::fast_claims;

fn token(header: &str, payload: &str) -> String {
    format!("{}.{}.c2ln", b64url(header), b64url(payload))
}

#[test]
fn classifies_codes_and_opaque_tokens() {
    assert_eq!(
        classify_non_jwt("0.AXkAbCdEf.ghij"),
        Some(NotAJwt::AuthorizationCode)
    );
    assert_eq!(
        classify_non_jwt("de6780bc506a0446309bd9362820ba8aed28aa506c71eedbe1c5c4f9dd350e54"),
        Some(NotAJwt::AuthorizationCode)
    );
    assert_eq!(classify_non_jwt("eyJa.b.c.d.e"), Some(NotAJwt::Encrypted));
    assert_eq!(classify_non_jwt("abc.def"), Some(NotAJwt::Opaque));
    assert_eq!(classify_non_jwt("eyJa.b.c"), None);
}

#[test]
fn duplicate_members_are_found_at_any_depth() {
    assert_eq!(
        check_json(br#"{"a":1,"a":2}"#, "payload"),
        Err(ValidationError::DuplicateMember("payload"))
    );
    assert_eq!(
        check_json(br#"{"a":{"b":[{"c":1,"c":1}]}}"#, "payload"),
        Err(ValidationError::DuplicateMember("payload"))
    );
    // An escaped spelling of the same name is the same member.
    assert_eq!(
        check_json(br#"{"aud":1,"\u0061ud":2}"#, "payload"),
        Err(ValidationError::DuplicateMember("payload"))
    );
    let many: String = (0..200).map(|i| format!("\"k{i}\":{i},")).collect();
    check_json(format!("{{{many}\"z\":0}}").as_bytes(), "payload").unwrap();
    assert_eq!(
        check_json(format!("{{{many}\"k7\":0}}").as_bytes(), "payload"),
        Err(ValidationError::DuplicateMember("payload"))
    );
    check_json(br#"{"a":{"a":1}}"#, "payload").unwrap();
}

#[test]
fn depth_and_shape_are_bounded() {
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
    assert_eq!(
        check_json(deep.as_bytes(), "payload"),
        Err(ValidationError::TooDeep("payload"))
    );
    let very_deep = format!("{{\"a\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
    assert_eq!(
        check_json(very_deep.as_bytes(), "payload"),
        Err(ValidationError::TooDeep("payload"))
    );
    assert!(check_json(b"[]", "payload").is_err());
    assert!(check_json(br#"{"a":1} x"#, "payload").is_err());
}

#[test]
fn header_rules() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}");
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::AlgNone
        );
    }
    for alg in ["HS256", "hs384", "Hs512"] {
        let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}");
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::AlgHmac
        );
    }
    // Names no JWS algorithm (or not in RFC 7515's exact spelling).
    for alg in ["ES256K", "RS1", "es256", "Ed25519", "RSA-OAEP"] {
        let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}");
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::AlgNotAllowed,
            "{alg}"
        );
    }
    let t = token(r#"{"alg":"RS256"}"#, "{}");
    assert_eq!(
        parse_token(&t, 16384).unwrap_err(),
        ValidationError::KidMissing
    );
    let t = token(r#"{"alg":"RS256","kid":"k","crit":["exp"],"exp":1}"#, "{}");
    assert_eq!(
        parse_token(&t, 16384).unwrap_err(),
        ValidationError::CritUnsupported
    );
    let t = token(
        r#"{"alg":"RS256","kid":"k","typ":"JWT"}"#,
        r#"{"ver":"2.0"}"#,
    );
    let parsed = parse_token(&t, 16384).unwrap();
    assert_eq!(parsed.kid(), "k");
    assert_eq!(parsed.claims.version(), Some(TokenVersion::V2));
    assert_eq!(
        parse_token(&t, 10).unwrap_err(),
        ValidationError::TooLarge { max: 10 }
    );
}

#[test]
fn regression_multibyte_alg_does_not_panic() {
    // Found by the token fuzz target: slicing `alg` at byte 2 split a character.
    // Raw UTF-8 and JSON `\u` escapes of the same characters.
    for alg in [
        "R\u{303}uR",
        "\u{e9}",
        "H\u{e9}",
        "\u{4e2d}\u{6587}",
        r"R\u0303uR",
    ] {
        let t = token(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}");
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::AlgNotAllowed,
            "{alg}"
        );
    }
}

#[test]
fn claims_are_places_in_one_buffer_escapes_decoded() {
    // Escaped strings (decoded after the payload), unescaped ones (places in it), an
    // audience list longer than the inline spans, roles, and an escaped `kid`.
    let payload = r#"{"iss":"https:\/\/login.example\/t\/v2.0","aud":["a","b","c","d\u0065","e"],"tid":"c0ffee00-0000-4000-8000-000000000001","roles":["R\u00e9ad","Write"],"scp":"x y","ver":"2.0","exp":1.5e9,"nbf":1,"iat":null,"name":"Z\u00fc","sub":null,"upn":"u@x","x":{"nested":["\u0061"]}}"#;
    let t = token(r#"{"alg":"RS256","kid":"k\u0031"}"#, payload);
    let p = parse_token(&t, 16384).unwrap();
    assert_eq!(p.kid(), "k1");
    assert_eq!(p.signature(), b"sig");
    let c = &p.claims;
    assert_eq!(c.payload(), payload.as_bytes());
    assert_eq!(c.iss(), Some("https://login.example/t/v2.0"));
    assert_eq!(
        c.aud().unwrap().collect::<Vec<_>>(),
        ["a", "b", "c", "de", "e"]
    );
    assert_eq!(c.tid(), Some("c0ffee00-0000-4000-8000-000000000001"));
    assert_eq!(
        c.roles().unwrap().collect::<Vec<_>>(),
        ["R\u{e9}ad", "Write"]
    );
    assert_eq!(c.scp(), Some("x y"));
    assert_eq!(c.version(), Some(TokenVersion::V2));
    assert_eq!((c.exp(), c.nbf(), c.iat()), (Some(1.5e9), Some(1.0), None));
    assert_eq!(c.name(), Some("Z\u{fc}"));
    assert_eq!((c.sub(), c.upn(), c.oid()), (None, Some("u@x"), None));
    assert!(c.azp().is_none() && c.appid().is_none() && !c.has_id_token_member());

    // A single audience, `roles` null, an ID token member with any value.
    let t = token(
        r#"{"alg":"PS256","kid":"kk"}"#,
        r#"{"aud":"x","roles":null,"nonce":{"a":[1]},"azp":"\u0041"}"#,
    );
    let p = parse_token(&t, 16384).unwrap();
    assert_eq!(p.header.alg, Algorithm::PS256);
    assert_eq!(p.kid(), "kk");
    assert_eq!(p.claims.aud().unwrap().collect::<Vec<_>>(), ["x"]);
    assert!(p.claims.roles().is_none());
    assert!(p.claims.has_id_token_member());
    assert_eq!(p.claims.azp(), Some("A"));

    // Claims of the wrong type are refused as before.
    for bad in [
        r#"{"aud":null}"#,
        r#"{"aud":1}"#,
        r#"{"aud":["a",1]}"#,
        r#"{"roles":"r"}"#,
        r#"{"iss":1}"#,
        r#"{"exp":"1"}"#,
    ] {
        let t = token(r#"{"alg":"RS256","kid":"k"}"#, bad);
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::Malformed("a claim has the wrong type"),
            "{bad}"
        );
    }
}

#[test]
fn large_headers_and_signatures_leave_the_stack() {
    // Headers over the stack buffer and signatures over 512 bytes take the heap path.
    let pad = "x".repeat(2000);
    let t = format!(
        "{}.{}.{}",
        b64url(format!(r#"{{"alg":"RS256","pad":"{pad}","kid":"big"}}"#)),
        b64url(r#"{"ver":"1.0"}"#),
        b64url([7u8; 1024])
    );
    let p = parse_token(&t, 16384).unwrap();
    assert_eq!(p.kid(), "big");
    assert_eq!(p.signature(), [7u8; 1024]);
    assert_eq!(p.claims.version(), Some(TokenVersion::V1));
    for sig_len in [1, 511, 512, 513] {
        let t = format!(
            "{}.{}.{}",
            b64url(r#"{"alg":"RS256","kid":"k"}"#),
            b64url("{}"),
            b64url(vec![1u8; sig_len])
        );
        assert_eq!(parse_token(&t, 16384).unwrap().signature().len(), sig_len);
    }
    // An empty signature, and a kid too long or empty.
    let t = format!(
        "{}.{}.",
        b64url(r#"{"alg":"RS256","kid":"k"}"#),
        b64url("{}")
    );
    assert_eq!(
        parse_token(&t, 16384).unwrap_err(),
        ValidationError::Malformed("the signature is empty")
    );
    for kid in ["".to_string(), "k".repeat(MAX_KID_LEN + 1)] {
        let t = token(&format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#), "{}");
        assert_eq!(
            parse_token(&t, 16384).unwrap_err(),
            ValidationError::KidMissing
        );
    }
    let t = token(
        &format!(r#"{{"alg":"RS256","kid":"{}"}}"#, "k".repeat(MAX_KID_LEN)),
        "{}",
    );
    assert_eq!(parse_token(&t, 16384).unwrap().kid().len(), MAX_KID_LEN);
}

#[test]
fn parts_and_base64_are_strict() {
    let h = b64url(r#"{"alg":"RS256","kid":"k"}"#);
    let p = b64url("{}");
    let three = ValidationError::Malformed("a JWS has exactly three dot-separated parts");
    for (t, e) in [
        (format!("{h}.{p}"), three.clone()),
        (format!("{h}.{p}.c2ln.x"), three),
        (
            format!("{h}.{p}.c2ln.x.y"),
            ValidationError::NotAJwt(NotAJwt::Encrypted),
        ),
        // Padding, a non-canonical tail, a character outside the alphabet, a length
        // no base64 has, in each part.
        (format!("{h}.{p}.c2ln="), BAD_BASE64),
        (format!("{h}.{p}.c2lnYR"), BAD_BASE64),
        (format!("{h}.{p}.c2+n"), BAD_BASE64),
        (format!("{h}.{p}.c2lnY"), BAD_BASE64),
        (format!("{h}.e30=.c2ln"), BAD_BASE64),
        (format!("{h}.e31.c2ln"), BAD_BASE64),
        (format!("{h}x.{p}.c2ln"), BAD_BASE64),
        (format!("{h}.{p}e3/.c2ln"), BAD_BASE64),
    ] {
        assert_eq!(parse_token(&t, 16384).unwrap_err(), e, "{t}");
    }
    assert!(parse_token(&format!("{h}.{p}.c2ln"), 16384).is_ok());
    // Non-ASCII and invalid UTF-8 inside the parts.
    let t = format!("{h}.{}.c2ln", b64url(b"{\"a\":\"\xff\"}"));
    assert_eq!(
        parse_token(&t, 16384).unwrap_err(),
        ValidationError::Malformed("the payload is not valid JSON")
    );
    let t = format!(
        "{}.{p}.c2ln",
        b64url(b"{\"alg\":\"RS256\",\"kid\":\"\xc3\"}")
    );
    assert_eq!(
        parse_token(&t, 16384).unwrap_err(),
        ValidationError::Malformed("the header is not valid JSON")
    );
}

/// Every claim field, to compare two readings.
fn fields(c: &Claims) -> String {
    format!(
        "{:?}",
        (
            (
                c.iss(),
                c.aud().map(|a| a.collect::<Vec<_>>()),
                c.exp(),
                c.nbf(),
                c.iat()
            ),
            (c.tid(), c.oid(), c.sub(), c.azp(), c.appid(), c.scp()),
            (c.roles().map(|r| r.collect::<Vec<_>>()), c.ver(), c.name()),
            (c.preferred_username(), c.upn(), c.unique_name(), c.idtyp()),
            (c.has_id_token_member(), c.payload()),
        )
    )
}

#[test]
fn the_fast_reader_agrees_with_the_walker() {
    // Mutations of realistic payloads: whatever the fast reader accepts, the general
    // walker accepts too, with the same claims; and the usual shape is accepted.
    let seeds = [
        r#"{"aud":"api://x","iss":"https://login.microsoftonline.com/t/v2.0","iat":1732186400,"nbf":1732186400,"exp":1732190000,"aio":"AWQAm/8T","azp":"c1","azpacr":"0","name":"Alice É","oid":"a1","preferred_username":"a@x","rh":"1.A.","roles":["Data.Reader","R2"],"scp":"Data.Read Data.Write","sid":"s","sub":"b","tid":"c0ffee00-0000-4000-8000-000000000001","uti":"u","ver":"2.0","xms_ftd":"f"}"#,
        r#" { "aud" : [ "a" , "b" ] , "exp" : 1e3 , "nbf" : null , "x" : [ 1 , -2.5E-3 , true , false , null ] , "nonce" : "n" , "t" : 0 } "#,
        r#"{"appid":"a","upn":"u","unique_name":"n","idtyp":"app","roles":null,"iat":-1,"exp":10.0,"c_hash":[],"k":-0}"#,
    ];
    for seed in seeds {
        read_claims(seed.to_string(), false).unwrap();
        let mut f = Claims {
            json_len: seed.len(),
            ..Claims::default()
        };
        if seed.starts_with(r#"{"aud""#) {
            assert!(fast_claims(seed.as_bytes(), &mut f).is_some());
        }
    }
    let alphabet: Vec<&str> = vec![
        "\"",
        "\\",
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        " ",
        "\n",
        "\t",
        "0",
        "1",
        "9",
        "-",
        "+",
        ".",
        "e",
        "E",
        "n",
        "u",
        "l",
        "t",
        "r",
        "f",
        "a",
        "s",
        "\u{1}",
        "\u{7f}",
        "é",
        "null",
        "true",
        "false",
        "\"aud\"",
        "\"exp\"",
        "\"roles\"",
        "\"tid\"",
        "\"nonce\"",
        "\"x\":1,",
        "[\"r\"]",
        "1e5",
        "01",
        "1.",
        ".5",
        "-0",
        "\\u0061",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let (mut accepted, mut tried) = (0, 0);
    for _ in 0..60_000 {
        let mut doc = seeds[next(seeds.len())].to_string();
        for _ in 0..1 + next(3) {
            let mut at = next(doc.len() + 1);
            while !doc.is_char_boundary(at) {
                at -= 1;
            }
            let piece = alphabet[next(alphabet.len())];
            match next(3) {
                0 => doc.insert_str(at, piece),
                1 => {
                    let mut end = (at + 1 + next(4)).min(doc.len());
                    while !doc.is_char_boundary(end) {
                        end += 1;
                    }
                    doc.replace_range(at..end, "");
                }
                _ => {
                    let mut end = (at + 1).min(doc.len());
                    while !doc.is_char_boundary(end) {
                        end += 1;
                    }
                    doc.replace_range(at..end, piece);
                }
            }
        }
        tried += 1;
        let mut fast = Claims {
            json_len: doc.len(),
            ..Claims::default()
        };
        if fast_claims(doc.as_bytes(), &mut fast).is_none() {
            continue;
        }
        accepted += 1;
        fast.buf = doc.clone();
        let walked = read_claims(doc.clone(), false)
            .unwrap_or_else(|e| panic!("fast accepted, walker refused ({e}): {doc}"));
        assert_eq!(fields(&fast), fields(&walked), "{doc}");
        // And the whole parse agrees with itself.
        assert_eq!(
            fields(&read_claims(doc.clone(), true).unwrap()),
            fields(&walked)
        );
    }
    eprintln!("fast reader: accepted {accepted} of {tried} mutations");
    assert!(accepted > tried / 20, "{accepted} of {tried}");
}

#[test]
fn guids() {
    assert!(is_guid("c0ffee00-0000-4000-8000-000000000001"));
    assert!(is_guid("C0FFEE00-0000-4000-8000-000000000001"));
    assert!(!is_guid("c0ffee00-0000-4000-8000-00000000000"));
    assert!(!is_guid("c0ffee00x0000-4000-8000-000000000001"));
    assert!(!is_guid("contoso.onmicrosoft.com"));
}
