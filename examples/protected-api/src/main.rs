//! `protected-api`: serve the example API. Flags (or environment), the validator, the
//! listener; the routes live in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use protected_api::ApiSettings;

/// A small API protected by entra-validate (see README.md).
///
/// Against the local emulator (`entra emulator` prints AZURE_AUTHORITY_HOST and
/// SSL_CERT_FILE to export):
///
///   protected-api --tenant c0ffee00-0000-4000-8000-000000000001 \
///     --audience a0000000-0000-4000-8000-0000000000a1 --audience api://contoso-api
///
/// The first line on stdout is the bound address, e.g. `http://127.0.0.1:8080`.
#[derive(Parser)]
#[command(name = "protected-api", version, verbatim_doc_comment)]
struct Args {
    /// Authority host that issues the tokens.
    #[arg(
        long,
        env = "AZURE_AUTHORITY_HOST",
        default_value = entra_validate::PUBLIC_CLOUD
    )]
    authority: String,
    /// Tenant id (GUID) whose tokens are accepted.
    #[arg(
        long,
        env = "AZURE_TENANT_ID",
        required_unless_present = "danger_disable_auth_for_benchmark"
    )]
    tenant: Option<String>,
    /// Accepted audience: the API's client id and/or App ID URI (repeat the flag; the
    /// environment variable takes a comma-separated list).
    #[arg(
        long = "audience",
        env = "PROTECTED_API_AUDIENCE",
        value_delimiter = ',',
        required_unless_present = "danger_disable_auth_for_benchmark"
    )]
    audiences: Vec<String>,
    /// Extra CA certificate (PEM) to trust when fetching keys, e.g. the emulator's ca.pem.
    #[arg(long, env = "SSL_CERT_FILE")]
    ca_file: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "PROTECTED_API_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// How many validated tokens to remember (0: verify every request's signature).
    #[arg(long, default_value_t = 10_000)]
    token_cache_capacity: usize,
    /// DANGEROUS: serve the routes without any authentication. Only for the load-test
    /// baseline; never in front of real data.
    #[arg(long)]
    danger_disable_auth_for_benchmark: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PROTECTED_API_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let app = if args.danger_disable_auth_for_benchmark {
        tracing::warn!("AUTHENTICATION IS DISABLED (--danger-disable-auth-for-benchmark)");
        protected_api::app_without_auth_for_benchmark()
    } else {
        let settings = ApiSettings {
            authority: args.authority,
            tenant: args.tenant.unwrap_or_default(),
            audiences: args.audiences,
            ca_file: args.ca_file,
        };
        let config = settings
            .validator_config()
            .token_cache_capacity(args.token_cache_capacity)
            .build()
            .context("invalid validator configuration")?;
        let validator = entra_validate::Validator::new(config);
        // Fetch the tenant's keys now so the first request does not wait for them; an
        // outage here is not fatal (requests answer 503 until the keys can be fetched).
        if let Err(e) = validator.warm_up().await {
            tracing::warn!("could not fetch the signing keys yet: {e}");
        }
        protected_api::app(validator)
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The first stdout line, for scripts: the address actually bound.
    println!("http://{addr}");
    tracing::info!("listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal())
        .await
        .context("server failed")
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
