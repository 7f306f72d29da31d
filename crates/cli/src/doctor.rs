//! `entra doctor`: checks the setup and explains what is wrong (configuration and where
//! each value came from, environment variables, which credential the default chain picks
//! and why the others do not, authority reachability, CA trust, clock skew, the token
//! cache file); and `entra doctor --error TEXT` explains an AADSTS error or an API's 401.
//! No token and no secret value is ever printed.

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use entra_identity::http::{HttpClient as _, ReqwestClient};
use entra_identity::{EntraErrorResponse, Error, TokenCredential as _, TokenRequest};
use serde_json::{Value, json};

use crate::aadsts;
use crate::config::{Config, GlobalArgs, Setting};
use crate::credential;
use crate::term::{Paint, relative, runtime};
use crate::{EXIT_CONFIG, EXIT_FAILURE};

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

pub(crate) fn run(args: DoctorArgs, global: &GlobalArgs) -> ExitCode {
    if let Some(error) = &args.error {
        return explain(error, args.json);
    }
    let config = match Config::load(global, &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let checks = rt.block_on(run_checks(&config, &args.scope));
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warned = checks.iter().filter(|c| c.status == Status::Warn).count();
    if args.json {
        let v = json!({
            "checks": checks.iter().map(Check::to_json).collect::<Vec<_>>(),
            "failed": failed,
            "warnings": warned,
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("JSON"));
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
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}

// --- checks ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

#[derive(Debug)]
struct Check {
    name: &'static str,
    status: Status,
    summary: String,
    details: Vec<String>,
    advice: Option<String>,
}

impl Check {
    fn new(name: &'static str, status: Status, summary: impl Into<String>) -> Self {
        Self {
            name,
            status,
            summary: summary.into(),
            details: Vec::new(),
            advice: None,
        }
    }

    fn detail(mut self, d: impl Into<String>) -> Self {
        self.details.push(d.into());
        self
    }

    fn advice(mut self, a: impl Into<String>) -> Self {
        self.advice = Some(a.into());
        self
    }

    fn render(&self, paint: Paint) -> String {
        let label = format!("{:<5}", self.status.label());
        let label = match self.status {
            Status::Ok => paint.green(&label),
            Status::Warn => paint.yellow(&label),
            Status::Fail => paint.red(&label),
            Status::Skip => paint.dim(&label),
        };
        let mut out = format!("{label} {:<14}{}\n", self.name, self.summary);
        for d in &self.details {
            out.push_str(&format!("{:20}{d}\n", ""));
        }
        if let Some(a) = &self.advice {
            out.push_str(&format!("{:20}{} {a}\n", "", paint.bold("->")));
        }
        out
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "status": self.status.label(),
            "summary": self.summary,
            "details": self.details,
            "advice": self.advice,
        })
    }
}

async fn run_checks(config: &Config, scope: &str) -> Vec<Check> {
    let mut checks = vec![configuration(config), environment()];
    checks.extend(authority(config).await);
    checks.push(credential_chain(config, scope).await);
    checks.push(token_cache(config));
    checks.push(validation(config));
    checks
}

/// How this machine checks token signatures (`entra validate`, entra-validate): the RSA
/// implementation in use and what decided it (the CPU, `ENTRA_RSA_BACKEND`, or the
/// `[validate] rsa_backend` setting, whose value and layer are the detail line).
fn validation(config: &Config) -> Check {
    let setting = &config.rsa_backend;
    Check::new(
        "validation",
        Status::Ok,
        entra_jose::RsaBackend::describe_for(setting.value),
    )
    .detail(format!(
        "rsa_backend = \"{}\" ({})",
        setting.value.name(),
        setting.source
    ))
}

fn setting(name: &str, s: &Setting<String>) -> String {
    format!("{name:<11}{} ({})", s.value, s.source)
}

fn configuration(config: &Config) -> Check {
    let file = match &config.file {
        Some(f) => format!("configuration file {}", f.display()),
        None => "no entra.toml: built-in defaults, environment and flags".to_string(),
    };
    let status = if config.warnings.is_empty() {
        Status::Ok
    } else {
        Status::Warn
    };
    let mut c = Check::new("configuration", status, file)
        .detail(setting("authority", &config.authority))
        .detail(setting("tenant", &config.tenant))
        .detail(setting("client id", &config.client_id));
    if let Some(ca) = &config.ca_file {
        c = c.detail(format!(
            "{:<11}{} ({})",
            "CA file",
            ca.value.display(),
            ca.source
        ));
    }
    for w in &config.warnings {
        c = c.detail(format!("warning: {w}"));
    }
    if status == Status::Warn {
        c = c.advice("fix or remove the keys named above (they are ignored)");
    }
    c
}

/// Variables whose value is a secret: shown as "set" only.
fn is_secret(name: &str) -> bool {
    name.contains("SECRET") || name.contains("PASSWORD") || name.ends_with("_HEADER")
}

fn is_relevant(name: &str) -> bool {
    ["AZURE_", "ENTRA_", "IDENTITY_", "MSI_", "MSAL_"]
        .iter()
        .any(|p| name.starts_with(p))
        || [
            "IMDS_ENDPOINT",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
        ]
        .contains(&name)
}

fn environment() -> Check {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| is_relevant(k) && k != "ENTRA_LOG")
        .collect();
    vars.sort();
    let get = |n: &str| {
        vars.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let mut problems = Vec::new();
    if get("AZURE_CLIENT_SECRET").is_some() || get("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
        for needed in ["AZURE_CLIENT_ID", "AZURE_TENANT_ID"] {
            if get(needed).is_none() {
                problems.push(format!(
                    "a client secret or certificate is set but {needed} is not: EnvironmentCredential needs it"
                ));
            }
        }
    }
    for file_var in [
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "ENTRA_CA_FILE",
    ] {
        if let Some(p) = get(file_var)
            && !Path::new(p).exists()
        {
            problems.push(format!("{file_var} names {p}, which does not exist"));
        }
    }
    let summary = match vars.len() {
        0 => "no AZURE_*, ENTRA_*, IDENTITY_*, MSI_* or CA variables set".to_string(),
        1 => "1 variable set".to_string(),
        n => format!("{n} variables set"),
    };
    let status = if problems.is_empty() {
        Status::Ok
    } else {
        Status::Warn
    };
    let mut c = Check::new("environment", status, summary);
    for (k, v) in &vars {
        c = c.detail(if is_secret(k) {
            format!("{k} (set)")
        } else {
            format!("{k}={v}")
        });
    }
    for p in &problems {
        c = c.detail(format!("warning: {p}"));
    }
    if !problems.is_empty() {
        c = c.advice("set the missing variables, or unset the partial ones");
    }
    c
}

/// Reachability, CA trust and clock skew, from one GET of the OIDC discovery document.
async fn authority(config: &Config) -> Vec<Check> {
    let base = config.authority.value.trim_end_matches('/');
    let url = format!(
        "{base}/{}/v2.0/.well-known/openid-configuration",
        config.tenant.value
    );
    let ca = config.ca_file.as_ref();
    let ca_text = match ca {
        Some(s) => format!("the system roots and {} ({})", s.value.display(), s.source),
        None => match std::env::var("SSL_CERT_FILE") {
            Ok(f) if !f.is_empty() => format!("the system roots (SSL_CERT_FILE={f})"),
            _ => "the system roots".to_string(),
        },
    };
    let client = match ReqwestClient::new(ca.map(|s| s.value.as_path())) {
        Ok(c) => c,
        Err(e) => {
            return vec![
                Check::new("authority", Status::Skip, "not checked: no usable CA file"),
                Check::new("CA trust", Status::Fail, e.to_string()).advice(
                    "point --ca-file / ENTRA_CA_FILE / ca_file at a readable PEM certificate (the emulator's is ca.pem in its state directory)",
                ),
                Check::new("clock", Status::Skip, "not checked: the authority was not reached"),
            ];
        }
    };
    let request = match entra_identity::http::get(&url, &[]) {
        Ok(r) => r,
        Err(e) => {
            return vec![
                Check::new("authority", Status::Fail, e.to_string())
                    .advice("check --authority / AZURE_AUTHORITY_HOST and --tenant"),
            ];
        }
    };
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(30), client.send(request)).await;
    let elapsed = started.elapsed().as_millis();
    let response = match answer {
        Err(_) => Err("no answer within 30 s".to_string()),
        Ok(r) => r,
    };
    match response {
        Err(message) => {
            let lower = message.to_ascii_lowercase();
            let tls = ["certificate", "tls", "handshake", "unknownissuer"]
                .iter()
                .any(|n| lower.contains(n));
            if tls {
                vec![
                    Check::new(
                        "authority",
                        Status::Ok,
                        format!("{base} is reachable (its TLS certificate is not trusted: see CA trust)"),
                    ),
                    Check::new("CA trust", Status::Fail, format!("TLS failed: {message}"))
                        .detail(format!("trusted: {ca_text}"))
                        .advice(match ca {
                            Some(s) => format!(
                                "{} ({}) did not sign {base}'s certificate: point it at the CA that did (for the emulator, ca.pem in the state directory of the running emulator)",
                                s.value.display(),
                                s.source
                            ),
                            None => format!(
                                "{base}'s certificate is not signed by a CA this machine trusts: pass --ca-file (or set ENTRA_CA_FILE / SSL_CERT_FILE) to the CA's PEM file; behind a TLS-inspecting proxy, that is the proxy's CA"
                            ),
                        }),
                    Check::new("clock", Status::Skip, "not checked: no TLS connection"),
                ]
            } else {
                vec![
                    Check::new("authority", Status::Fail, format!("{base} is unreachable: {message}"))
                        .detail(url)
                        .advice(format!(
                            "check the authority host ({}, from {}), the network, DNS and any proxy (HTTPS_PROXY / NO_PROXY); for the emulator, is `entra emulator` running?",
                            config.authority.value, config.authority.source
                        )),
                    Check::new("CA trust", Status::Skip, "not checked: the authority was not reached"),
                    Check::new("clock", Status::Skip, "not checked: the authority was not reached"),
                ]
            }
        }
        Ok(resp) => {
            let status = resp.status().as_u16();
            let mut checks = Vec::new();
            if status == 200 {
                checks.push(
                    Check::new(
                        "authority",
                        Status::Ok,
                        format!("discovery answered 200 in {elapsed} ms"),
                    )
                    .detail(url.clone()),
                );
            } else {
                let mut c = Check::new(
                    "authority",
                    Status::Fail,
                    format!("discovery answered HTTP {status} in {elapsed} ms"),
                )
                .detail(url.clone());
                match EntraErrorResponse::parse(status, resp.body()) {
                    Some(e) => {
                        c = c.detail(first_sentence(&e.description));
                        let advice = e
                            .codes
                            .iter()
                            .find_map(|code| aadsts::lookup(*code))
                            .map(|x| x.action.to_string())
                            .unwrap_or_else(|| {
                                "check the tenant (--tenant) and the authority host".into()
                            });
                        c = c.advice(advice);
                    }
                    None => {
                        c = c.advice(format!(
                            "{base} does not look like an Entra authority: check --authority / AZURE_AUTHORITY_HOST"
                        ));
                    }
                }
                checks.push(c);
            }
            checks.push(Check::new(
                "CA trust",
                Status::Ok,
                format!("TLS verified with {ca_text}"),
            ));
            checks.push(clock(resp.headers()));
            checks
        }
    }
}

