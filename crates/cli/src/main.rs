//! `entra`: one command line over entrakit. This file only parses flags, calls the
//! libraries and maps errors to exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod config;
#[expect(
    dead_code,
    reason = "the token, login, call and doctor commands use it next"
)]
mod credential;
mod demo;
mod emulator;
mod validate;

/// Exit code for a usage or configuration error.
pub(crate) const EXIT_CONFIG: u8 = 2;
/// Exit code for a runtime failure.
pub(crate) const EXIT_FAILURE: u8 = 1;

#[derive(Parser)]
#[command(
    name = "entra",
    version,
    about = "Entra ID (Azure AD) tokens: a local emulator, and more to come",
    after_help = "Exit codes: 0 success; 1 failure (for `validate`: the token is invalid); 2 usage or configuration error."
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
    }
}
