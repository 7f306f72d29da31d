//! The wire protocols: request parsing, caller authentication, policy, and each
//! protocol's exact response shape.
//!
//! | protocol | request | caller | response |
//! |---|---|---|---|
//! | IMDS | `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R`, `Metadata: true` | peer uid / `[imds] caller` | every value a string |
//! | App Service 2019-08-01 | `GET /msi/token?resource=R&api-version=2019-08-01`, `X-IDENTITY-HEADER` | the header | `expires_on` epoch string |
//! | App Service 2017-09-01 | same path, header `secret` | the header | `expires_on` as `M/D/YYYY h:mm:ss AM +00:00` |
//! | Cloud Shell | `POST /oauth2/token`, form `resource=R`, `Metadata: true` | as IMDS | as IMDS |
//! | native | `POST /api/v1/token`, JSON `{"scopes":[..],"identity":..}`, `Authorization: Bearer` | the bearer | JSON with numbers |
//!
//! Errors are `{"error":"...","error_description":"..."}` (App Service adds its own
//! `statusCode`, `message` and `correlationId`, which MSAL reads): 400 for a
//! malformed request (a resource or scope list longer than
//! [`MAX_SCOPES_BYTES`](refusal::MAX_SCOPES_BYTES) too) or an unknown identity, 401 for
//! a missing or wrong secret, 403 when policy refuses (naming what was refused), 400
//! when Entra refuses, 503 with `Retry-After` when Entra cannot be reached and nothing
//! valid is cached, or when a new (identity, scopes) finds the cache at `max_tokens`
//! with every slot in use.

mod app_service;
mod conn;
mod context;
mod imds;
pub(crate) mod kind;
mod native;
mod refusal;
mod request;
mod response;

pub(crate) use app_service::app_service;
pub(crate) use conn::Conn;
pub(crate) use imds::{cloud_shell, imds};
pub(crate) use native::native;
pub(crate) use request::bearer;
