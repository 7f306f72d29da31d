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

use crate::exit::CliError;

mod aadsts;
mod account;
mod app_ids;
mod broker;
mod call;
mod completions;
mod config;
mod credential;
mod decode;
mod demo;
mod dev;
mod doctor;
mod emulator;
mod exit;
mod fabric_token;
mod login;
mod outcome;
mod percent;
mod resources;
mod term;
mod token;
mod transport;
mod up;
mod validate;

#[derive(Parser)]
#[command(
    name = "entra",
    version,
    about = "Entra ID (Azure AD) tokens from the command line: get, sign in, validate, decode, call, diagnose; a local emulator and a demo",
    after_help = exit::HELP
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

/// The layered configuration (its warnings printed), or why it cannot be read.
fn load_config(global: &config::GlobalArgs) -> Result<config::Config, CliError> {
    let c =
        config::Config::load(global, &|name| std::env::var(name).ok()).map_err(CliError::usage)?;
    for w in &c.warnings {
        eprintln!("warning: {w}");
    }
    Ok(c)
}

/// Runs the command.
fn run(cli: Cli) -> Result<(), CliError> {
    let global = &cli.global;
    match cli.command {
        Command::Token(args) => token::run(args, &load_config(global)?),
        Command::Login(args) => login::run(args, &load_config(global)?),
        Command::Logout(args) => account::run_logout(args, &load_config(global)?),
        Command::Account(action) => account::run_account(action, &load_config(global)?),
        Command::Up(args) => up::run(args),
        Command::Broker(args) => broker::run(args),
        Command::Emulator(args) => emulator::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Validate(args) => validate::run(args, &load_config(global)?),
        Command::Decode(args) => decode::run(args),
        Command::Call(args) => call::run(args, global),
        Command::Doctor(args) => doctor::run(args, global),
        Command::Completions(args) => completions::run(args, Cli::command()),
    }
}

/// Prints `e` (its `error: ` and `hint: ` lines) and maps it to the process's exit
/// code: the one place a command's failure becomes an exit status.
fn report(e: CliError) -> ExitCode {
    if !e.message.is_empty() {
        term::error(&e.message);
    }
    if let Some(hint) = &e.hint {
        term::hint(hint);
    }
    ExitCode::from(e.code)
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
    match run(cli) {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(e) => report(e),
    }
}
