//! The `credential` check: asks the default chain for a token, exactly as `entra token`
//! would, and reports every credential's outcome.

use std::time::Duration;

use entra_identity::{AccessToken, Error, TokenCredential as _, TokenRequest};

use super::report::{Check, Status, first_sentence};
use crate::aadsts;
use crate::config::Config;
use crate::credential;
use crate::term::relative;

/// Asks the default chain for a token and reports every credential's outcome.
pub(super) async fn check(config: &Config, scope: &str) -> Check {
    let chain = match credential::default_azure_credential(config) {
        Ok(c) => c,
        Err(e) => {
            let advice = if e.starts_with("token cache") {
                "the chain keeps tokens in the cache file: see the token cache check"
            } else {
                "fix AZURE_TOKEN_CREDENTIALS (or unset it)"
            };
            return Check::new("credential", Status::Fail, e).advice(advice);
        }
    };
    let names = chain.names();
    let request = TokenRequest::new([scope]);
    let outcome = tokio::time::timeout(Duration::from_secs(60), chain.get_token(&request)).await;
    let lines = Lines::new(&names);
    match outcome {
        Err(_) => Check::new(
            "credential",
            Status::Fail,
            format!("no answer within 60 s for {scope}"),
        )
        .advice("a credential hangs: run with ENTRA_LOG=debug to see which"),
        Ok(Ok(token)) => picked(&lines, chain.selected().unwrap_or("?"), &token, scope),
        Ok(Err(Error::Chain(failures))) => chain_failed(&lines, &failures, scope),
        Ok(Err(e)) => {
            let mut c = Check::new("credential", Status::Fail, one_line(&e.to_string()));
            if let Some(h) = e.entra().and_then(|x| x.hint()) {
                c = c.advice(h);
            }
            c
        }
    }
}

/// The chain's credential names, for one aligned detail line each.
struct Lines<'a> {
    names: &'a [&'a str],
    width: usize,
}

impl<'a> Lines<'a> {
    fn new(names: &'a [&'a str]) -> Self {
        let width = names.iter().map(|n| n.len()).max().unwrap_or(0) + 2;
        Self { names, width }
    }

    fn line(&self, name: &str, what: &str) -> String {
        format!("{name:<width$}{what}", width = self.width)
    }
}

/// The chain got a token from `picked`: the credentials before it were not set up.
fn picked(lines: &Lines<'_>, picked: &str, token: &AccessToken, scope: &str) -> Check {
    let now = entra_identity::unix_time::now();
    let mut c = Check::new(
        "credential",
        Status::Ok,
        format!(
            "{picked} gives a token for {scope} (expires {})",
            relative(token.expires_on, now)
        ),
    );
    let mut before = true;
    for n in lines.names {
        let what = if *n == picked {
            before = false;
            "picked"
        } else if before {
            "not set up here"
        } else {
            "not tried"
        };
        c = c.detail(lines.line(n, what));
    }
    c
}

/// No credential gave a token: each one's reason, and advice for the one that failed.
fn chain_failed(lines: &Lines<'_>, failures: &[(String, Error)], scope: &str) -> Check {
    let mut c = Check::new(
        "credential",
        Status::Warn,
        format!("no credential of the default chain gives a token for {scope}"),
    );
    let mut hard_failure = None;
    for n in lines.names {
        let what = match failures.iter().find(|(f, _)| f == n) {
            Some((_, Error::Unavailable { reason, .. })) => {
                format!("not set up: {}", one_line(reason))
            }
            Some((_, e)) => {
                hard_failure = Some((n.to_string(), e));
                format!("FAILED: {}", short_error(e))
            }
            None => "not tried (the chain stops at the first credential that fails)".into(),
        };
        c = c.detail(lines.line(n, &what));
    }
    match hard_failure {
        // The credential authenticated; the scope is what Entra refused.
        Some((name, e))
            if e.entra().is_some_and(|x| {
                SCOPE_ERRORS.iter().any(|code| x.has_code(*code))
            }) =>
        {
            c.summary = format!(
                "{name} is set up, but Entra refuses it a token for {scope}"
            );
            c.advice(format!(
                "{}. To check the credential with the scope you use: `entra doctor --scope <scope>`",
                e.entra()
                    .and_then(|x| x.codes.iter().find_map(|code| aadsts::lookup(*code)))
                    .map(|x| x.action.trim_end_matches('.'))
                    .unwrap_or("check the scope")
            ))
        }
        Some((name, e)) => {
            c.status = Status::Fail;
            c.summary = format!("{name} is set up but fails for {scope}");
            let advice = e
                .entra()
                .and_then(|x| x.codes.iter().find_map(|code| aadsts::lookup(*code)))
                .map(|x| x.action.to_string())
                .or_else(|| e.entra().and_then(|x| x.hint()).map(str::to_string))
                .or_else(|| matches!(e, Error::Transport { .. }).then(|| {
                    format!("{name} could not reach its endpoint: see the authority and CA trust checks above")
                }))
                .unwrap_or_else(|| setup_advice(&name));
            c.advice(advice)
        }
        None => c.advice(
            "sign in with `entra login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET for an app",
        ),
    }
}

/// What to do about a credential that is set up but fails, by its name.
fn setup_advice(name: &str) -> String {
    match name {
        "EnvironmentCredential" => "fix the AZURE_* variables named above, or unset them to let the chain go on".into(),
        "WorkloadIdentityCredential" => "check AZURE_FEDERATED_TOKEN_FILE (readable, not expired) and the app's federated credential (issuer, subject, audience)".into(),
        "ManagedIdentityCredential" => "something answers at the managed identity endpoint but refuses: on an Azure host, check an identity is assigned (and AZURE_CLIENT_ID names it); on a developer machine, set AZURE_TOKEN_CREDENTIALS=dev to leave managed identity out".into(),
        "AzureCliCredential" => "run `az login` again (or `az account get-access-token` to see the Azure CLI's own error)".into(),
        "SharedTokenCacheCredential" => "sign in again: `entra login`".into(),
        other => format!("fix {other}'s setup (see the reason above)"),
    }
}

/// Entra codes that refuse the scope, not the credential.
const SCOPE_ERRORS: &[u32] = &[500011, 65001, 70011, 1002012];

/// An error in one line: Entra's error, status and first sentence, without trace ids.
fn short_error(e: &Error) -> String {
    match e.entra() {
        Some(x) => {
            let first = first_sentence(&x.description);
            let sentence = match first.find(". ") {
                Some(i) => &first[..=i],
                None => first.as_str(),
            };
            format!("{} (HTTP {}): {sentence}", x.error, x.status)
        }
        None => one_line(&e.to_string()),
    }
}

/// The first line of a message, without the hint lines under it.
fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}
