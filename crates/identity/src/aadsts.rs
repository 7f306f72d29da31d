//! What Entra's AADSTS error codes mean and what to do about them: one table, read by
//! [`EntraErrorResponse::hint`](crate::EntraErrorResponse::hint) (the one-line `hint` of
//! the classic mistakes) and by the `entra` CLI (`entra doctor --error`, the `meaning`
//! and `action` of every code). Meanings follow Microsoft's public error reference; the
//! advice is for the mistakes people actually make.
//!
//! ```
//! let info = entra_identity::aadsts::lookup(7000215).unwrap();
//! assert_eq!(info.error, "invalid_client");
//! assert!(info.hint.unwrap().contains("Value"));
//! ```

/// One AADSTS code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AadstsInfo {
    /// The code (`AADSTS<code>`).
    pub code: u32,
    /// The OAuth `error` Entra sends with it ("" when it varies).
    pub error: &'static str,
    /// What it means.
    pub meaning: &'static str,
    /// What to do about it (a sentence or two, for a person at a terminal).
    pub action: &'static str,
    /// A one-line hint a library error carries, for the classic mistakes only.
    pub hint: Option<&'static str>,
}

macro_rules! opt {
    () => {
        None
    };
    ($hint:literal) => {
        Some($hint)
    };
}

macro_rules! codes {
    ($( $code:literal $error:literal $meaning:literal => $action:literal $(hint $hint:literal)? ;)*) => {
        /// Every code this crate knows, in ascending order.
        pub const CODES: &[AadstsInfo] = &[
            $( AadstsInfo { code: $code, error: $error, meaning: $meaning, action: $action, hint: opt!($($hint)?) }, )*
        ];
    };
}

