//! `entra decode TOKEN|-`: what a token says (header, claims, times, audience, scopes,
//! roles) and what is wrong with it (expired, not yet valid, not a JWT, an ID token used
//! as an access token, the wrong audience for a URL). It never verifies a signature and
//! never prints the token back.

use std::io::Read as _;

use serde_json::{Map, Value, json};

use crate::app_ids::{self, AppId};
use crate::exit::{CliError, FAILURE};
use crate::resources;
use crate::term::{Paint, relative, utc};

const EXAMPLES: &str = "\
EXAMPLES:
  entra token --resource graph | entra decode -
  entra decode - --for https://api.fabric.microsoft.com/v1/workspaces < token.txt
  pbpaste | entra decode - --json | jq .claims.scp

Reading the token from stdin (`-`) keeps it out of shell history and `ps`. A leading
`Bearer ` (or `Authorization: Bearer `) is accepted.

decode does NOT verify the signature: anyone can write a token that decodes. To check
one as an API would, use `entra validate`.

Exit status: 0 when the token decodes (with or without warnings), 1 when it is not a
JWT, 2 when there is nothing to decode.";

#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct DecodeArgs {
    /// The token, or `-` to read it from stdin.
    #[arg(value_name = "TOKEN|-")]
    token: String,
    /// The URL the token is meant for, or the API's App ID URI (api://...): warn when its
    /// audience does not fit that API (an App ID URI's client id, which v2 tokens carry,
    /// comes from the emulator's directory: ENTRA_EMULATOR_CONFIG, else the built-in one).
    #[arg(long = "for", value_name = "URL|APP_ID_URI")]
    for_url: Option<String>,
    /// Print {header, claims, warnings} as JSON.
    #[arg(long)]
    json: bool,
}

/// Something worth knowing about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Warning {
    /// Stable identifier, e.g. `expired`.
    pub code: &'static str,
    /// What it means and what to do.
    pub message: String,
}

/// A token that decoded: its two JSON parts.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

/// Why a bearer is not a JWT (no token text in it).
#[derive(Debug)]
pub(crate) struct NotAJwt {
    pub code: &'static str,
    pub message: String,
}

/// `Bearer x`, `Authorization: Bearer x`, surrounding whitespace and quotes: the token.
pub(crate) fn strip_bearer(input: &str) -> &str {
    fn strip_prefix_ignore_case<'a>(t: &'a str, prefix: &str) -> Option<&'a str> {
        t.get(..prefix.len())
            .filter(|head| head.eq_ignore_ascii_case(prefix))
            .map(|_| &t[prefix.len()..])
    }
    let mut t = input.trim().trim_matches('"').trim();
    if let Some(rest) = strip_prefix_ignore_case(t, "authorization:") {
        t = rest.trim_start();
    }
    if let Some(rest) = strip_prefix_ignore_case(t, "bearer ") {
        t = rest.trim_start();
    }
    t
}

/// Decodes a compact JWS without verifying it.
pub(crate) fn decode(token: &str) -> Result<Decoded, NotAJwt> {
    if let Some(kind) = entra_validate::classify_non_jwt(token) {
        let (code, message) = match kind {
            entra_validate::NotAJwt::AuthorizationCode => (
                "authorization_code",
                "this looks like an authorization code (a dot-free string, or one starting 0.A / 1.A / OAQAB), not an access token. \
                 A code is redeemed once at the token endpoint (grant_type=authorization_code) for an access token; sending it as a bearer gets 401 \"Access token is invalid\". \
                 `entra token` or `entra login` do the exchange for you.",
            ),
            entra_validate::NotAJwt::Encrypted => (
                "encrypted",
                "this is an encrypted token (JWE, five parts): only its intended recipient can read it. \
                 An API needs a signed access token issued for it (ask for a scope of that API).",
            ),
            _ => (
                "opaque",
                "this is not a JWT (it does not have three dot-separated parts): an opaque token from another provider, a refresh token or a truncated copy. \
                 Entra access tokens for your APIs are JWTs: check the whole token was copied.",
            ),
        };
        return Err(NotAJwt {
            code,
            message: message.to_string(),
        });
    }
    let malformed = |what: &str| NotAJwt {
        code: "malformed",
        message: format!(
            "it looks like a JWT but {what}: check that the whole token was copied, without line breaks"
        ),
    };
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "it does not have exactly three dot-separated parts",
        ));
    };
    let object = |part: &str, name: &str| -> Result<Map<String, Value>, NotAJwt> {
        let bytes = entra_jose::b64url_decode(part)
            .map_err(|_| malformed(&format!("its {name} is not base64url")))?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(malformed(&format!("its {name} is not a JSON object"))),
        }
    };
    Ok(Decoded {
        header: object(h, "header")?,
        claims: object(p, "payload")?,
    })
}

