//! Consent: which delegated scopes a user has granted a client, recording a grant
//! (from the consent page), and Entra's AADSTS65001 when one is missing. Shared by the
//! token endpoints (`grants`) and the browser pages (`authorize`).

use crate::directory::{App, ConsentConfig, Directory, User};
use crate::errors::EntraError;
use crate::request::{ScopeSet, parse_scopes};
use crate::state::{AppState, mutate_directory};

/// AADSTS65001.
pub(crate) fn consent_required(client: &App, resource: &App) -> EntraError {
    EntraError::new(
        "invalid_grant",
        65001,
        format!(
            "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource. (resource: {})",
            client.client_id, client.name, resource.name
        ),
    )
    .suberror("consent_required")
}

/// The delegated scopes a user token gets, or 65001 when consent is missing.
pub(crate) fn delegated_scopes(
    dir: &Directory,
    client: &App,
    user: &User,
    set: &ScopeSet<'_>,
) -> Result<Vec<String>, EntraError> {
    let resource = set.resource;
    if set.is_default() {
        let all = dir.consented_scopes(user, client, &resource.client_id);
        // A client asking for its own API by `.default` needs no consent.
        if all.is_empty() && resource.client_id != client.client_id {
            return Err(consent_required(client, resource));
        }
        return Ok(all);
    }
    for s in &set.scopes {
        if !dir.consented(user, client, &resource.client_id, s)
            && resource.client_id != client.client_id
        {
            return Err(consent_required(client, resource));
        }
    }
    Ok(set.scopes.clone())
}

/// Permissions the user has not consented to yet, as `resource/scope` lines for the page.
pub(crate) fn missing_consent(
    dir: &Directory,
    app: &App,
    user: &User,
    scopes: &[String],
) -> Result<Vec<(String, String, String)>, EntraError> {
    let set = parse_scopes(dir, &scopes.join(" "), "")?;
    if set.resource.client_id == app.client_id {
        return Ok(Vec::new());
    }
    // `.default` asks for nothing new once the user (or an admin) has granted the client
    // anything on that resource: Entra then shows no consent page, whatever the client
    // registered, and the token carries the granted scopes (Microsoft's "Scopes and
    // permissions" page, the `.default` scope, example 1). With no grant at all, the page
    // lists the resource's scopes (this directory has no per-app registered permissions).
    let wanted: Vec<String> = if set.is_default() {
        if !dir
            .consented_scopes(user, app, &set.resource.client_id)
            .is_empty()
        {
            return Ok(Vec::new());
        }
        set.resource.scopes.clone()
    } else {
        set.scopes.clone()
    };
    Ok(wanted
        .into_iter()
        .filter(|s| !dir.consented(user, app, &set.resource.client_id, s))
        .map(|s| {
            (
                set.resource.client_id.clone(),
                s.clone(),
                format!("{}/{}", set.resource.scope_prefix(), s),
            )
        })
        .collect())
}

/// Records a user's consent for `client_id` to `perms` (`resource/scope`).
pub(crate) fn add_user_consent(
    st: &AppState,
    upn: &str,
    client_id: &str,
    perms: &[String],
) -> Result<(), String> {
    mutate_directory(st, |c| {
        let user = c
            .users
            .iter_mut()
            .find(|u| u.upn.get_ref().eq_ignore_ascii_case(upn))
            .ok_or("no such user")?;
        match user
            .consents
            .iter_mut()
            .find(|x| x.client_id.get_ref().eq_ignore_ascii_case(client_id))
        {
            Some(existing) => {
                let mut scopes = existing.scopes.get_ref().clone();
                scopes.extend(perms.iter().cloned());
                scopes.sort();
                scopes.dedup();
                existing.scopes = toml::Spanned::new(0..0, scopes);
            }
            None => user.consents.push(ConsentConfig {
                client_id: toml::Spanned::new(0..0, client_id.to_string()),
                scopes: toml::Spanned::new(0..0, perms.to_vec()),
            }),
        }
        Ok(())
    })
}
