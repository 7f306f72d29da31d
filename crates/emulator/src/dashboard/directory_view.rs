//! The directory as the dashboard shows it: tenants, apps (ids, App ID URIs, scopes,
//! roles; how many secrets, never their values), managed identities, users (never their
//! passwords), groups, and the grants (admin consents, app role assignments, user
//! consents).

use super::html::{code, table};
use crate::directory::{Directory, GroupConfig};
use crate::pages::esc;

fn codes(items: &[String]) -> String {
    items.iter().map(|s| code(s)).collect::<Vec<_>>().join(" ")
}

/// The app's name for a client id (the id itself when unknown).
fn app_name(dir: &Directory, client_id: &str) -> String {
    dir.app(client_id)
        .map(|a| a.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| client_id.to_string())
}

/// One row per app: ids, URIs, scopes, roles, and how many credentials (no values).
fn app_rows(dir: &Directory) -> Vec<Vec<String>> {
    dir.apps
        .iter()
        .map(|a| {
            let kind = if a.public_client {
                "public"
            } else {
                "confidential"
            };
            let creds = format!(
                "{} secret(s), {} cert(s), {} federated",
                a.secrets.len(),
                a.certificates.len(),
                a.federated.len()
            );
            vec![
                esc(&a.name),
                code(&a.client_id),
                codes(&a.identifier_uris),
                esc(&a.scopes.join(" ")),
                esc(&a.app_roles.join(" ")),
                format!(
                    "v{} {kind}<br><span class=\"muted\">{}</span>",
                    a.token_version,
                    esc(&creds)
                ),
            ]
        })
        .collect()
}

/// The directory sections.
pub(super) fn render(dir: &Directory, groups: &[GroupConfig]) -> String {
    let tenants: Vec<Vec<String>> = dir
        .tenants
        .iter()
        .map(|t| vec![esc(&t.name), code(&t.domain), code(&t.id)])
        .collect();
    let apps = app_rows(dir);
    let identities: Vec<Vec<String>> = dir
        .managed_identities
        .iter()
        .map(|m| {
            vec![
                esc(&m.name),
                code(&m.client_id),
                code(&m.object_id),
                if m.system { "system" } else { "user-assigned" }.into(),
            ]
        })
        .collect();
    let users: Vec<Vec<String>> = dir
        .users
        .iter()
        .map(|u| {
            vec![
                code(&u.upn),
                esc(&u.name),
                code(&u.object_id),
                if u.mfa_required { "required" } else { "" }.into(),
                codes(&u.groups),
            ]
        })
        .collect();
    let group_rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| vec![esc(&g.name), code(&g.id)])
        .collect();
    format!(
        "<section id=\"directory\" class=\"wide\"><h2>Directory</h2>\
<h3>Tenants</h3>{}<h3>Apps</h3>{}<h3>Managed identities</h3>{}<h3>Users</h3>{}<h3>Groups</h3>{}\
<h3>Grants and consents</h3>{}</section>",
        table("tenant-table", &["name", "domain", "id"], &tenants),
        table(
            "app-table",
            &[
                "name",
                "client id",
                "App ID URIs",
                "scopes",
                "app roles",
                "kind"
            ],
            &apps
        ),
        table(
            "mi-table",
            &["name", "client id", "object id", "kind"],
            &identities
        ),
        table(
            "user-table",
            &["user", "name", "object id", "MFA", "groups"],
            &users
        ),
        table("group-table", &["name", "id"], &group_rows),
        grants(dir),
    )
}

fn grants(dir: &Directory) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for a in &dir.apps {
        for (resource, scope) in &a.admin_consent {
            rows.push(vec![
                "admin consent".into(),
                esc(&a.name),
                "everyone".into(),
                format!("{} {}", esc(&app_name(dir, resource)), code(scope)),
            ]);
        }
        for (resource, role) in &a.role_assignments {
            rows.push(vec![
                "app role".into(),
                esc(&a.name),
                String::new(),
                format!("{} {}", esc(&app_name(dir, resource)), code(role)),
            ]);
        }
    }
    for m in &dir.managed_identities {
        for (resource, role) in &m.role_assignments {
            rows.push(vec![
                "app role".into(),
                esc(&m.name),
                String::new(),
                format!("{} {}", esc(&app_name(dir, resource)), code(role)),
            ]);
        }
    }
    for u in &dir.users {
        let mut clients: Vec<_> = u.consents.iter().collect();
        clients.sort_by(|a, b| a.0.cmp(b.0));
        for (client, scopes) in clients {
            for (resource, scope) in scopes {
                rows.push(vec![
                    "user consent".into(),
                    esc(&app_name(dir, client)),
                    code(&u.upn),
                    format!("{} {}", esc(&app_name(dir, resource)), code(scope)),
                ]);
            }
        }
    }
    table(
        "grant-table",
        &["kind", "client", "user", "permission"],
        &rows,
    )
}
