//! `entra login`: sign a user in (browser with PKCE, or a device code) and keep the
//! account and its tokens in the token cache file, where `entra token --credential user`,
//! the default chain and any MSAL app sharing the file find them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use entra_identity::{
    DeviceCodeInfo, InteractiveOptions, PublicClient, RedirectHost, SignIn, TokenRequest,
};

use crate::config::Config;
use crate::exit::CliError;
use crate::term::{self, Paint};
use crate::{credential, outcome};

pub(crate) const AFTER_HELP: &str = "\
By default a browser opens on the sign-in page ($BROWSER, else the platform's opener) and
the sign-in comes back to a one-shot listener on 127.0.0.1 (authorization code with PKCE);
the URL is printed too, in case no browser opens. With --device-code, sign in on any other
device: open the page shown and type the code; a status line shows the wait.

The account and its tokens go to the token cache file (--token-cache, ENTRA_TOKEN_CACHE,
else the local data directory), encrypted. The client is --client-id (default: the Azure
CLI's well-known public client, pre-authorized everywhere) in --tenant (default:
organizations, i.e. the user's own).

EXAMPLES:
  entra login
  entra login --device-code
  entra login --tenant contoso.onmicrosoft.com --scope api://contoso-api/Data.Read
  entra login --authority https://localhost:8443 --ca-file ~/.local/share/entrakit/emulator/ca.pem";

/// The scope a plain `entra login` asks for (with openid, profile and offline_access,
/// which every sign-in adds): reading the user's own profile, consented everywhere.
const DEFAULT_SCOPE: &str = "User.Read";

#[derive(clap::Args, Debug)]
pub(crate) struct LoginArgs {
    /// Sign in with a code typed on another device instead of a local browser.
    #[arg(long)]
    device_code: bool,
    /// A scope to consent to and get a token for (repeat for several; default: User.Read).
    #[arg(long = "scope", short = 's', value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Do not open a browser: only print the sign-in URL.
    #[arg(long, conflicts_with = "device_code")]
    no_browser: bool,
    /// Preselect this user name on the sign-in page.
    #[arg(long, value_name = "USERNAME")]
    login_hint: Option<String>,
    /// How long to wait for the browser sign-in, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    timeout: u64,
}

pub(crate) fn run(args: LoginArgs, config: &Config) -> Result<(), CliError> {
    let Some(path) = credential::cache_path(config) else {
        return Err(CliError::usage(
            "there is no place for the token cache (no HOME or local data directory): pass --token-cache FILE or set ENTRA_TOKEN_CACHE",
        ));
    };
    let options = credential::client_options_with_cache(config).map_err(CliError::failure)?;
    let client = PublicClient::new(&config.tenant.value, &config.client_id.value, options)
        .map_err(|e| outcome::fail(&e))?;
    let scopes: Vec<String> = if args.scopes.is_empty() {
        vec![DEFAULT_SCOPE.to_string()]
    } else {
        args.scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_string)
            .collect()
    };
    let request = TokenRequest::new(scopes);
    let runtime = term::runtime()?;
    let result = runtime.block_on(async {
        if args.device_code {
            device_code(&client, &request).await
        } else {
            browser(&client, &request, &args).await
        }
    });
    match result {
        Ok(sign_in) => {
            let out = Paint::stdout();
            println!(
                "{} {} {}",
                out.green("Signed in as"),
                out.bold(&sign_in.account.username),
                out.dim(&format!(
                    "(tenant {}, client {})",
                    sign_in.account.tenant_id, config.client_id.value
                ))
            );
            eprintln!(
                "{}",
                Paint::stderr().dim(&format!("Account and tokens kept in {}", path.display()))
            );
            Ok(())
        }
        Err(e) => Err(outcome::fail(&e)),
    }
}

/// Ctrl-C, as a future that cancels a sign-in.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The Azure CLI's first-party public client, `entra`'s default client id.
const AZURE_CLI_CLIENT_ID: &str = entra_identity::DEFAULT_PUBLIC_CLIENT_ID;

