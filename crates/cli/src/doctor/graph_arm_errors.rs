//! `entra doctor --error`: Microsoft Graph's and Azure Resource Manager's error bodies.
//!
//! Graph answers `{"error":{"code","message","innerError":{"request-id",...}}}`; ARM
//! answers `{"error":{"code","message"}}` (the Azure CLI prints it as `(Code) Message`).
//! Both are recognised from the JSON, or from their codes in any text, and explained:
//! what the service meant and what to do. The codes and messages are the services' own
//! (docs/first-party-apps.md lists them and their sources).

use serde_json::Value;

/// One explained service error.
#[derive(Debug, Clone)]
pub(super) struct GraphArmError {
    /// `Microsoft Graph` or `Azure Resource Manager`.
    pub service: &'static str,
    /// The service's error code.
    pub code: String,
    /// The service's message (its first 300 characters).
    pub message: String,
    /// Graph's `request-id`, when the body has one.
    pub request_id: Option<String>,
    pub meaning: &'static str,
    pub action: &'static str,
}

const GRAPH: &str = "Microsoft Graph";
const ARM: &str = "Azure Resource Manager";

/// ARM's codes (none of them is Graph's).
const ARM_CODES: &[&str] = &[
    "AuthenticationFailed",
    "ExpiredAuthenticationToken",
    "InvalidAuthenticationTokenAudience",
    "InvalidAuthenticationTokenTenant",
    "AuthorizationFailed",
    "SubscriptionNotFound",
    "InvalidSubscriptionId",
    "MissingApiVersionParameter",
    "InvalidApiVersionParameter",
];
/// Graph's codes that ARM never uses.
const GRAPH_CODES: &[&str] = &["Authorization_RequestDenied", "Request_ResourceNotFound"];

/// The Graph or ARM error in `text` (a JSON body, or text that names one of their
/// codes), explained; `None` when it is neither's.
pub(super) fn recognise(text: &str) -> Option<GraphArmError> {
    let (service, code, message, request_id) = from_json(text).or_else(|| from_text(text))?;
    let (meaning, action) = match service {
        GRAPH => graph(&code, &message)?,
        _ => arm(&code)?,
    };
    Some(GraphArmError {
        service,
        code,
        message: message.chars().take(300).collect(),
        request_id,
        meaning,
        action,
    })
}

