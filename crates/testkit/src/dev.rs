//! The well-known identities of the embedded development directory
//! (`default-directory.toml`), for tests.

/// The Contoso tenant's domain.
pub const TENANT: &str = "contoso.onmicrosoft.com";
/// The Contoso tenant's id.
pub const TENANT_ID: &str = "c0ffee00-0000-4000-8000-000000000001";
/// The daemon (confidential client with a secret and the Data.Read.All role).
pub const DAEMON: &str = "d0000000-0000-4000-8000-0000000000d1";
/// The daemon's secret.
pub const DAEMON_SECRET: &str = "daemon-dev-secret";
/// The public client users sign in to.
pub const PUBLIC_CLIENT: &str = "c1000000-0000-4000-8000-0000000000c1";
/// The API (`api://contoso-api`).
pub const API: &str = "a0000000-0000-4000-8000-0000000000a1";
/// Alice, who consented to the public client.
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
/// Alice's password.
pub const ALICE_PASSWORD: &str = "alice-dev-password";
/// Alice's object id (`oid`).
pub const ALICE_OID: &str = "a11ce000-0000-4000-8000-000000000001";
/// Bob, who has consented to nothing.
pub const BOB: &str = "bob@contoso.onmicrosoft.com";
/// Bob's password.
pub const BOB_PASSWORD: &str = "bob-dev-password";
/// A user who must pass MFA.
pub const MFA_USER: &str = "mfa@contoso.onmicrosoft.com";
/// The MFA user's password.
pub const MFA_PASSWORD: &str = "mfa-dev-password";
/// The Fabrikam tenant's id (a second tenant).
pub const OTHER_TENANT_ID: &str = "fab00000-0000-4000-8000-000000000002";
/// The web app (a confidential client with a redirect URI).
pub const WEB: &str = "e0000000-0000-4000-8000-0000000000e1";
/// The API's App ID URI.
pub const API_URI: &str = "api://contoso-api";
/// The API's `.default` scope.
pub const API_DEFAULT: &str = "api://contoso-api/.default";
/// The API's delegated `Data.Read` scope.
pub const API_READ: &str = "api://contoso-api/Data.Read";
/// The API's delegated `Data.Write` scope.
pub const API_WRITE: &str = "api://contoso-api/Data.Write";
/// The system-assigned managed identity (`contoso-vm`).
pub const SYSTEM_MI: &str = "b0000000-0000-4000-8000-0000000000b1";
/// The user-assigned managed identity (`contoso-uami`).
pub const USER_MI: &str = "b0000000-0000-4000-8000-0000000000b2";
/// The user-assigned managed identity's resource id.
pub const USER_MI_RESOURCE: &str = "/subscriptions/c0ffee00-5b00-4000-a000-000000000001/resourceGroups/dev/providers/Microsoft.ManagedIdentity/userAssignedIdentities/contoso-uami";
/// Contoso's development Azure subscription (alice Owner, bob Reader; the daemon and
/// both managed identities Contributor).
pub const SUBSCRIPTION: &str = "c0ffee00-5b00-4000-a000-000000000001";
/// Fabrikam's development Azure subscription (no role assignments by default).
pub const OTHER_SUBSCRIPTION: &str = "fab00000-5b00-4000-a000-000000000002";
