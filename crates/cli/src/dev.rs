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

#[cfg(test)]
mod tests {
    use super::*;

    /// The test kit holds the same identities; the two copies must not drift (the
    /// demo may not depend on the test kit, so it cannot simply use it).
    #[test]
    fn the_same_identities_as_the_test_kit() {
        use entra_testkit::dev as kit;
        assert_eq!(TENANT, kit::TENANT);
        assert_eq!(TENANT_ID, kit::TENANT_ID);
        assert_eq!(FABRIKAM_ID, kit::OTHER_TENANT_ID);
        assert_eq!(DAEMON, kit::DAEMON);
        assert_eq!(DAEMON_SECRET, kit::DAEMON_SECRET);
        assert_eq!(PUBLIC_CLIENT, kit::PUBLIC_CLIENT);
        assert_eq!(API, kit::API);
        assert_eq!(API_URI, kit::API_URI);
        assert_eq!(WEB, kit::WEB);
        assert_eq!(ALICE, (kit::ALICE, kit::ALICE_PASSWORD));
        assert_eq!(BOB, (kit::BOB, kit::BOB_PASSWORD));
        let directory = entra_emulator::DEFAULT_DIRECTORY_TOML;
        assert!(directory.contains(&format!("value = \"{WEB_SECRET}\"")));
    }
}