type Parts = (&'static str, String, String, Option<String>);

fn from_json(text: &str) -> Option<Parts> {
    let v: Value = serde_json::from_str(text.trim()).ok()?;
    let error = v.get("error")?;
    let code = error.get("code")?.as_str()?.to_string();
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let inner = error.get("innerError").or_else(|| error.get("innererror"));
    let request_id = inner
        .and_then(|i| i.get("request-id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let service = if inner.is_some() || GRAPH_CODES.contains(&code.as_str()) {
        GRAPH
    } else if ARM_CODES.contains(&code.as_str()) || code == "InvalidAuthenticationToken" {
        ARM
    } else if code == "BadRequest" && message.contains("/me request") {
        GRAPH
    } else {
        return None;
    };
    Some((service, code, message, request_id))
}

/// A code of either service named in free text (`(Code) Message` from az, an SDK's
/// `Code: ...` line), longest code first so ARM's `InvalidAuthenticationTokenAudience`
/// is not read as the shorter `InvalidAuthenticationToken`.
fn from_text(text: &str) -> Option<Parts> {
    let mut candidates: Vec<(&'static str, &str)> = ARM_CODES
        .iter()
        .map(|c| (ARM, *c))
        .chain(GRAPH_CODES.iter().map(|c| (GRAPH, *c)))
        .collect();
    candidates.sort_by_key(|(_, c)| std::cmp::Reverse(c.len()));
    if let Some((service, code)) = candidates.into_iter().find(|(_, c)| text.contains(c)) {
        return Some((service, code.to_string(), text.trim().to_string(), None));
    }
    text.contains("/me request is only valid with delegated authentication flow")
        .then(|| {
            (
                GRAPH,
                "BadRequest".to_string(),
                text.trim().to_string(),
                None,
            )
        })
}

fn graph(code: &str, message: &str) -> Option<(&'static str, &'static str)> {
    let lower = message.to_ascii_lowercase();
    Some(match code {
        "InvalidAuthenticationToken" if lower.contains("empty") => (
            "The request reached Graph without a token: no Authorization header, or an empty bearer.",
            "Send `Authorization: Bearer <access token>` with a Graph token (`entra token --resource graph`), or let `entra call <URL>` attach one.",
        ),
        "InvalidAuthenticationToken"
            if lower.contains("idx14100")
                || lower.contains("not well formed")
                || lower.contains("compacttoken") =>
        {
            (
                "The bearer is not a JWT: most often an authorization code (0.A...) or a refresh token sent instead of the access token.",
                "Redeem the code at the token endpoint and send its access_token; `entra decode -` names what the bearer is.",
            )
        }
        "InvalidAuthenticationToken" if lower.contains("expired") || lower.contains("lifetime") => {
            (
                "The Graph token's exp has passed (or this machine's clock is far off).",
                "Get a fresh token (`entra token --resource graph` refreshes from the cache); check the clock with `entra doctor`.",
            )
        }
        "InvalidAuthenticationToken" if lower.contains("audience") => (
            "The token is for another API (its aud), not Microsoft Graph.",
            "Ask for a Graph scope: `entra token --resource graph` (https://graph.microsoft.com/.default, or User.Read for a user); `entra decode - --for https://graph.microsoft.com/v1.0/me` shows the audience.",
        ),
        "InvalidAuthenticationToken" => (
            "Graph could not validate the token: its signature, issuer or tenant is not one Graph trusts (a token from another cloud, an emulator's token sent to the real Graph, or an altered one).",
            "Get the token from the authority Graph trusts for your tenant; `entra decode -` shows the issuer and audience.",
        ),
        "Authorization_RequestDenied" => (
            "The token is valid but lacks the permission this call needs: a delegated scope (scp) for a user's token, an app role (roles) for an app's.",
            "Look up the call's Permissions table in Graph's reference (e.g. User.Read for /me, User.Read.All to read other users), add it to the app and consent (app roles need admin consent), then get a new token; `entra decode -` shows scp and roles.",
        ),
        "Request_ResourceNotFound" => (
            "No such object in the token's tenant: a wrong id or userPrincipalName, or an object of another tenant.",
            "Check the id or UPN (GET /v1.0/users?$select=id,userPrincipalName lists them) and the tenant the token is for.",
        ),
        "BadRequest" if message.contains("/me request") => (
            "/me means the signed-in user, and an app-only token (client credentials, managed identity) has no user.",
            "Call /v1.0/users/{id | userPrincipalName} with an app role such as User.Read.All, or sign a user in (delegated flow) to use /me.",
        ),
        _ => return None,
    })
}

fn arm(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "AuthenticationFailed" => (
            "The request reached Azure Resource Manager without a usable Authorization header (missing, or not `Bearer <token>`).",
            "Send `Authorization: Bearer <ARM token>`: `entra token --resource arm`, `az account get-access-token`, or `entra call` / `az rest`, which attach one.",
        ),
        "InvalidAuthenticationToken" => (
            "ARM could not use the bearer: not an access token (an authorization code, an ID token, garbage), a bad signature, or a token from an authority ARM does not trust.",
            "Get an ARM access token (`entra token --resource arm`, scope https://management.azure.com/.default); `entra decode -` names what the bearer is.",
        ),
        "ExpiredAuthenticationToken" => (
            "The ARM token's exp has passed (ARM's message gives both times, in UTC).",
            "Get a fresh token (`entra token --resource arm`, `az account get-access-token`); a long job should ask its credential again instead of reusing one token.",
        ),
        "InvalidAuthenticationTokenAudience" => (
            "The token is for another API (ARM's message names its aud); ARM takes only https://management.azure.com/ or https://management.core.windows.net/ tokens, with or without the slash.",
            "Ask for ARM's scope: `entra token --resource arm` (https://management.azure.com/.default; the Azure CLI uses https://management.core.windows.net//.default).",
        ),
        "InvalidAuthenticationTokenTenant" => (
            "The token is from another tenant than the one the subscription trusts (ARM's message names both issuers).",
            "Get the token from the subscription's tenant: `entra token --resource arm --tenant <tenant>`, `az login --tenant <tenant>`.",
        ),
        "AuthorizationFailed" => (
            "The token is valid but its principal (the object id in the message) has no role that allows the action on that scope (Azure RBAC).",
            "Assign a role on the scope (Reader to read, Contributor to change): `az role assignment create --assignee <object id> --role Reader --scope <scope>`; on the emulator, [[subscriptions]] role_assignments. Then get a new token.",
        ),
        "SubscriptionNotFound" | "InvalidSubscriptionId" => (
            "No subscription with that id is visible: a typo, a malformed id, or a subscription of another tenant or cloud.",
            "List what the credential can see: `az account list`, or GET /subscriptions?api-version=2022-12-01.",
        ),
        "MissingApiVersionParameter" | "InvalidApiVersionParameter" => (
            "Every ARM request needs ?api-version=YYYY-MM-DD, one the resource type supports.",
            "Add the api-version (for subscriptions and tenants: 2022-12-01); each REST reference page names its versions.",
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_and_arm_bodies_are_told_apart() {
        let graph = r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token is empty.","innerError":{"date":"2026-12-08T00:00:00","request-id":"r-1","client-request-id":"r-1"}}}"#;
        let e = recognise(graph).unwrap();
        assert_eq!(
            (e.service, e.code.as_str()),
            (GRAPH, "InvalidAuthenticationToken")
        );
        assert_eq!(e.request_id.as_deref(), Some("r-1"));
        assert!(e.meaning.contains("without a token"));
        let arm = r#"{"error":{"code":"InvalidAuthenticationToken","message":"The access token is invalid."}}"#;
        let e = recognise(arm).unwrap();
        assert_eq!(
            (e.service, e.code.as_str()),
            (ARM, "InvalidAuthenticationToken")
        );
        let az = "(InvalidAuthenticationTokenAudience) The access token has been obtained for wrong audience or resource 'https://graph.microsoft.com'.";
        let e = recognise(az).unwrap();
        assert_eq!(
            (e.service, e.code.as_str()),
            (ARM, "InvalidAuthenticationTokenAudience")
        );
        assert!(recognise(r#"{"error":{"code":"Something","message":"x"}}"#).is_none());
        assert!(recognise("it broke").is_none());
    }
}
