//! The exit codes of `entra` and the error every command returns. Commands return
//! `Result<(), CliError>`; `main` prints the error (and its hint) on stderr and exits
//! with its code, once. The codes are part of the interface (scripts test them): they
//! are listed in `entra --help` ([`HELP`]) and never renumbered.

/// The command did what was asked.
pub(crate) const SUCCESS: u8 = 0;
/// A runtime failure: the command ran and the answer was no (for `validate`: the token
/// is invalid; for `call`: a non-2xx answer; for `doctor`: a check failed).
pub(crate) const FAILURE: u8 = 1;
/// A usage or configuration error: bad flags, an unreadable file, a missing setting.
pub(crate) const USAGE: u8 = 2;
/// A sign-in is needed: no account, or the authority wants interaction.
pub(crate) const SIGN_IN: u8 = 3;
/// The authority (for `call`, the API too) cannot be reached: network, DNS, TLS.
pub(crate) const UNREACHABLE: u8 = 4;

/// The exit codes and examples under `entra --help`.
pub(crate) const HELP: &str = "\
EXIT STATUS:
  0  success
  1  failure (the command ran and the answer was no; for `validate`: the token is invalid)
  2  usage or configuration error
  3  sign-in required (no account, or the authority asks for interaction): `entra login`
  4  unreachable: the authority (for `call`, the API too) cannot be reached (network, DNS, TLS)

EXAMPLES:
  entra up                        # a local Entra ID with the development identities
  entra login --device-code
  entra token --resource graph
  entra account list
  entra demo";

/// Why a command did not succeed: the exit code, what to print after `error: ` (nothing
/// when the command's own output already said it, e.g. `validate`'s JSON verdict) and an
/// optional `hint: ` line. Never holds a token or secret: messages are built from
/// library errors, which redact them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CliError {
    /// One of the constants above.
    pub code: u8,
    /// The `error: ` line; empty for none.
    pub message: String,
    /// The `hint: ` line, if any.
    pub hint: Option<String>,
}

impl CliError {
    /// An error with `code` and `message`.
    pub(crate) fn new(code: u8, message: impl std::fmt::Display) -> Self {
        Self {
            code,
            message: message.to_string(),
            hint: None,
        }
    }

    /// A runtime failure ([`FAILURE`]).
    pub(crate) fn failure(message: impl std::fmt::Display) -> Self {
        Self::new(FAILURE, message)
    }

    /// A usage or configuration error ([`USAGE`]).
    pub(crate) fn usage(message: impl std::fmt::Display) -> Self {
        Self::new(USAGE, message)
    }

    /// A sign-in is needed ([`SIGN_IN`]).
    pub(crate) fn sign_in(message: impl std::fmt::Display) -> Self {
        Self::new(SIGN_IN, message)
    }

    /// The network failed ([`UNREACHABLE`]).
    pub(crate) fn unreachable(message: impl std::fmt::Display) -> Self {
        Self::new(UNREACHABLE, message)
    }

    /// Exit with `code`, printing nothing more: the command's output said why.
    pub(crate) fn silent(code: u8) -> Self {
        Self {
            code,
            message: String::new(),
            hint: None,
        }
    }

    /// With a `hint: ` line after the error.
    pub(crate) fn with_hint(mut self, hint: impl std::fmt::Display) -> Self {
        self.hint = Some(hint.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_code_with_its_number() {
        for code in [SUCCESS, FAILURE, USAGE, SIGN_IN, UNREACHABLE] {
            assert!(
                HELP.contains(&format!("\n  {code}  ")),
                "{code} not in HELP"
            );
        }
        assert_eq!((FAILURE, USAGE, SIGN_IN, UNREACHABLE), (1, 2, 3, 4));
        let e = CliError::usage("bad").with_hint("try again");
        assert_eq!((e.code, e.message.as_str()), (USAGE, "bad"));
        assert_eq!(e.hint.as_deref(), Some("try again"));
        assert!(CliError::silent(FAILURE).message.is_empty());
    }
}
