//! `/v1.0/me`, `/v1.0/users`, `/v1.0/users/{id | userPrincipalName}` and
//! `/v1.0/organization`: the directory's users and tenant as Graph shows them, each
//! call behind the permissions Graph's API reference lists for it.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use entra_validate::Principal;
use serde_json::{Value, json};

use super::error::{Call, GraphError, printable};
use super::host::service_root;
use super::request::authenticate;
use crate::directory::User;
use crate::state::AppState;

/// Delegated permissions that let a user read their own profile ("Get user", "me").
const READ_SELF: &[&str] = &[
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];
/// Delegated permissions that let a user read other users ("Get user", "List users").
const READ_USERS: &[&str] = &[
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];
/// Application permissions that let an app read users.
const READ_USERS_APP: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// Delegated permissions of "Get organization" (User.Read is its least privileged one).
const READ_ORG: &[&str] = &[
    "User.Read",
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];
/// Application permissions of "Get organization".
const READ_ORG_APP: &[&str] = &[
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Graph's default page size for users, and its largest `$top`.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 999;

/// Whether the token carries one of `delegated` (a user's token) or `app` (an app's).
fn allowed(p: &Principal, delegated: &[&str], app: &[&str]) -> bool {
    if p.is_app_only() {
        app.iter().any(|r| p.has_role(r))
    } else {
        delegated.iter().any(|s| p.has_scope(s))
    }
}

/// A user with Graph's default properties (v1.0 `$select` default set).
fn user_json(u: &User) -> Value {
    let name = (!u.name.is_empty()).then_some(u.name.as_str());
    let (given, surname) = match name.and_then(|n| n.split_once(' ')) {
        Some((g, s)) => (Some(g), Some(s)),
        None => (name, None),
    };
    json!({
        "businessPhones": [],
        "displayName": name,
        "givenName": given,
        "jobTitle": null,
        "mail": null,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "surname": surname,
        "userPrincipalName": u.upn,
        "id": u.object_id,
    })
}

/// Answers `result` for `call`.
fn answer(call: &Call, result: Result<Value, GraphError>) -> Response {
    match result {
        Ok(body) => call.ok(body),
        Err(e) => e.respond(call),
    }
}

/// `GET /v1.0/me`: the signed-in user; a delegated token only.
pub(super) async fn me(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let call = Call::new(&headers);
    let result = async {
        let p = authenticate(&st, &headers).await?;
        if p.is_app_only() {
            return Err(GraphError::bad_request(
                "/me request is only valid with delegated authentication flow.",
            ));
        }
        if !allowed(&p, READ_SELF, &[]) {
            return Err(GraphError::insufficient_privileges());
        }
        let dir = st.dir();
        let oid = p.object_id().unwrap_or_default();
        let user = dir
            .user_by_oid(oid)
            .filter(|u| u.tenant_id == p.tenant_id())
            .ok_or_else(|| GraphError::not_found(oid))?;
        let mut body = user_json(user);
        body["@odata.context"] = json!(format!(
            "{}/v1.0/$metadata#users/$entity",
            service_root(&st, &headers)
        ));
        Ok(body)
    }
    .await;
    answer(&call, result)
}

/// `GET /v1.0/users/{id | userPrincipalName}`: a user of the token's tenant.
pub(super) async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let call = Call::new(&headers);
    let result = async {
        let p = authenticate(&st, &headers).await?;
        let dir = st.dir();
        let found = dir.users.iter().find(|u| {
            u.tenant_id == p.tenant_id()
                && (u.object_id.eq_ignore_ascii_case(&id) || u.upn.eq_ignore_ascii_case(&id))
        });
        let own = found.is_some_and(|u| Some(u.object_id.as_str()) == p.object_id());
        let needed = if own { READ_SELF } else { READ_USERS };
        if !allowed(&p, needed, READ_USERS_APP) {
            return Err(GraphError::insufficient_privileges());
        }
        let user = found.ok_or_else(|| GraphError::not_found(&id))?;
        let mut body = user_json(user);
        body["@odata.context"] = json!(format!(
            "{}/v1.0/$metadata#users/$entity",
            service_root(&st, &headers)
        ));
        Ok(body)
    }
    .await;
    answer(&call, result)
}

/// `GET /v1.0/users[?$top=N]`: the token's tenant's users, a page at a time
/// (`@odata.nextLink` carries an opaque `$skiptoken`).
pub(super) async fn list(
    State(st): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let call = Call::new(&headers);
    let result = async {
        let p = authenticate(&st, &headers).await?;
        if !allowed(&p, READ_USERS, READ_USERS_APP) {
            return Err(GraphError::insufficient_privileges());
        }
        let top = match query.get("$top") {
            None => DEFAULT_PAGE,
            Some(t) => t
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    GraphError::bad_request(format!(
                        "Invalid page size specified: '{}'. Must be between 1 and {MAX_PAGE} inclusive.",
                        printable(t)
                    ))
                })?,
        };
        let skip = match query.get("$skiptoken") {
            None => 0,
            Some(t) => decode_skiptoken(t)
                .ok_or_else(|| GraphError::bad_request("Invalid $skiptoken value."))?,
        };
        let dir = st.dir();
        let users: Vec<&User> = dir
            .users
            .iter()
            .filter(|u| u.tenant_id == p.tenant_id())
            .collect();
        let page: Vec<Value> = users.iter().skip(skip).take(top).map(|u| user_json(u)).collect();
        let root = service_root(&st, &headers);
        let mut body = json!({
            "@odata.context": format!("{root}/v1.0/$metadata#users"),
            "value": page,
        });
        if skip + top < users.len() {
            body["@odata.nextLink"] = json!(format!(
                "{root}/v1.0/users?$top={top}&$skiptoken={}",
                encode_skiptoken(skip + top)
            ));
        }
        Ok(body)
    }
    .await;
    answer(&call, result)
}

/// `GET /v1.0/organization`: the token's tenant.
pub(super) async fn organization(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let call = Call::new(&headers);
    let result = async {
        let p = authenticate(&st, &headers).await?;
        if !allowed(&p, READ_ORG, READ_ORG_APP) {
            return Err(GraphError::insufficient_privileges());
        }
        let dir = st.dir();
        let tenant = dir
            .tenant(p.tenant_id())
            .ok_or_else(|| GraphError::not_found(p.tenant_id()))?;
        Ok(json!({
            "@odata.context": format!("{}/v1.0/$metadata#organization", service_root(&st, &headers)),
            "value": [{
                "id": tenant.id,
                "deletedDateTime": null,
                "businessPhones": [],
                "city": null,
                "country": null,
                "countryLetterCode": null,
                "displayName": tenant.name,
                "marketingNotificationEmails": [],
                "onPremisesSyncEnabled": null,
                "postalCode": null,
                "preferredLanguage": null,
                "state": null,
                "street": null,
                "technicalNotificationMails": [],
                "tenantType": "AAD",
                "verifiedDomains": [{
                    "capabilities": "Email, OfficeCommunicationsOnline",
                    "isDefault": true,
                    "isInitial": true,
                    "name": tenant.domain,
                    "type": "Managed",
                }],
            }],
        }))
    }
    .await;
    answer(&call, result)
}

/// An opaque page cursor (Graph's are opaque too): the offset, base64url.
fn encode_skiptoken(offset: usize) -> String {
    entra_jose::b64url(format!("users:{offset}").as_bytes())
}

fn decode_skiptoken(token: &str) -> Option<usize> {
    if token.len() > 64 {
        return None;
    }
    let raw = entra_jose::b64url_decode(token).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("users:")?
        .parse()
        .ok()
}
