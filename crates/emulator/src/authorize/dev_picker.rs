//! The development user picker on the sign-in page (directory `[settings]`
//! `dev_user_picker = true`; `entra up` turns it on): each user the flow's tenant admits is
//! a one-click button. A button posts the normal `/login` form (flow id, CSRF token) with
//! the user name and `dev_pick=1`, never a password: no password is ever rendered into
//! the page. `/login` honours `dev_pick` only while the setting is on.

use crate::directory::Directory;
use crate::pages::{self, esc, hidden};
use crate::request::TenantSel;
use crate::state::Flow;

/// The sign-in page for `flow`, with the picker when the directory enables it.
pub(super) fn login_page(
    dir: &Directory,
    flow: &Flow,
    flow_id: &str,
    csrf: &str,
    app_name: &str,
    hint: Option<&str>,
    error: Option<&str>,
) -> String {
    let picker = if dir.settings.dev_user_picker {
        picker(dir, flow, flow_id, csrf)
    } else {
        String::new()
    };
    pages::login(flow_id, csrf, app_name, hint, error, &picker)
}

fn picker(dir: &Directory, flow: &Flow, flow_id: &str, csrf: &str) -> String {
    let Ok(sel) = TenantSel::resolve(dir, &flow.tenant_segment) else {
        return String::new();
    };
    let buttons: String = dir
        .users
        .iter()
        .filter(|u| sel.admits_user(&u.tenant_id))
        .map(|u| {
            let local = u.upn.split('@').next().unwrap_or("");
            format!(
                "<form method=\"post\" action=\"/login\">{h}<input type=\"hidden\" name=\"login\" value=\"{upn}\">\
<input type=\"hidden\" name=\"dev_pick\" value=\"1\"><button class=\"pick\" id=\"pick-{id}\" type=\"submit\">{name}<br><span class=\"muted\">{upn}</span></button></form>",
                h = hidden(flow_id, csrf),
                upn = esc(&u.upn),
                id = esc(local),
                name = esc(if u.name.is_empty() { &u.upn } else { &u.name }),
            )
        })
        .collect();
    if buttons.is_empty() {
        return String::new();
    }
    format!(
        "<div class=\"picker\" id=\"dev-users\"><p class=\"muted\">Development users (one click, no password; <code>dev_user_picker</code> is on):</p>{buttons}</div>"
    )
}
