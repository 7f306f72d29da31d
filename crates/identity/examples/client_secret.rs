//! A daemon with a client secret: one app token for an API, then the same token again
//! from the cache. Configuration comes from the environment, as for any Azure SDK:
//!
//! ```text
//! entra up                          # then export the authority and CA file it prints:
//! export AZURE_AUTHORITY_HOST=https://localhost:8443 SSL_CERT_FILE=<its ca.pem>
//! AZURE_TENANT_ID=contoso.onmicrosoft.com AZURE_CLIENT_ID=<app id> AZURE_CLIENT_SECRET=<value> \
//!     cargo run -p entra-identity --example client_secret -- api://contoso-api/.default
//! ```
//!
//! Without `AZURE_AUTHORITY_HOST` it talks to the public cloud. The token itself is never
//! printed.

use entra_identity::{ClientOptions, ClientSecretCredential, TokenCredential, TokenRequest};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let (tenant, client_id, secret) = (
        var("AZURE_TENANT_ID")?,
        var("AZURE_CLIENT_ID")?,
        var("AZURE_CLIENT_SECRET")?,
    );
    let scope = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "https://graph.microsoft.com/.default".into());
    // AZURE_AUTHORITY_HOST (the emulator's URL) and SSL_CERT_FILE (its CA) in one call.
    let credential =
        ClientSecretCredential::new(&tenant, &client_id, secret, ClientOptions::from_env())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let request = TokenRequest::new([scope.as_str()]);
    let token = runtime.block_on(credential.get_token(&request))?;
    println!(
        "{} token for {scope}: {} minutes left",
        token.token_type,
        token.expires_in().as_secs() / 60
    );
    // The second call is answered from the in-memory cache: no request.
    let again = runtime.block_on(credential.get_token(&request))?;
    println!("again from the cache: {}", again.token == token.token);
    Ok(())
}
