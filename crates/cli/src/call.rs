//! `entra call [METHOD] URL`: curl with the token attached. The scope comes from
//! `--scope`/`--resource` or from the URL's host for the well-known Microsoft APIs; the
//! token from the default chain (so from the cache when it can). A 401 with a claims
//! challenge gets a new token with those claims and one retry.

use std::io::{Read as _, Write as _};

use entra_identity::http::{HttpClient as _, ReqwestClient};
use entra_identity::{Error, TokenRequest};

use crate::config::{Config, GlobalArgs};
use crate::exit::CliError;
use crate::term::runtime;
use crate::{credential, resources};

const EXAMPLES: &str = "\
EXAMPLES:
  entra call https://graph.microsoft.com/v1.0/me
  entra call https://api.fabric.microsoft.com/v1/workspaces -i
  entra call POST https://api.contoso.example/items --scope api://contoso-api/.default \\
      -H 'Content-Type: application/json' -d '{\"name\":\"x\"}'
  entra call PUT https://acct.blob.core.windows.net/c/blob.txt -H 'x-ms-blob-type: BlockBlob' -d @blob.txt

The scope is --scope, else --resource (fabric, powerbi, graph, arm, keyvault, storage or
a resource URL), else taken from the URL's host for graph.microsoft.com,
api.fabric.microsoft.com, api.powerbi.com, management.azure.com, *.vault.azure.net and
*.blob/queue/table.core.windows.net (and the emulator's /fabric and /powerbi on this
machine). HTTPS_PROXY, NO_PROXY and SSL_CERT_FILE are honoured (what `entra up` prints
for Microsoft's real hostnames). The token comes from the default credential chain
(environment, workload identity, managed identity, Azure CLI, the `entra login` account).
It is sent only to URL, only over HTTPS (plain HTTP only to localhost), and never printed.

Exit status: 0 on a 2xx answer, 1 on any other (the body is still printed), 2 on a usage
error, 3 when no credential can get a token (sign in first), 4 when the network fails.";

#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct CallArgs {
    /// An HTTP method (default GET, or POST with -d), then the URL.
    #[arg(value_name = "[METHOD] URL", num_args = 1..=2, required = true)]
    target: Vec<String>,
    /// Scope to get the token for (repeatable).
    #[arg(long, value_name = "SCOPE", conflicts_with = "resource")]
    scope: Vec<String>,
    /// A resource alias or URL to get the token for (its /.default scope).
    #[arg(long, value_name = "RESOURCE")]
    resource: Option<String>,
    /// A request header, curl style (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The request body; @FILE reads a file, @- reads stdin.
    #[arg(short = 'd', long = "data", value_name = "DATA|@FILE")]
    data: Option<String>,
    /// Print the status line and response headers before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
}

pub(crate) fn run(args: CallArgs, global: &GlobalArgs) -> Result<(), CliError> {
    let (method, url, host) = target(&args)?;
    let config = Config::load(global, &|k| std::env::var(k).ok()).map_err(CliError::usage)?;
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    let scopes = scopes(&args, &config, &url, &host)?;
    let mut headers = headers(&args)?;
    let body = body(&args)?;
    if args.data.is_some() && !headers.contains_key(http::header::CONTENT_TYPE) {
        // curl's default, unless the body is obviously JSON.
        let json = matches!(
            body.iter().find(|b| !b.is_ascii_whitespace()),
            Some(b'{' | b'[')
        );
        let ct = if json {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(ct),
        );
    }
    let rt = runtime()?;
    let call = Call {
        method,
        url,
        headers,
        body,
        scopes,
        tenant: global.tenant.clone(),
        include: args.include,
    };
    rt.block_on(call.run(&config))
}

/// The method, the URL and its host (lower case), checked: a token goes only over
/// HTTPS, or plain HTTP to this machine.
fn target(args: &CallArgs) -> Result<(http::Method, String, String), CliError> {
    let (method, url) = match args.target.as_slice() {
        [url] => (
            if args.data.is_some() { "POST" } else { "GET" }.to_string(),
            url.clone(),
        ),
        [method, url] => (method.to_ascii_uppercase(), url.clone()),
        _ => return Err(CliError::usage("expected [METHOD] URL")),
    };
    let Ok(method) = http::Method::from_bytes(method.as_bytes()) else {
        return Err(CliError::usage(format!("{method:?} is not an HTTP method")));
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e| CliError::usage(format!("{url:?} is not a URL: {e}")))?;
    let host = uri.host().unwrap_or("").to_ascii_lowercase();
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if is_loopback(&host) => {}
        Some("http") => {
            return Err(CliError::usage(
                "refusing to send a token over plain HTTP to a remote host: use https://",
            ));
        }
        _ => {
            return Err(CliError::usage(format!(
                "{url:?} is not an absolute http(s) URL"
            )));
        }
    }
    Ok((method, url, host))
}

