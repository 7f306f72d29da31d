//! The HTTPS transport `entra` hands to every credential, built on first use. Building
//! one reads the system's root certificates (a few hundred files on a Linux box), which
//! took about half of an `entra token` served from the cache file, a run that sends no
//! request at all. Built lazily, a cache hit never pays for it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use entra_identity::BoxFuture;
use entra_identity::http::{HttpClient, Pipeline, Request, ReqwestClient, Response, RetryPolicy};

/// A [`ReqwestClient`] trusting the system roots and `extra_ca`, made on the first send.
struct LazyTransport {
    extra_ca: Option<PathBuf>,
    client: OnceLock<Result<ReqwestClient, String>>,
}

impl HttpClient for LazyTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, String>> {
        Box::pin(async move {
            let client = self.client.get_or_init(|| {
                ReqwestClient::new(self.extra_ca.as_deref()).map_err(|e| e.to_string())
            });
            match client {
                Ok(c) => c.send(request).await,
                Err(e) => Err(e.clone()),
            }
        })
    }
}

/// A pipeline (default retries) over a lazily built transport. `None` when `extra_ca`
/// holds no PEM certificate at all: the credentials then build their transport now and
/// report the bad file as the configuration error it is, rather than failing (and being
/// retried) at the first request.
pub(crate) fn lazy_pipeline(extra_ca: Option<&Path>) -> Option<Pipeline> {
    if let Some(path) = extra_ca {
        let looks_right = std::fs::read(path)
            .is_ok_and(|pem| pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----"));
        if !looks_right {
            return None;
        }
    }
    let transport = LazyTransport {
        extra_ca: extra_ca.map(Path::to_path_buf),
        client: OnceLock::new(),
    };
    Some(Pipeline::new(Arc::new(transport), RetryPolicy::default()))
}
