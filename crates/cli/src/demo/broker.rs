//! Step 7 of `entra demo`: the token broker serving managed-identity clients.

use std::sync::Arc;

use entra_identity::{
    Env, ManagedIdentityCredential, ManagedIdentityId, ManagedIdentityOptions, TokenCredential,
    TokenRequest,
};
use serde_json::Value;

use super::context::{Ctx, claims, err};
use crate::dev::{DAEMON, TENANT_ID};

/// A broker holding the daemon app's credentials: three unmodified managed-identity
/// clients (App Service protocol) share one upstream token; a caller allowed only
/// `api://contoso-api` is refused Graph.
pub(super) async fn token_broker(ctx: Arc<Ctx>) -> Result<String, String> {
    use entra_broker::{BrokerConfig, CallerConfig, IdentityConfig, IdentityKind};
    let ready = ctx.h.ready();
    let secret = entra_broker::generate_secret();
    let mut config = BrokerConfig::default();
    config.broker.listen = "127.0.0.1:0".into();
    config.broker.audit_log = Some("off".into());
    config.broker.threads = Some(0);
    config.identities.push(IdentityConfig {
        tenant: Some(TENANT_ID.into()),
        authority: Some(ready.authority.clone()),
        ca_file: Some(ready.ca_file.clone().into()),
        ..IdentityConfig::new("daemon", IdentityKind::EmulatorDev)
    });
    config.callers.push(CallerConfig {
        secret: Some(secret.clone().into()),
        danger_allow_secret_in_config: true,
        identities: vec!["daemon".into()],
        resources: vec!["api://contoso-api".into()],
        ..CallerConfig::new("billing")
    });
    let broker = entra_broker::start(config, Default::default())
        .await
        .map_err(err)?;
    let env = Env::new()
        .with("IDENTITY_ENDPOINT", broker.identity_endpoint())
        .with("IDENTITY_HEADER", secret.clone());
    let client = || {
        ManagedIdentityCredential::new(
            ManagedIdentityId::System,
            ManagedIdentityOptions {
                env: Some(env.clone()),
                ..Default::default()
            },
        )
    };
    let before = ctx.h.counter("grant:client_credentials").await?;
    let result = async {
        let mut audiences = Vec::new();
        for _ in 0..3 {
            let t = client()
                .map_err(err)?
                .get_token(&TokenRequest::new(["api://contoso-api/.default"]))
                .await
                .map_err(err)?;
            let c = claims(&t.token);
            audiences.push(c.get("azp").or(c.get("appid")).and_then(Value::as_str).map(str::to_string));
        }
        if audiences.iter().any(|a| a.as_deref() != Some(DAEMON)) {
            return Err(format!("the broker's tokens are not the daemon app's: {audiences:?}"));
        }
        let refused = client()
            .map_err(err)?
            .get_token(&TokenRequest::new(["https://graph.microsoft.com/.default"]))
            .await;
        let why = match refused {
            Ok(_) => return Err("the broker gave a Graph token to a caller limited to api://contoso-api".into()),
            Err(e) => e.to_string(),
        };
        if !why.contains("may not have tokens for resource") {
            return Err(format!("the refusal does not say why: {why}"));
        }
        // What reached the authority, by its own count.
        let upstream = ctx.h.counter("grant:client_credentials").await? - before;
        Ok(format!(
            "3 managed-identity clients (App Service protocol) shared the daemon app's token through the broker ({upstream} upstream request); a caller limited to api://contoso-api asking for Graph got 403"
        ))
    }
    .await;
    broker.shutdown().await;
    result
}
