//! `entra up`: the local development stack in one command: the emulator with the
//! well-known development identities, a token broker wired to the emulator's daemon app,
//! and the variables that point `entra`, MSAL, azure-identity and managed-identity
//! clients at them. Runs until Ctrl-C or SIGTERM.

use std::path::PathBuf;

use crate::dev::{DAEMON, DAEMON_SECRET, PUBLIC_CLIENT, TENANT_ID};
use crate::emulator::{shell_quote, wait_for_stop_signal};
use crate::exit::CliError;

pub(crate) const AFTER_HELP: &str = "\
Starts the emulator (HTTPS on 127.0.0.1, a local CA in the state directory) with the
development tenant contoso.onmicrosoft.com and its well-known apps and users, and the
token broker (plain HTTP on 127.0.0.1, as Azure's managed-identity endpoints are) holding
the daemon app's credentials as identity \"daemon\", for a caller \"dev\" (this user, over
IMDS; or its IDENTITY_HEADER). Then prints `export` lines, one set that entra, the
entrakit libraries, MSAL / azure-identity and managed-identity clients all read (the
authority in AZURE_AUTHORITY_HOST, the CA in SSL_CERT_FILE): paste them into another
shell. ready.json in the state directory has both (the broker under \"broker\"); the
broker's audit log is broker-audit.jsonl there. It also prints a one-time link to the
emulator's dashboard (/dashboard: directory, sign-in and token events, counters, faults,
key rotation), and turns on the sign-in page's development user picker. Stop with
Ctrl-C (or SIGTERM); ready.json is removed on the way out.

It also runs an HTTPS proxy (127.0.0.1:3128; --without-proxy: none) so code that names
Microsoft's real hosts runs unmodified: HTTPS_PROXY sends https://login.microsoftonline.com,
https://api.fabric.microsoft.com, https://management.azure.com, https://graph.microsoft.com,
https://api.powerbi.com and https://<vault>.vault.azure.net to the emulator, with
certificates from a second local CA that can vouch for those names only; every other host
is refused (403) and nothing leaves the machine. SSL_CERT_FILE, REQUESTS_CA_BUNDLE,
CURL_CA_BUNDLE and NODE_EXTRA_CA_CERTS then name one bundle with both CAs
(ca-bundle.pem). SECURITY.md says what trusting it means and how to stop.

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
    /// The broker's port (default 8079; 0 when --port is 0, so tests get free ports).
    #[arg(long, env = "ENTRA_BROKER_PORT")]
    broker_port: Option<u16>,
    /// The HTTPS proxy's port: it serves login.microsoftonline.com,
    /// api.fabric.microsoft.com and the other Microsoft hosts from the emulator, refusing
    /// every other host (default 3128; 0 when --port is 0).
    #[arg(long, env = "ENTRA_PROXY_PORT")]
    proxy_port: Option<u16>,
    /// Do not run the proxy (and do not print HTTPS_PROXY).
    #[arg(long, conflicts_with = "proxy_port")]
    without_proxy: bool,
}

