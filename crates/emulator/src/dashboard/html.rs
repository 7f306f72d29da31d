//! The dashboard's HTML building blocks: the response with its headers (CSP without any
//! script), the document shell, the login and message pages, tables, forms, times. All
//! text from the directory or a request goes through [`esc`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::pages::esc;

/// An HTML response with the dashboard's headers: no script at all, the style sheet from
/// this origin only, forms posting only here, never framed, never cached.
pub(super) fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null`
    // with a form POST, and the POST checks need the real origin. Other sites get no
    // referrer either way.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

pub(super) fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
<link rel=\"stylesheet\" href=\"/dashboard/style.css\"></head><body>{body}</body></html>",
        esc(title)
    )
}

/// The login page (the admin token), with an optional error.
pub(super) fn login_page(error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"flash bad\" id=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    document(
        "Sign in: entrakit emulator dashboard",
        &format!(
            "<div class=\"login\"><h1>Emulator dashboard</h1>{err}\
<p class=\"muted\">Paste the admin token (<code>admin_token</code> in ready.json), or open the one-time link <code>entra up</code> prints.</p>\
<form method=\"post\" action=\"/dashboard/login\"><label for=\"token\">Admin token\
<input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" required></label>\
<button type=\"submit\" id=\"sign-in\">Sign in</button></form></div>"
        ),
    )
}

/// A page with one message (refusals).
pub(super) fn message_page(title: &str, message: &str) -> String {
    document(
        title,
        &format!(
            "<div class=\"login\"><h1>{}</h1><p id=\"error\">{}</p><p><a href=\"/dashboard\">Dashboard</a></p></div>",
            esc(title),
            esc(message)
        ),
    )
}

/// `2026-12-08 00:10:00Z` for unix seconds.
pub(super) fn when(t: i64) -> String {
    // A space between date and time: a narrow cell wraps there, not inside the date.
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| t.to_string())
}

/// A key id shortened for a narrow table cell, the whole id in its title.
pub(super) fn short_kid(kid: &str) -> String {
    let short: String = kid.chars().take(10).collect();
    if short.len() == kid.len() {
        code(kid)
    } else {
        format!(
            "<code title=\"{}\">{}&hellip;</code>",
            esc(kid),
            esc(&short)
        )
    }
}

/// A table; `rows` are already-escaped cells. Each cell carries its column's name
/// (`data-label`): on a phone the rows become stacked cards labelled by it.
pub(super) fn table(id: &str, heads: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return format!("<p class=\"muted\" id=\"{id}\">None.</p>");
    }
    let head: String = heads
        .iter()
        .map(|h| format!("<th>{}</th>", esc(h)))
        .collect();
    let body: String = rows
        .iter()
        .map(|r| {
            format!(
                "<tr>{}</tr>",
                r.iter()
                    .zip(heads)
                    .map(|(c, h)| format!("<td data-label=\"{}\">{c}</td>", esc(h)))
                    .collect::<String>()
            )
        })
        .collect();
    format!(
        "<div class=\"scroll\"><table id=\"{id}\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )
}

/// Escaped text in `<code>`.
pub(super) fn code(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

/// A POST form to `action` with the CSRF token, `fields` (escaped HTML) and a button.
pub(super) fn form(action: &str, csrf: &str, fields: &str, button: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">{fields}{button}</form>",
        esc(action),
        esc(csrf)
    )
}
