//! The checks on an ID token that came straight from the token endpoint.

/// How far an ID token's `exp` may lie in the past (clock skew), in seconds.
const ID_TOKEN_SKEW: i64 = 300;

/// Checks an ID token that came straight from the token endpoint: `aud` is this client,
/// `iss` is the authority's issuer (`{tenantid}` replaced by the token's `tid`, a GUID),
/// and `exp` has not passed (with 5 minutes of skew). Its signature is not checked: the
/// token arrived over server-authenticated TLS from the token endpoint, which OpenID
/// Connect Core §3.1.3.7 accepts in place of a signature check (MSAL does the same).
pub(super) fn check_id_token(
    id: &entra_jose::DecodedToken,
    client_id: &str,
    issuer: &str,
    now: i64,
) -> Result<(), String> {
    if id.claim_str("aud") != Some(client_id) {
        return Err("the ID token was issued to another client".into());
    }
    if !issuer.is_empty() {
        let expected = if issuer.contains("{tenantid}") {
            let tid = id.claim_str("tid").unwrap_or_default();
            if uuid_shaped(tid) {
                issuer.replace("{tenantid}", tid)
            } else {
                return Err("the ID token has no tenant id (tid) to check its issuer".into());
            }
        } else {
            issuer.to_string()
        };
        if id.claim_str("iss") != Some(expected.as_str()) {
            return Err(format!(
                "the ID token's issuer {:?} is not this authority's ({expected:?})",
                id.claim_str("iss")
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(120)
                    .collect::<String>()
            ));
        }
    }
    match id.claim_i64("exp") {
        Some(exp) if exp + ID_TOKEN_SKEW >= now => Ok(()),
        Some(_) => Err("the ID token has expired (is this machine's clock right?)".into()),
        None => Err("the ID token has no expiry (exp)".into()),
    }
}

/// `8-4-4-4-12` hex digits.
fn uuid_shaped(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}