fn first_sentence(description: &str) -> String {
    description
        .split(" Trace ID:")
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

fn clock(headers: &http::HeaderMap) -> Check {
    let Some(date) = headers.get("date").and_then(|d| d.to_str().ok()) else {
        return Check::new("clock", Status::Skip, "the authority sent no Date header");
    };
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let Ok(server) = time::PrimitiveDateTime::parse(date, &format) else {
        return Check::new(
            "clock",
            Status::Skip,
            format!("unreadable Date header {date:?}"),
        );
    };
    let skew = entra_identity::unix_time::now() - server.assume_utc().unix_timestamp();
    let ahead = if skew >= 0 { "ahead of" } else { "behind" };
    let text = format!(
        "{} s {ahead} the authority's clock (its Date header)",
        skew.abs()
    );
    match skew.abs() {
        0..=60 => Check::new("clock", Status::Ok, text),
        61..=300 => Check::new("clock", Status::Warn, text)
            .advice("sync the clock (NTP): past 5 minutes, tokens look not yet valid or expired"),
        _ => Check::new("clock", Status::Fail, text).advice(
            "sync the clock (NTP, `timedatectl set-ntp true`): APIs refuse tokens whose times are off by more than 5 minutes, and client assertions fail with AADSTS700024",
        ),
    }
}

/// Asks the default chain for a token and reports every credential's outcome.
async fn credential_chain(config: &Config, scope: &str) -> Check {
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
    let name_width = names.iter().map(|n| n.len()).max().unwrap_or(0) + 2;
    let line = |name: &str, what: &str| format!("{name:<name_width$}{what}");
    match outcome {
        Err(_) => Check::new(
            "credential",
            Status::Fail,
            format!("no answer within 60 s for {scope}"),
        )
        .advice("a credential hangs: run with ENTRA_LOG=debug to see which"),
        Ok(Ok(token)) => {
            let picked = chain.selected().unwrap_or("?");
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
            for n in &names {
                let what = if *n == picked {
                    before = false;
                    "picked"
                } else if before {
                    "not set up here"
                } else {
                    "not tried"
                };
                c = c.detail(line(n, what));
            }
            c
        }
        Ok(Err(Error::Chain(failures))) => {
            let mut c = Check::new(
                "credential",
                Status::Warn,
                format!("no credential of the default chain gives a token for {scope}"),
            );
            let mut hard_failure = None;
            for n in &names {
                let what = match failures.iter().find(|(f, _)| f == n) {
                    Some((_, e @ Error::Unavailable { reason, .. })) => {
                        let _ = e;
                        format!("not set up: {}", one_line(reason))
                    }
                    Some((_, e)) => {
                        hard_failure = Some((n.to_string(), e));
                        format!("FAILED: {}", short_error(e))
                    }
                    None => "not tried (the chain stops at the first credential that fails)".into(),
                };
                c = c.detail(line(n, &what));
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
        Ok(Err(e)) => {
            let mut c = Check::new("credential", Status::Fail, one_line(&e.to_string()));
            if let Some(h) = e.entra().and_then(|x| x.hint()) {
                c = c.advice(h);
            }
            c
        }
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

fn token_cache(config: &Config) -> Check {
    use entra_identity::persist::{CacheFile, CacheKeySource as _, DefaultKey, Protection};
    let Some(path) = credential::cache_path(config) else {
        return Check::new("token cache", Status::Warn, "no place for a cache file")
            .advice("set --token-cache or ENTRA_TOKEN_CACHE (no local data directory here)");
    };
    let source = config
        .token_cache
        .as_ref()
        .map(|s| s.source.to_string())
        .unwrap_or_else(|| "default location".into());
    let shown = format!("{} ({source})", path.display());
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Check::new(
                "token cache",
                Status::Ok,
                format!("{shown} does not exist yet (`entra login` creates it)"),
            );
        }
        Err(e) => {
            return Check::new("token cache", Status::Fail, format!("{shown}: {e}"))
                .advice("make the file readable by this user, or point --token-cache elsewhere");
        }
    };
    let encrypted = entra_identity::persist::is_sealed(&bytes);
    let protection = if encrypted {
        Protection::Encrypted
    } else {
        Protection::DangerPlaintextForMsalInterop
    };
    let mut c = Check::new("token cache", Status::Ok, shown);
    let mut fail = None;
    let mut warn = None;
    match CacheFile::new(&path, protection).load() {
        Ok(data) => {
            c = c.detail(format!(
                "parses: {} account(s), {} access token(s), {} refresh token(s)",
                data.accounts.len(),
                data.access_tokens.len(),
                data.refresh_tokens.len()
            ))
        }
        Err(e) => {
            c = c.detail(format!("unreadable: {e}"));
            fail = Some("restore the key or delete the cache file (and sign in again)".to_string());
        }
    }
    if encrypted {
        c = c.detail(format!(
            "encrypted (AES-256-GCM), key: {}",
            DefaultKey::for_cache(&path).describe()
        ));
    } else {
        c = c.detail("plaintext MSAL JSON: anyone who can read the file can use its tokens");
        warn = Some("keep it only if MSAL shares it; otherwise delete it and let entra write an encrypted one".to_string());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        if let Ok(meta) = std::fs::metadata(&path) {
            let mode = meta.permissions().mode() & 0o777;
            c = c.detail(format!("mode {mode:04o}, owner uid {}", meta.uid()));
            if mode & 0o077 != 0 {
                let a = format!("chmod 600 {}", path.display());
                if encrypted {
                    warn.get_or_insert(a);
                } else {
                    fail.get_or_insert(a);
                }
            }
            // /proc/self is owned by this process's user (Linux).
            if let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid())
                && me != meta.uid()
            {
                c = c.detail(format!(
                    "owned by uid {}, not by this user (uid {me})",
                    meta.uid()
                ));
                fail.get_or_insert(
                    "another user owns the cache: use your own (--token-cache), or chown it"
                        .to_string(),
                );
            }
        }
    }
    if let Some(a) = fail {
        c.status = Status::Fail;
        c.advice(a)
    } else if let Some(a) = warn {
        c.status = Status::Warn;
        c.advice(a)
    } else {
        c
    }
}

// --- --error --------------------------------------------------------------------------

fn explain(arg: &str, as_json: bool) -> ExitCode {
    let text = if arg == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("error: cannot read stdin: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
        s
    } else {
        arg.to_string()
    };
    if text.trim().is_empty() {
        eprintln!("error: nothing to explain (pass the error text, a code, or `-` for stdin)");
        return ExitCode::from(EXIT_CONFIG);
    }
    let entra = EntraErrorResponse::parse(0, text.trim().as_bytes());
    let mut codes = entra.as_ref().map(|e| e.codes.clone()).unwrap_or_default();
    for c in aadsts::codes_in(&text) {
        if !codes.contains(&c) {
            codes.push(c);
        }
    }
    let api = aadsts::api_messages(&text);
    let explained = codes.iter().any(|c| aadsts::lookup(*c).is_some()) || !api.is_empty();
    if as_json {
        let v = json!({
            "entra": entra.as_ref().map(|e| json!({
                "error": e.error,
                "description": first_sentence(&e.description),
                "codes": e.codes,
                "trace_id": e.trace_id,
                "correlation_id": e.correlation_id,
            })),
            "codes": codes.iter().map(|c| match aadsts::lookup(*c) {
                Some(x) => json!({"code": c, "known": true, "error": x.error, "meaning": x.meaning, "action": x.action, "more": more_url(*c)}),
                None => json!({"code": c, "known": false, "more": more_url(*c)}),
            }).collect::<Vec<_>>(),
            "api": api.iter().map(|m| json!({"title": m.title, "meaning": m.meaning, "action": m.action})).collect::<Vec<_>>(),
            "explained": explained,
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("JSON"));
    } else {
        print!(
            "{}",
            render_explanation(entra.as_ref(), &codes, &api, Paint::stdout())
        );
    }
    if explained {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}

fn more_url(code: u32) -> String {
    format!("https://login.microsoftonline.com/error?code={code}")
}

fn render_explanation(
    entra: Option<&EntraErrorResponse>,
    codes: &[u32],
    api: &[&aadsts::ApiMessage],
    paint: Paint,
) -> String {
    let mut out = String::new();
    if let Some(e) = entra {
        out.push_str(&format!("{} {}\n", paint.bold("Entra said:"), e.error));
        let first = first_sentence(&e.description);
        if !first.is_empty() {
            out.push_str(&format!("  {first}\n"));
        }
        if let Some(t) = &e.trace_id {
            out.push_str(&format!("  trace id {t}"));
            if let Some(c) = &e.correlation_id {
                out.push_str(&format!(", correlation id {c}"));
            }
            out.push_str(" (give these to an admin: they find the sign-in log entry)\n");
        }
        out.push('\n');
    }
    for code in codes {
        match aadsts::lookup(*code) {
            Some(x) => {
                let error = if x.error.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", x.error)
                };
                out.push_str(&format!(
                    "{}{error}\n",
                    paint.bold(&format!("AADSTS{code}"))
                ));
                out.push_str(&format!("  means  {}\n", x.meaning));
                out.push_str(&format!("  do     {}\n", x.action));
                out.push_str(&format!("  more   {}\n\n", more_url(*code)));
            }
            None => {
                out.push_str(&format!(
                    "{}\n  not in entra's table; Microsoft's page for it: {}\n\n",
                    paint.bold(&format!("AADSTS{code}")),
                    more_url(*code)
                ));
            }
        }
    }
    for m in api {
        out.push_str(&format!("{}\n", paint.bold(m.title)));
        out.push_str(&format!("  means  {}\n", m.meaning));
        out.push_str(&format!("  do     {}\n\n", m.action));
    }
    if codes.is_empty() && api.is_empty() {
        out.push_str("No AADSTS code or known API error found in that text. Pass the whole error (the JSON body with `--error -`), or an AADSTS number.\n");
    }
    format!("{}\n", out.trim_end())
}
