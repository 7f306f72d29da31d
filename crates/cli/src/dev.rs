//! The well-known identities of the emulator's embedded development directory
//! (`default-directory.toml`), as `entra up` prints them and `entra demo` uses them.
//! Public on purpose: never use them for anything real.

/// The Contoso tenant's domain.
pub(crate) const TENANT: &str = "contoso.onmicrosoft.com";
/// The Contoso tenant's id.
pub(crate) const TENANT_ID: &str = "c0ffee00-0000-4000-8000-000000000001";
/// The other tenant (Fabrikam).
pub(crate) const FABRIKAM_ID: &str = "fab00000-0000-4000-8000-000000000002";
/// The daemon (confidential client with a secret and the Data.Read.All role).
pub(crate) const DAEMON: &str = "d0000000-0000-4000-8000-0000000000d1";
/// The daemon's secret.
pub(crate) const DAEMON_SECRET: &str = "daemon-dev-secret";
/// The public client users sign in to.
pub(crate) const PUBLIC_CLIENT: &str = "c1000000-0000-4000-8000-0000000000c1";
/// The API's client id.
pub(crate) const API: &str = "a0000000-0000-4000-8000-0000000000a1";
/// The API's App ID URI.
pub(crate) const API_URI: &str = "api://contoso-api";
/// The web API that calls contoso-api on the user's behalf.
pub(crate) const WEB: &str = "e0000000-0000-4000-8000-0000000000e1";
/// The web API's secret.
pub(crate) const WEB_SECRET: &str = "web-dev-secret";
/// Alice, who consented to the public client, and her password.
pub(crate) const ALICE: (&str, &str) = ("alice@contoso.onmicrosoft.com", "alice-dev-password");
/// Bob and his password.
pub(crate) const BOB: (&str, &str) = ("bob@contoso.onmicrosoft.com", "bob-dev-password");
