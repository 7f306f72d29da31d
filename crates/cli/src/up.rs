//! `entra up`: the local development stack in one command: the emulator with the
//! well-known development identities, and the variables that point `entra`, MSAL,
//! azure-identity and managed-identity clients at it. (The token broker joins it once it
//! exists.) Runs until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::emulator::{shell_quote, wait_for_stop_signal};
use crate::{EXIT_CONFIG, EXIT_FAILURE, term};

pub(crate) const AFTER_HELP: &str = "\
Starts the emulator (HTTPS on 127.0.0.1, a local CA in the state directory) with the
development tenant contoso.onmicrosoft.com and its well-known apps and users, then prints
`export` lines for entra, MSAL / azure-identity and managed-identity clients: paste them
into another shell. The token broker (entra-broker) is not part of it yet: it does not
exist so far. Stop with Ctrl-C (or SIGTERM); ready.json is removed on the way out.

Development identities (public: never use them for anything real):
  tenant             contoso.onmicrosoft.com  c0ffee00-0000-4000-8000-000000000001
  users              alice@contoso.onmicrosoft.com / alice-dev-password (also bob, mfa)
  daemon app         d0000000-0000-4000-8000-0000000000d1, secret daemon-dev-secret
  public client      c1000000-0000-4000-8000-0000000000c1, and the Azure CLI's 04b07795-...
  API                api://contoso-api (Data.Read, Data.Write; role Data.Read.All)

EXAMPLES:
  entra up
  entra up --port 0 --state-dir /tmp/entra-dev
  # in another shell, after pasting the exports:
  entra login --device-code
  entra token --scope api://contoso-api/Data.Read --credential user";

const TENANT_ID: &str = "c0ffee00-0000-4000-8000-000000000001";
const DAEMON_ID: &str = "d0000000-0000-4000-8000-0000000000d1";
const PUBLIC_CLIENT_ID: &str = "c1000000-0000-4000-8000-0000000000c1";

#[derive(clap::Args, Debug)]
pub(crate) struct UpArgs {
    /// Port to listen on; 0 picks a free port.
    #[arg(long, default_value_t = 8443, env = "ENTRA_EMULATOR_PORT")]
    port: u16,
    /// State directory: CA, keys, generated certificates, ready.json (default: the same
    /// as `entra emulator`'s).
    #[arg(long, env = "ENTRA_EMULATOR_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Directory file (TOML); the embedded development directory otherwise.
    #[arg(long, value_name = "FILE", env = "ENTRA_EMULATOR_CONFIG")]
    directory: Option<PathBuf>,
}

pub(crate) fn run(args: UpArgs) -> ExitCode {
    let state_dir = args
        .state_dir
        .unwrap_or_else(entra_emulator::default_state_dir);
    let runtime = match crate::term::multi_thread_runtime() {
        Ok(r) => r,
        Err(e) => {
            term::error(e);
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(async move {
        let options = entra_emulator::Options {
            state_dir,
            port: args.port,
            config: args.directory,
            ..Default::default()
        };
        let running = match entra_emulator::Emulator::start(options).await {
            Ok(r) => r,
            Err(e) => {
                term::error(e);
                return ExitCode::from(EXIT_CONFIG);
            }
        };
        print!("{}", exports(&running.ready));
        eprintln!(
            "entra up: emulator on {}; Ctrl-C stops it",
            running.ready.authority
        );
        wait_for_stop_signal().await;
        eprintln!("shutting down");
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// What to export, grouped by the kind of client, as lines a shell can source.
fn exports(ready: &entra_emulator::Ready) -> String {
    let mut out = String::new();
    let mut section = |title: &str, vars: &[(&str, String)]| {
        out.push_str(&format!("# {title}\n"));
        for (k, v) in vars {
            out.push_str(&format!("export {k}={}\n", shell_quote(v)));
        }
        out.push('\n');
    };
    section(
        "entra (token, login, call): this authority and its CA",
        &[
            ("ENTRA_AUTHORITY", ready.authority.clone()),
            ("ENTRA_CA_FILE", ready.ca_file.clone()),
        ],
    );
    let env = ready.environment();
    let pick = |names: &[&str]| -> Vec<(&str, String)> {
        env.iter()
            .filter(|(k, _)| names.contains(k))
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    };
    section(
        "MSAL and azure-identity (Python, Node, .NET): authority and CA; disable instance discovery",
        &pick(&[
            "AZURE_AUTHORITY_HOST",
            "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
        ]),
    );
    section(
        "managed-identity clients (App Service protocol, and IMDS at this base)",
        &pick(&[
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        ]),
    );
    out.push_str(&format!(
        "# a service principal for EnvironmentCredential (optional):\n# export AZURE_TENANT_ID={TENANT_ID} AZURE_CLIENT_ID={DAEMON_ID} AZURE_CLIENT_SECRET=daemon-dev-secret\n# a public client for your own MSAL app: {PUBLIC_CLIENT_ID} (users alice, bob, mfa; passwords <name>-dev-password)\n# admin API: Authorization: Bearer {}\n",
        ready.admin_token
    ));
    out
}