codes! {
    50011 "invalid_request" "The redirect URI in the request does not match any registered for the app."
        => "Register the exact redirect URI (scheme, host, port, path and trailing slash all count) under the app's Authentication settings, or send one that is registered.";
    50020 "" "The user's account is from an identity provider (another tenant, or a personal Microsoft account) that does not exist in this tenant."
        => "Invite the user as a guest of this tenant, sign in to the user's home tenant instead, or use the organizations/common endpoint with a multi-tenant app.";
    50034 "invalid_grant" "The user account does not exist in this directory."
        => "Check the username (UPN) for a typo and the tenant: the account may live in another tenant (sign in there, or invite it as a guest).";
    50049 "" "Unknown or invalid instance: the authority host is not an Entra instance."
        => "Check the authority host (AZURE_AUTHORITY_HOST, --authority) for a typo; for a private cloud or Azure Stack, turn instance discovery off."
        hint "the authority host is not an Entra instance: check AZURE_AUTHORITY_HOST for a typo; for a private cloud or Azure Stack, opt out with InstanceDiscovery::DangerDisabled";
    50053 "invalid_grant" "The account is locked: too many sign-ins with a wrong password, or from suspicious places."
        => "Wait for the lock to expire, then sign in with the right password; an admin can unlock it and check the sign-in logs.";
    50055 "invalid_grant" "The user's password has expired."
        => "Sign in interactively (`entra login`) to change the password, or have an admin reset it.";
    50057 "invalid_grant" "The user account is disabled."
        => "An admin must enable the account (Users > the user > Account enabled).";
    50058 "interaction_required" "Silent sign-in failed: there is no session (or no session for the hinted user) to sign in silently with."
        => "Sign in interactively (`entra login`); silent requests only work after an interactive sign-in.";
    50059 "invalid_request" "No tenant could be found from the request: the common endpoint was used without a hint of the user's tenant."
        => "Use a tenant-specific authority (--tenant <tenant id or domain>) instead of common.";
    50076 "interaction_required" "Multi-factor authentication is required (a Conditional Access policy, or a sign-in from a new location)."
        => "Use an interactive flow that can do MFA: `entra login` (browser) or `entra login --device-code`. Username/password (ROPC) cannot."
        hint "multi-factor authentication is required: use an interactive flow (auth code or device code)";
    50079 "interaction_required" "The user must register for multi-factor authentication."
        => "Sign in interactively (`entra login`) to register an MFA method, then try again."
        hint "multi-factor authentication is required: use an interactive flow (auth code or device code)";
    50105 "" "The signed-in user is not assigned to a role for this application, and the app requires assignment."
        => "An admin assigns the user (or one of their groups) under Enterprise applications > the app > Users and groups, or turns 'Assignment required' off.";
    50126 "invalid_grant" "Invalid username or password."
        => "Check the password. Federated and MFA accounts cannot use username/password at all: use `entra login`.";
    50128 "invalid_request" "Invalid domain name: no tenant-identifying information was found in the request or the credentials."
        => "Use a tenant-specific authority (the tenant id or a verified domain), and check the domain of the username.";
    50173 "invalid_grant" "The grant was revoked: the password changed, or an admin revoked the user's sessions."
        => "Sign in again (`entra login`); the old refresh tokens no longer work.";
    50194 "" "The application is not configured as multi-tenant, so the common/organizations endpoint cannot be used with it."
        => "Use the app's own tenant as the authority (--tenant <tenant id>), or make the app multi-tenant.";
    53003 "access_denied" "Access was blocked by a Conditional Access policy."
        => "Sign in from a device, network or app the policy allows; an admin can see which policy applied in the sign-in logs (by correlation id).";
    54005 "invalid_grant" "The authorization code was already redeemed."
        => "Codes are single-use: redeem each once (watch for a double submit or a retry), then keep using the refresh token or the cached access token.";
    65001 "invalid_grant" "The user or an administrator has not consented to the application's use of the requested permissions."
        => "Sign in interactively once so the user can consent (`entra login --scope ...`), or have an admin grant consent for the tenant."
        hint "consent is missing: have the user (or an admin) sign in interactively once, or grant admin consent to the app";
    65002 "" "Consent between a first-party (Microsoft) client and a first-party resource must be configured by pre-authorization."
        => "A Microsoft client id (such as the Azure CLI's) cannot be consented to that resource: register your own application and use its client id (--client-id).";
    65004 "access_denied" "The user declined to consent to the application."
        => "Sign in again and accept the consent prompt, or have an admin grant consent for the tenant.";
    70003 "unsupported_grant_type" "The app asked for a grant type it does not support."
        => "Check grant_type; public clients need 'Allow public client flows' for device code and username/password.";
    70008 "invalid_grant" "The authorization code or refresh token has expired or was revoked."
        => "Authorization codes live about 10 minutes: redeem them at once. For a refresh token, sign in again (`entra login`).";
    70011 "invalid_scope" "The scope is not valid: the resource or the permission name is unknown, or resources were mixed."
        => "Check the App ID URI and the permission name (api://<app>/Data.Read); ask for one resource per request; client credentials need <resource>/.default."
        hint "the scope is not valid for this resource: check the App ID URI and the scope name (client credentials need /.default)";
    70016 "authorization_pending" "Device code flow: the user has not finished signing in yet."
        => "Not an error: keep polling at the interval the device code response gave.";
    70018 "bad_verification_code" "Device code flow: the code entered or sent is not valid."
        => "Enter the user code exactly as shown, before it expires; poll with the device_code, not the user code.";
    70019 "expired_token" "Device code flow: the device code expired before the user signed in."
        => "Start again (`entra login --device-code`) and finish the sign-in within 15 minutes.";
    90002 "invalid_request" "The tenant was not found: no tenant with that id or domain exists in this cloud."
        => "Check the tenant id or domain for a typo, and the cloud (authority host): a US Government tenant is not in the public cloud."
        hint "the tenant does not exist: check the tenant id or domain, and the cloud (authority host)";
    90014 "invalid_request" "A required field is missing from the request."
        => "Add the field the description names (for example client_id, grant_type or scope), form-encoded in the body.";
    500011 "invalid_resource" "The resource principal was not found in the tenant: the API (its App ID URI) is unknown there."
        => "Check the scope's prefix (the App ID URI) for a typo; for another organisation's API, its service principal must exist in your tenant (consent to it once)."
        hint "the resource (App ID URI) does not exist in this tenant: check the scope's prefix";
    500113 "" "No reply address is registered for the application."
        => "Add a redirect URI under the app's Authentication settings (http://localhost for `entra login`).";
    501481 "invalid_grant" "The PKCE code_verifier does not match the code_challenge sent with the authorization request."
        => "Send the verifier the challenge was computed from (S256: base64url(SHA-256(verifier))), from the same sign-in.";
    530003 "" "The device must be managed or compliant to access this resource."
        => "Use a device enrolled in the organisation's device management, or ask an admin about the Conditional Access policy.";
    700016 "unauthorized_client" "The application was not found in the directory (tenant)."
        => "Check the client id and the tenant: a single-tenant app exists only in its home tenant; a multi-tenant app needs consent in the other tenant first."
        hint "the app was not found in that tenant: check the tenant id and the client id (and that a multi-tenant app is consented there)";
    700024 "invalid_client" "The client assertion is not within its valid time range."
        => "Check this machine's clock (`entra doctor`), keep assertions short-lived (5-10 minutes), and re-read a rotating federated token file (AZURE_FEDERATED_TOKEN_FILE) on every request."
        hint "the client assertion is outside its validity window: check the clock, and re-read a rotating federated token file";
    700025 "invalid_client" "The client is public, so it must not send a client_secret or client_assertion."
        => "Drop the secret for this app, or turn 'Allow public client flows' off if it is meant to be confidential.";
    700027 "invalid_client" "The client assertion's signature is invalid."
        => "The certificate uploaded to the app registration does not match the private key used to sign: upload the right certificate (check the thumbprint).";
    700051 "unsupported_response_type" "response_type 'token' (implicit flow) is not enabled for the application."
        => "Use the authorization code flow with PKCE, or enable access tokens for the implicit flow in the app's Authentication settings.";
    700054 "invalid_request" "response_type 'id_token' is not enabled for the application."
        => "Use the authorization code flow, or enable ID tokens in the app's Authentication settings.";
    700082 "invalid_grant" "The refresh token expired because it was not used for too long (90 days)."
        => "Sign in again (`entra login`).";
    900144 "invalid_request" "The request body must contain a required parameter."
        => "Add the parameter the description names, form-encoded (application/x-www-form-urlencoded) in the body.";
    1000031 "" "The application cannot be accessed at this time (it is disabled or not yet available in this tenant)."
        => "Contact the tenant's administrator: check the app under Enterprise applications and whether it is enabled for sign-in.";
    1002012 "invalid_scope" "The scope is not valid for client credentials: an app token needs a scope ending in /.default."
        => "Ask for <resource>/.default (for example https://graph.microsoft.com/.default) and grant the app roles it needs; delegated scope names only work with a user."
        hint "client credentials need a scope ending in /.default, such as https://graph.microsoft.com/.default";
    7000112 "unauthorized_client" "The application is disabled."
        => "An admin enables it under Enterprise applications > the app > Properties > Enabled for users to sign in.";
    7000215 "invalid_client" "Invalid client secret provided."
        => "The secret's ID was probably sent instead of its value: copy the Value column (shown once, when the secret is created), or create a new secret."
        hint "the secret's ID was probably sent instead of its value: copy the secret's Value column, shown once when it is created";
    7000218 "invalid_client" "The request needs a client_assertion or client_secret: the app is confidential (or public client flows are off)."
        => "Send the app's secret or certificate; for device code or username/password with this app, turn 'Allow public client flows' on.";
    7000222 "invalid_client" "The client secret has expired."
        => "Create a new secret for the app registration and update wherever it is stored (AZURE_CLIENT_SECRET, a key vault)."
        hint "the client secret has expired: create a new one for the app registration";
    9002313 "invalid_request" "The request is malformed or invalid."
        => "Check the request: form-encoded body, every required parameter once, a well-formed JWT for assertions, parameters in the body rather than the query.";
}

/// The entry for `code`, if the table has it.
pub fn lookup(code: u32) -> Option<&'static AadstsInfo> {
    CODES
        .binary_search_by_key(&code, |e| e.code)
        .ok()
        .map(|i| &CODES[i])
}

/// The AADSTS codes in `text`: `AADSTS50076`, or the whole text a bare number.
pub fn codes_in(text: &str) -> Vec<u32> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return trimmed.parse().into_iter().collect();
    }
    let upper = text.to_ascii_uppercase();
    let mut out = Vec::new();
    for (i, _) in upper.match_indices("AADSTS") {
        let digits: String = upper[i + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(code) = digits.parse::<u32>()
            && !out.contains(&code)
        {
            out.push(code);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_every_hint_has_its_code() {
        assert!(CODES.windows(2).all(|w| w[0].code < w[1].code));
        for code in [
            7000215, 7000222, 65001, 700016, 1002012, 70011, 50076, 50079, 500011, 700024, 90002,
            50049,
        ] {
            assert!(
                lookup(code).and_then(|e| e.hint).is_some(),
                "{code} has no hint"
            );
        }
        assert_eq!(codes_in("AADSTS50076 and aadsts50076"), [50076]);
    }
}
