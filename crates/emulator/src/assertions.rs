//! Checking JWTs the emulator receives: client assertions signed with a registered
//! certificate (`x5t` / `x5t#S256`), federated assertions from an issuer named in the
//! app's federated credentials (workload identity), and its own access tokens (the
//! on-behalf-of assertion, userinfo).

use entra_jose::{Algorithm, DecodedToken, RsaPublicKey, decode_unverified};
use serde_json::Value;

use crate::directory::App;
use crate::errors::{EntraError, sanitize};
use crate::state::AppState;

/// Clock skew allowed on assertions.
const SKEW: i64 = 300;
/// How long fetched external keys are trusted before a refetch.
const EXTERNAL_KEYS_TTL: i64 = 300;

fn bad_assertion(code: u32, message: impl Into<String>) -> EntraError {
    EntraError::new("invalid_client", code, message)
}

fn audiences(token: &DecodedToken) -> Vec<String> {
    match token.claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn check_times(token: &DecodedToken, now: i64) -> Result<(), EntraError> {
    let exp = token.claim_i64("exp").ok_or_else(|| {
        bad_assertion(
            700024,
            "Client assertion is not within its valid time range. The assertion has no 'exp'.",
        )
    })?;
    let nbf = token
        .claim_i64("nbf")
        .or_else(|| token.claim_i64("iat"))
        .unwrap_or(exp - 3600);
    if now > exp + SKEW || now + SKEW < nbf {
        return Err(bad_assertion(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."
            ),
        ));
    }
    Ok(())
}

/// Compares a thumbprint header with a base64url one, tolerating what clients send:
/// padding (MSAL Python pads `x5t`) and the standard base64 alphabet.
fn same_thumbprint(presented: &str, expected: &str) -> bool {
    let normal = presented
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    normal == expected
}

/// Verifies `client_assertion` for `app`: a certificate assertion (`iss` = `sub` = client
/// id) or a federated one (an external `iss` matching a federated credential).
pub(crate) async fn verify_client_assertion(
    st: &AppState,
    app: &App,
    assertion: &str,
    now: i64,
) -> Result<(), EntraError> {
    let token = decode_unverified(assertion).map_err(|e| {
        EntraError::new(
            "invalid_request",
            50027,
            format!("JWT token is invalid or malformed. ({e})"),
        )
    })?;
    // Entra takes RS256 and PS256 client assertions, nothing else.
    let alg = Algorithm::from_name(&token.alg)
        .filter(|a| matches!(a, Algorithm::RS256 | Algorithm::PS256))
        .ok_or_else(|| bad_assertion(700027, format!("Client assertion failed signature validation. [Reason - The algorithm {:?} is not supported; use RS256 or PS256.]", sanitize(&token.alg))))?;
    let iss = token.claim_str("iss").unwrap_or_default().to_string();
    if iss.eq_ignore_ascii_case(&app.client_id) {
        return verify_certificate_assertion(app, &token, alg, now);
    }
    verify_federated_assertion(st, app, &token, alg, &iss, now).await
}

/// A certificate assertion (`iss` = `sub` = client id): signed by one of the app's
/// registered certificates, for the token endpoint.
fn verify_certificate_assertion(
    app: &App,
    token: &DecodedToken,
    alg: Algorithm,
    now: i64,
) -> Result<(), EntraError> {
    if !token
        .claim_str("sub")
        .is_some_and(|s| s.eq_ignore_ascii_case(&app.client_id))
    {
        return Err(bad_assertion(
            50027,
            "The client assertion's 'sub' must be the client id.",
        ));
    }
    let aud_ok = audiences(token).iter().any(|a| {
        let a = a.trim_end_matches('/');
        a.ends_with("/oauth2/v2.0/token") || a.ends_with("/oauth2/token")
    });
    if !aud_ok {
        return Err(bad_assertion(
            700212,
            "No matching federated identity record found for presented assertion audience; a certificate assertion's 'aud' must be the token endpoint.",
        ));
    }
    let x5t256 = token.header_str("x5t#S256");
    let x5t = token.header_str("x5t");
    let kid = token.header_str("kid");
    let cert = app.certificates.iter().find(|c| {
        x5t256.is_some_and(|t| same_thumbprint(t, &c.x5t_s256))
            || x5t.is_some_and(|t| same_thumbprint(t, &c.x5t))
            || kid.is_some_and(|k| k.eq_ignore_ascii_case(&c.thumbprint_hex) || k == c.x5t)
    });
    let Some(cert) = cert else {
        let shown = x5t256.or(x5t).or(kid).unwrap_or("none");
        return Err(bad_assertion(
            700027,
            format!(
                "Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                sanitize(shown),
                app.client_id
            ),
        ));
    };
    cert.public_key
        .verify(alg, token.signing_input.as_bytes(), &token.signature)
        .map_err(|_| bad_assertion(700027, "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]"))?;
    if now > cert.not_after {
        return Err(bad_assertion(
            700027,
            "Client assertion failed signature validation. [Reason - The certificate has expired.]",
        ));
    }
    check_times(token, now)
}

