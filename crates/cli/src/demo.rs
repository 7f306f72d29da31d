//! `entra demo`: the user scenarios end to end against an emulator started in this
//! process (temporary directory, free port, no network, no setup), each step through the
//! real libraries: entra-identity gets the tokens, entra-validate guards an API, and a
//! scripted stand-in browser (the demo's own driver, [`driver`]) signs the user in. A
//! table of step, result and time is printed; `--json` prints the same as data.
//!
//! Nothing on this path panics: the driver and every step return `Result`, and a step
//! that fails is a `FAILED` line (a test reads these files to keep it so).

mod api;
mod broker;
mod context;
mod driver;
mod fabric;
mod tokens;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use entra_identity::{ClientOptions, PublicClient};
use serde_json::{Value, json};

use crate::dev::{PUBLIC_CLIENT, TENANT};
use crate::emulator::wait_for_stop_signal;
use crate::exit::{CliError, FAILURE};
use context::{Ctx, Shared};
use driver::DemoEmulator;

/// Flags of `entra demo`.
#[derive(clap::Args)]
#[command(after_help = "\
Runs, against an emulator started inside this process (nothing to install, no network):
  1. a service principal's token (client credentials)
  2. a browser sign-in with PKCE (the browser is automated)
  3. a device-code sign-in (the code is entered by the automated browser)
  4. a silent refresh, with refresh-token rotation
  5. on-behalf-of: a web API exchanges the user's token for one to a downstream API
  6. managed identity (the App Service protocol)
  7. the token broker: three managed-identity clients share one upstream token through
     it, and a caller asking beyond its policy gets a 403
  8. a protected API validating tokens: 200, the 403 for a missing scope, the 403 for an
     X-Tenant-ID that is not the token's tenant
  9. the classic mistake: an authorization code sent as a bearer token, caught and explained
 10. Microsoft Fabric and Power BI, served locally: a user's workspaces page by page, a
     service principal's (only those it is a member of)
 11. the same mistake against Fabric: its exact 401 InvalidToken for the code, then the
     code redeemed and the call repeated

Exit code: 0 when every step did what it should, 1 otherwise.

Examples:
  entra demo
  entra demo --json | jq '.steps[] | select(.ok | not)'
  entra demo --keep-running   # then point curl, MSAL or azure-identity at it")]
pub(crate) struct DemoArgs {
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// Keep the emulator running after the steps (until Ctrl-C) and print how to reach it.
    #[arg(long)]
    keep_running: bool,
}

/// A step's future: its one-line detail, or why it failed.
type StepFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send>>;
type StepFn = fn(Arc<Ctx>) -> StepFuture;

const STEPS: [(&str, StepFn); 11] = [
    ("Service principal token", |c| {
        Box::pin(tokens::service_principal(c))
    }),
    ("Browser sign-in with PKCE", |c| {
        Box::pin(tokens::browser_sign_in(c))
    }),
    ("Device code sign-in", |c| Box::pin(tokens::device_code(c))),
    ("Silent refresh, rotation", |c| {
        Box::pin(tokens::silent_refresh(c))
    }),
    ("On-behalf-of", |c| Box::pin(tokens::on_behalf_of(c))),
    ("Managed identity", |c| {
        Box::pin(tokens::managed_identity(c))
    }),
    ("Token broker", |c| Box::pin(broker::token_broker(c))),
    ("Protected API", |c| Box::pin(api::protected_api(c))),
    ("Code sent as a bearer", |c| {
        Box::pin(api::code_as_bearer(c))
    }),
    ("Fabric and Power BI", |c| {
        Box::pin(fabric::fabric_and_power_bi(c))
    }),
    ("Code sent to Fabric", |c| {
        Box::pin(fabric::code_sent_to_fabric(c))
    }),
];

