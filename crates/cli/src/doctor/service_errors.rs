//! Microsoft Fabric's and Power BI's error bodies, recognised by their shape: Fabric's
//! `{"requestId","errorCode","message"}` (its REST specs' `ErrorResponse`) and Power BI's
//! `{"error":{"code",...}}`, each code explained with what to do.

use serde_json::Value;

/// A recognised service error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ServiceError {
    /// `Fabric` or `Power BI`.
    pub service: &'static str,
    /// The service's error code, as sent.
    pub code: String,
    /// The request id (give it to support), when the body has one.
    pub request_id: Option<String>,
    /// What it means.
    pub meaning: &'static str,
    /// What to do.
    pub action: &'static str,
    /// Whether entra has an entry for the code.
    pub known: bool,
}

/// (service, code) -> (meaning, action). Codes compare case-insensitively.
const KNOWN: &[(&str, &str, &str, &str)] = &[
    (
        "Fabric",
        "InvalidToken",
        "Fabric could not use the bearer as an access token for it. Most often it is not an access token at all: \
         an authorization code (the `code` of the redirect, 0.A... or 1.A...) or an ID token sent as the bearer. \
         Else a token for another API (a Graph token: aud https://graph.microsoft.com), or an expired one.",
        "Did you send the authorization code instead of the access token? Decode what you sent with \
         `entra decode - --for https://api.fabric.microsoft.com/v1/workspaces`: it names a code, an ID token, the \
         audience and the expiry. Redeem a code at the token endpoint first (grant_type=authorization_code), then \
         send its access_token; `entra token --resource fabric` gets one, `entra call <URL>` attaches one.",
    ),
    (
        "Fabric",
        "TokenExpired",
        "The access token's exp has passed.",
        "Get a new token (MSAL's acquire_token_silent, or `entra token --resource fabric`, refresh it).",
    ),
    (
        "Fabric",
        "InsufficientScopes",
        "The token is valid for Fabric, but its scp lacks every scope this API lists under \"Required Delegated Scopes\" \
         (for workspaces: Workspace.Read.All or Workspace.ReadWrite.All).",
        "Ask for the API's scope (https://api.fabric.microsoft.com/Workspace.Read.All, or \
         https://api.fabric.microsoft.com/.default for every consented one) and have the user or an admin consent; \
         `entra decode` lists the scopes a token has.",
    ),
    (
        "Fabric",
        "WorkspaceNotFound",
        "No workspace with that id that the caller can see: a typo, another tenant's workspace, or no role in it. \
         A service principal sees only the workspaces it was added to.",
        "List what the caller sees with `entra call https://api.fabric.microsoft.com/v1/workspaces`; add the user \
         or service principal to the workspace (Viewer at least).",
    ),
    (
        "Fabric",
        "InsufficientPrivileges",
        "The caller has no role (or too low a role) in the workspace or item for this operation.",
        "Give the user or service principal a higher workspace role (Contributor, Member or Admin).",
    ),
    (
        "Fabric",
        "InsufficientWorkspaceRole",
        "The caller's workspace role is too low for this operation.",
        "Give the user or service principal a higher workspace role (Contributor, Member or Admin).",
    ),
    (
        "Fabric",
        "InvalidContinuationToken",
        "The continuationToken was not issued for this list (another list's, altered, or stale).",
        "Follow continuationUri exactly as the previous page returned it, or start the list again without a token.",
    ),
    (
        "Fabric",
        "InvalidItemType",
        "The ?type= filter names no Fabric item type.",
        "Use a type from Fabric's list (Lakehouse, Notebook, SemanticModel, Report, Warehouse, DataPipeline, ...).",
    ),
    (
        "Power BI",
        "TokenExpired",
        "The access token's exp has passed (Power BI answers 403 for it, not 401).",
        "Get a new token (acquire_token_silent, or `entra token --resource powerbi`) and retry.",
    ),
    (
        "Power BI",
        "PowerBIEntityNotFound",
        "No such workspace (group), dataset or report that the caller can see: a typo, or no role in the workspace.",
        "List the caller's groups (`entra call https://api.powerbi.com/v1.0/myorg/groups`); add the user or \
         service principal to the workspace.",
    ),
    (
        "Power BI",
        "PowerBINotAuthorizedException",
        "The token is valid, but the caller may not do this: no role in the workspace, or (a service principal) the \
         tenant setting that lets service principals use Power BI APIs is off.",
        "Add the user or service principal to the workspace; have a Fabric admin allow service principals.",
    ),
];