impl Decoded {
    fn str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    fn time(&self, name: &str) -> Option<i64> {
        entra_identity::unix_time::seconds(self.claims.get(name))
    }

    /// `aud` as text (the first one when it is an array).
    pub(crate) fn audience(&self) -> Option<String> {
        match self.claims.get("aud")? {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
            _ => None,
        }
    }

    /// The signs of an ID token, as entra-validate reads them: `nonce`, `at_hash` or
    /// `c_hash`, or no `azp`/`appid` (every Entra access token names its client).
    pub(crate) fn is_id_token(&self) -> bool {
        let c = |n| self.claims.contains_key(n);
        c("nonce")
            || c("at_hash")
            || c("c_hash")
            || (!c("azp") && !c("appid") && !c("scp") && !c("roles"))
    }

    fn scopes(&self) -> Option<String> {
        self.str("scp").map(str::to_string)
    }

    fn roles(&self) -> Option<String> {
        let roles = self.claims.get("roles")?.as_array()?;
        Some(
            roles
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// One line on what kind of token this is.
    fn kind(&self) -> String {
        let version = self
            .str("ver")
            .map(|v| format!(" v{v}"))
            .unwrap_or_default();
        if self.is_id_token() {
            format!("ID token{version} (proof of a sign-in, for the app; not for APIs)")
        } else if self.claims.contains_key("scp") {
            format!("Access token{version}, delegated (a user, through an app)")
        } else if self.str("idtyp") == Some("app") || self.claims.contains_key("roles") {
            format!("Access token{version}, app-only (the app as itself)")
        } else {
            format!("Access token{version}")
        }
    }

    /// The warnings for this token at `now`, for the API `target` names if given.
    pub(crate) fn warnings(&self, now: i64, target: Option<&Target<'_>>) -> Vec<Warning> {
        let mut out = Vec::new();
        let alg = self.header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg.eq_ignore_ascii_case("none") || alg.is_empty() {
            out.push(Warning {
                code: "unsigned",
                message: "the header has no signing algorithm (alg none): every API must refuse this token".into(),
            });
        }
        match self.time("exp") {
            Some(exp) if exp <= now => out.push(Warning {
                code: "expired",
                message: format!(
                    "expired {} ({}): get a new token (`entra token` refreshes it)",
                    relative(exp, now),
                    utc(exp)
                ),
            }),
            Some(_) => {}
            None => out.push(Warning {
                code: "no_expiry",
                message: "there is no exp claim: Entra tokens always have one, and APIs refuse tokens without it".into(),
            }),
        }
        if let Some(nbf) = self.time("nbf")
            && nbf > now
        {
            out.push(Warning {
                code: "not_yet_valid",
                message: format!(
                    "not valid until {} ({}): this machine's clock may be behind (`entra doctor` checks the skew)",
                    utc(nbf),
                    relative(nbf, now)
                ),
            });
        }
        if self.is_id_token() {
            out.push(Warning {
                code: "id_token",
                message: format!(
                    "this is an ID token (aud is the client app {}), not an access token: APIs refuse it. \
                     Send the access_token of the token response, or ask for a scope of the API",
                    self.audience().unwrap_or_else(|| "?".into())
                ),
            });
        }
        if !self.is_id_token() {
            let aud = self.audience();
            let fabric = crate::fabric_token::warnings(aud.as_deref(), self.str("scp"));
            out.extend(
                fabric
                    .into_iter()
                    .map(|(code, message)| Warning { code, message }),
            );
        }
        if let Some(target) = target {
            let aud = self.audience().unwrap_or_default();
            out.extend(match &target.app_id_uri {
                Some(app) => app_id_uri_warning(&aud, target.value, app.as_ref()),
                None => url_warning(&aud, target.value),
            });
        }
        out
    }
}

/// What `--for` names: a URL the token is about to be sent to, or an App ID URI (then
/// with its client id, when a directory knows it).
pub(crate) struct Target<'a> {
    pub value: &'a str,
    /// `Some` for an App ID URI: its client id, if known.
    pub app_id_uri: Option<Option<AppId>>,
}

impl<'a> Target<'a> {
    /// `value` as given to `--for`, App ID URIs looked up through `var`.
    pub(crate) fn new(value: &'a str, var: &dyn Fn(&str) -> Option<String>) -> Self {
        let app_id_uri =
            app_ids::looks_like_app_id_uri(value).then(|| app_ids::client_id_for(value, var));
        Self { value, app_id_uri }
    }
}

/// `aud` as people know it: a well-known API's name, or the value quoted.
fn audience_name(aud: &str) -> String {
    resources::for_audience(aud)
        .map(|r| format!("{} ({aud})", r.name))
        .unwrap_or_else(|| format!("{aud:?}"))
}

/// The token is about to go to `url`: does its audience fit that API?
fn url_warning(aud: &str, url: &str) -> Option<Warning> {
    if resources::audience_fits(aud, url) != Some(false) {
        return None;
    }
    let is_for = audience_name(aud);
    let ask = match resources::host_of(url).and_then(|h| resources::for_host(&h)) {
        Some(r) => format!(
            "Ask for {}'s scope instead: `entra token --resource {}` ({}/.default)",
            r.name, r.alias, r.audiences[0]
        ),
        None => format!(
            "Ask for a scope of that API instead (its App ID URI + /.default, e.g. `entra token --scope {}/.default`)",
            url_origin(url)
        ),
    };
    Some(Warning {
        code: "wrong_audience",
        message: format!(
            "this token is for {is_for}, not for {url}: that API will answer 401. {ask}"
        ),
    })
}

/// The token is for the API whose App ID URI is `uri`: a v1 token's `aud` is the URI
/// itself, a v2 token's is the API's client id (`app`, when known). Both values are named
/// when the audience is neither.
fn app_id_uri_warning(aud: &str, uri: &str, app: Option<&AppId>) -> Option<Warning> {
    let same = |a: &str, b: &str| {
        a.trim_end_matches('/')
            .eq_ignore_ascii_case(b.trim_end_matches('/'))
    };
    if same(aud, uri) || app.is_some_and(|app| same(aud, &app.client_id)) {
        return None;
    }
    let ask = format!("Ask for a scope of that API: `entra token --scope {uri}/.default`");
    match app {
        Some(app) => Some(Warning {
            code: "wrong_audience",
            message: format!(
                "this token is for {}, not for {uri}: that API accepts {uri} (v1 tokens) or its client id {} (v2 tokens; from {}), and will answer 401. {ask}",
                audience_name(aud),
                app.client_id,
                app.source
            ),
        }),
        // A client id may be that API's: it cannot be told here.
        None if is_guid(aud) => Some(Warning {
            code: "audience_unknown",
            message: format!(
                "this token's audience is the client id {aud}; whether that is {uri} cannot be told here (no directory entrakit reads lists {uri}). v2 tokens carry the API's client id, v1 tokens its App ID URI: compare with the API's app registration"
            ),
        }),
        None => Some(Warning {
            code: "wrong_audience",
            message: format!(
                "this token is for {}, not for {uri} (a v1 token for it says {uri}, a v2 token its client id): that API will answer 401. {ask}",
                audience_name(aud)
            ),
        }),
    }
}

/// `8-4-4-4-12` hexadecimal.
fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn url_origin(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(u) => match (u.scheme_str(), u.authority()) {
            (Some(s), Some(a)) => format!("{s}://{a}"),
            _ => url.to_string(),
        },
        Err(_) => url.to_string(),
    }
}

