//! Server-rendered HTML for the interactive pages: sign-in, MFA, consent, account
//! picker, device-code entry and confirmation, sign-out, errors. Plain HTML with a little
//! CSS, readable on a phone; every form carries the CSRF token. All text that comes
//! from a request or the directory goes through [`esc`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// HTML-escapes text for element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f2f2f2;color:#1b1b1b}
main{max-width:440px;margin:8vh auto;background:#fff;padding:32px 36px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
@media (max-width:480px){main{margin:0;min-height:100vh;box-shadow:none;padding:24px 20px}}
.brand{font-weight:600;color:#5e5e5e;font-size:15px;margin-bottom:16px}.brand b{color:#0067b8}
h1{font-size:24px;font-weight:600;margin:0 0 16px}label{display:block;font-size:14px;margin:12px 0 4px}
input[type=text],input[type=email],input[type=password]{width:100%;font-size:16px;padding:8px 2px;border:0;border-bottom:1px solid #666;outline:0}
input:focus{border-bottom-color:#0067b8}.row{display:flex;gap:8px;justify-content:flex-end;margin-top:24px}
button{font-size:15px;padding:8px 20px;min-width:108px;border:0;cursor:pointer}
.primary{background:#0067b8;color:#fff}.secondary{background:#ccc;color:#000}
.error{color:#e81123;font-size:14px;margin:8px 0}.muted{color:#5e5e5e;font-size:13px}
ul.perms{padding-left:20px}ul.perms li{margin:6px 0}code.code{font-size:22px;letter-spacing:3px}
.dev{margin-top:24px;border-top:1px solid #eee;padding-top:12px}
.picker{margin-top:20px;border-top:1px solid #eee;padding-top:8px}.picker form{margin:6px 0}
button.pick{width:100%;text-align:left;background:#f2f2f2;color:#1b1b1b;padding:8px 12px}
"#;

/// A whole page.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{t}</title><style>{CSS}</style></head><body><main><div class=\"brand\"><b>entrakit</b> emulator &middot; Entra ID (development)</div>{body}\
<p class=\"dev muted\">A local development authority. Never enter a real password here.</p></main></body></html>",
        t = esc(title)
    )
}

/// The hidden fields every form carries.
pub(crate) fn hidden(flow: &str, csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"flow\" value=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(flow),
        esc(csrf)
    )
}

/// The sign-in page, with `picker` (the development user picker's HTML, or empty) below
/// the form.
pub(crate) fn login(
    flow: &str,
    csrf: &str,
    app_name: &str,
    hint: Option<&str>,
    error: Option<&str>,
    picker: &str,
) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        "Sign in to your account",
        &format!(
            "<h1>Sign in</h1><p class=\"muted\">to continue to {app}</p>{err}<form method=\"post\" action=\"/login\">{h}\
<label for=\"login\">Email or username</label><input type=\"email\" id=\"login\" name=\"login\" autocomplete=\"username\" required value=\"{hint}\">\
<label for=\"passwd\">Password</label><input type=\"password\" id=\"passwd\" name=\"passwd\" autocomplete=\"current-password\" required>\
<div class=\"row\"><button class=\"primary\" id=\"submit\" type=\"submit\">Sign in</button></div></form>{picker}",
            app = esc(app_name),
            h = hidden(flow, csrf),
            hint = esc(hint.unwrap_or(""))
        ),
    )
}

/// The (simulated) second-factor page.
pub(crate) fn mfa(flow: &str, csrf: &str, upn: &str) -> String {
    page(
        "Approve sign in request",
        &format!(
            "<h1>Approve sign in request</h1><p>{upn}</p><p class=\"muted\">Your organisation requires a second factor. In the emulator, approving here stands in for the authenticator app.</p>\
<form method=\"post\" action=\"/mfa\">{h}<div class=\"row\"><button class=\"primary\" id=\"approve\" type=\"submit\">Approve</button></div></form>",
            upn = esc(upn),
            h = hidden(flow, csrf)
        ),
    )
}

/// The consent page (also the device-code confirmation).
pub(crate) fn consent(
    flow: &str,
    csrf: &str,
    action: &str,
    title: &str,
    app_name: &str,
    upn: &str,
    perms: &[String],
) -> String {
    let list: String = perms
        .iter()
        .map(|p| format!("<li>{}</li>", esc(p)))
        .collect();
    page(
        title,
        &format!(
            "<h1>{title}</h1><p class=\"muted\">{upn}</p><p><b>{app}</b> wants to:</p><ul class=\"perms\" id=\"permissions\">{list}</ul>\
<form method=\"post\" action=\"{action}\">{h}<div class=\"row\"><button class=\"secondary\" id=\"cancel\" name=\"action\" value=\"cancel\" type=\"submit\">Cancel</button>\
<button class=\"primary\" id=\"accept\" name=\"action\" value=\"accept\" type=\"submit\">Accept</button></div></form>",
            title = esc(title),
            upn = esc(upn),
            app = esc(app_name),
            action = esc(action),
            h = hidden(flow, csrf)
        ),
    )
}

/// The account picker (`prompt=select_account`).
pub(crate) fn select_account(flow: &str, csrf: &str, upn: &str) -> String {
    page(
        "Pick an account",
        &format!(
            "<h1>Pick an account</h1><form method=\"post\" action=\"/select\">{h}\
<div class=\"row\" style=\"flex-direction:column\"><button class=\"primary\" id=\"current\" name=\"choice\" value=\"current\" type=\"submit\">{upn}</button>\
<button class=\"secondary\" id=\"other\" name=\"choice\" value=\"other\" type=\"submit\">Use another account</button></div></form>",
            upn = esc(upn),
            h = hidden(flow, csrf)
        ),
    )
}

/// Device-code entry.
pub(crate) fn device_entry(csrf: &str, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        "Enter code",
        &format!(
            "<h1>Enter code</h1><p class=\"muted\">Enter the code displayed on your app or device.</p>{err}<form method=\"post\" action=\"/devicelogin\">{h}\
<label for=\"otc\">Code</label><input type=\"text\" id=\"otc\" name=\"otc\" autocomplete=\"off\" autocapitalize=\"characters\" required>\
<div class=\"row\"><button class=\"primary\" id=\"submit\" type=\"submit\">Next</button></div></form>",
            h = hidden("", csrf)
        ),
    )
}

/// A final message page (`#done`).
pub(crate) fn done(title: &str, message: &str) -> String {
    page(
        title,
        &format!("<h1 id=\"done\">{}</h1><p>{}</p>", esc(title), esc(message)),
    )
}

/// An error page (for errors that must not be redirected to an unverified URI).
pub(crate) fn error(code: u32, message: &str) -> String {
    page(
        "Sign in error",
        &format!(
            "<h1>Sorry, but we're having trouble signing you in.</h1><p class=\"error\" id=\"error\">AADSTS{code}: {}</p>",
            esc(message)
        ),
    )
}

/// A page that POSTs `fields` to `action` (response_mode=form_post).
pub(crate) fn form_post(action: &str, fields: &[(&str, &str)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(k),
                esc(v)
            )
        })
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Working...</title></head><body onload=\"document.forms[0].submit()\">\
<form method=\"post\" action=\"{}\">{inputs}<noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
        esc(action)
    )
}

/// An HTML response with security headers.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action *; frame-ancestors 'none'"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_blocks_markup() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let p = login("f", "c", "<script>x", Some("\"><img>"), Some("<i>y"), "");
        assert!(!p.contains("<script>x") && !p.contains("<img>") && !p.contains("<i>y"));
        assert!(
            p.contains("id=\"login\"")
                && p.contains("id=\"passwd\"")
                && p.contains("id=\"submit\"")
        );
    }
}
