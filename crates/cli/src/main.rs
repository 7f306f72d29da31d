//! `entra`: one command line over entrakit. This file only parses flags, calls the
//! libraries and maps errors to exit codes.

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

mod aadsts;
mod call;
mod completions;
mod config;
mod credential;
mod decode;
mod demo;
mod doctor;
mod emulator;
mod resources;
mod term;
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
  3  sign-in required (no account, or the authority asks for interaction)
  4  unreachable: the authority (for `call`, the API too) cannot be reached (network, DNS, TLS)";

#[derive(Parser)]
#[command(
    name = "entra",
    version,
    about = "Entra ID (Azure AD) tokens from the command line: validate, decode, call, diagnose; a local emulator and a demo",
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
    match cli.command {
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