/// The scopes: `--scope`, else `--resource`'s, else the well-known API's at `url` (by its
/// host, or the emulator's `/fabric` and `/powerbi` on this machine).
fn scopes(
    args: &CallArgs,
    config: &Config,
    url: &str,
    host: &str,
) -> Result<Vec<String>, CliError> {
    if !args.scope.is_empty() {
        return Ok(args.scope.clone());
    }
    let alias = match (&args.resource, resources::for_url(url)) {
        (Some(r), _) => r.as_str(),
        (None, Some(known)) => known.alias,
        (None, None) => {
            return Err(CliError::usage(format!(
                "which token should go to {host}? Pass --scope (for your API: its App ID URI + /.default, e.g. --scope api://<app id>/.default) or --resource"
            )));
        }
    };
    config
        .resource_scope(alias)
        .map(|s| vec![s])
        .map_err(CliError::usage)
}

/// The `-H` headers; never an `Authorization` of the caller's.
fn headers(args: &CallArgs) -> Result<http::HeaderMap, CliError> {
    let mut headers = http::HeaderMap::new();
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(CliError::usage(format!("-H {h:?}: expected 'Name: value'")));
        };
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.trim().as_bytes()),
            http::HeaderValue::from_str(value.trim()),
        ) else {
            return Err(CliError::usage(format!("-H {h:?}: not a valid header")));
        };
        if name == http::header::AUTHORIZATION {
            return Err(CliError::usage(
                "-H Authorization: entra call attaches the token itself (use curl to send your own)",
            ));
        }
        headers.append(name, value);
    }
    Ok(headers)
}

/// The `-d` body: text, `@FILE` or `@-` (stdin).
fn body(args: &CallArgs) -> Result<Vec<u8>, CliError> {
    Ok(match &args.data {
        None => Vec::new(),
        Some(d) if d == "@-" => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .map_err(|e| CliError::usage(format!("cannot read the body from stdin: {e}")))?;
            b
        }
        Some(d) if d.starts_with('@') => {
            std::fs::read(&d[1..]).map_err(|e| CliError::usage(format!("-d {d}: {e}")))?
        }
        Some(d) => d.clone().into_bytes(),
    })
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

struct Call {
    method: http::Method,
    url: String,
    headers: http::HeaderMap,
    body: Vec<u8>,
    scopes: Vec<String>,
    tenant: Option<String>,
    include: bool,
}

impl Call {
    async fn run(self, config: &Config) -> Result<(), CliError> {
        let chain = match credential::default_chain(config) {
            Ok(c) => c,
            Err(e) => return Err(CliError::usage(e)),
        };
        let client = match ReqwestClient::new(config.ca_file.as_ref().map(|s| s.value.as_path())) {
            Ok(c) => c,
            Err(e) => return Err(CliError::usage(e)),
        };
        let mut request = TokenRequest::new(self.scopes.clone());
        request.tenant = self.tenant.clone();
        let mut retried = false;
        loop {
            let token = match chain.get_token(&request).await {
                Ok(t) => t,
                Err(e) => return Err(token_error(&e, &self.scopes)),
            };
            let mut builder = http::Request::builder()
                .method(self.method.clone())
                .uri(&self.url);
            for (k, v) in &self.headers {
                builder = builder.header(k, v);
            }
            let http_request = match builder
                .header(
                    http::header::AUTHORIZATION,
                    format!("Bearer {}", token.token.expose()),
                )
                .body(self.body.clone())
            {
                Ok(r) => r,
                Err(e) => {
                    return Err(CliError::usage(format!("cannot build the request: {e}")));
                }
            };
            let response = match client.send(http_request).await {
                Ok(r) => r,
                Err(e) => {
                    return Err(CliError::unreachable(format!(
                        "{} {}: {e}",
                        self.method,
                        redact_query(&self.url)
                    )));
                }
            };
            if response.status() == http::StatusCode::UNAUTHORIZED
                && !retried
                && let Some(claims) = claims_challenge(response.headers())
            {
                eprintln!(
                    "note: the API asked for more claims (a claims challenge); getting a new token with them and retrying once"
                );
                request.claims = Some(claims);
                retried = true;
                continue;
            }
            return self.print(&response);
        }
    }

