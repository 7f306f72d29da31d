//! `entra doctor --error TEXT`: an AADSTS error, a bare code or an API's 401 text,
//! explained from the AADSTS table.

use std::io::Read as _;

use entra_identity::EntraErrorResponse;
use serde_json::json;

use super::report::first_sentence;
use super::service_errors::{self, ServiceError};
use crate::aadsts;
use crate::exit::{CliError, FAILURE};
use crate::term::Paint;

/// Explains `arg` (the text, a code, or `-` for stdin): exit 0 when something in it was
/// explained, 1 when nothing was recognised, 2 when there is nothing to read.
pub(super) fn explain(arg: &str, as_json: bool) -> Result<(), CliError> {
    let text = if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::usage(format!("cannot read stdin: {e}")))?;
        s
    } else {
        arg.to_string()
    };
    if text.trim().is_empty() {
        return Err(CliError::usage(
            "nothing to explain (pass the error text, a code, or `-` for stdin)",
        ));
    }
    let entra = EntraErrorResponse::parse(0, text.trim().as_bytes());
    let mut codes = entra.as_ref().map(|e| e.codes.clone()).unwrap_or_default();
    for c in aadsts::codes_in(&text) {
        if !codes.contains(&c) {
            codes.push(c);
        }
    }
    let api = aadsts::api_messages(&text);
    // A code entra has no entry for is shown only when nothing else explains the text.
    let service = service_errors::recognise(&text)
        .filter(|s| s.known || (api.is_empty() && codes.is_empty()));
    let explained =
        codes.iter().any(|c| aadsts::lookup(*c).is_some()) || !api.is_empty() || service.is_some();
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
            "service": service.as_ref().map(|s| json!({"service": s.service, "code": s.code, "request_id": s.request_id, "meaning": s.meaning, "action": s.action})),
            "explained": explained,
        });
        println!("{v:#}");
    } else {
        let paint = Paint::stdout();
        if let Some(s) = &service {
            print!("{}", render_service(s, paint));
        }
        if service.is_none() || !codes.is_empty() || !api.is_empty() {
            print!(
                "{}",
                render_explanation(entra.as_ref(), &codes, &api, paint)
            );
        }
    }
    if explained {
        Ok(())
    } else {
        // The explanation says nothing was found.
        Err(CliError::silent(FAILURE))
    }
}

/// A Fabric or Power BI error: what the service said, what it means, what to do.
fn render_service(s: &ServiceError, paint: Paint) -> String {
    let mut out = format!(
        "{} {}\n",
        paint.bold(&format!("{} said:", s.service)),
        s.code
    );
    if let Some(id) = &s.request_id {
        out.push_str(&format!(
            "  request id {id} (give it to Microsoft support)\n"
        ));
    }
    out.push_str(&format!("  means  {}\n", s.meaning));
    out.push_str(&format!("  do     {}\n\n", s.action));
    out
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
