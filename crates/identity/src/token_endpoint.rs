//! The token endpoint: the one place that builds a token request's form and reads the
//! answer (oauth2-rs's `endpoint.rs` is the model). Every grant (client credentials,
//! on-behalf-of, refresh token, authorization code, device code) builds a [`TokenForm`]
//! and reads the answer with [`parse_token_response`]; the claims parameter comes from
//! [`merged_claims`].

use crate::error::{EntraErrorResponse, Error};
use crate::http::{Pipeline, Response, form_post};
use crate::secret::Secret;
use crate::token::{AccessToken, TokenRequest};
use crate::unix_time::{now, parse_expires_on, seconds};

/// The scopes every user sign-in adds: an ID token, the profile, a refresh token.
pub(crate) const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// The `grant_type` of each grant this crate sends.
pub(crate) mod grant {
    /// An app acting as itself.
    pub(crate) const CLIENT_CREDENTIALS: &str = "client_credentials";
    /// On-behalf-of: a middle-tier API exchanging the user's token.
    pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    /// A refresh token redeemed for new tokens.
    pub(crate) const REFRESH_TOKEN: &str = "refresh_token";
    /// An authorization code (with PKCE) redeemed after a browser sign-in.
    pub(crate) const AUTHORIZATION_CODE: &str = "authorization_code";
    /// A device code polled for (RFC 8628).
    pub(crate) const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
}

/// A token request's form fields, in the order they are sent: `grant_type` and
/// `client_id` first, then the grant's fields, the client's credentials and `claims`.
pub(crate) struct TokenForm<'a> {
    fields: Vec<(&'a str, &'a str)>,
    headers: Vec<(&'static str, String)>,
}

impl<'a> TokenForm<'a> {
    /// A form for `grant_type` (one of [`grant`]) from `client_id`.
    pub(crate) fn new(grant_type: &'a str, client_id: &'a str) -> Self {
        Self {
            fields: vec![("grant_type", grant_type), ("client_id", client_id)],
            headers: Vec::new(),
        }
    }

    /// Adds a field.
    pub(crate) fn field(mut self, name: &'a str, value: &'a str) -> Self {
        self.fields.push((name, value));
        self
    }

    /// Adds a confidential client's credentials (`client_secret`, or
    /// `client_assertion_type` and `client_assertion`).
    pub(crate) fn credentials(mut self, credentials: &'a [(&'static str, Secret)]) -> Self {
        for (k, v) in credentials {
            self.fields.push((k, v.expose()));
        }
        self
    }

    /// Adds the `X-AnchorMailbox` routing hint MSAL sends with a user's refresh token
    /// (`Oid:{uid}@{utid}`, from the account's `home_account_id` `uid.utid`); nothing
    /// when the account id is not of that form. See docs/request-parity.md.
    pub(crate) fn anchor_mailbox(mut self, home_account_id: &str) -> Self {
        if let Some((uid, utid)) = home_account_id.split_once('.')
            && !uid.is_empty()
            && !utid.is_empty()
            && !utid.contains('.')
        {
            self.headers
                .push(("x-anchormailbox", format!("Oid:{uid}@{utid}")));
        }
        self
    }

    /// Adds `claims` when there is one (see [`merged_claims`]).
    pub(crate) fn claims(mut self, claims: Option<&'a str>) -> Self {
        if let Some(c) = claims {
            self.fields.push(("claims", c));
        }
        self
    }

    /// POSTs the form to `endpoint` through `pipeline` (with its retries); `context`
    /// names the call in errors.
    pub(crate) async fn send(
        &self,
        pipeline: &Pipeline,
        endpoint: &str,
        context: &str,
    ) -> Result<Response, Error> {
        let mut request = form_post(endpoint, &self.fields)?;
        for (name, value) in &self.headers {
            let value = http::HeaderValue::from_str(value)
                .map_err(|_| Error::Config(format!("bad {name} header value")))?;
            request.headers_mut().insert(*name, value);
        }
        pipeline.send(request, context).await
    }
}

/// The error of a non-2xx answer from `endpoint`: Entra's own error when the body is
/// an OAuth error, else a plain "HTTP status" one.
pub(crate) fn error_response(endpoint: &str, status: u16, body: &[u8]) -> Error {
    match EntraErrorResponse::parse(status, body) {
        Some(e) => Error::Entra(Box::new(e)),
        None => Error::Response {
            endpoint: endpoint.to_string(),
            message: format!("HTTP {status} without an OAuth error body"),
        },
    }
}

/// Parses a token endpoint answer into an [`AccessToken`] (or Entra's error).
pub(crate) fn parse_token_response(
    endpoint: &str,
    status: u16,
    body: &[u8],
) -> Result<(AccessToken, serde_json::Value), Error> {
    if !(200..300).contains(&status) {
        return Err(error_response(endpoint, status, body));
    }
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| Error::Response {
        endpoint: endpoint.to_string(),
        message: format!("not JSON: {e}"),
    })?;
    let token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Response {
            endpoint: endpoint.to_string(),
            message: "no access_token in the response".into(),
        })?;
    let issued = now();
    let expires_in = seconds(v.get("expires_in"));
    let expires_on = match (expires_in, v.get("expires_on").and_then(parse_expires_on)) {
        (Some(i), _) => issued + i,
        (None, Some(on)) => on,
        (None, None) => {
            return Err(Error::Response {
                endpoint: endpoint.to_string(),
                message: "no expires_in or expires_on in the response".into(),
            });
        }
    };
    let token = AccessToken::from_response(token, issued, expires_on, &v);
    Ok((token, v))
}

/// The `claims` parameter: the challenge, plus `xms_cc: cp1` when CAE is on.
pub(crate) fn merged_claims(request: &TokenRequest) -> Option<String> {
    let mut claims: serde_json::Value = match &request.claims {
        Some(c) => serde_json::from_str(c).unwrap_or_else(|_| serde_json::json!({})),
        None if request.enable_cae => serde_json::json!({}),
        None => return None,
    };
    if request.enable_cae {
        claims["access_token"]["xms_cc"] = serde_json::json!({ "values": ["cp1"] });
    }
    Some(claims.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses_are_read_leniently() {
        let (t, _) = parse_token_response(
            "e",
            200,
            br#"{"access_token":"x","expires_in":"3599","token_type":"Bearer"}"#,
        )
        .unwrap();
        assert!((t.expires_on - now() - 3599).abs() <= 1);
        let (t, _) = parse_token_response(
            "e",
            200,
            br#"{"access_token":"x","expires_on":"1/10/2030 8:01:28 AM +00:00"}"#,
        )
        .unwrap();
        assert_eq!(t.expires_on, 1894262488);
        let (t, _) = parse_token_response(
            "e",
            200,
            br#"{"access_token":"x","expires_in":86400,"refresh_in":43200}"#,
        )
        .unwrap();
        assert!(t.refresh_on.is_some());
        assert!(parse_token_response("e", 200, br#"{"access_token":"x"}"#).is_err());
        assert!(parse_token_response("e", 200, b"<html>").is_err());
        let err = parse_token_response(
            "e",
            400,
            br#"{"error":"invalid_scope","error_codes":[1002012]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("/.default"));
    }

    #[test]
    fn cae_and_claims_merge() {
        let mut r = TokenRequest::new(["s"]);
        assert_eq!(merged_claims(&r), None);
        r.enable_cae = true;
        assert_eq!(
            merged_claims(&r).unwrap(),
            r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#
        );
        r.claims = Some(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#.into());
        let merged = merged_claims(&r).unwrap();
        assert!(merged.contains("nbf") && merged.contains("cp1"));
    }
}
