//! The emulated directory: tenants, app registrations, users, groups and managed
//! identities, loaded from TOML (or the embedded default) and checked for consistency.
//!
//! [`DirectoryConfig`] is the editable source (what `--print-config` prints and the admin
//! API changes); [`Directory`] is the checked, indexed form the endpoints read. Every
//! change builds a new `Directory`; readers hold an `Arc` to the one they started with.

mod build;
mod config;
mod model;
mod subscriptions;
mod subscriptions_build;
mod vaults;
mod vaults_build;
mod workspaces;
mod workspaces_build;

pub(crate) use build::{LoadContext, is_guid, load};
pub use config::{
    AppConfig, CertificateConfig, ConfigError, ConsentConfig, DEFAULT_DIRECTORY_TOML,
    DirectoryConfig, FederatedCredentialConfig, GroupConfig, ManagedIdentityConfig,
    PreAuthorizedConfig, SecretConfig, Settings, TenantConfig, UserConfig,
};
pub(crate) use model::{
    App, CONSUMERS_TENANT_ID, Directory, GRAPH_APP_ID, ManagedIdentity, Tenant, User,
};
pub(crate) use subscriptions::Subscription;
pub use subscriptions::{RoleAssignmentConfig, SubscriptionConfig};
pub(crate) use vaults::{Vault, parse_cert_pem, valid_secret_name};
pub use vaults::{VaultCertificateConfig, VaultConfig, VaultRoleConfig, VaultSecretConfig};
pub(crate) use workspaces::{ITEM_TYPES, Member, Workspace};
pub use workspaces::{WorkspaceConfig, WorkspaceItemConfig, WorkspaceMemberConfig};

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
        // The default directory has ARM, as every Entra tenant does.
        let dir = build(DEFAULT_DIRECTORY_TOML).unwrap();
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
            "\"api://contoso-api/Data.Read.All\",\n  \"https://analysis",
            "\"api://contoso-api/Nope\",\n  \"https://analysis",
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
    fn workspace_entries_are_checked() {
        let dir = build(DEFAULT_DIRECTORY_TOML).unwrap();
        assert_eq!(dir.workspaces.len(), 7);
        for (from, to, key) in [
            (
                "principal = \"bob@contoso.onmicrosoft.com\"",
                "principal = \"carol@contoso.onmicrosoft.com\"",
                "members[1].principal",
            ),
            ("role = \"Viewer\"", "role = \"Owner\"", "members[0].role"),
            (
                "type = \"Eventhouse\"",
                "type = \"Spreadsheet\"",
                "items[0].type",
            ),
            (
                "fabric_page_size = 3",
                "fabric_page_size = 0",
                "settings.fabric_page_size",
            ),
        ] {
            let text = DEFAULT_DIRECTORY_TOML.replacen(from, to, 1);
            assert_ne!(text, DEFAULT_DIRECTORY_TOML, "{from}");
            let err = build(&text).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn vault_entries_are_checked_and_values_stay_out_of_debug() {
        let dir = build(DEFAULT_DIRECTORY_TOML).unwrap();
        assert_eq!(dir.vaults.len(), 1);
        assert_eq!(dir.vaults[0].name, "contoso-dev");
        let shown = format!("{:?}", dir.vaults[0]);
        assert!(!shown.contains("daemon-dev-secret"), "{shown}");
        let config = DirectoryConfig::parse(DEFAULT_DIRECTORY_TOML, "t.toml").unwrap();
        let shown = format!("{:?}", config.vaults);
        assert!(!shown.contains("daemon-dev-secret"), "{shown}");
        for (from, to, key) in [
            (
                "name = \"contoso-dev\"",
                "name = \"Contoso_Dev\"",
                "vaults[0].name",
            ),
            (
                "role = \"Key Vault Secrets User\" }, # the daemon",
                "role = \"Key Vault Reader\" }, # the daemon",
                "vaults[0].role_assignments[2].role",
            ),
            (
                "{ name = \"daemon-secret\"",
                "{ name = \"daemon secret\"",
                "vaults[0].secrets[0].name",
            ),
            (
                "state_file = \"daemon.pem\"",
                "state_file = \"no-such.pem\"",
                "vaults[0].certificates[0]",
            ),
        ] {
            let text = DEFAULT_DIRECTORY_TOML.replacen(from, to, 1);
            assert_ne!(text, DEFAULT_DIRECTORY_TOML, "{from}");
            let err = build(&text).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn derived_guids_are_guids_and_stable() {
        let a = derived_guid(&["x", "y"]);
        assert!(is_guid(&a));
        assert_eq!(a, derived_guid(&["x", "y"]));
        assert_ne!(a, derived_guid(&["x", "z"]));
    }

    #[test]
    fn the_azure_cli_is_pre_authorized_for_microsofts_apis() {
        let dir = build(DEFAULT_DIRECTORY_TOML).unwrap();
        let cli = dir.app("04b07795-8ddb-461a-bbee-02f9e1bf7b46").unwrap();
        let public = dir.app("c1000000-0000-4000-8000-0000000000c1").unwrap();
        let bob = dir.user("bob@contoso.onmicrosoft.com").unwrap();
        let alice = dir.user("alice@contoso.onmicrosoft.com").unwrap();
        let (arm, _) = dir
            .resolve_scope("https://management.azure.com//.default")
            .unwrap();
        // Bob consented to nothing: the pre-authorization alone lets the CLI in.
        assert!(dir.consented(bob, cli, &arm.client_id, "user_impersonation"));
        assert_eq!(
            dir.consented_scopes(bob, cli, &arm.client_id),
            ["user_impersonation"]
        );
        // Another client is not pre-authorized.
        assert!(!dir.consented(bob, public, &arm.client_id, "user_impersonation"));
        // Fabric's scopes live on Power BI Service; alice consented to them for the
        // public client.
        let (pbi, scope) = dir
            .resolve_scope("https://api.fabric.microsoft.com/Workspace.Read.All")
            .unwrap();
        assert_eq!(pbi.client_id, "00000009-0000-0000-c000-000000000000");
        assert_eq!(scope, "Workspace.Read.All");
        assert!(dir.consented(alice, public, &pbi.client_id, "Item.Read.All"));
        assert!(!dir.consented(bob, public, &pbi.client_id, "Item.Read.All"));
        for id in [
            "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
            "e406a681-f3d4-42a8-90b6-c2b029497af1",
            "022907d3-0f1b-48f7-badc-1ba6abab6d66",
            "499b84ac-1321-427f-aa17-267ca6975798",
        ] {
            assert!(dir.consented(bob, cli, id, "user_impersonation"), "{id}");
        }
    }

    #[test]
    fn a_pre_authorized_scope_must_exist() {
        let text = DEFAULT_DIRECTORY_TOML.replacen(
            "pre_authorized = [{ client_id = \"04b07795-8ddb-461a-bbee-02f9e1bf7b46\", scopes = [\"user_impersonation\"] }]",
            "pre_authorized = [{ client_id = \"04b07795-8ddb-461a-bbee-02f9e1bf7b46\", scopes = [\"nope\"] }]",
            1,
        );
        let err = build(&text).unwrap_err().to_string();
        assert!(err.contains("pre_authorized[0].scopes"), "{err}");
        assert!(err.contains("\"nope\""), "{err}");
    }
}
