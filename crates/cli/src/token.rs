//! `entra token`: an access token on stdout, from the credential chain (or the one
//! credential `--credential` names), served from the token cache file when a fresh token
//! is there. The only command that prints a token, and only to stdout.

use std::io::Write as _;

use clap::ValueEnum;
use entra_identity::{AccessToken, DefaultAzureCredential, Env, TokenCredential, TokenRequest};

use crate::config::{Config, Source};
use crate::exit::CliError;
use crate::{credential, outcome, term};

pub(crate) const AFTER_HELP: &str = "\
Resource aliases (--resource): fabric, powerbi, graph, arm, keyvault, storage, sql,
devops (more in entra.toml's [resources]), or any resource URL (https://... or api://...), which gets
/.default.

Credentials (--credential):
  default            the chain: environment, workload identity, managed identity, Azure
                     CLI, then the user signed in with `entra login` (AZURE_TOKEN_CREDENTIALS
                     narrows it, as in azure-identity)
  user               the user signed in with `entra login` (token cache file; AZURE_USERNAME
                     picks one when several are)
  cli                the Azure CLI (`az account get-access-token`)
  environment        AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or
                     AZURE_CLIENT_CERTIFICATE_PATH)
  managed-identity   IMDS, App Service, Azure Arc, Cloud Shell, Service Fabric, Azure ML
  workload-identity  AZURE_FEDERATED_TOKEN_FILE with AZURE_CLIENT_ID and AZURE_TENANT_ID

Outputs (--output):
  raw   the token and a newline (default)
  json  {\"access_token\", \"expires_on\", \"token_type\", \"scope\", \"credential\"}
  az    what `az account get-access-token` prints: accessToken, expiresOn (local time),
        expires_on, subscription (always null: entra knows no subscriptions), tenant,
        tokenType

App tokens and signed-in users' tokens are kept in the token cache file (--token-cache,
encrypted), so a second call within the token's lifetime makes no request at all.

EXAMPLES:
  curl -H \"Authorization: Bearer $(entra token --resource graph)\" https://graph.microsoft.com/v1.0/me
  entra token --resource fabric --output json
  entra token --scope api://contoso-api/Data.Read --credential user
  entra token --resource arm --output az      # for scripts written for az
  AZURE_CLIENT_ID=... AZURE_TENANT_ID=... AZURE_CLIENT_SECRET=... entra token --resource storage";

#[derive(clap::Args, Debug)]
pub(crate) struct TokenArgs {
    /// A scope to ask for (repeat for several), e.g. api://contoso-api/Data.Read.
    #[arg(long = "scope", short = 's', value_name = "SCOPE")]
    scopes: Vec<String>,
    /// A resource alias or URL, for its /.default scope (see below).
    #[arg(long, short = 'r', value_name = "RESOURCE")]
    resource: Option<String>,
    /// Which credential gets the token.
    #[arg(long, value_enum, default_value_t = CredentialKind::Default)]
    credential: CredentialKind,
    /// What to print.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Raw)]
    output: Output,
}

/// `--credential KIND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CredentialKind {
    /// The default chain.
    Default,
    /// The user signed in with `entra login`.
    User,
    /// The Azure CLI.
    Cli,
    /// A service principal from AZURE_* variables.
    Environment,
    /// A managed identity.
    ManagedIdentity,
    /// Workload identity (a federated token file).
    WorkloadIdentity,
}

impl CredentialKind {
    /// The `AZURE_TOKEN_CREDENTIALS` value that narrows the default chain to this kind
    /// (`None`: the whole chain, as the environment says).
    fn chain_selection(self) -> Option<&'static str> {
        match self {
            CredentialKind::Default => None,
            CredentialKind::User => Some("SharedTokenCacheCredential"),
            CredentialKind::Cli => Some("AzureCliCredential"),
            CredentialKind::Environment => Some("EnvironmentCredential"),
            CredentialKind::ManagedIdentity => Some("ManagedIdentityCredential"),
            CredentialKind::WorkloadIdentity => Some("WorkloadIdentityCredential"),
        }
    }
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// The token and a newline.
    Raw,
    /// entra's JSON.
    Json,
    /// The JSON of `az account get-access-token`.
    Az,
}