/// Client authentication as `azpacr`/`appidacr` encode it.
fn client_auth(acr: &str) -> &'static str {
    match acr {
        "0" => "public client",
        "1" => "client secret",
        "2" => "certificate",
        _ => "unknown client authentication",
    }
}

const WIDTH: usize = 12;

fn field(out: &mut String, paint: Paint, name: &str, value: &str) {
    out.push_str(&format!(
        "  {}{} {value}\n",
        paint.bold(name),
        " ".repeat(WIDTH.saturating_sub(name.len()))
    ));
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// The human form: header, the claims that matter, times, warnings.
pub(crate) fn render(d: &Decoded, warnings: &[Warning], now: i64, paint: Paint) -> String {
    let mut out = String::new();
    out.push_str(&paint.bold(&d.kind()));
    out.push('\n');
    out.push_str(&paint.dim(
        "  (decoded, not verified: the signature was not checked; `entra validate` checks it)",
    ));
    out.push_str("\n\nHeader\n");
    for (k, v) in &d.header {
        field(&mut out, paint, k, &value_text(v));
    }
    out.push_str("\nClaims\n");
    let s = |n: &str| d.str(n);
    if let Some(aud) = d.audience() {
        let known = crate::fabric_token::audience_note(&aud)
            .or_else(|| resources::for_audience(&aud).map(|r| format!(" ({})", r.name)))
            .unwrap_or_default();
        field(&mut out, paint, "audience", &format!("{aud}{known}"));
    }
    if let Some(iss) = s("iss") {
        field(&mut out, paint, "issuer", iss);
    }
    if let Some(tid) = s("tid") {
        field(&mut out, paint, "tenant", tid);
    }
    for (claim, acr) in [("azp", "azpacr"), ("appid", "appidacr")] {
        if let Some(app) = s(claim) {
            let how = s(acr)
                .map(|a| format!(", {}", client_auth(a)))
                .unwrap_or_default();
            field(&mut out, paint, "app", &format!("{app} ({claim}{how})"));
        }
    }
    let who = s("preferred_username").or(s("upn")).or(s("unique_name"));
    match (s("name"), who) {
        (Some(n), Some(u)) => field(&mut out, paint, "user", &format!("{n} <{u}>")),
        (Some(n), None) => field(&mut out, paint, "user", n),
        (None, Some(u)) => field(&mut out, paint, "user", u),
        (None, None) => {}
    }
    if let Some(oid) = s("oid") {
        field(&mut out, paint, "object id", oid);
    }
    if let Some(scp) = d.scopes() {
        field(&mut out, paint, "scopes", &scp);
    }
    if let Some(roles) = d.roles() {
        field(&mut out, paint, "roles", &roles);
    }
    if let Some(ver) = s("ver") {
        field(&mut out, paint, "version", ver);
    }
    if let Some(idtyp) = s("idtyp") {
        field(&mut out, paint, "idtyp", idtyp);
    }
    for (claim, label) in [("iat", "issued"), ("nbf", "not before"), ("exp", "expires")] {
        if let Some(t) = d.time(claim) {
            field(
                &mut out,
                paint,
                label,
                &format!("{} ({})", utc(t), relative(t, now)),
            );
        }
    }
    out.push_str("\nWarnings\n");
    if warnings.is_empty() {
        out.push_str(&format!("  {}\n", paint.green("none")));
    }
    for w in warnings {
        out.push_str(&format!("  {} {}\n", paint.yellow("!"), w.message));
    }
    out
}

/// The JSON form.
pub(crate) fn to_json(d: &Decoded, warnings: &[Warning]) -> Value {
    json!({
        "header": d.header,
        "claims": d.claims,
        "warnings": warnings.iter().map(|w| json!({"code": w.code, "message": w.message})).collect::<Vec<_>>(),
    })
}

pub(crate) fn run(args: DecodeArgs) -> Result<(), CliError> {
    let input = if args.token == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::usage(format!("cannot read the token from stdin: {e}")))?;
        s
    } else {
        args.token.clone()
    };
    let token = strip_bearer(&input);
    if token.is_empty() {
        return Err(CliError::usage(
            "no token to decode (pass it as an argument, or `-` to read stdin)",
        ));
    }
    let now = entra_identity::unix_time::now();
    match decode(token) {
        Ok(d) => {
            let target = args
                .for_url
                .as_deref()
                .map(|v| Target::new(v, &|k| std::env::var(k).ok()));
            let warnings = d.warnings(now, target.as_ref());
            if args.json {
                println!("{:#}", to_json(&d, &warnings));
            } else {
                print!("{}", render(&d, &warnings, now, Paint::stdout()));
            }
            Ok(())
        }
        Err(e) if args.json => {
            println!(
                "{:#}",
                json!({"error": {"code": e.code, "message": e.message}})
            );
            Err(CliError::silent(FAILURE))
        }
        Err(e) => Err(CliError::failure(format!("not a JWT: {}", e.message))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: Value, claims: Value) -> String {
        format!(
            "{}.{}.c2ln",
            entra_jose::b64url(header.to_string()),
            entra_jose::b64url(claims.to_string())
        )
    }

    #[test]
    fn bearer_prefixes_are_stripped() {
        assert_eq!(strip_bearer("  Bearer abc \n"), "abc");
        assert_eq!(strip_bearer("Authorization: bearer abc"), "abc");
        assert_eq!(strip_bearer("\"abc\""), "abc");
        assert_eq!(strip_bearer("abc"), "abc");
        // Regression: multi-byte text where a prefix would end must not panic.
        assert_eq!(strip_bearer("ééééééééé"), "ééééééééé");
        assert_eq!(strip_bearer("Bearé x"), "Bearé x");
    }

    #[test]
    fn non_jwts_are_named() {
        assert_eq!(
            decode("0.AXkAbCdEf-code").unwrap_err().code,
            "authorization_code"
        );
        assert_eq!(decode("eyJa.b.c.d.e").unwrap_err().code, "encrypted");
        assert_eq!(decode("abc.def").unwrap_err().code, "opaque");
        assert_eq!(decode("eyJhbGciOi.%%%.x").unwrap_err().code, "malformed");
        let e = decode("0.AXkAsecretcodevalue").unwrap_err();
        assert!(!e.message.contains("secretcodevalue"));
    }

    #[test]
    fn warnings_for_time_id_token_and_audience() {
        let now = 1_000_000;
        let d = decode(&token(
            json!({"alg":"RS256","typ":"JWT"}),
            json!({"aud":"https://graph.microsoft.com","azp":"x","scp":"User.Read","exp": now - 3 * 3600,"nbf": now + 600,"ver":"2.0"}),
        ))
        .unwrap();
        let none = |_: &str| None;
        let fabric = Target::new("https://api.fabric.microsoft.com/v1/workspaces", &none);
        let w = d.warnings(now, Some(&fabric));
        let codes: Vec<_> = w.iter().map(|w| w.code).collect();
        assert_eq!(codes, ["expired", "not_yet_valid", "wrong_audience"]);
        assert!(
            w[0].message.starts_with("expired 3h ago"),
            "{}",
            w[0].message
        );
        assert!(w[2].message.contains("Microsoft Graph"));
        assert!(w[2].message.contains("--resource fabric"));
        let id = decode(&token(
            json!({"alg":"RS256"}),
            json!({"aud":"c1","exp": now + 60,"nonce":"n"}),
        ))
        .unwrap();
        assert_eq!(id.warnings(now, None)[0].code, "id_token");
        assert!(id.kind().starts_with("ID token"));
    }

    #[test]
    fn app_id_uris_accept_either_form_and_name_both() {
        let now = 1_000_000;
        let none = |_: &str| None;
        let api = Target::new("api://contoso-api", &none);
        let with_aud = |aud: &str| {
            decode(&token(
                json!({"alg":"RS256"}),
                json!({"aud": aud, "azp":"c", "scp":"Data.Read", "exp": now + 600}),
            ))
            .unwrap()
            .warnings(now, Some(&api))
        };
        // v2 (the client id) and v1 (the App ID URI) both fit.
        assert!(with_aud("a0000000-0000-4000-8000-0000000000a1").is_empty());
        assert!(with_aud("api://contoso-api/").is_empty());
        // Another API's: both accepted values are named.
        let w = with_aud("e0000000-0000-4000-8000-0000000000e1");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, "wrong_audience");
        for needle in ["api://contoso-api", "a0000000-0000-4000-8000-0000000000a1"] {
            assert!(w[0].message.contains(needle), "{}", w[0].message);
        }
        let w = with_aud("https://graph.microsoft.com");
        assert!(w[0].message.contains("Microsoft Graph"), "{}", w[0].message);
        // An App ID URI no directory knows: a client id cannot be judged, a URI can.
        let unknown = Target::new("api://nobody", &none);
        let d = decode(&token(
            json!({"alg":"RS256"}),
            json!({"aud":"a0000000-0000-4000-8000-0000000000a1","azp":"c","scp":"x","exp": now + 600}),
        ))
        .unwrap();
        assert_eq!(d.warnings(now, Some(&unknown))[0].code, "audience_unknown");
        assert!(is_guid("a0000000-0000-4000-8000-0000000000a1"));
        assert!(!is_guid("api://x"));
    }
}
