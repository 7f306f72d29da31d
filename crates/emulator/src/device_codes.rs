//! Approving a device code without a browser (the admin API's
//! `POST /admin/device-codes/{user_code}/approve`): the same outcome as the user typing
//! the code on `/devicelogin`, signing in (with MFA when the user needs it) and accepting
//! the consent page. The client's next poll gets tokens.

use crate::consent::{add_user_consent, missing_consent};
use crate::directory::{Directory, User};
use crate::request::TenantSel;
use crate::state::{AppState, DeviceCode, DeviceStatus};

/// A device code approved by [`approve`].
#[derive(Debug)]
pub(crate) struct Approved {
    /// The user code, as stored (upper case, no separators).
    pub(crate) user_code: String,
    /// The user it was approved as.
    pub(crate) upn: String,
    /// The client that asked for it.
    pub(crate) client_id: String,
}

/// Why a device code could not be approved.
#[derive(Debug)]
pub(crate) enum ApproveError {
    /// No pending, unexpired device code has that user code.
    UnknownCode(String),
    /// The user is unknown, ambiguous, or cannot sign in through the code's tenant.
    UnknownUser(String),
    /// The sign-in cannot finish (the app is gone, or its scopes no longer resolve).
    Unusable(String),
}

/// A user code as the user typed it, read as stored: letters and digits only, upper
/// case (so `abcd-efgh` finds `ABCDEFGH`).
pub(crate) fn read_user_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The pending device code whose user code is `user_code` (as [`read_user_code`]
/// returns it), unless it has expired at `now`: its device code and its entry.
pub(crate) fn pending_device_code(
    st: &AppState,
    user_code: &str,
    now: i64,
) -> Option<(String, DeviceCode)> {
    let store = st.store.lock().expect("store lock");
    store
        .device_codes
        .iter()
        .find(|(_, d)| d.user_code == user_code && d.status == DeviceStatus::Pending)
        .map(|(k, d)| (k.clone(), d.clone()))
        .filter(|(_, d)| now <= d.expires)
}

/// Approves the pending device code `user_code` as `who` (a UPN, or the part before `@`
/// when exactly one user who may sign in there has it), recording the consent the
/// browser's consent page would.
pub(crate) fn approve(st: &AppState, user_code: &str, who: &str) -> Result<Approved, ApproveError> {
    // Typed codes are read as `/devicelogin` reads them.
    let typed = read_user_code(user_code);
    let now = st.now();
    let unknown_code = || {
        ApproveError::UnknownCode(format!(
            "no pending device code {:?} (unknown, expired or already used)",
            typed.chars().take(32).collect::<String>()
        ))
    };
    let (device_code, dc) = pending_device_code(st, &typed, now).ok_or_else(unknown_code)?;
    let dir = st.dir();
    let user = find_user(&dir, &dc.tenant_segment, who)?;
    let Some(app) = dir.app(&dc.client_id) else {
        return Err(ApproveError::Unusable(
            "the application no longer exists".into(),
        ));
    };
    // What `/device/confirm` records when the user accepts.
    let missing = missing_consent(&dir, app, user, &dc.scopes)
        .map_err(|e| ApproveError::Unusable(format!("AADSTS{}: {}", e.code, e.message)))?;
    if !missing.is_empty() {
        let perms: Vec<String> = missing.into_iter().map(|m| m.2).collect();
        add_user_consent(st, &user.upn, &app.client_id, &perms).map_err(ApproveError::Unusable)?;
    }
    // A user who needs MFA would have completed it on the way.
    let status = DeviceStatus::Approved(
        user.object_id.clone(),
        user.tenant_id.clone(),
        user.mfa_required,
    );
    {
        let mut store = st.store.lock().expect("store lock");
        match store.device_codes.get_mut(&device_code) {
            Some(d) if d.status == DeviceStatus::Pending && st.now() <= d.expires => {
                d.status = status;
            }
            _ => return Err(unknown_code()),
        }
    }
    st.event(
        "device_code_admin",
        &dc.client_id,
        &dc.tenant_segment,
        &user.upn,
        Ok(()),
    );
    Ok(Approved {
        user_code: typed,
        upn: user.upn.clone(),
        client_id: dc.client_id,
    })
}

/// The user `who` names among those who may sign in through `tenant_segment`: a UPN, or
/// the part before `@` when it is unique.
fn find_user<'d>(
    dir: &'d Directory,
    tenant_segment: &str,
    who: &str,
) -> Result<&'d User, ApproveError> {
    let sel = TenantSel::resolve(dir, tenant_segment).ok();
    let admitted = |u: &&User| sel.is_some_and(|s| s.admits_user(&u.tenant_id));
    let shown: String = who.chars().take(256).collect();
    if who.contains('@') {
        return dir.user(who).filter(admitted).ok_or_else(|| {
            ApproveError::UnknownUser(format!(
                "no user {shown:?} who can sign in to this device code's tenant"
            ))
        });
    }
    let mut found = dir.users.iter().filter(admitted).filter(|u| {
        u.upn
            .split_once('@')
            .is_some_and(|(name, _)| name.eq_ignore_ascii_case(who))
    });
    match (found.next(), found.next()) {
        (Some(u), None) => Ok(u),
        (None, _) => Err(ApproveError::UnknownUser(format!(
            "no user {shown:?} who can sign in to this device code's tenant"
        ))),
        (Some(_), Some(_)) => Err(ApproveError::UnknownUser(format!(
            "more than one user is named {shown:?}: give the full UPN"
        ))),
    }
}