/// The Fabric or Power BI error in `text` (a JSON body, possibly after a status line or
/// headers), if it has one of their shapes.
pub(crate) fn recognise(text: &str) -> Option<ServiceError> {
    let body = json_in(text)?;
    if let Some(code) = body.get("errorCode").and_then(Value::as_str) {
        let request_id = body
            .get("requestId")
            .and_then(Value::as_str)
            .map(str::to_string);
        return Some(lookup("Fabric", code, request_id));
    }
    let error = body.get("error")?;
    let code = error
        .get("code")
        .and_then(Value::as_str)
        .or_else(|| error.pointer("/pbi.error/code").and_then(Value::as_str))?;
    // Graph and Entra use {"error":{"code"}} too: only Power BI's own codes count.
    let known = KNOWN
        .iter()
        .any(|(s, c, _, _)| *s == "Power BI" && c.eq_ignore_ascii_case(code));
    (known || error.get("pbi.error").is_some()).then(|| lookup("Power BI", code, None))
}

fn lookup(service: &'static str, code: &str, request_id: Option<String>) -> ServiceError {
    let hit = KNOWN
        .iter()
        .find(|(s, c, _, _)| *s == service && c.eq_ignore_ascii_case(code));
    let known = hit.is_some();
    let (meaning, action) = match hit {
        Some((_, _, m, a)) => (*m, *a),
        None => (
            "An error code entra has no entry for.",
            "Look the code up in the service's REST API reference (each operation lists its error codes).",
        ),
    };
    ServiceError {
        service,
        code: code.to_string(),
        request_id,
        meaning,
        action,
        known,
    }
}

/// The first JSON object in `text` that parses (a body may follow `HTTP/1.1 401` and
/// headers, as `curl -i` prints it).
fn json_in(text: &str) -> Option<serde_json::Map<String, Value>> {
    let mut rest = text;
    for _ in 0..16 {
        let start = rest.find('{')?;
        let candidate = &rest[start..];
        let mut stream = serde_json::Deserializer::from_str(candidate).into_iter::<Value>();
        if let Some(Ok(Value::Object(map))) = stream.next() {
            return Some(map);
        }
        rest = &candidate[1..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fabric_and_power_bi_bodies_are_recognised() {
        let seed = r#"{"requestId":"8f49a868-987f-4716-80fd-600edd835419","errorCode":"InvalidToken","message":"Access token is invalid"}"#;
        let e = recognise(seed).unwrap();
        assert_eq!((e.service, e.code.as_str()), ("Fabric", "InvalidToken"));
        assert_eq!(
            e.request_id.as_deref(),
            Some("8f49a868-987f-4716-80fd-600edd835419")
        );
        assert!(
            e.action
                .contains("authorization code instead of the access token")
        );
        assert!(e.action.contains("entra decode"));
        let e = recognise(&format!(
            "HTTP/1.1 401 Unauthorized\r\nRequestId: x\r\n\r\n{seed}"
        ))
        .unwrap();
        assert_eq!(e.code, "InvalidToken");
        let pbi = r#"{"error":{"code":"TokenExpired","message":"Access token has expired, resubmit with a new access token"}}"#;
        assert_eq!(recognise(pbi).unwrap().service, "Power BI");
        let e = recognise(r#"{"errorCode":"SomethingNew","message":"x"}"#).unwrap();
        assert!(e.meaning.contains("no entry"));
        // Graph's and Entra's shapes are not Power BI's.
        assert!(
            recognise(r#"{"error":{"code":"InvalidAuthenticationToken","message":"x"}}"#).is_none()
        );
        assert!(recognise(r#"{"error":"invalid_grant"}"#).is_none());
        assert!(recognise("AADSTS50076").is_none());
    }
}
