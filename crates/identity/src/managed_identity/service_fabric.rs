//! Service Fabric: header `secret`, api-version 2019-07-01-preview; over HTTPS the
//! endpoint is trusted by its thumbprint only ([`super::pinned_tls`]).

use super::host::ManagedIdentityHost;
use super::id::ManagedIdentityId;
use super::response::{read_token, with_query};
use crate::error::Error;
use crate::http::{self, Pipeline};
use crate::secret::Secret;
use crate::token::AccessToken;

/// A token from Service Fabric at `url` (`IDENTITY_ENDPOINT`), `header` being
/// `IDENTITY_HEADER`.
pub(super) async fn fetch(
    pipeline: &Pipeline,
    id: &ManagedIdentityId,
    url: &str,
    header: &Secret,
    resource: &str,
) -> Result<AccessToken, Error> {
    let host = ManagedIdentityHost::ServiceFabric;
    let context = format!("{} managed identity endpoint", host.name());
    let mut params = vec![
        ("api-version", "2019-07-01-preview"),
        ("resource", resource),
    ];
    params.extend(id.param(
        host,
        [Some("client_id"), Some("object_id"), Some("mi_res_id")],
    )?);
    let request = http::get(&with_query(url, &params), &[("secret", header.expose())])?;
    let resp = pipeline.send(request, &context).await?;
    read_token(host, url, &resp, &[header.expose()])
}
