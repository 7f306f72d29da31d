//! `entra emulator`: run the local Entra ID emulator, print its configuration, mint a
//! federated token with its federation issuer, or approve a device code through the
//! running emulator's admin API ([`approve`]).

mod approve;

use std::path::PathBuf;

use clap::Subcommand;

use crate::exit::CliError;

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

  # Finish a device-code sign-in without a browser (scripts, other languages' tests):
  entra emulator approve-device-code ABCD-EFGH --user alice@contoso.onmicrosoft.com

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
    /// Seconds between announcing a new signing key (POST /admin/keys/rotate publishes it
    /// in the JWKS) and signing with it; default: the directory's
    /// key_rollover_delay_seconds (600).
    #[arg(long, value_name = "SECONDS")]
    key_rollover_delay: Option<u64>,
    /// Serve plain HTTP. MSAL and azure-identity refuse http:// authorities; for curl only.
    #[arg(long)]
    danger_plain_http: bool,
    /// Also run the HTTPS proxy that serves login.microsoftonline.com,
    /// api.fabric.microsoft.com and the other Microsoft hosts from the emulator, on this
    /// port (0: a free one); `entra up` runs it by default.
    #[arg(long, env = "ENTRA_PROXY_PORT")]
    proxy_port: Option<u16>,
    /// Keep the last N requests to the token, device-code, authorize and managed-identity
    /// endpoints, secrets redacted, for `GET /admin/requests` (at most 1000; 0: off).
    #[arg(long, default_value_t = 0, value_name = "N")]
    record_requests: usize,
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
    /// Complete a device-code sign-in without a browser: approve CODE (the one the
    /// device shows) as --user, through the running emulator's admin API (its address and
    /// admin token from ready.json in the state directory).
    #[command(after_help = "\
Examples:
  entra emulator approve-device-code ABCD-EFGH --user alice@contoso.onmicrosoft.com
  entra emulator approve-device-code \"$CODE\" --user bob --state-dir /tmp/emu

Exit status: 0 approved, 1 unknown or expired code, 2 unknown user or no running
emulator, 4 the emulator cannot be reached.")]
    ApproveDeviceCode {
        /// The user code the device shows, e.g. ABCD-EFGH.
        #[arg(value_name = "CODE")]
        code: String,
        /// The user who signs in: a user name of the directory (alice@contoso.onmicrosoft.com),
        /// or the part before @ when one user has it (alice).
        #[arg(long, value_name = "UPN")]
        user: String,
    },
}

pub(crate) fn run(args: EmulatorArgs) -> Result<(), CliError> {
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(entra_emulator::default_state_dir);
    if args.print_config || args.action.is_some() {
        // These read (and may write) keys and certificates there too.
        entra_emulator::ensure_private_dir(&state_dir).map_err(CliError::usage)?;
    }
    match args.action {
        Some(EmulatorAction::MintFederated {
            subject,
            audience,
            issuer,
            lifetime,
            out,
        }) => {
            let issuer = match issuer {
                Some(i) => i,
                None => format!(
                    "{}/federation",
                    running(&state_dir, "pass --issuer")?.authority
                ),
            };
            mint_federated(&state_dir, &issuer, &subject, &audience, lifetime, out)
        }
        Some(EmulatorAction::ApproveDeviceCode { code, user }) => {
            let ready = running(
                &state_dir,
                "start it (`entra emulator` or `entra up`), or pass its --state-dir",
            )?;
            approve::run(&ready, &code, &user)
        }
        None if args.print_config => print_config(&args, &state_dir),
        None => serve(args, state_dir),
    }
}

/// What the emulator running with `state_dir` announced in its ready.json; else an
/// error that ends with `fix`.
fn running(state_dir: &std::path::Path, fix: &str) -> Result<entra_emulator::Ready, CliError> {
    std::fs::read(state_dir.join("ready.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<entra_emulator::Ready>(&b).ok())
        .ok_or_else(|| {
            CliError::usage(format!(
                "no running emulator in {} (ready.json missing); {fix}",
                state_dir.display()
            ))
        })
}

/// `entra emulator mint-federated`: the token to `out` (mode 0600) or stdout.
fn mint_federated(
    state_dir: &std::path::Path,
    issuer: &str,
    subject: &str,
    audience: &str,
    lifetime: i64,
    out: Option<PathBuf>,
) -> Result<(), CliError> {
    let token = entra_emulator::mint_federated(state_dir, issuer, subject, audience, lifetime)
        .map_err(CliError::failure)?;
    match out {
        Some(path) => entra_emulator::write_private(&path, token.as_bytes())
            .map_err(|e| CliError::failure(format!("{}: {e}", path.display()))),
        None => {
            println!("{token}");
            Ok(())
        }
    }
}

/// `entra emulator --print-config`: the effective directory as TOML.
fn print_config(args: &EmulatorArgs, state_dir: &std::path::Path) -> Result<(), CliError> {
    let mut config = entra_emulator::load_directory(args.config.as_deref(), state_dir)
        .map_err(CliError::usage)?;
    if let Some(l) = args.token_lifetime {
        config.settings.token_lifetime_seconds = Some(l);
    }
    print!("{}", config.to_toml());
    Ok(())
}

/// `entra emulator`: serve until Ctrl-C or SIGTERM.
fn serve(args: EmulatorArgs, state_dir: PathBuf) -> Result<(), CliError> {
    let runtime = crate::term::multi_thread_runtime()?;
    runtime.block_on(async move {
        let opts = entra_emulator::Options {
            state_dir,
            bind: args.bind,
            port: args.port,
            config: args.config,
            token_lifetime: args.token_lifetime,
            key_rollover_delay: args.key_rollover_delay,
            danger_plain_http: args.danger_plain_http,
            proxy_port: args.proxy_port,
            record_requests: args.record_requests,
            ..Default::default()
        };
        let running = entra_emulator::Emulator::start(opts)
            .await
            .map_err(CliError::usage)?;
        print_ready(&running.ready);
        println!(
            "\nDashboard (this link works once, within 5 minutes; later sign in with the admin token):\n  {}",
            running.dashboard_link()
        );
        wait_for_stop_signal().await;
        eprintln!("shutting down");
        running.shutdown().await;
        Ok(())
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
        .all(|b| b.is_ascii_alphanumeric() || b"/:._-,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
