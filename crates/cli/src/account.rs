//! `entra account list` and `entra logout`: the accounts in the token cache file that
//! `entra login` writes (and MSAL apps sharing it), across clients and authorities.

use std::collections::BTreeSet;
use std::path::Path;

use clap::Subcommand;
use entra_identity::persist::{CacheData, PersistentCache, Protection};

use crate::config::Config;
use crate::credential;
use crate::exit::CliError;
use crate::term::Paint;

pub(crate) const ACCOUNT_AFTER_HELP: &str = "\
EXAMPLES:
  entra account list
  entra account list --json | jq -r '.[].username'";

pub(crate) const LOGOUT_AFTER_HELP: &str = "\
Forgets the account's tokens on this machine (every client's, in the token cache file).
The authority is not told: a refresh token copied elsewhere stays valid until it expires
or an admin revokes it.

EXAMPLES:
  entra logout                               # the only signed-in account
  entra logout alice@contoso.onmicrosoft.com
  entra logout --all";

#[derive(Subcommand, Debug)]
pub(crate) enum AccountAction {
    /// List the signed-in accounts: user name, tenant, home account id, clients.
    #[command(after_help = ACCOUNT_AFTER_HELP)]
    List {
        /// Print JSON (an array of accounts).
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub(crate) struct LogoutArgs {
    /// The account: a user name or a home account id (default: the only one signed in).
    #[arg(value_name = "ACCOUNT", conflicts_with = "all")]
    account: Option<String>,
    /// Sign every account out.
    #[arg(long)]
    all: bool,
}

/// One account of the file, as listed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
struct Listed {
    username: String,
    tenant_id: String,
    home_account_id: String,
    /// The authority host (MSAL's `environment`).
    environment: String,
    local_account_id: String,
    /// Clients holding a token for the account.
    clients: Vec<String>,
}

/// The accounts of `data`, sorted; one per account and tenant.
fn listed(data: &CacheData) -> Vec<Listed> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let same = |a: &Option<String>, b: &Option<String>| {
        a.as_deref()
            .unwrap_or("")
            .eq_ignore_ascii_case(b.as_deref().unwrap_or(""))
    };
    let mut out: Vec<Listed> = data
        .accounts
        .values()
        .map(|a| {
            let clients: BTreeSet<String> = data
                .refresh_tokens
                .values()
                .filter(|rt| {
                    same(&rt.home_account_id, &a.home_account_id)
                        && same(&rt.environment, &a.environment)
                })
                .map(|rt| text(&rt.client_id))
                .chain(
                    data.id_tokens
                        .values()
                        .filter(|id| {
                            same(&id.home_account_id, &a.home_account_id)
                                && same(&id.environment, &a.environment)
                        })
                        .map(|id| text(&id.client_id)),
                )
                .filter(|c| !c.is_empty())
                .collect();
            Listed {
                username: text(&a.username),
                tenant_id: text(&a.realm),
                home_account_id: text(&a.home_account_id),
                environment: text(&a.environment),
                local_account_id: text(&a.local_account_id),
                clients: clients.into_iter().collect(),
            }
        })
        .collect();
    out.sort();
    out
}

/// The cache file's contents; `None` when there is no file yet.
fn load(path: &Path) -> Result<Option<(PersistentCache, CacheData)>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let cache = PersistentCache::open(path, Protection::Encrypted).map_err(|e| e.to_string())?;
    let data = cache.file().load().map_err(|e| e.to_string())?;
    Ok(Some((cache, data)))
}

fn cache_file(config: &Config) -> Result<std::path::PathBuf, CliError> {
    credential::cache_path(config).ok_or_else(|| {
        CliError::usage(
            "there is no place for the token cache (no HOME or local data directory): pass --token-cache FILE or set ENTRA_TOKEN_CACHE",
        )
    })
}

/// A client id with its well-known name, when it has one.
fn client_name(id: &str) -> String {
    if id.eq_ignore_ascii_case(entra_identity::DEFAULT_PUBLIC_CLIENT_ID) {
        format!("{id} (Azure CLI)")
    } else {
        id.to_string()
    }
}

pub(crate) fn run_account(action: AccountAction, config: &Config) -> Result<(), CliError> {
    let AccountAction::List { json } = action;
    let path = cache_file(config)?;
    let accounts = match load(&path).map_err(CliError::failure)? {
        Some((_, data)) => listed(&data),
        None => Vec::new(),
    };
    if json {
        println!(
            "{:#}",
            serde_json::to_value(&accounts).unwrap_or_else(|_| serde_json::json!([]))
        );
        return Ok(());
    }
    if accounts.is_empty() {
        println!("No one is signed in (token cache {}).", path.display());
        println!("Sign in with `entra login`.");
        return Ok(());
    }
    print!("{}", table(&accounts, Paint::stdout()));
    Ok(())
}

/// Aligned columns, a header first.
fn table(accounts: &[Listed], paint: Paint) -> String {
    let rows: Vec<[String; 5]> = accounts
        .iter()
        .map(|a| {
            [
                a.username.clone(),
                a.tenant_id.clone(),
                a.environment.clone(),
                a.home_account_id.clone(),
                a.clients
                    .iter()
                    .map(|c| client_name(c))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let header = ["USER", "TENANT", "AUTHORITY", "HOME ACCOUNT ID", "CLIENTS"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = format!("{}\n", paint.bold(&line(&header.map(str::to_string))));
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

pub(crate) fn run_logout(args: LogoutArgs, config: &Config) -> Result<(), CliError> {
    let path = cache_file(config)?;
    let Some((cache, data)) = load(&path).map_err(CliError::failure)? else {
        println!("No one is signed in (token cache {}).", path.display());
        return Ok(());
    };
    let all = listed(&data);
    let chosen: Vec<&Listed> = match (&args.account, args.all) {
        (Some(wanted), _) => {
            let hits: Vec<&Listed> = all
                .iter()
                .filter(|a| {
                    a.username.eq_ignore_ascii_case(wanted)
                        || a.home_account_id.eq_ignore_ascii_case(wanted)
                })
                .collect();
            if hits.is_empty() {
                return Err(CliError::failure(format!(
                    "{wanted} is not signed in; signed in: {}",
                    names(&all)
                )));
            }
            hits
        }
        (None, true) if all.is_empty() => {
            println!("No one is signed in (token cache {}).", path.display());
            return Ok(());
        }
        (None, true) => all.iter().collect(),
        (None, false) => {
            let distinct: BTreeSet<(&str, &str)> = all
                .iter()
                .map(|a| (a.environment.as_str(), a.home_account_id.as_str()))
                .collect();
            match distinct.len() {
                0 => {
                    println!("No one is signed in (token cache {}).", path.display());
                    return Ok(());
                }
                1 => all.iter().collect(),
                _ => {
                    return Err(CliError::usage(format!(
                        "several accounts are signed in ({}): name one, or pass --all",
                        names(&all)
                    )));
                }
            }
        }
    };
    let mut done = BTreeSet::new();
    for a in chosen {
        if !done.insert((a.environment.clone(), a.home_account_id.clone())) {
            continue;
        }
        cache
            .remove_account(&a.environment, &a.home_account_id)
            .map_err(CliError::failure)?;
        println!("Signed out {} ({}).", a.username, a.environment);
    }
    Ok(())
}

fn names(all: &[Listed]) -> String {
    let names: BTreeSet<&str> = all.iter().map(|a| a.username.as_str()).collect();
    if names.is_empty() {
        "nobody".into()
    } else {
        names.into_iter().collect::<Vec<_>>().join(", ")
    }
}