pub(crate) fn run(args: TokenArgs, config: &Config) -> Result<(), CliError> {
    let scopes = scopes(&args, config).map_err(CliError::usage)?;
    // `az` prints a local time; the offset is read now, while this process has one
    // thread (the `time` crate refuses to read it later, soundly). Tokens live at most
    // a few hours, so a daylight-saving change in between is the only inaccuracy.
    let local_offset = (args.output == Output::Az).then(|| {
        time::UtcOffset::local_offset_at(time::OffsetDateTime::now_utc())
            .unwrap_or(time::UtcOffset::UTC)
    });
    let mut env = Env::from_process();
    if let Some(name) = args.credential.chain_selection() {
        env.set("AZURE_TOKEN_CREDENTIALS", name);
    }
    let chain = credential::chain_in(config, env).map_err(CliError::usage)?;
    let mut request = TokenRequest::new(scopes.clone());
    // `--tenant` goes with the request (a multi-tenant app or user asking for another
    // tenant). Other layers set the tenant to sign in to (`organizations` by default),
    // which says nothing about which tenant an app's token is for.
    if matches!(config.tenant.source, Source::Flag(_)) {
        request = request.tenant(config.tenant.value.clone());
    }
    let runtime = term::runtime()?;
    let result = runtime.block_on(chain.get_token(&request));
    let token = match result {
        Ok(t) => t,
        // With one credential chosen, its own error says it best.
        Err(entra_identity::Error::Chain(mut list))
            if args.credential != CredentialKind::Default && list.len() == 1 =>
        {
            return Err(outcome::fail(&list.remove(0).1));
        }
        Err(e) => return Err(outcome::fail(&e)),
    };
    let text = match args.output {
        Output::Raw => format!("{}\n", token.token.expose()),
        Output::Json => json_output(&token, &scopes, &chain),
        Output::Az => az_output(&token, local_offset.unwrap_or(time::UtcOffset::UTC)),
    };
    // Only here does a token leave the process: stdout, as asked. A reader that goes
    // away early (`| head -c 20`) is not an error worth a panic.
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::failure(format!(
            "cannot write the token to stdout: {e}"
        ))),
    }
}

/// The scopes asked for: `--scope`s, then `--resource`'s; at least one.
fn scopes(args: &TokenArgs, config: &Config) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = args
        .scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(str::to_string)
        .collect();
    if let Some(r) = &args.resource {
        scopes.push(config.resource_scope(r)?);
    }
    if scopes.is_empty() {
        let aliases: Vec<&str> = config.resources.keys().map(String::as_str).collect();
        return Err(format!(
            "say what the token is for: --resource {} (or a resource URL), or --scope SCOPE",
            aliases.join("|")
        ));
    }
    Ok(scopes)
}

fn json_output(token: &AccessToken, scopes: &[String], chain: &DefaultAzureCredential) -> String {
    let v = serde_json::json!({
        "access_token": token.token.expose(),
        "expires_on": token.expires_on,
        "token_type": &*token.token_type,
        "scope": scopes.join(" "),
        "credential": chain.selected().unwrap_or("unknown"),
    });
    format!("{v:#}\n")
}

/// `az account get-access-token`'s JSON: the same keys in the same order.
fn az_output(token: &AccessToken, offset: time::UtcOffset) -> String {
    let tenant = entra_jose::decode_unverified(token.token.expose())
        .ok()
        .and_then(|t| t.claim_str("tid").map(str::to_string));
    let v = serde_json::json!({
        "accessToken": token.token.expose(),
        "expiresOn": local_time(token.expires_on, offset),
        "expires_on": token.expires_on,
        "subscription": null,
        "tenant": tenant,
        "tokenType": &*token.token_type,
    });
    format!("{v:#}\n")
}

/// `2026-11-21 09:41:07.000000`: unix seconds at `offset`, as az writes `expiresOn`.
fn local_time(epoch: i64, offset: time::UtcOffset) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    );
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .map(|t| t.to_offset(offset))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn az_times_are_local_with_microseconds() {
        assert_eq!(
            local_time(1_800_000_000, time::UtcOffset::UTC),
            "2027-01-15 08:00:00.000000"
        );
        let plus_one = time::UtcOffset::from_hms(1, 0, 0).unwrap();
        assert_eq!(
            local_time(1_800_000_000, plus_one),
            "2027-01-15 09:00:00.000000"
        );
    }
}
