//! `entra`: one command line over entrakit. This file only parses flags, calls the
//! libraries and maps errors to exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod account;
mod config;
mod credential;
mod emulator;
mod login;
mod outcome;
mod term;
mod token;
mod transport;
mod up;
mod validate;

/// Exit code for a usage or configuration error.
pub(crate) const EXIT_CONFIG: u8 = 2;
/// Exit code for a runtime failure.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// Exit code when a sign-in is needed: no account, or the authority wants interaction.
pub(crate) const EXIT_SIGN_IN: u8 = 3;
/// Exit code when the authority cannot be reached (network, DNS, TLS).
pub(crate) const EXIT_UNREACHABLE: u8 = 4;

const EXIT_CODES: &str = "\
EXIT STATUS:
  0  success
  1  failure (the command ran and the answer was no; for `validate`: the token is invalid)
  2  usage or configuration error
  3  sign-in required (no account, or the authority asks for interaction): `entra login`
  4  the authority is unreachable (network, DNS, TLS)

EXAMPLES:
  entra up                        # a local Entra ID with the development identities
  entra login --device-code
  entra token --resource graph
  entra account list";

#[derive(Parser)]
#[command(
    name = "entra",
    version,
    about = "Entra ID (Azure AD) tokens: get them, sign in, check them, and a local emulator",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: config::GlobalArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Print an access token (an app's or a user's), from the token cache while fresh.
    #[command(after_help = token::AFTER_HELP)]
    Token(token::TokenArgs),
    /// Sign a user in (browser with PKCE, or --device-code) and keep the account.
    #[command(after_help = login::AFTER_HELP)]
    Login(login::LoginArgs),
    /// Sign an account out: forget its tokens on this machine.
    #[command(after_help = account::LOGOUT_AFTER_HELP)]
    Logout(account::LogoutArgs),
    /// The accounts signed in with `entra login`.
    #[command(subcommand)]
    Account(account::AccountAction),
    /// Start the local development stack (the emulator) and print what to export.
    #[command(after_help = up::AFTER_HELP)]
    Up(up::UpArgs),
    /// Run the local Entra ID emulator (HTTPS on 127.0.0.1:8443 by default).
    Emulator(emulator::EmulatorArgs),
    /// Check an access token as an API would; print a JSON verdict (exit 0 valid, 1 invalid).
    Validate(validate::ValidateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ENTRA_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = || outcome::load_config(&cli.global);
    match cli.command {
        Command::Token(args) => config().map_or_else(|c| c, |c| token::run(args, &c)),
        Command::Login(args) => config().map_or_else(|c| c, |c| login::run(args, &c)),
        Command::Logout(args) => config().map_or_else(|c| c, |c| account::run_logout(args, &c)),
        Command::Account(action) => {
            config().map_or_else(|c| c, |c| account::run_account(action, &c))
        }
        Command::Up(args) => up::run(args),
        Command::Emulator(args) => emulator::run(args),
        Command::Validate(args) => validate::run(args),
    }
}
