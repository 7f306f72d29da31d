//! The emulated directory: tenants, app registrations, users, groups and managed
//! identities, loaded from TOML (or the embedded default) and checked for consistency.
//!
//! [`DirectoryConfig`] is the editable source (what `--print-config` prints and the admin
//! API changes); [`Directory`] is the checked, indexed form the endpoints read. Every
//! change builds a new `Directory`; readers hold an `Arc` to the one they started with.

mod build;
mod config;
mod model;

pub(crate) use build::{LoadContext, load};
pub use config::{
    AppConfig, CertificateConfig, ConfigError, ConsentConfig, DEFAULT_DIRECTORY_TOML,
    DirectoryConfig, FederatedCredentialConfig, GroupConfig, ManagedIdentityConfig, SecretConfig,
    Settings, TenantConfig, UserConfig,
};
pub(crate) use model::{
    App, CONSUMERS_TENANT_ID, Directory, GRAPH_APP_ID, ManagedIdentity, Tenant, User,
};

#[cfg(test)]
mod tests {
    use super::build::{derived_guid, is_guid};
    use super::*;

    fn ctx(text: &str) -> LoadContext {
        let state = std::env::temp_dir().join(format!("entra-dir-test-{}", uuid::Uuid::new_v4()));
        LoadContext {
            file: "test.toml".into(),
            config_dir: state.clone(),
            state_dir: state,
            text: text.into(),
        }
    }

    fn build(text: &str) -> Result<Directory, ConfigError> {
        let config = DirectoryConfig::parse(text, "test.toml")?;
        Directory::build(&config, &ctx(text))
    }

    #[test]
    fn default_directory_builds_and_resolves() {
        let text = DEFAULT_DIRECTORY_TOML;
        let dir = build(text).unwrap();
        let (api, scope) = dir.resolve_scope("api://contoso-api/Data.Read").unwrap();
        assert_eq!(api.client_id, "a0000000-0000-4000-8000-0000000000a1");
        assert_eq!(scope, "Data.Read");
        let (graph, scope) = dir.resolve_scope("User.Read").unwrap();
        assert!(graph.is_graph());
        assert_eq!(scope, "User.Read");
        let (api, scope) = dir
            .resolve_scope("a0000000-0000-4000-8000-0000000000a1/.default")
            .unwrap();
        assert_eq!(api.name, "Contoso API");
        assert_eq!(scope, ".default");
        assert_eq!(
            dir.tenant("CONTOSO.onmicrosoft.com").unwrap().id,
            "c0ffee00-0000-4000-8000-000000000001"
        );
        let alice = dir.user("Alice@contoso.onmicrosoft.com").unwrap();
        let web = dir.app("e0000000-0000-4000-8000-0000000000e1").unwrap();
        assert!(dir.consented(alice, web, &api.client_id, "Data.Read")); // admin consent
        let bob = dir.user("bob@contoso.onmicrosoft.com").unwrap();
        let public = dir.app("c1000000-0000-4000-8000-0000000000c1").unwrap();
        assert!(!dir.consented(bob, public, &api.client_id, "Data.Read"));
        assert!(dir.managed_identity(None, None, None).unwrap().system);
    }

    #[test]
    fn a_scope_splits_at_its_last_slash_as_entra_does() {
        let text = DEFAULT_DIRECTORY_TOML.to_string()
            + "\n[[apps]]\nclient_id = \"797f4846-ba00-4fd7-ba43-dac1f8f63013\"\nname = \"Windows Azure Service Management API\"\ntenant = \"contoso.onmicrosoft.com\"\nmulti_tenant = true\nidentifier_uris = [\"https://management.core.windows.net/\", \"https://management.azure.com/\"]\naccess_token_accepted_version = 1\nscopes = [\"user_impersonation\"]\n";
        let dir = build(&text).unwrap();
        // What the Azure CLI asks for: the URI's own slash, then `/.default`.
        let (arm, scope) = dir
            .resolve_scope("https://management.core.windows.net//.default")
            .unwrap();
        assert_eq!(arm.name, "Windows Azure Service Management API");
        assert_eq!(scope, ".default");
        let (arm2, scope) = dir
            .resolve_scope("https://management.azure.com/user_impersonation")
            .unwrap();
        assert_eq!(arm2.client_id, arm.client_id);
        assert_eq!(scope, "user_impersonation");
        // The v1 `aud` is the resource as the client wrote it, trailing slash kept.
        let set = crate::request::parse_scopes(
            &dir,
            "https://management.core.windows.net//.default",
            "contoso.onmicrosoft.com",
        )
        .unwrap();
        assert_eq!(set.named, "https://management.core.windows.net/");
        assert_eq!(set.scopes, [".default"]);
        let set = crate::request::parse_scopes(
            &dir,
            "https://management.azure.com/.default openid",
            "contoso.onmicrosoft.com",
        )
        .unwrap();
        assert_eq!(set.named, "https://management.azure.com");
        // Unchanged: App ID URIs without a slash, bare Graph scopes, client ids.
        let set = crate::request::parse_scopes(
            &dir,
            "api://contoso-api/Data.Read",
            "contoso.onmicrosoft.com",
        )
        .unwrap();
        assert_eq!(set.named, "api://contoso-api");
        let set =
            crate::request::parse_scopes(&dir, "User.Read", "contoso.onmicrosoft.com").unwrap();
        assert_eq!(set.named, "https://graph.microsoft.com");
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let text = "[[tenants]]\nid = \"c0ffee00-0000-4000-8000-000000000001\"\ndomain = \"c.example\"\n\n[[apps]]\nclient_id = \"a0000000-0000-4000-8000-0000000000a1\"\ntenant = \"nowhere.example\"\n";
        let err = build(text).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:7: apps[0].tenant:"), "{err}");

        let err = build("[[apps]]\nclient_id = 5\n").unwrap_err().to_string();
        assert!(err.contains("test.toml") && err.contains("line 2"), "{err}");

        let err = build("[[users]]\nupn = \"x@y\"\npassword = \"p\"\ncolour = \"red\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn unknown_permission_is_refused() {
        let text = DEFAULT_DIRECTORY_TOML.replace(
            "api://contoso-api/Data.Read.All\"]\n\n[[apps]]",
            "api://contoso-api/Nope\"]\n\n[[apps]]",
        );
        let err = build(&text).unwrap_err().to_string();
        assert!(err.contains("defines no app role \"Nope\""), "{err}");
    }

    #[test]
    fn debug_output_hides_secrets_and_passwords() {
        let dir = build(DEFAULT_DIRECTORY_TOML).unwrap();
        let shown = format!("{dir:?}");
        for secret in [
            "daemon-dev-secret",
            "web-dev-secret",
            "alice-dev-password",
            "bob-dev-password",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked through Debug");
        }
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn derived_guids_are_guids_and_stable() {
        let a = derived_guid(&["x", "y"]);
        assert!(is_guid(&a));
        assert_eq!(a, derived_guid(&["x", "y"]));
        assert_ne!(a, derived_guid(&["x", "z"]));
    }
}
