//! `entra`: one command line over entrakit. This file only parses flags, calls the
//! libraries and maps errors to exit codes.

// Doc comments on clap's argument structs are `--help` text: `[broker]` is a TOML table
// and a URL is printed as it is, not rustdoc links. (`allow`, not `expect`: these lints
// exist only under rustdoc, so an expectation would go unfulfilled in every build.)
#![allow(
    rustdoc::broken_intra_doc_links,
    rustdoc::bare_urls,
    rustdoc::invalid_html_tags
)]

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

mod aadsts;
mod account;
mod broker;
mod call;
mod completions;
mod config;
mod credential;
mod decode;
mod demo;
mod doctor;
mod emulator;
mod login;
mod outcome;
mod resources;
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
  4  unreachable: the authority (for `call`, the API too) cannot be reached (network, DNS, TLS)

EXAMPLES:
  entra up                        # a local Entra ID with the development identities
  entra login --device-code
  entra token --resource graph
  entra account list
  entra demo";

#[derive(Parser)]
#[command(
    name = "entra",
    version,
    about = "Entra ID (Azure AD) tokens from the command line: get, sign in, validate, decode, call, diagnose; a local emulator and a demo",
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
    /// Start the local development stack (the emulator and a token broker) and print what to export.
    #[command(after_help = up::AFTER_HELP)]
    Up(up::UpArgs),
    /// Run the token broker: managed-identity endpoints (IMDS, App Service, Cloud Shell) for any app, anywhere.
    #[command(after_help = broker::AFTER_HELP)]
    Broker(broker::BrokerArgs),
    /// Run the local Entra ID emulator (HTTPS on 127.0.0.1:8443 by default).
    Emulator(emulator::EmulatorArgs),
    /// Run the user scenarios end to end against an in-process emulator (no setup, no network).
    Demo(demo::DemoArgs),
    /// Check an access token as an API would; print a JSON verdict (exit 0 valid, 1 invalid).
    Validate(validate::ValidateArgs),
    /// Show what a token says (header, claims, times) and what is wrong with it.
    Decode(decode::DecodeArgs),
    /// Call an API with a token attached, curl style (a claims challenge gets one retry).
    Call(call::CallArgs),
    /// Check the setup (credentials, authority, CA, clock, cache) or explain an error.
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
}

/// The layered configuration, or the exit code after reporting why it cannot be read.
fn load_config(global: &config::GlobalArgs) -> Result<config::Config, ExitCode> {
    match config::Config::load(global, &|name| std::env::var(name).ok()) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("warning: {w}");
            }
            Ok(c)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(EXIT_CONFIG))
        }
    }
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
    let config = || load_config(&cli.global);
    match cli.command {
        Command::Token(args) => config().map_or_else(|c| c, |c| token::run(args, &c)),
        Command::Login(args) => config().map_or_else(|c| c, |c| login::run(args, &c)),
        Command::Logout(args) => config().map_or_else(|c| c, |c| account::run_logout(args, &c)),
        Command::Account(action) => {
            config().map_or_else(|c| c, |c| account::run_account(action, &c))
        }
        Command::Up(args) => up::run(args),
        Command::Broker(args) => broker::run(args),
        Command::Emulator(args) => emulator::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Validate(args) => match load_config(&cli.global) {
            Ok(config) => validate::run(args, &config),
            Err(code) => code,
        },
        Command::Decode(args) => decode::run(args),
        Command::Call(args) => call::run(args, &cli.global),
        Command::Doctor(args) => doctor::run(args, &cli.global),
        Command::Completions(args) => completions::run(args, Cli::command()),
    }
}