    fn print(&self, response: &http::Response<Vec<u8>>) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        let status = response.status();
        if self.include {
            let _ = writeln!(
                out,
                "HTTP {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            );
            for (k, v) in response.headers() {
                let _ = writeln!(out, "{k}: {}", String::from_utf8_lossy(v.as_bytes()));
            }
            let _ = writeln!(out);
        }
        let is_json = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let ct = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                ct == "application/json" || ct.ends_with("+json")
            });
        let body = response.body();
        let pretty = is_json
            .then(|| serde_json::from_slice::<serde_json::Value>(body).ok())
            .flatten()
            .and_then(|v| serde_json::to_string_pretty(&v).ok());
        match pretty {
            Some(p) => {
                let _ = writeln!(out, "{p}");
            }
            None => {
                let _ = out.write_all(body);
            }
        }
        let _ = out.flush();
        if status.is_success() {
            Ok(())
        } else {
            let hint = match status.as_u16() {
                401 => {
                    ": the token was refused (`entra doctor --error 'HTTP 401'` lists the usual causes)"
                }
                403 => ": the token is valid but lacks a permission (scope or app role) for this",
                _ => "",
            };
            Err(CliError::failure(format!(
                "HTTP {} from {}{hint}",
                status.as_u16(),
                redact_query(&self.url)
            )))
        }
    }
}

/// A URL without its query (which may carry a SAS or code) for error messages.
fn redact_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Exit code and message when no token could be had.
fn token_error(e: &Error, scopes: &[String]) -> CliError {
    let message = format!("cannot get a token for {}: {e}", scopes.join(" "));
    let all_unavailable = matches!(e, Error::Chain(list) if list.iter().all(|(_, e)| matches!(e, Error::Unavailable { .. })));
    let transport = match e {
        Error::Transport { .. } => true,
        Error::Chain(list) => list
            .iter()
            .any(|(_, e)| matches!(e, Error::Transport { .. })),
        _ => false,
    };
    let interaction = match e {
        Error::Chain(list) => list.iter().any(|(_, e)| e.needs_interaction()),
        e => e.needs_interaction(),
    };
    if all_unavailable || interaction {
        CliError::sign_in(message).with_hint(
            "sign in with `entra login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET; `entra doctor` shows each credential",
        )
    } else if transport {
        CliError::unreachable(message)
    } else {
        CliError::failure(message)
    }
}

/// The claims of a `WWW-Authenticate: Bearer ... error="insufficient_claims",
/// claims="<base64 JSON>"` challenge, decoded.
pub(crate) fn claims_challenge(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let params = auth_params(v);
            let get = |k: &str| {
                params
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.as_str())
            };
            if get("error") != Some("insufficient_claims") {
                return None;
            }
            let raw = get("claims")?;
            let decoded = entra_jose::b64std_decode(raw)
                .or_else(|_| entra_jose::b64url_decode(raw))
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .filter(serde_json::Value::is_object)
                .map(|_| text)
        })
}

/// `name="value"` and `name=value` pairs of a challenge (after its scheme).
fn auth_params(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let rest = header.trim();
    let mut rest = match rest.split_once(' ') {
        Some((scheme, r)) if !scheme.contains('=') => r,
        _ => rest,
    };
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name.trim().to_string();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end.min(quoted.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.push((name, value));
        rest = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_challenges_are_parsed() {
        let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1604106651"}}}"#;
        let mut h = http::HeaderMap::new();
        h.append(
            "www-authenticate",
            format!(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", error=\"insufficient_claims\", claims=\"{}\"",
                entra_jose::b64std(claims)
            )
            .parse()
            .unwrap(),
        );
        assert_eq!(claims_challenge(&h).as_deref(), Some(claims));
        let mut plain = http::HeaderMap::new();
        plain.append(
            "www-authenticate",
            "Bearer error=\"invalid_token\"".parse().unwrap(),
        );
        assert_eq!(claims_challenge(&plain), None);
        assert_eq!(
            auth_params("Bearer a=1, b=\"x, \\\"y\\\"\",c=z"),
            [
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x, \"y\"".to_string()),
                ("c".to_string(), "z".to_string())
            ]
        );
    }

    #[test]
    fn entra_validates_own_claims_challenge_is_understood() {
        // What an API behind entra-validate answers for a missing authentication
        // context is what `entra call` retries with.
        let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
        let e = entra_validate::ValidationError::InsufficientClaims {
            description: "the token lacks the authentication context c1".into(),
            claims: claims.into(),
        };
        let mut h = http::HeaderMap::new();
        h.append(
            "www-authenticate",
            entra_validate::challenge(&e, Some("contoso-api"))
                .unwrap()
                .parse()
                .unwrap(),
        );
        assert_eq!(claims_challenge(&h).as_deref(), Some(claims));
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("localhost"));
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("example.com"));
    }
}