/// `http://127.0.0.1:PORT` (RFC 8252's choice) for every app but the Azure CLI's: its
/// registration is known to list `http://localhost` (MSAL Python and `az login` send
/// that), and Entra matches a loopback redirect's host exactly.
fn redirect_host(client_id: &str) -> RedirectHost {
    if client_id.eq_ignore_ascii_case(AZURE_CLI_CLIENT_ID) {
        RedirectHost::Localhost
    } else {
        RedirectHost::LoopbackIp
    }
}

async fn browser(
    client: &PublicClient,
    request: &TokenRequest,
    args: &LoginArgs,
) -> Result<SignIn, entra_identity::Error> {
    let open = !args.no_browser;
    let options = InteractiveOptions {
        timeout: Duration::from_secs(args.timeout),
        open_browser: open,
        login_hint: args.login_hint.clone(),
        redirect_host: redirect_host(client.client_id()),
        on_url: Some(Arc::new(move |url: &str| {
            let err = Paint::stderr();
            if open {
                eprintln!("Opening a browser to sign in. If none opens, visit:");
            } else {
                eprintln!("To sign in, visit:");
            }
            eprintln!("  {}", err.bold(url));
        })),
        ..Default::default()
    };
    tokio::select! {
        r = client.sign_in_interactive(request, &options) => r,
        () = interrupted() => Err(cancelled()),
    }
}

fn cancelled() -> entra_identity::Error {
    entra_identity::Error::Transport {
        context: "interactive sign-in".into(),
        message: "cancelled (Ctrl-C)".into(),
    }
}

/// The code being waited for and since when.
type Shown = Arc<Mutex<Option<(DeviceCodeInfo, Instant)>>>;

async fn device_code(
    client: &PublicClient,
    request: &TokenRequest,
) -> Result<SignIn, entra_identity::Error> {
    let shown: Shown = Arc::default();
    let on_code = {
        let shown = shown.clone();
        move |info: &DeviceCodeInfo| {
            let err = Paint::stderr();
            eprintln!("{}", err.bold(&info.message));
            *shown.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((info.clone(), Instant::now()));
        }
    };
    let status = StatusLine::new();
    let outcome = tokio::select! {
        r = client.sign_in_with_device_code(request, &on_code, interrupted()) => r,
        never = status.run(shown) => match never {},
    };
    status.finish();
    outcome
}

/// The live "Waiting for sign-in…" line on stderr: rewritten in place every second on a
/// terminal, a plain line every 10 seconds otherwise (logs, pipes).
struct StatusLine {
    tty: bool,
}

impl StatusLine {
    fn new() -> Self {
        use std::io::IsTerminal;
        Self {
            tty: std::io::stderr().is_terminal(),
        }
    }

    async fn run(&self, shown: Shown) -> std::convert::Infallible {
        let every = if self.tty { 1 } else { 10 };
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some((info, since)) = shown.lock().unwrap_or_else(PoisonError::into_inner).clone()
            else {
                continue;
            };
            let waited = since.elapsed().as_secs();
            if waited == 0 {
                continue;
            }
            let line = status_text(waited, &info.user_code, info.expires_on - now());
            if self.tty {
                eprint!("\r\x1b[K{}", Paint::stderr().dim(&line));
            } else {
                eprintln!("{line}");
            }
        }
    }

    fn finish(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `Waiting for sign-in… 12s (code ABCD-EFGH expires in 14:48)`.
fn status_text(waited: u64, code: &str, left: i64) -> String {
    let left = left.max(0);
    format!(
        "Waiting for sign-in… {waited}s (code {code} expires in {}:{:02})",
        left / 60,
        left % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_is_127_0_0_1_except_for_the_azure_cli_registration() {
        assert_eq!(
            redirect_host("04B07795-8DDB-461A-BBEE-02F9E1BF7B46"),
            RedirectHost::Localhost
        );
        assert_eq!(
            redirect_host("c1000000-0000-4000-8000-0000000000c1"),
            RedirectHost::LoopbackIp
        );
    }

    #[test]
    fn status_line_counts_up_and_down() {
        assert_eq!(
            status_text(12, "ABCD-EFGH", 888),
            "Waiting for sign-in… 12s (code ABCD-EFGH expires in 14:48)"
        );
        assert_eq!(
            status_text(1, "X", -5),
            "Waiting for sign-in… 1s (code X expires in 0:00)"
        );
    }
}
