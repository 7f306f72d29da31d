//! App ID URIs (`api://contoso-api`) and the client ids they stand for. A v1 access
//! token's `aud` is the App ID URI it was asked for; a v2 token's is the API's client id.
//! `entra decode --for api://...` accepts either, so it needs the mapping: from the
//! emulator's directory (the file `ENTRA_EMULATOR_CONFIG` names, as `entra emulator` and
//! `entra up` read it, else the built-in development directory), then the well-known
//! Microsoft APIs.

use entra_emulator::{DEFAULT_DIRECTORY_TOML, DirectoryConfig};

use crate::resources;

/// An App ID URI's client id and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppId {
    /// The application (client) id.
    pub client_id: String,
    /// Where the mapping came from, for messages.
    pub source: String,
}

/// Whether `value` is an App ID URI rather than a URL to call (`api://...`, or any
/// scheme but http(s)).
pub(crate) fn looks_like_app_id_uri(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    value.contains("://") && !lower.starts_with("https://") && !lower.starts_with("http://")
}

/// The client id of the app whose App ID URI is `uri` (a trailing `/` and case ignored),
/// reading variables through `var`. `None` when no directory knows it (or the file named
/// cannot be read: decoding goes on without the mapping).
pub(crate) fn client_id_for(uri: &str, var: &dyn Fn(&str) -> Option<String>) -> Option<AppId> {
    let (text, source) = match var("ENTRA_EMULATOR_CONFIG").filter(|p| !p.trim().is_empty()) {
        Some(path) => (std::fs::read_to_string(&path).ok()?, path),
        None => (
            DEFAULT_DIRECTORY_TOML.to_string(),
            "the emulator's development directory".to_string(),
        ),
    };
    let wanted = uri.trim_end_matches('/');
    if let Ok(directory) = DirectoryConfig::parse(&text, &source) {
        let found = directory.apps.iter().find(|app| {
            app.identifier_uris
                .iter()
                .any(|u| u.trim_end_matches('/').eq_ignore_ascii_case(wanted))
        });
        if let Some(app) = found {
            return Some(AppId {
                client_id: app.client_id.get_ref().clone(),
                source,
            });
        }
    }
    // The well-known APIs: their URL audiences and their app ids.
    let known = resources::for_audience(wanted)?;
    let id = known.audiences.iter().find(|a| !a.contains("://"))?;
    Some(AppId {
        client_id: (*id).to_string(),
        source: format!("the well-known {} app", known.name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_id_uris_map_to_client_ids() {
        let none = |_: &str| None;
        let api = client_id_for("api://contoso-api/", &none).unwrap();
        assert_eq!(api.client_id, "a0000000-0000-4000-8000-0000000000a1");
        assert!(api.source.contains("development directory"));
        assert_eq!(
            client_id_for("https://graph.microsoft.com", &none)
                .unwrap()
                .client_id,
            "00000003-0000-0000-c000-000000000000"
        );
        assert_eq!(client_id_for("api://nobody-knows", &none), None);
        // A directory file of the user's own.
        let dir = std::env::temp_dir().join(format!("entra-app-ids-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("directory.toml");
        std::fs::write(
            &file,
            "[[apps]]\nclient_id = \"11111111-0000-4000-8000-000000000001\"\ntenant = \"contoso.onmicrosoft.com\"\nidentifier_uris = [\"api://mine\"]\n",
        )
        .unwrap();
        let path = file.display().to_string();
        let var = move |k: &str| (k == "ENTRA_EMULATOR_CONFIG").then(|| path.clone());
        let mine = client_id_for("api://mine", &var).unwrap();
        assert_eq!(mine.client_id, "11111111-0000-4000-8000-000000000001");
        assert_eq!(mine.source, file.display().to_string());
        assert_eq!(client_id_for("api://contoso-api", &var), None);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(looks_like_app_id_uri("api://x"));
        assert!(!looks_like_app_id_uri(
            "https://graph.microsoft.com/v1.0/me"
        ));
        assert!(!looks_like_app_id_uri("contoso"));
    }
}
