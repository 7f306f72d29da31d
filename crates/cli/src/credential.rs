//! From configuration to credentials: the client options every command shares (authority,
//! extra CA, the token cache file) and the credential `--credential KIND` names.

use std::path::PathBuf;
use std::sync::Arc;

use entra_identity::persist::Protection;
use entra_identity::{
    ClientOptions, DefaultAzureCredential, DefaultAzureCredentialOptions, Env,
    SharedTokenCacheOptions, TokenCredential,
};

use crate::config::Config;

/// The token cache file: the configured one, else the default place.
pub(crate) fn cache_path(config: &Config) -> Option<PathBuf> {
    config
        .token_cache
        .as_ref()
        .map(|s| s.value.clone())
        .or_else(entra_identity::default_cache_path)
}

/// Client options for `config`: its authority and extra CA (over a transport built on
/// first use: a run served from the cache file never loads the system roots); no cache
/// file.
pub(crate) fn client_options(config: &Config) -> ClientOptions {
    let ca_file = config.ca_file.as_ref().map(|s| s.value.clone());
    ClientOptions {
        authority_host: Some(config.authority.value.clone()),
        pipeline: crate::transport::lazy_pipeline(ca_file.as_deref()),
        ca_file,
        ..Default::default()
    }
}

/// Client options with the token cache file opened (encrypted), for credentials that
/// keep tokens across runs.
pub(crate) fn client_options_with_cache(config: &Config) -> Result<ClientOptions, String> {
    let options = client_options(config);
    match cache_path(config) {
        Some(path) => options
            .with_persistent_cache(&path, Protection::Encrypted)
            .map_err(|e| format!("token cache {}: {e}", path.display())),
        None => Ok(options),
    }
}

/// The default chain as `entra` runs it: the process environment, the configured
/// authority and CA, app tokens kept in the cache file, and the signed-in user of that
/// file (with the configured client id and tenant) as the cached account.
pub(crate) fn default_chain(config: &Config) -> Result<Arc<dyn TokenCredential>, String> {
    default_azure_credential(config).map(|c| Arc::new(c) as Arc<dyn TokenCredential>)
}

/// [`default_chain`] as its concrete type, which can say which credential it picked.
pub(crate) fn default_azure_credential(config: &Config) -> Result<DefaultAzureCredential, String> {
    chain_in(config, Env::from_process())
}

/// [`default_azure_credential`] reading `env` rather than the process's environment (so
/// that `entra token --credential KIND` can narrow it with `AZURE_TOKEN_CREDENTIALS`).
pub(crate) fn chain_in(config: &Config, env: Env) -> Result<DefaultAzureCredential, String> {
    let client = client_options_with_cache(config)?;
    let shared = SharedTokenCacheOptions {
        client: client_options(config),
        cache_path: cache_path(config),
        client_id: Some(config.client_id.value.clone()),
        tenant: Some(config.tenant.value.clone()),
        username: env.get("AZURE_USERNAME").map(str::to_string),
        ..Default::default()
    };
    let options = DefaultAzureCredentialOptions {
        client,
        env: Some(env),
        shared_token_cache: Some(Arc::new(move |_: &Env, _: &ClientOptions| {
            Ok(Arc::new(entra_identity::SharedTokenCacheCredential::new(
                shared.clone(),
            )) as Arc<dyn TokenCredential>)
        })),
        ..Default::default()
    };
    DefaultAzureCredential::new(options).map_err(|e| e.to_string())
}
