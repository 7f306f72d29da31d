//! `entra broker`: runs the token broker (entra-broker) from a TOML file until Ctrl-C or
//! SIGTERM; SIGHUP reloads the file without dropping cached tokens.

use std::path::PathBuf;

use crate::emulator::shell_quote;
use crate::exit::CliError;
use crate::term;

pub(crate) const AFTER_HELP: &str = "\
The broker holds the real credentials ([[identity]]) and hands tokens to callers
([[caller]]) over the managed-identity protocols their SDKs already speak:
  App Service   IDENTITY_ENDPOINT=http://ADDR/msi/token IDENTITY_HEADER=<caller secret>
  (legacy)      MSI_ENDPOINT=http://ADDR/msi/token MSI_SECRET=<caller secret>
  IMDS          AZURE_POD_IDENTITY_AUTHORITY_HOST=http://ADDR   (callers known by local uid)
  Cloud Shell   MSI_ENDPOINT=http://ADDR/oauth2/token           (as IMDS)
  native        POST http://ADDR/api/v1/token {\"scopes\":[...]} with Authorization: Bearer <caller secret>
Also /metrics (Prometheus), /healthz, /readyz and, with an admin token, /admin/purge,
/admin/tokens, /admin/reload. Audit lines (JSON, never a token) go to [broker] audit_log.

Signals: SIGHUP reloads the file (identities whose table is unchanged keep their
tokens; a bad file is refused and the running configuration kept); SIGTERM or Ctrl-C
stops gracefully.

EXAMPLES:
  entra broker --config broker.toml
  entra broker --config broker.toml --check
  entra broker --config broker.toml --listen 127.0.0.1:0 --ready-file /tmp/broker.json";

#[derive(clap::Args, Debug)]
pub(crate) struct BrokerArgs {
    /// The configuration file (TOML: [broker], [imds], [redis], [[identity]], [[caller]]).
    #[arg(long, value_name = "FILE", env = "ENTRA_BROKER_CONFIG")]
    config: PathBuf,
    /// Listen here instead of [broker] listen (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Write {identity_endpoint, imds_endpoint, metrics_url, pid} here once listening
    /// (removed on the way out).
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
    /// Check the file (and read every secret and certificate it names), then exit.
    #[arg(long)]
    check: bool,
}

pub(crate) fn run(args: BrokerArgs) -> Result<(), CliError> {
    let config = entra_broker::BrokerConfig::from_file(&args.config).map_err(CliError::usage)?;
    if args.check {
        let (identities, callers) = entra_broker::check(&config).map_err(CliError::usage)?;
        println!(
            "{}: OK ({identities} identities, {callers} callers)",
            args.config.display()
        );
        return Ok(());
    }
    let runtime = term::multi_thread_runtime()?;
    runtime.block_on(async move {
        let options = entra_broker::StartOptions {
            listen: args.listen,
            config_path: Some(args.config.clone()),
            store: None,
        };
        let broker = entra_broker::start(config, options)
            .await
            .map_err(CliError::usage)?;
        eprintln!(
            "entra broker: listening on http://{}\n  App Service: export IDENTITY_ENDPOINT={} IDENTITY_HEADER=<a caller's secret>\n  IMDS:        export AZURE_POD_IDENTITY_AUTHORITY_HOST={}\n  metrics:     {}",
            broker.addr(),
            shell_quote(&broker.identity_endpoint()),
            shell_quote(&broker.imds_endpoint()),
            broker.metrics_url()
        );
        if let Some(path) = &args.ready_file {
            let ready = serde_json::json!({
                "identity_endpoint": broker.identity_endpoint(),
                "imds_endpoint": broker.imds_endpoint(),
                "metrics_url": broker.metrics_url(),
                "pid": std::process::id(),
            });
            if let Err(e) = write_atomic(path, &serde_json::to_vec_pretty(&ready).unwrap_or_default()) {
                broker.shutdown().await;
                return Err(CliError::failure(format!("ready file {}: {e}", path.display())));
            }
        }
        run_until_stopped(&broker).await;
        eprintln!("shutting down");
        broker.shutdown().await;
        if let Some(path) = &args.ready_file {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    })
}

/// Serves until Ctrl-C or SIGTERM; SIGHUP reloads the configuration file.
async fn run_until_stopped(broker: &entra_broker::RunningBroker) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return,
                _ = term.recv() => return,
                _ = hup.recv() => match broker.reload_from_file() {
                    Ok(()) => eprintln!("entra broker: configuration reloaded"),
                    Err(e) => eprintln!("entra broker: reload refused, keeping the running configuration: {e}"),
                },
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = broker;
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The ready file: a new file with a random name beside it (`O_EXCL`, 0600: a name or
/// symlink planted in a shared directory is never opened), renamed into place.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    entra_emulator::write_private(path, bytes)
}
