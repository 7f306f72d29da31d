//! The browser side: `/authorize` (response_type=code with query, fragment or form_post,
//! `state`, `nonce`, `prompt`, `login_hint`, PKCE), the sign-in, MFA, consent and
//! account-picker pages, the device-code endpoint and its pages, and sign-out.
//!
//! A pending sign-in is a server-side *flow* keyed by a random id; each page posts the
//! flow id and a CSRF token that must equal the `entra_csrf` cookie (double submit).
//! Errors that would need an unverified redirect URI are shown as pages, never redirected.

mod consent;
mod dev_picker;
mod device;
mod endpoint;
mod flow;
mod logout;
mod redirect;
mod session;
mod sign_in;

pub(crate) use consent::consent;
pub(crate) use device::{device_confirm, devicecode, devicelogin_page, devicelogin_submit};
pub(crate) use endpoint::{authorize_v1, authorize_v2};
pub(crate) use logout::logout;
pub(crate) use sign_in::{login, mfa, select};
