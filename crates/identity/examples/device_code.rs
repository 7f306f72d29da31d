//! A command-line tool that signs its user in with a device code and keeps the account in
//! an encrypted token cache file: the first run shows a code to enter in a browser, later
//! runs get tokens silently (from the cache, or with the refresh token).
//!
//! ```text
//! entra up                          # then export the authority and CA file it prints:
//! export AZURE_AUTHORITY_HOST=https://localhost:8443 SSL_CERT_FILE=<its ca.pem>
//! AZURE_TENANT_ID=contoso.onmicrosoft.com AZURE_CLIENT_ID=<public client app id> \
//!     cargo run -p entra-identity --example device_code -- api://contoso-api/Data.Read
//! ```
//!
//! The cache is `device-code-example/tokens.bin` in the user's cache directory (or
//! `ENTRA_TOKEN_CACHE`), encrypted with AES-256-GCM; its key goes to the OS keyring when
//! one is reachable, else to a 0600 key file beside it. Run it twice: the second run
//! asks for nothing.

use std::path::PathBuf;
use std::sync::Arc;

use entra_identity::persist::Protection;
use entra_identity::{ClientOptions, DeviceCodeCredential, TokenCredential, TokenRequest};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let (tenant, client_id) = (var("AZURE_TENANT_ID")?, var("AZURE_CLIENT_ID")?);
    let scope = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "User.Read".into());
    let cache_path = match std::env::var_os("ENTRA_TOKEN_CACHE") {
        Some(p) => PathBuf::from(p),
        None => dirs::cache_dir()
            .ok_or("no cache directory here: set ENTRA_TOKEN_CACHE")?
            .join("device-code-example")
            .join("tokens.bin"),
    };
    let options =
        ClientOptions::from_env().with_persistent_cache(&cache_path, Protection::Encrypted)?;
    let cache = options.persistent_cache.clone();
    let credential = DeviceCodeCredential::new(
        &tenant,
        &client_id,
        options,
        // What the user must do: open the URL and type the code (no secret in it).
        Arc::new(|info| eprintln!("{}", info.message)),
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let token = runtime.block_on(credential.get_token(&TokenRequest::new([scope.as_str()])))?;
    let account = runtime.block_on(credential.client().current_account())?;
    println!(
        "signed in as {}; token for {scope}: {} minutes left",
        account.map(|a| a.username).unwrap_or_default(),
        token.expires_in().as_secs() / 60
    );
    if let Some(cache) = cache {
        println!(
            "cache {} (key: {:?})",
            cache_path.display(),
            cache.key_location()
        );
    }
    Ok(())
}