pub(crate) fn run(args: UpArgs) -> Result<(), CliError> {
    let state_dir = args
        .state_dir
        .unwrap_or_else(entra_emulator::default_state_dir);
    let runtime = crate::term::multi_thread_runtime()?;
    runtime.block_on(async move {
        let proxy_port = (!args.without_proxy).then(|| {
            args.proxy_port
                .unwrap_or(if args.port == 0 { 0 } else { 3128 })
        });
        let options = entra_emulator::Options {
            state_dir: state_dir.clone(),
            port: args.port,
            config: args.directory,
            defer_ready_file: true,
            proxy_port,
            // Local development: the sign-in page offers the dev users as one click.
            dev_user_picker: Some(true),
            ..Default::default()
        };
        let mut running = entra_emulator::Emulator::start(options)
            .await
            .map_err(CliError::usage)?;
        let broker_port = args
            .broker_port
            .unwrap_or(if args.port == 0 { 0 } else { 8079 });
        let header = entra_broker::generate_secret();
        let config = broker_config(&running.ready, &state_dir, broker_port, &header);
        let broker = match entra_broker::start(config, Default::default()).await {
            Ok(b) => b,
            Err(e) => {
                running.shutdown().await;
                return Err(CliError::usage(format!("the broker did not start: {e}")));
            }
        };
        running.ready.broker = Some(entra_emulator::BrokerReady {
            identity_endpoint: broker.identity_endpoint(),
            identity_header: header,
            imds_endpoint: broker.imds_endpoint(),
            metrics_url: broker.metrics_url(),
        });
        if let Err(e) = running.write_ready() {
            broker.shutdown().await;
            running.shutdown().await;
            return Err(CliError::failure(e));
        }
        print!("{}", exports(&running.ready));
        let proxy = running
            .ready
            .proxy
            .as_ref()
            .map(|p| format!(", proxy for Microsoft's hosts on {}", p.url))
            .unwrap_or_default();
        eprintln!(
            "entra up: emulator on {}, broker on {}{proxy}; Ctrl-C stops them",
            running.ready.authority,
            broker.imds_endpoint()
        );
        eprintln!(
            "dashboard (this link works once, within 5 minutes; later sign in with ready.json's admin_token): {}",
            running.dashboard_link()
        );
        wait_for_stop_signal().await;
        eprintln!("shutting down");
        broker.shutdown().await;
        running.shutdown().await;
        Ok(())
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
    let env = ready.environment();
    let pick = |names: &[&str]| -> Vec<(&str, String)> {
        env.iter()
            .filter(|(k, _)| names.contains(k))
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    };
    // One set for every client: entra reads AZURE_AUTHORITY_HOST and SSL_CERT_FILE (its
    // ENTRA_AUTHORITY / ENTRA_CA_FILE are aliases), and so do entra-identity's
    // ClientOptions::from_env and entra-validate's; MSAL and azure-identity too.
    section(
        "entra, the entrakit libraries, MSAL and azure-identity (Python, Node, .NET): this authority and its CA; MSAL: disable instance discovery",
        &pick(&[
            "AZURE_AUTHORITY_HOST",
            "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
        ]),
    );
    if ready.proxy.is_some() {
        section(
            "unmodified code with Microsoft's real URLs (https://login.microsoftonline.com, https://api.fabric.microsoft.com, ...): served by the emulator through this proxy, which refuses every other host (nothing leaves this machine); the CA variables above name both local CAs",
            &pick(&[
                "HTTPS_PROXY",
                "https_proxy",
                "NO_PROXY",
                "no_proxy",
                "CURL_CA_BUNDLE",
            ]),
        );
    }
    match &ready.broker {
        Some(b) => section(
            "managed-identity clients, served by the broker as the daemon app (App Service protocol; IMDS at this base)",
            &[
                ("IDENTITY_ENDPOINT", b.identity_endpoint.clone()),
                ("IDENTITY_HEADER", b.identity_header.clone()),
                ("AZURE_POD_IDENTITY_AUTHORITY_HOST", b.imds_endpoint.clone()),
            ],
        ),
        None => section(
            "managed-identity clients (App Service protocol, and IMDS at this base)",
            &pick(&[
                "IDENTITY_ENDPOINT",
                "IDENTITY_HEADER",
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            ]),
        ),
    }
    out.push_str(&format!(
        "# a service principal for EnvironmentCredential (optional):\n# export AZURE_TENANT_ID={TENANT_ID} AZURE_CLIENT_ID={DAEMON} AZURE_CLIENT_SECRET={DAEMON_SECRET}\n# a public client for your own MSAL app: {PUBLIC_CLIENT} (users alice, bob, mfa; passwords <name>-dev-password)\n# admin API: Authorization: Bearer {}\n",
        ready.admin_token
    ));
    out
}

/// The `dev` caller's uid: this process's effective uid (never the state directory's
/// owner, which another user may have chosen).
fn dev_uid() -> Option<u32> {
    #[cfg(unix)]
    {
        Some(entra_emulator::effective_uid())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The development broker: the emulator's daemon app as identity "daemon", and one
/// caller "dev" (this user over IMDS, or its secret) that may have any resource.
fn broker_config(
    ready: &entra_emulator::Ready,
    state_dir: &std::path::Path,
    port: u16,
    header: &str,
) -> entra_broker::BrokerConfig {
    let mut config = entra_broker::BrokerConfig::default();
    config.broker.listen = format!("127.0.0.1:{port}");
    config.broker.audit_log = Some(state_dir.join("broker-audit.jsonl").display().to_string());
    config.identities.push(entra_broker::IdentityConfig {
        tenant: Some(TENANT_ID.into()),
        client_id: Some(DAEMON.into()),
        authority: Some(ready.authority.clone()),
        ca_file: Some(ready.ca_file.clone().into()),
        ..entra_broker::IdentityConfig::new("daemon", entra_broker::IdentityKind::EmulatorDev)
    });
    let uids = dev_uid().into_iter().collect::<Vec<_>>();
    config.callers.push(entra_broker::CallerConfig {
        secret: Some(header.to_string().into()),
        danger_allow_secret_in_config: true,
        uids: uids.clone(),
        identities: vec!["*".into()],
        resources: vec!["*".into()],
        ..entra_broker::CallerConfig::new("dev")
    });
    if uids.is_empty() {
        // No uid lookups on this platform: any local process is the dev caller.
        config.imds.caller = Some("dev".into());
    }
    config
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    fn ready() -> entra_emulator::Ready {
        entra_emulator::Ready {
            authority: "https://localhost:1".into(),
            ca_file: "/nonexistent/ca.pem".into(),
            admin_token: String::new(),
            identity_endpoint: String::new(),
            identity_header: String::new(),
            imds_endpoint: String::new(),
            daemon_certificate: String::new(),
            pid: 0,
            broker: None,
            proxy: None,
        }
    }

    #[test]
    fn exports_with_the_proxy_name_the_bundle_and_the_proxy() {
        let mut r = ready();
        let before = exports(&r);
        assert!(before.contains("export SSL_CERT_FILE=/nonexistent/ca.pem\n"));
        assert!(!before.contains("HTTPS_PROXY"));
        r.proxy = Some(entra_emulator::ProxyReady {
            url: "http://127.0.0.1:3128".into(),
            ca_file: "/nonexistent/intercept-ca.pem".into(),
            ca_bundle: "/nonexistent/ca-bundle.pem".into(),
        });
        let out = exports(&r);
        for line in [
            "export HTTPS_PROXY=http://127.0.0.1:3128\n",
            "export https_proxy=http://127.0.0.1:3128\n",
            "export NO_PROXY=127.0.0.1,localhost,::1\n",
            "export no_proxy=127.0.0.1,localhost,::1\n",
            "export SSL_CERT_FILE=/nonexistent/ca-bundle.pem\n",
            "export REQUESTS_CA_BUNDLE=/nonexistent/ca-bundle.pem\n",
            "export CURL_CA_BUNDLE=/nonexistent/ca-bundle.pem\n",
            "export NODE_EXTRA_CA_CERTS=/nonexistent/ca-bundle.pem\n",
            "export AZURE_AUTHORITY_HOST=https://localhost:1\n",
        ] {
            assert!(out.contains(line), "{line} missing from:\n{out}");
        }
    }

    #[test]
    fn dev_caller_is_effective_uid() {
        let me = entra_emulator::effective_uid();
        // A directory this user does not own: as root, one given to uid 65534; otherwise
        // `/` (root's). The old code made its owner the dev caller.
        let base = std::env::temp_dir().join(format!("entra-up-euid-{}", std::process::id()));
        let dir = if me == 0 {
            std::fs::create_dir_all(&base).unwrap();
            let status = std::process::Command::new("chown")
                .arg("65534")
                .arg(&base)
                .status()
                .unwrap();
            assert!(status.success());
            base.clone()
        } else {
            std::path::PathBuf::from("/")
        };
        assert_ne!(std::fs::metadata(&dir).unwrap().uid(), me);
        let config = broker_config(&ready(), &dir, 0, "header-0123456789abcdef0123456789");
        let dev = config.callers.iter().find(|c| c.name == "dev").unwrap();
        assert_eq!(dev.uids, vec![me]);
        assert!(config.imds.caller.is_none());
        let _ = std::fs::remove_dir_all(&base);
    }
}
