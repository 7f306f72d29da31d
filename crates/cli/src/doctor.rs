//! `entra doctor`: checks the setup and explains what is wrong (configuration and where
//! each value came from, environment variables, which credential the default chain picks
//! and why the others do not, authority reachability, CA trust, clock skew, the token
//! cache file); and `entra doctor --error TEXT` explains an AADSTS error or an API's 401.
//! No token and no secret value is ever printed.
//!
//! Each check lives in a file of its own under `doctor/` and returns [`Check`]s (the
//! authority's one request yields three: authority, CA trust, clock); [`run_checks`] runs
//! them in order and [`run`] prints the report.

mod authority;
mod configuration;
mod credential;
mod environment;
mod explain;
mod report;
mod service_errors;
mod token_cache;
mod validation;

use serde_json::json;

use crate::config::{Config, GlobalArgs};
use crate::exit::{CliError, FAILURE};
use crate::term::{Paint, runtime};
use report::{Check, Status};

const EXAMPLES: &str = "\
EXAMPLES:
  entra doctor
  entra doctor --tenant contoso.onmicrosoft.com --json
  entra doctor --error 'AADSTS7000215: Invalid client secret provided.'
  entra doctor --error 50076
  curl -s ... | entra doctor --error -        (an error body on stdin)

Every check prints ok, warn or fail, with one line of advice for what is not ok. Secret
values (client secrets, passwords, identity headers) are shown only as \"set\"; tokens never.
The credential check asks the default chain for a token (--scope), exactly as
`entra token` would, and may store it in the token cache.

Exit status: 0 when no check failed (or the error was explained), 1 otherwise, 2 on a
configuration error.";

#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct DoctorArgs {
    /// Explain an error instead: an AADSTS message, a bare code, an API's 401 text, or
    /// `-` to read an error body (JSON or text) from stdin.
    #[arg(long, value_name = "TEXT|CODE|-")]
    error: Option<String>,
    /// The scope the credential check asks the default chain for.
    #[arg(
        long,
        value_name = "SCOPE",
        default_value = "https://management.azure.com/.default"
    )]
    scope: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: DoctorArgs, global: &GlobalArgs) -> Result<(), CliError> {
    if let Some(error) = &args.error {
        return explain::explain(error, args.json);
    }
    let config = Config::load(global, &|k| std::env::var(k).ok()).map_err(CliError::usage)?;
    let rt = runtime()?;
    let checks = rt.block_on(run_checks(&config, &args.scope));
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warned = checks.iter().filter(|c| c.status == Status::Warn).count();
    if args.json {
        let v = json!({
            "checks": checks.iter().map(Check::to_json).collect::<Vec<_>>(),
            "failed": failed,
            "warnings": warned,
        });
        println!("{v:#}");
    } else {
        let paint = Paint::stdout();
        for c in &checks {
            print!("{}", c.render(paint));
        }
        println!();
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        println!(
            "{} checks: {}, {}",
            checks.len(),
            plural(failed, "failed", "failed"),
            plural(warned, "warning", "warnings")
        );
    }
    if failed == 0 {
        Ok(())
    } else {
        // The report says which checks failed.
        Err(CliError::silent(FAILURE))
    }
}

/// Every check, in the order of the report.
async fn run_checks(config: &Config, scope: &str) -> Vec<Check> {
    let mut checks = vec![configuration::check(config), environment::check()];
    checks.extend(authority::checks(config).await);
    checks.push(credential::check(config, scope).await);
    checks.push(token_cache::check(config));
    checks.push(validation::check(config));
    checks
}
