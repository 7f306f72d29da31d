//! `entra validate`: check one access token as an API would (entra-validate) and print
//! a JSON verdict. Exit 0 valid, 1 invalid, 2 for a usage or configuration error.

use std::io::Read as _;

use entra_validate::{
    AcceptedVersions, Authority, JwksSettings, PUBLIC_CLOUD, Requirement, ValidationError,
    Validator, ValidatorConfig,
};
use serde_json::{Value, json};

use crate::config::{Config, Source};
use crate::exit::{CliError, FAILURE};

/// Flags of `entra validate`.
#[derive(clap::Args)]
#[command(after_help = "\
The verdict is JSON on stdout; the token itself is never printed:
  {\"valid\":true,\"principal\":{...},\"expires_in\":3412}
  {\"valid\":false,\"error\":\"invalid_token\",\"code\":\"expired\",\"reason\":\"the token has expired\"}
A refusal the flags can fix adds a \"hint\" (a token signed with an algorithm
not allowed by --alg names it).

Exit codes: 0 valid, 1 invalid (or the issuer's keys could not be fetched),
2 usage or configuration error (bad flags, unreadable JWKS or CA file).

Examples:
  # A token for an API in one tenant of the public cloud:
  entra validate \"$TOKEN\" --tenant 72f988bf-86f1-41af-91ab-2d7cd011db47 --audience api://my-api

  # From stdin (keeps the token out of the process list; `Bearer ` is accepted),
  # against the local emulator, needing a scope or an app role:
  printf '%s' \"$TOKEN\" | entra validate - --authority https://localhost:8443 \\
      --ca-file ~/.local/share/entrakit/emulator/ca.pem \\
      --tenant c0ffee00-0000-4000-8000-000000000001 --audience api://contoso-api \\
      --scope Data.Read --role Data.Read.All

  # Offline, with a saved key set:
  entra validate - --jwks keys.json --authority https://localhost:8443 \\
      --tenant c0ffee00-0000-4000-8000-000000000001 --audience api://contoso-api < token.txt")]
pub(crate) struct ValidateArgs {
    /// The access token, `-` to read it from stdin (surrounding whitespace and a
    /// `Bearer ` prefix are removed).
    #[arg(value_name = "TOKEN|-")]
    token: String,
    /// Accepted audience (`aud`): the API's client id and/or App ID URI. Repeatable.
    #[arg(long = "audience", required = true, value_name = "AUD")]
    audiences: Vec<String>,
    // Which tenant's tokens to accept: the shared --tenant flag (a GUID, or several
    // separated by commas), or one of these.
    /// The token's issuer, exactly (any OIDC issuer; keys from its discovery document).
    #[arg(long, value_name = "URL", conflicts_with = "any_tenant")]
    issuer: Option<String>,
    /// Accept any Entra tenant (multi-tenant API; keys from `common`).
    #[arg(long)]
    any_tenant: bool,
    /// The issuer's keys from a JWKS file (offline) or URL instead of OIDC discovery.
    /// (The authority and an extra CA come from the shared --authority and --ca-file.)
    #[arg(long, value_name = "FILE|URL")]
    jwks: Option<String>,
    /// A delegated scope that grants access. Repeatable; with --role, the token
    /// needs any one of the listed scopes and roles (all of them with --require-all).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// An app role that grants access. Repeatable (see --scope).
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
    /// Require every --scope and every --role, not any one of them.
    #[arg(long)]
    require_all: bool,
    /// A Conditional Access authentication context (`c1`...`c99`) the token must
    /// carry in `acrs`. Repeatable (all required). A token without it is refused with
    /// code `insufficient_claims` and the claims challenge an API would send.
    #[arg(long = "auth-context", value_name = "ID")]
    auth_contexts: Vec<String>,
    /// Accepted token versions.
    #[arg(long, value_enum, default_value = "both")]
    version: Version,
    /// An accepted signature algorithm (default RS256, what Entra signs with).
    /// Repeatable: RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA; the
    /// key must be of the algorithm's type.
    #[arg(long = "alg", value_name = "ALG", value_parser = parse_alg)]
    algorithms: Vec<entra_jose::Algorithm>,
}

fn parse_alg(name: &str) -> Result<entra_jose::Algorithm, String> {
    entra_jose::Algorithm::from_name(name).ok_or_else(|| {
        let all: Vec<&str> = entra_jose::Algorithm::ALL
            .iter()
            .map(|a| a.name())
            .collect();
        format!(
            "not a JWS algorithm entrakit verifies (one of {})",
            all.join(", ")
        )
    })
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Version {
    V1,
    V2,
    Both,
}

/// Which tokens to trust, from `--issuer`, `--any-tenant` or the (global) `--tenant`.
enum Trust {
    Tenants(Vec<String>),
    Issuer(String),
    AnyTenant,
}

fn trust(args: &ValidateArgs, config: &Config) -> Result<Trust, String> {
    let from_flag = matches!(config.tenant.source, Source::Flag(_));
    match (&args.issuer, args.any_tenant) {
        (Some(_), _) | (_, true) if from_flag => {
            Err("--tenant cannot be combined with --issuer or --any-tenant".into())
        }
        (Some(issuer), _) => Ok(Trust::Issuer(issuer.clone())),
        (None, true) => Ok(Trust::AnyTenant),
        // A tenant from entra.toml or AZURE_TENANT_ID counts too; the built-in default
        // (`organizations`) does not say which tokens to trust.
        (None, false) if config.tenant.source != Source::Default => Ok(Trust::Tenants(
            config
                .tenant
                .value
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        )),
        (None, false) => Err(
            "say which tokens to trust: --tenant GUID[,GUID...], --issuer URL or --any-tenant"
                .into(),
        ),
    }
}

pub(crate) fn run(args: ValidateArgs, config: &Config) -> Result<(), CliError> {
    let trust = trust(&args, config).map_err(CliError::usage)?;
    let token = read_token(&args.token)
        .map_err(|e| CliError::usage(format!("cannot read the token from stdin: {e}")))?;
    let runtime = crate::term::runtime()?;
    let validator = validator(&args, config, trust).map_err(CliError::usage)?;
    let verdict = if token.is_empty() {
        Err(ValidationError::Missing)
    } else {
        runtime.block_on(validator.validate(&token))
    };
    let now = validator.config().clock().now();
    let (out, result) = match verdict {
        Ok(p) => (
            json!({
                "valid": true,
                "principal": p.to_json(),
                "expires_in": p.expires_at() - now,
            }),
            Ok(()),
        ),
        Err(e) => {
            let mut out = refusal_json(&e);
            if let Some(hint) = hint(&e, &token, &args) {
                out["hint"] = hint.into();
            }
            // The verdict on stdout says why.
            (out, Err(CliError::silent(FAILURE)))
        }
    };
    println!("{out}");
    result
}

/// The token from the argument or stdin, without whitespace or a `Bearer ` prefix.
fn read_token(arg: &str) -> std::io::Result<String> {
    let raw = if arg == "-" {
        let mut s = String::new();
        std::io::stdin().take(1 << 20).read_to_string(&mut s)?;
        s
    } else {
        arg.to_string()
    };
    let t = raw.trim();
    let t = match t.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        None if t.eq_ignore_ascii_case("bearer") => "",
        _ => t,
    };
    Ok(t.to_string())
}

fn validator(args: &ValidateArgs, config: &Config, trust: Trust) -> Result<Validator, String> {
    let base = config.authority.value.trim_end_matches('/');
    let authority = if base.eq_ignore_ascii_case(PUBLIC_CLOUD) {
        // The public cloud's v1 issuer is sts.windows.net, not the login host.
        Authority::public_cloud()
    } else {
        Authority::custom(base)
    };
    let mut b = ValidatorConfig::builder()
        .authority(authority)
        .versions(match args.version {
            Version::V1 => AcceptedVersions::V1,
            Version::V2 => AcceptedVersions::V2,
            Version::Both => AcceptedVersions::Both,
        })
        // One token, one process: no background key refresh, no cache to speak of.
        .jwks_settings(JwksSettings {
            background_interval: None,
            ..JwksSettings::default()
        })
        .token_cache_capacity(0)
        .rsa_backend(config.rsa_backend.value);
    if !args.algorithms.is_empty() {
        b = b.algorithms(args.algorithms.iter().copied());
    }
    for id in &args.auth_contexts {
        b = b.require(Requirement::auth_context(id.clone()));
    }
    b = if args.require_all {
        let each = args
            .scopes
            .iter()
            .map(|s| Requirement::scope(s.clone()))
            .chain(args.roles.iter().map(|r| Requirement::role(r.clone())));
        match each.reduce(Requirement::and) {
            Some(all) => b.require(all),
            None => b,
        }
    } else {
        b.require_scopes(args.scopes.iter().cloned())
            .require_roles(args.roles.iter().cloned())
    };
    b = match trust {
        Trust::Tenants(list) if list.len() == 1 => b.tenant(&list[0]),
        Trust::Tenants(list) => b.tenants(list),
        Trust::Issuer(issuer) => b.issuer(issuer),
        Trust::AnyTenant => b.any_tenant(),
    };
    for a in &args.audiences {
        b = b.audience(a);
    }
    if let Some(jwks) = &args.jwks {
        b = if jwks.starts_with("https://") || jwks.starts_with("http://") {
            b.jwks_uri(jwks)
        } else {
            b.static_jwks_file(jwks)
        };
    }
    // The configured CA (--ca-file, ENTRA_CA_FILE, entra.toml, else SSL_CERT_FILE).
    if let Some(ca) = &config.ca_file {
        b = b.extra_ca_file(ca.value.clone());
    }
    b.build()
        .map(Validator::new)
        .map_err(|e| format!("invalid configuration: {e}"))
}

/// What to do about a refusal the command line can fix: a token signed with a JWS
/// algorithm that was not allowed (only RS256 is, by default) names it.
fn hint(e: &ValidationError, token: &str, args: &ValidateArgs) -> Option<String> {
    if *e != ValidationError::AlgNotAllowed {
        return None;
    }
    // The header alone, unverified: only to name the algorithm.
    let header = token.split('.').next()?;
    let header: Value = serde_json::from_slice(&entra_jose::b64url_decode(header).ok()?).ok()?;
    let alg = entra_jose::Algorithm::from_name(header.get("alg")?.as_str()?)?;
    if args.algorithms.contains(&alg) {
        return None;
    }
    Some(format!(
        "the token is signed with {alg}; if its issuer signs with {alg}, add --alg {alg} \
         (accepted now: {})",
        if args.algorithms.is_empty() {
            "RS256".to_string()
        } else {
            args.algorithms
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", ")
        }
    ))
}

fn refusal_json(e: &ValidationError) -> Value {
    let mut out = json!({
        "valid": false,
        "error": e.oauth_error().unwrap_or(match e {
            ValidationError::KeysUnavailable(_) => "temporarily_unavailable",
            _ => "invalid_token",
        }),
        "code": e.code(),
        "reason": e.to_string(),
    });
    if let ValidationError::InsufficientScope { scopes, roles, .. } = e {
        out["scopes"] = scopes.clone().into();
        out["roles"] = roles.clone().into();
    }
    if let ValidationError::InsufficientClaims { claims, .. } = e {
        // What to pass as the claims of the next token request (MSAL's
        // `claims_challenge`), and the header value an API would answer with.
        out["claims"] = claims.clone().into();
        out["www_authenticate"] = entra_validate::challenge(e, None).into();
    }
    out
}
