//! The interactive (browser) sign-in's settings and [`InteractiveBrowserCredential`];
//! the flow itself is in `loopback`.

use std::sync::Arc;
use std::time::Duration;

use super::client::{PublicClient, SignIn};
use crate::error::Error;
use crate::options::ClientOptions;
use crate::token::{AccessToken, TokenRequest, token_credential};

/// Receives the sign-in URL of an interactive sign-in.
pub type UrlCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// Settings for an interactive (browser) sign-in.
#[derive(Clone)]
pub struct InteractiveOptions {
    /// How long to wait for the browser to come back; the listener is closed after it.
    /// Default: 5 minutes.
    pub timeout: Duration,
    /// Open the system browser (`$BROWSER`, else `xdg-open` / `open` / `cmd /c start`).
    /// Default: true.
    pub open_browser: bool,
    /// Receives the sign-in URL (to print it, or to drive a sign-in in tests).
    pub on_url: Option<UrlCallback>,
    /// `prompt` (`select_account`, `login`, `consent`, `none`).
    pub prompt: Option<String>,
    /// `login_hint` (a user name to preselect).
    pub login_hint: Option<String>,
    /// The host named in the redirect URI sent to the authority. The listener binds
    /// `127.0.0.1` whichever is chosen. Default: [`RedirectHost::LoopbackIp`].
    pub redirect_host: RedirectHost,
}

/// The host of an interactive sign-in's loopback redirect URI. The app registration
/// must list it: Entra ignores a loopback redirect URI's port, but not its host, so
/// `http://127.0.0.1` and `http://localhost` are two registrations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectHost {
    /// `http://127.0.0.1:PORT`, the IP literal RFC 8252 §8.3 recommends: it cannot
    /// resolve to another interface, or to `::1` where nothing listens.
    #[default]
    LoopbackIp,
    /// `http://localhost:PORT`, for apps registered with `http://localhost` only, such
    /// as the Azure CLI's first-party client, which MSAL Python signs in with it.
    Localhost,
}

impl Default for InteractiveOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            open_browser: true,
            on_url: None,
            prompt: None,
            login_hint: None,
            redirect_host: RedirectHost::default(),
        }
    }
}

impl std::fmt::Debug for InteractiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractiveOptions")
            .field("timeout", &self.timeout)
            .field("open_browser", &self.open_browser)
            .field("on_url", &self.on_url.as_ref().map(|_| "callback"))
            .field("prompt", &self.prompt)
            .field("login_hint", &self.login_hint)
            .field("redirect_host", &self.redirect_host)
            .finish()
    }
}

/// Signs a user in through the system browser (authorization code + PKCE, loopback
/// redirect), then gets tokens silently while the refresh token works.
#[derive(Debug)]
pub struct InteractiveBrowserCredential {
    client: PublicClient,
    options: InteractiveOptions,
}

impl InteractiveBrowserCredential {
    /// A credential for the public client `client_id` in `tenant`.
    pub fn new(
        tenant: &str,
        client_id: &str,
        options: ClientOptions,
        interactive: InteractiveOptions,
    ) -> Result<Self, Error> {
        Ok(Self {
            client: PublicClient::new(tenant, client_id, options)?,
            options: interactive,
        })
    }

    /// The public client underneath (accounts, silent calls).
    pub fn client(&self) -> &PublicClient {
        &self.client
    }

    /// Signs in now, whatever is cached.
    pub async fn authenticate(&self, request: &TokenRequest) -> Result<SignIn, Error> {
        self.client
            .sign_in_interactive(request, &self.options)
            .await
    }

    async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        if let Some(account) = self.client.current_account().await? {
            match self.client.get_token_silent(&account, request).await {
                Err(e) if e.needs_interaction() => {
                    tracing::debug!(error = %e, "silent acquisition failed; signing in interactively");
                }
                other => return other,
            }
        }
        Ok(self.authenticate(request).await?.token)
    }
}

token_credential!(InteractiveBrowserCredential, "InteractiveBrowserCredential");
