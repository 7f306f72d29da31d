//! Azure Cloud Shell: a form POST of the resource with `Metadata: true`; the
//! system-assigned identity only.

use super::host::ManagedIdentityHost;
use super::id::ManagedIdentityId;
use super::response::read_token;
use crate::error::Error;
use crate::http::{self, Pipeline};
use crate::token::AccessToken;

/// A token from Cloud Shell at `url` (`MSI_ENDPOINT`).
pub(super) async fn fetch(
    pipeline: &Pipeline,
    id: &ManagedIdentityId,
    url: &str,
    resource: &str,
) -> Result<AccessToken, Error> {
    let host = ManagedIdentityHost::CloudShell;
    let context = format!("{} managed identity endpoint", host.name());
    id.param(host, [None, None, None])?;
    let mut request = http::form_post(url, &[("resource", resource)])?;
    request
        .headers_mut()
        .insert("metadata", ::http::HeaderValue::from_static("true"));
    let resp = pipeline.send(request, &context).await?;
    read_token(host, url, &resp, &[])
}
