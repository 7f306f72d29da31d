//! `entra emulator`: run the local Entra ID emulator, print its configuration, or mint
//! a federated token with its federation issuer.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::{EXIT_CONFIG, EXIT_FAILURE};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  # HTTPS on https://localhost:8443 with the built-in development tenant:
  entra emulator

  # A free port and a throw-away state directory (what tests do); read ready.json:
  entra emulator --port 0 --state-dir /tmp/emu &
  jq -r .authority /tmp/emu/ready.json

  # Your own tenants, apps and users: start from the built-in directory:
  entra emulator --print-config > directory.toml
  entra emulator --config directory.toml --token-lifetime 300

  # A federated (workload identity) token from its OIDC issuer:
  entra emulator mint-federated --subject system:serviceaccount:default:workload --out token.jwt

`entra up` starts it too and prints what to export for entra, MSAL, azure-identity and
managed-identity clients; `entra demo` runs the user scenarios against a private one.")]
pub(crate) struct EmulatorArgs {
    #[command(subcommand)]
    action: Option<EmulatorAction>,
    /// Port to listen on; 0 picks a free port.
    #[arg(long, default_value_t = 8443, env = "ENTRA_EMULATOR_PORT")]
    port: u16,
    /// Address to bind (keep it loopback unless you know why).
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// State directory: CA, keys, generated certificates, ready.json.
    #[arg(long, env = "ENTRA_EMULATOR_STATE_DIR", global = true)]
    state_dir: Option<PathBuf>,
    /// Directory file (TOML); the embedded development directory otherwise.
    #[arg(long, env = "ENTRA_EMULATOR_CONFIG")]
    config: Option<PathBuf>,
    /// Print the effective directory as TOML and exit.
    #[arg(long)]
    print_config: bool,
    /// Fixed access-token lifetime in seconds (default: 60-90 minutes at random, like Entra).
    #[arg(long)]
    token_lifetime: Option<u64>,
    /// Serve plain HTTP. MSAL and azure-identity refuse http:// authorities; for curl only.
    #[arg(long)]
    danger_plain_http: bool,
}

#[derive(Subcommand)]
pub(crate) enum EmulatorAction {
    /// Write a federated (workload identity) token signed by the emulator's federation issuer.
    MintFederated {
        /// The `sub` claim, e.g. system:serviceaccount:NAMESPACE:NAME.
        #[arg(long)]
        subject: String,
        /// The `aud` claim.
        #[arg(long, default_value = "api://AzureADTokenExchange")]
        audience: String,
        /// Issuer URL; default `<authority>/federation` from the running emulator's ready.json.
        #[arg(long)]
        issuer: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        lifetime: i64,
        /// Write the token here (mode 0600); stdout otherwise.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub(crate) fn run(args: EmulatorArgs) -> ExitCode {
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(entra_emulator::default_state_dir);
    if (args.print_config || args.action.is_some())
        && let Err(e) = entra_emulator::ensure_private_dir(&state_dir)
    {
        // These read (and may write) keys and certificates there too.
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    if let Some(EmulatorAction::MintFederated {
        subject,
        audience,
        issuer,
        lifetime,
        out,
    }) = args.action
    {
        let issuer = match issuer {
            Some(i) => i,
            None => match std::fs::read(state_dir.join("ready.json"))
                .ok()
                .and_then(|b| serde_json_ready(&b))
            {
                Some(authority) => format!("{authority}/federation"),
                None => {
                    eprintln!(
                        "error: no running emulator in {} (ready.json missing); pass --issuer",
                        state_dir.display()
                    );
                    return ExitCode::from(EXIT_CONFIG);
                }
            },
        };
        return match entra_emulator::mint_federated(
            &state_dir, &issuer, &subject, &audience, lifetime,
        ) {
            Ok(token) => match out {
                Some(path) => match entra_emulator::write_private(&path, token.as_bytes()) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {}: {e}", path.display());
                        ExitCode::from(EXIT_FAILURE)
                    }
                },
                None => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
            },
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }
    if args.print_config {
        return match entra_emulator::load_directory(args.config.as_deref(), &state_dir) {
            Ok(mut config) => {
                if let Some(l) = args.token_lifetime {
                    config.settings.token_lifetime_seconds = Some(l);
                }
                print!("{}", config.to_toml());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_CONFIG)
            }
        };
    }
    let runtime = match crate::term::multi_thread_runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(async move {
        let opts = entra_emulator::Options {
            state_dir,
            bind: args.bind,
            port: args.port,
            config: args.config,
            token_lifetime: args.token_lifetime,
            danger_plain_http: args.danger_plain_http,
            ..Default::default()
        };
        let running = match entra_emulator::Emulator::start(opts).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
        print_ready(&running.ready);
        wait_for_stop_signal().await;
        eprintln!("shutting down");
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Ctrl-C, or SIGTERM (what process managers and test harnesses send).
pub(crate) async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn serde_json_ready(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<entra_emulator::Ready>(bytes)
        .ok()
        .map(|r| r.authority)
}

fn print_ready(ready: &entra_emulator::Ready) {
    println!("entra emulator listening on {}", ready.authority);
    println!("  tenant        contoso.onmicrosoft.com (c0ffee00-0000-4000-8000-000000000001)");
    println!(
        "  authority     {}/contoso.onmicrosoft.com",
        ready.authority
    );
    println!("  CA file       {}", ready.ca_file);
    println!("  admin token   {}", ready.admin_token);
    println!(
        "  ready file    {}",
        std::path::Path::new(&ready.ca_file)
            .with_file_name("ready.json")
            .display()
    );
    println!();
    println!("Point clients at it:");
    for (k, v) in ready.environment() {
        println!("  export {k}={}", shell_quote(&v));
    }
}

pub(crate) fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/:._-".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
