//! The managed-identity protocols the emulator does not serve (Cloud Shell, Service
//! Fabric), recorded by the mock hosts of `managed_identity.rs` instead, in the shape of the
//! emulator's recorder (secret headers redacted the same way), so the same normaliser and
//! table apply.

use serde_json::{Value, json};

use crate::common::Emu;
use crate::managed_identity::{Mock, Seen, mock, reply, tls_mock};
use entra_identity::{
    Env as Vars, ManagedIdentityCredential, ManagedIdentityId, ManagedIdentityOptions,
    TokenCredential, TokenRequest,
};
use entra_testkit::dev::API_DEFAULT;

use super::normalise::steps;

/// Headers whose values the emulator's recorder redacts.
const SECRET_HEADERS: [&str; 4] = ["authorization", "cookie", "x-identity-header", "secret"];

/// A mock host's request as the emulator's recorder would have kept it.
fn record(seen: &Seen, endpoint: &str) -> Value {
    let headers: Vec<(String, String)> = seen
        .headers
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().to_ascii_lowercase();
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                "[redacted]".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect();
    let is_form = seen
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form: Vec<(String, String)> = if is_form {
        serde_urlencoded::from_str(&seen.body).unwrap()
    } else {
        Vec::new()
    };
    json!({
        "endpoint": endpoint,
        "method": seen.method,
        "path": seen.path,
        "query": seen.query.iter().collect::<Vec<_>>(),
        "headers": headers,
        "form": form,
        "time": entra_identity::unix_time::now(),
    })
}

/// What both hosts answer: a token of the emulator's, in the shape each protocol
/// documents (`expires_on` as epoch seconds in a string; Cloud Shell adds `expires_in`).
fn answer(token: &str) -> Value {
    let now = entra_identity::unix_time::now();
    json!({
        "access_token": token,
        "expires_in": "3600",
        "expires_on": (now + 3600).to_string(),
        "token_type": "Bearer",
        "resource": "api://contoso-api",
    })
}

impl Emu {
    /// Runs the reference client (`msal_flow`) and then entra-identity against `host`
    /// with the environment `vars`, and checks the two recordings as `flow`.
    async fn compare_on_mock(
        &self,
        flow: &str,
        msal_flow: &str,
        host: &Mock,
        endpoint: &str,
        vars: &[(&str, &str)],
        failures: &mut Vec<String>,
    ) {
        self.start_msal(msal_flow, &["--mi-id", "system"], vars)
            .finish()
            .await;
        let n = host.seen().len();
        // No injected transport: for Service Fabric the credential builds one that trusts
        // only the host's thumbprint.
        let options = ManagedIdentityOptions {
            env: Some(Vars::from_pairs(
                vars.iter().map(|(k, v)| (*k, v.to_string())),
            )),
            arc_agent_installed: Some(false),
            ..Default::default()
        };
        let cred = ManagedIdentityCredential::new(ManagedIdentityId::System, options).unwrap();
        cred.get_token(&TokenRequest::new([API_DEFAULT]))
            .await
            .unwrap();
        let all: Vec<Value> = host.seen().iter().map(|s| record(s, endpoint)).collect();
        let (m, e) = all.split_at(n);
        super::check(flow, &steps(m), &steps(e), failures);
    }
}

/// Cloud Shell (against azure-identity: MSAL Python's Cloud Shell address is fixed) and
/// Service Fabric (against MSAL Python, over HTTPS pinned to the host's thumbprint).
pub async fn mock_host_flows(env: &Emu, failures: &mut Vec<String>) {
    let token = env.daemon_token(API_DEFAULT).await;
    let body = answer(&token);
    let b = body.clone();
    let cloud_shell = mock(move |_, _| reply(200, b.clone())).await;
    let url = format!("{}/oauth2/token", cloud_shell.base);
    let vars = [("MSI_ENDPOINT", url.as_str())];
    env.compare_on_mock(
        "mi_cloud_shell_system",
        "azure_identity_mi",
        &cloud_shell,
        "cloud_shell",
        &vars,
        failures,
    )
    .await;
    let (fabric, thumbprint) = tls_mock(move |_, _| reply(200, body.clone())).await;
    let url = format!("{}/metadata/identity/oauth2/token", fabric.base);
    let vars = [
        ("IDENTITY_ENDPOINT", url.as_str()),
        ("IDENTITY_HEADER", "fabric-identity-header"),
        ("IDENTITY_SERVER_THUMBPRINT", thumbprint.as_str()),
    ];
    env.compare_on_mock(
        "mi_service_fabric_system",
        "mi",
        &fabric,
        "service_fabric",
        &vars,
        failures,
    )
    .await;
}
