//! What `entra decode` says about a token for Microsoft Fabric or Power BI: both APIs
//! take tokens of one first-party app, Power BI Service
//! (00000009-0000-0000-c000-000000000000), whichever of its two App ID URIs the client
//! asked for; Fabric checks delegated scopes per operation, and a service principal sees
//! only the workspaces it is a member of.

use crate::resources;

/// The scopes Fabric's workspace and item lists accept ("Required Delegated Scopes").
const WORKSPACE_READ: &[&str] = &["Workspace.Read.All", "Workspace.ReadWrite.All"];

/// Is `aud` one of Power BI Service's audiences (Fabric's or Power BI's)?
fn is_power_bi_service(aud: &str) -> bool {
    resources::for_audience(aud).is_some_and(|r| r.alias == "fabric" || r.alias == "powerbi")
}

/// How `decode` names such an audience, instead of the bare API name.
pub(crate) fn audience_note(aud: &str) -> Option<String> {
    let api = resources::for_audience(aud)?;
    is_power_bi_service(aud).then(|| {
        format!(
            " ({}: app Power BI Service, 00000009-0000-0000-c000-000000000000; \
             api.fabric.microsoft.com and api.powerbi.com both accept it)",
            api.name
        )
    })
}

/// Warnings (code, message) for a Fabric or Power BI token: a delegated one without
/// Fabric's workspace scopes, an app-only one (membership decides what it sees).
pub(crate) fn warnings(aud: Option<&str>, scp: Option<&str>) -> Vec<(&'static str, String)> {
    if !aud.is_some_and(is_power_bi_service) {
        return Vec::new();
    }
    match scp {
        Some(scp) => {
            let has = scp.split(' ').any(|s| WORKSPACE_READ.contains(&s));
            if has {
                return Vec::new();
            }
            vec![(
                "fabric_scopes",
                format!(
                    "Fabric's workspace and item lists need Workspace.Read.All or Workspace.ReadWrite.All; \
                     this token has {scp:?}, so GET /v1/workspaces answers 403 InsufficientScopes. \
                     Ask for https://api.fabric.microsoft.com/Workspace.Read.All"
                ),
            )]
        }
        None => vec![(
            "fabric_app_only",
            "an app-only token for Fabric/Power BI: a service principal sees only the workspaces it \
                      was added to (its Entra app roles do not widen that), and a Fabric admin must allow \
                      service principals to use the APIs"
                .into(),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fabric_audiences_and_scopes() {
        assert!(
            audience_note("https://api.fabric.microsoft.com")
                .unwrap()
                .contains("Power BI Service")
        );
        assert!(audience_note("https://analysis.windows.net/powerbi/api").is_some());
        assert!(audience_note("https://graph.microsoft.com").is_none());
        let aud = Some("https://api.fabric.microsoft.com");
        assert!(warnings(aud, Some("Workspace.Read.All Item.Read.All")).is_empty());
        assert_eq!(warnings(aud, Some("Item.Read.All"))[0].0, "fabric_scopes");
        assert_eq!(warnings(aud, None)[0].0, "fabric_app_only");
        assert!(warnings(Some("https://graph.microsoft.com"), Some("User.Read")).is_empty());
    }
}