pub(crate) fn run(args: DemoArgs) -> Result<(), CliError> {
    let runtime = crate::term::multi_thread_runtime()?;
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let h = DemoEmulator::start()
        .await
        .map_err(|e| CliError::failure(format!("the emulator did not start: {e}")))?;
    let options = ClientOptions::for_emulator(&h.ready().authority, &h.ready().ca_file);
    let public = match PublicClient::new(TENANT, PUBLIC_CLIENT, options) {
        Ok(p) => p,
        Err(e) => {
            h.stop().await;
            return Err(CliError::failure(e));
        }
    };
    let authority = h.ready().authority.clone();
    let ctx = Arc::new(Ctx {
        h,
        shared: Mutex::new(Shared::default()),
        public,
    });
    if !args.json {
        println!(
            "entra demo: the user scenarios against an emulator in this process ({authority}, started in {} ms)\n",
            started.elapsed().as_millis()
        );
        println!(
            "  {:>2}  {:<27} {:<6} {:>8}  detail",
            "#", "step", "result", "time"
        );
    }
    let results = run_steps(&ctx, args.json).await;
    let failed = results.iter().filter(|r| r["ok"] == false).count();
    let total = started.elapsed();
    if args.json {
        println!(
            "{}",
            json!({"authority": authority, "steps": results, "failed": failed, "total_ms": total.as_millis()})
        );
    } else {
        println!(
            "\n{} of {} steps ok in {:.1} s{}",
            STEPS.len() - failed,
            STEPS.len(),
            total.as_secs_f64(),
            if failed == 0 {
                ""
            } else {
                " (see the FAILED lines)"
            }
        );
    }
    // Every step has finished, so this is the last reference.
    let Ok(ctx) = Arc::try_unwrap(ctx) else {
        return Err(CliError::failure("a demo step is still running"));
    };
    if args.keep_running {
        keep_running(&ctx.h).await;
    }
    ctx.h.stop().await;
    if failed == 0 {
        Ok(())
    } else {
        // The table (or JSON) names the failed steps.
        Err(CliError::silent(FAILURE))
    }
}

/// Runs every step in order, printing a table row after each unless `json`; returns one
/// JSON result per step.
async fn run_steps(ctx: &Arc<Ctx>, json: bool) -> Vec<Value> {
    let mut results = Vec::new();
    for (i, (name, step)) in STEPS.iter().enumerate() {
        let t = Instant::now();
        let outcome = step(ctx.clone()).await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if !json {
            let (mark, detail) = match &outcome {
                Ok(d) => ("ok", d.as_str()),
                Err(e) => ("FAILED", e.as_str()),
            };
            println!(
                "  {:>2}  {name:<27} {mark:<6} {:>5.0} ms  {detail}",
                i + 1,
                ms
            );
        }
        results.push(json!({
            "step": i + 1,
            "name": name,
            "ok": outcome.is_ok(),
            "ms": (ms * 10.0).round() / 10.0,
            "detail": match &outcome { Ok(d) => d, Err(e) => e },
        }));
    }
    results
}

/// `--keep-running`: how to reach the emulator, then wait for Ctrl-C.
async fn keep_running(h: &DemoEmulator) {
    eprintln!("\nThe emulator keeps running; point clients at it:");
    for (k, v) in h.ready().environment() {
        eprintln!("  export {k}={}", crate::emulator::shell_quote(&v));
    }
    eprintln!("Ctrl-C stops it (and deletes its temporary directory).");
    wait_for_stop_signal().await;
}

#[cfg(test)]
mod tests {
    /// The demo's production files, each without its `#[cfg(test)]` module.
    fn demo_sources() -> Vec<(&'static str, &'static str)> {
        [
            ("demo.rs", include_str!("demo.rs")),
            ("demo/api.rs", include_str!("demo/api.rs")),
            ("demo/broker.rs", include_str!("demo/broker.rs")),
            ("demo/context.rs", include_str!("demo/context.rs")),
            ("demo/driver.rs", include_str!("demo/driver.rs")),
            ("demo/fabric.rs", include_str!("demo/fabric.rs")),
            ("demo/tokens.rs", include_str!("demo/tokens.rs")),
        ]
        .into_iter()
        .map(|(name, text)| (name, text.split("#[cfg(test)]").next().unwrap_or(text)))
        .collect()
    }

    #[test]
    fn the_demo_path_has_no_panics() {
        let banned = [
            concat!("panic", "!("),
            concat!(".unw", "rap()"),
            concat!(".exp", "ect("),
            concat!("unreach", "able!("),
            concat!("entra_emulator::", "testing"),
            concat!("entra_", "testkit"),
        ];
        for (name, text) in demo_sources() {
            for b in banned {
                assert!(!text.contains(b), "src/{name} contains {b}");
            }
        }
    }
}
