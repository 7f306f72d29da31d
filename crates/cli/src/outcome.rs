//! From library results to what the user sees: an `entra_identity::Error` as a
//! [`CliError`] with the exit code that says what kind of failure it was (see
//! [`crate::exit`]) and a hint for what to do next.

use entra_identity::Error;

use crate::exit::{
    CliError, FAILURE as EXIT_FAILURE, SIGN_IN as EXIT_SIGN_IN, UNREACHABLE as EXIT_UNREACHABLE,
    USAGE as EXIT_CONFIG,
};

/// The credential that signs users in from the token cache file (`entra login`).
const SIGNED_IN_USER: &str = "SharedTokenCacheCredential";

/// What kind of failure `e` is, as an exit code:
/// - the user must sign in (no account, an expired or revoked refresh token, MFA or
///   consent needed): [`EXIT_SIGN_IN`];
/// - the authority never answered (DNS, connection, TLS, timeout): [`EXIT_UNREACHABLE`];
/// - a setting is wrong or missing (bad `AZURE_TOKEN_CREDENTIALS`, unreadable
///   certificate, several accounts signed in and no `AZURE_USERNAME`): [`EXIT_CONFIG`];
/// - anything else: [`EXIT_FAILURE`].
///
/// For a chain, the credential that stopped it decides; when every credential was
/// unavailable, a sign-in is what would fix it if the signed-in user was among them.
pub(crate) fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Chain(list) => {
            if let Some((_, stopper)) = list
                .iter()
                .rev()
                .find(|(_, e)| !matches!(e, Error::Unavailable { .. }))
            {
                return exit_code(stopper);
            }
            if list
                .iter()
                .any(|(name, e)| name == SIGNED_IN_USER || e.needs_interaction())
            {
                EXIT_SIGN_IN
            } else {
                EXIT_FAILURE
            }
        }
        e if e.needs_interaction() => EXIT_SIGN_IN,
        // Several accounts and none chosen: a setting (AZURE_USERNAME) is missing.
        Error::Unavailable { credential, reason }
            if *credential == SIGNED_IN_USER && reason.contains("AZURE_USERNAME") =>
        {
            EXIT_CONFIG
        }
        Error::Unavailable { credential, .. } if *credential == SIGNED_IN_USER => EXIT_SIGN_IN,
        // A sign-in that timed out or was cancelled is the user's doing, not the network's.
        Error::Transport { context, .. } if !context.ends_with("sign-in") => EXIT_UNREACHABLE,
        Error::ManagedIdentity { source, .. } => match exit_code(source) {
            EXIT_UNREACHABLE => EXIT_UNREACHABLE,
            _ => EXIT_FAILURE,
        },
        Error::Config(_) => EXIT_CONFIG,
        _ => EXIT_FAILURE,
    }
}

/// `e` as the command's error, with a hint for what to do next.
pub(crate) fn fail(e: &Error) -> CliError {
    let code = exit_code(e);
    let error = CliError::new(code, e);
    match code {
        EXIT_SIGN_IN => {
            error.with_hint("sign in with `entra login` (or `entra login --device-code`)")
        }
        EXIT_UNREACHABLE => error.with_hint(
            "check the authority (--authority, ENTRA_AUTHORITY or AZURE_AUTHORITY_HOST), the network, and --ca-file for a private CA",
        ),
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable(credential: &'static str) -> Error {
        Error::Unavailable {
            credential,
            reason: "not set up".into(),
        }
    }

    #[test]
    fn exit_codes_name_the_kind_of_failure() {
        let transport = || Error::Transport {
            context: "token request".into(),
            message: "connection refused".into(),
        };
        assert_eq!(exit_code(&transport()), EXIT_UNREACHABLE);
        assert_eq!(exit_code(&unavailable(SIGNED_IN_USER)), EXIT_SIGN_IN);
        assert_eq!(exit_code(&Error::Config("x".into())), EXIT_CONFIG);
        let several = Error::Unavailable {
            credential: SIGNED_IN_USER,
            reason: "2 accounts are signed in (a, b); set AZURE_USERNAME to choose one".into(),
        };
        assert_eq!(exit_code(&several), EXIT_CONFIG);
        let all_unavailable = Error::Chain(vec![
            (
                "EnvironmentCredential".into(),
                unavailable("EnvironmentCredential"),
            ),
            (SIGNED_IN_USER.into(), unavailable(SIGNED_IN_USER)),
        ]);
        assert_eq!(exit_code(&all_unavailable), EXIT_SIGN_IN);
        let prod_only = Error::Chain(vec![(
            "EnvironmentCredential".into(),
            unavailable("EnvironmentCredential"),
        )]);
        assert_eq!(exit_code(&prod_only), EXIT_FAILURE);
        let stopped = Error::Chain(vec![
            ("EnvironmentCredential".into(), transport()),
            (SIGNED_IN_USER.into(), unavailable(SIGNED_IN_USER)),
        ]);
        assert_eq!(exit_code(&stopped), EXIT_UNREACHABLE);
        let cancelled = Error::Transport {
            context: "device code sign-in".into(),
            message: "cancelled".into(),
        };
        assert_eq!(exit_code(&cancelled), EXIT_FAILURE);
    }
}
