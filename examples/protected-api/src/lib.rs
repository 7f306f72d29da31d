//! A small API protected by `entra-validate`: the router and its configuration.
//!
//! Every route except `/healthz` needs `Authorization: Bearer <access token>` for this
//! API and an `X-Tenant-ID` header naming the token's tenant (`tid`):
//!
//! | route | needs | answers |
//! |---|---|---|
//! | `GET /healthz` | nothing | `ok` |
//! | `GET /account/me` | a valid token | the caller, as JSON |
//! | `GET /data` | scope `Data.Read` (a user) or app role `Data.Read.All` (a daemon) | the items |
//! | `POST /data` | scope `Data.Write` or app role `Data.Write.All` | 201 and the new item |
//! | `DELETE /data/{id}` | scope `Data.Write` and authentication context `c1` (a step-up, e.g. MFA, that the tenant's Conditional Access policy for `c1` demands) | 204 |
//!
//! Refusals come from the middleware: 401 with a `WWW-Authenticate` challenge for a
//! missing or bad token, 403 `insufficient_scope` naming what is missing, 401
//! `insufficient_claims` with a claims challenge for a token without the `c1` context
//! (MSAL and `entra call` fetch a new token with those claims and retry), 400 without
//! `X-Tenant-ID`, 403 when it names another tenant. The binary (`main.rs`) only reads
//! flags, builds the [`Validator`] with [`ApiSettings::validator_config`] and serves
//! [`app`]; tests and the load test use the same two functions.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::handler::Handler as _;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use entra_validate::{
    Authority, ConfigError, EntraAuthLayer, PUBLIC_CLOUD, Principal, RequireLayer, Requirement,
    Validator, ValidatorConfigBuilder,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The request header that must name the caller's tenant.
pub const TENANT_HEADER: &str = "X-Tenant-ID";
/// The `realm` of this API's `WWW-Authenticate` challenges.
pub const REALM: &str = "protected-api";

/// Who may call: the authority that issues tokens, the one tenant, the API's audiences.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The authority host, e.g. `https://login.microsoftonline.com` or the emulator's
    /// `https://localhost:8443`.
    pub authority: String,
    /// The tenant id (a GUID).
    pub tenant: String,
    /// Accepted `aud` values: the API's client id and its App ID URI.
    pub audiences: Vec<String>,
    /// An extra CA certificate (PEM) to trust for discovery and keys (the emulator's).
    pub ca_file: Option<PathBuf>,
}

impl ApiSettings {
    /// The validator configuration this API runs with: the tenant, the audiences, the
    /// `X-Tenant-ID` header and the realm. Callers may add to it (tests set a clock).
    pub fn validator_config(&self) -> ValidatorConfigBuilder {
        let authority = self.authority.trim_end_matches('/');
        let authority = if authority.eq_ignore_ascii_case(PUBLIC_CLOUD) {
            // The public cloud's v1 issuer is sts.windows.net, not the login host.
            Authority::public_cloud()
        } else {
            Authority::custom(authority)
        };
        let mut builder = entra_validate::ValidatorConfig::builder()
            .authority(authority)
            .tenant(&self.tenant)
            .tenant_header(TENANT_HEADER)
            .realm(REALM);
        for audience in &self.audiences {
            builder = builder.audience(audience);
        }
        if let Some(ca) = &self.ca_file {
            builder = builder.extra_ca_file(ca);
        }
        builder
    }

    /// A validator for these settings.
    pub fn validator(&self) -> Result<Validator, ConfigError> {
        Ok(Validator::new(self.validator_config().build()?))
    }
}

/// One stored item.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// Its number.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Who created it (`oid` of the user or service principal).
    pub created_by: Option<String>,
}

/// The body of `POST /data`.
#[derive(Debug, Deserialize)]
pub struct NewItem {
    /// The item's name (1 to 200 characters).
    pub name: String,
}

/// The in-memory store behind `/data`.
#[derive(Clone, Default)]
pub struct Store(Arc<Mutex<Vec<Item>>>);

impl Store {
    /// A store with two items, so that `GET /data` has something to show.
    pub fn seeded() -> Self {
        let items = ["first item", "second item"]
            .into_iter()
            .enumerate()
            .map(|(i, name)| Item {
                id: i as u64 + 1,
                name: name.into(),
                created_by: None,
            })
            .collect();
        Self(Arc::new(Mutex::new(items)))
    }

    fn items(&self) -> Vec<Item> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn remove(&self, id: u64) -> bool {
        let mut items = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let before = items.len();
        items.retain(|i| i.id != id);
        items.len() != before
    }

    fn add(&self, name: String, created_by: Option<String>) -> Item {
        let mut items = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let item = Item {
            id: items.last().map_or(1, |i| i.id + 1),
            name,
            created_by,
        };
        items.push(item.clone());
        item
    }
}

/// The API, protected by `validator` (build it with [`ApiSettings::validator`] so that
/// it checks `X-Tenant-ID`).
pub fn app(validator: Validator) -> Router {
    routes(Store::seeded(), true)
        .layer(EntraAuthLayer::new(validator))
        // After the layer: the only route that is not protected.
        .route("/healthz", get(healthz))
}

/// **Dangerous: no authentication at all.** The same routes without the middleware, as
/// the baseline of the load test (`--danger-disable-auth-for-benchmark`). Handlers
/// that need the caller (`/account/me`, `POST /data`) answer 401, since nobody
/// authenticated; `GET /data` answers anyone.
pub fn app_without_auth_for_benchmark() -> Router {
    routes(Store::seeded(), false).route("/healthz", get(healthz))
}

fn routes(store: Store, protected: bool) -> Router {
    let read =
        RequireLayer::new(Requirement::scope("Data.Read").or_role("Data.Read.All")).realm(REALM);
    let write =
        RequireLayer::new(Requirement::scope("Data.Write").or_role("Data.Write.All")).realm(REALM);
    // Deleting is sensitive: a delegated Data.Write and the step-up of context c1.
    let delete_one =
        RequireLayer::new(Requirement::scope("Data.Write").and(Requirement::auth_context("c1")))
            .realm(REALM);
    let (data, one) = if protected {
        (
            get(list.layer(read)).post(create.layer(write)),
            axum::routing::delete(remove.layer(delete_one)),
        )
    } else {
        (get(list).post(create), axum::routing::delete(remove))
    };
    Router::new()
        .route("/account/me", get(me))
        .route("/data", data)
        .route("/data/{id}", one)
        .with_state(store)
}

async fn healthz() -> &'static str {
    "ok"
}

/// The caller, as the token says.
async fn me(p: Principal) -> Json<Value> {
    Json(p.to_json())
}

async fn list(State(store): State<Store>) -> Json<Value> {
    Json(json!({ "items": store.items() }))
}

async fn remove(
    State(store): State<Store>,
    _caller: Principal,
    axum::extract::Path(id): axum::extract::Path<u64>,
) -> StatusCode {
    if store.remove(id) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn create(
    State(store): State<Store>,
    p: Principal,
    Json(new): Json<NewItem>,
) -> Result<(StatusCode, Json<Item>), (StatusCode, Json<Value>)> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err((
            StatusCode::BAD_REQUEST,
            Json(
                json!({ "error": "invalid_request", "error_description": "name must have 1 to 200 characters" }),
            ),
        ));
    }
    let item = store.add(name.to_string(), p.object_id().map(str::to_string));
    Ok((StatusCode::CREATED, Json(item)))
}
