//! App Service, Functions and Container Apps (the 2019-08-01 protocol), and the older
//! 2017-09-01 protocol that legacy App Service and Azure ML speak.

use super::host::ManagedIdentityHost;
use super::id::ManagedIdentityId;
use super::response::{read_token, with_query};
use crate::error::Error;
use crate::http::{self, Pipeline};
use crate::secret::Secret;
use crate::token::AccessToken;

/// A token from App Service 2019-08-01 at `url` (`IDENTITY_ENDPOINT`), `header` being
/// `IDENTITY_HEADER`.
pub(super) async fn fetch(
    pipeline: &Pipeline,
    id: &ManagedIdentityId,
    url: &str,
    header: &Secret,
    resource: &str,
) -> Result<AccessToken, Error> {
    let host = ManagedIdentityHost::AppService;
    let context = format!("{} managed identity endpoint", host.name());
    let mut params = vec![("api-version", "2019-08-01"), ("resource", resource)];
    params.extend(id.param(
        host,
        [Some("client_id"), Some("principal_id"), Some("mi_res_id")],
    )?);
    let request = http::get(
        &with_query(url, &params),
        &[("x-identity-header", header.expose()), ("metadata", "true")],
    )?;
    let resp = pipeline.send(request, &context).await?;
    read_token(host, url, &resp, &[header.expose()])
}

/// A token from the 2017-09-01 protocol at `url` (`MSI_ENDPOINT`), `secret` being
/// `MSI_SECRET`: legacy App Service (`host`), or Azure ML, which sends its
/// `default_client_id` for the system-assigned identity.
pub(super) async fn fetch_2017(
    pipeline: &Pipeline,
    id: &ManagedIdentityId,
    host: ManagedIdentityHost,
    default_client_id: Option<&str>,
    (url, secret): (&str, &Secret),
    resource: &str,
) -> Result<AccessToken, Error> {
    let context = format!("{} managed identity endpoint", host.name());
    let mut params = vec![("api-version", "2017-09-01"), ("resource", resource)];
    match (id, default_client_id) {
        (ManagedIdentityId::System, Some(default_client_id)) => {
            params.push(("clientid", default_client_id))
        }
        _ => params.extend(id.param(host, [Some("clientid"), None, None])?),
    }
    let request = http::get(
        &with_query(url, &params),
        &[("secret", secret.expose()), ("metadata", "true")],
    )?;
    let resp = pipeline.send(request, &context).await?;
    read_token(host, url, &resp, &[secret.expose()])
}