/// A federated assertion: an external (or the emulator's own) issuer and subject named
/// by one of the app's federated credentials, signed by that issuer's key.
async fn verify_federated_assertion(
    st: &AppState,
    app: &App,
    token: &DecodedToken,
    alg: Algorithm,
    iss: &str,
    now: i64,
) -> Result<(), EntraError> {
    // Federated: find the credential by issuer and subject, then the issuer's key.
    let sub = token.claim_str("sub").unwrap_or_default();
    let auds = audiences(token);
    let own_issuer = iss.ends_with("/federation")
        && (iss.starts_with("https://localhost")
            || iss.starts_with("https://127.0.0.1")
            || iss.starts_with("https://[::1]")
            || iss.starts_with("http://localhost")
            || iss.starts_with("http://127.0.0.1"));
    let matched = app.federated.iter().find(|f| {
        let issuer_ok = if f.issuer == "emulator" {
            own_issuer
        } else {
            f.issuer.trim_end_matches('/') == iss.trim_end_matches('/')
        };
        issuer_ok && f.subject == sub && f.audiences.iter().any(|a| auds.contains(a))
    });
    let Some(fic) = matched else {
        return Err(bad_assertion(
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{}'. Assertion Audience: '{}'.",
                sanitize(iss),
                sanitize(sub),
                sanitize(&auds.join(","))
            ),
        ));
    };
    let kid = token.header_str("kid").map(str::to_string);
    let key = if fic.issuer == "emulator" {
        let (fed_kid, fed_key) = &st.federation;
        if kid.as_deref().is_some_and(|k| k != fed_kid) {
            None
        } else {
            Some(fed_key.public_key().clone())
        }
    } else {
        external_key(st, iss, kid.as_deref(), now).await?
    };
    let key = key.ok_or_else(|| bad_assertion(700027, format!("Client assertion failed signature validation. [Reason - The key was not found at the issuer '{}'.]", sanitize(iss))))?;
    key.verify(alg, token.signing_input.as_bytes(), &token.signature)
        .map_err(|_| bad_assertion(700027, "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]"))?;
    check_times(token, now)
}

/// Fetches (and caches) an external issuer's keys via OIDC discovery.
async fn external_key(
    st: &AppState,
    issuer: &str,
    kid: Option<&str>,
    now: i64,
) -> Result<Option<RsaPublicKey>, EntraError> {
    let pick = |keys: &[(Option<String>, RsaPublicKey)]| -> Option<RsaPublicKey> {
        keys.iter()
            .find(|(k, _)| kid.is_none() || k.as_deref() == kid)
            .map(|(_, key)| key.clone())
    };
    let cached = st
        .external_jwks
        .lock()
        .expect("jwks lock")
        .get(issuer)
        .cloned();
    if let Some((at, keys)) = &cached
        && now - at < EXTERNAL_KEYS_TTL
        && let Some(k) = pick(keys)
    {
        return Ok(Some(k));
    }
    let fail = |why: String| {
        bad_assertion(
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{}': {why}",
                sanitize(issuer)
            ),
        )
    };
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: Value = st
        .http
        .get(&discovery)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| fail(format!("fetching {discovery}: {e}")))?
        .json()
        .await
        .map_err(|e| fail(format!("{discovery}: {e}")))?;
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("the discovery document has no jwks_uri".into()))?;
    let jwks: Value = st
        .http
        .get(jwks_uri)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| fail(format!("fetching {jwks_uri}: {e}")))?
        .json()
        .await
        .map_err(|e| fail(format!("{jwks_uri}: {e}")))?;
    let keys = rsa_keys(&jwks);
    let found = pick(&keys);
    st.external_jwks
        .lock()
        .expect("jwks lock")
        .insert(issuer.to_string(), (now, keys));
    Ok(found)
}

/// The RSA keys of a JWKS document, with their `kid`s.
fn rsa_keys(jwks: &Value) -> Vec<(Option<String>, RsaPublicKey)> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
        .filter_map(|k| {
            let key =
                RsaPublicKey::from_jwk_components(k.get("n")?.as_str()?, k.get("e")?.as_str()?)
                    .ok()?;
            Some((
                k.get("kid").and_then(Value::as_str).map(str::to_string),
                key,
            ))
        })
        .collect()
}

/// Verifies a token this emulator issued (signature with a published key, lifetime).
pub(crate) fn verify_own_token(
    st: &AppState,
    token: &str,
    now: i64,
) -> Result<DecodedToken, EntraError> {
    let bad = |m: &str| {
        EntraError::new(
            "invalid_grant",
            50013,
            format!("Assertion failed signature validation. [Reason - {m}]"),
        )
    };
    let decoded = decode_unverified(token).map_err(|_| bad("The assertion is not a JWT."))?;
    let kid = decoded
        .header_str("kid")
        .ok_or_else(|| bad("The assertion has no kid."))?;
    let key = {
        let keys = st.keys.read().expect("keys lock");
        let grace = st.dir().settings.key_grace_seconds as i64;
        keys.published(now, grace)
            .find(|k| k.kid == kid)
            .map(|k| k.key.public_key().clone())
    };
    let key = key.ok_or_else(|| bad("The key was not found."))?;
    if decoded.alg != "RS256" {
        return Err(bad("Unexpected algorithm."));
    }
    key.verify_token(&decoded)
        .map_err(|_| bad("The signature is invalid."))?;
    let exp = decoded.claim_i64("exp").unwrap_or(0);
    if now > exp + SKEW {
        return Err(EntraError::new(
            "invalid_grant",
            500133,
            "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion.",
        ));
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    #[test]
    fn thumbprints_tolerate_padding_and_alphabet() {
        assert!(super::same_thumbprint(
            "c8aigMzHAA4fo4_7l31RQwzIxpA=",
            "c8aigMzHAA4fo4_7l31RQwzIxpA"
        ));
        assert!(super::same_thumbprint(
            "c8aigMzHAA4fo4/7l31RQwzIxpA",
            "c8aigMzHAA4fo4_7l31RQwzIxpA"
        ));
        assert!(!super::same_thumbprint(
            "c8aigMzHAA4fo4_7l31RQwzIxpB",
            "c8aigMzHAA4fo4_7l31RQwzIxpA"
        ));
    }
}
