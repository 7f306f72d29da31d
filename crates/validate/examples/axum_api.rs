//! A small API protected by entra-validate: a bearer token is checked on every route,
//! `/data` also needs the `Data.Read` scope (or the `Data.Read.All` app role), and every
//! request names its tenant in `X-Tenant-ID`, which must be the token's (400 without
//! it, 403 for another tenant).
//!
//! ```sh
//! # Against the local emulator: export the variables `entra up` prints, then
//! ENTRA_TENANT_ID=c0ffee00-0000-4000-8000-000000000001 \
//! API_CLIENT_ID=a0000000-0000-4000-8000-0000000000a1 \
//!     cargo run -p entra-validate --example axum_api
//! curl -H "Authorization: Bearer $(entra token --scope api://contoso-api/.default)" \
//!     -H "X-Tenant-ID: c0ffee00-0000-4000-8000-000000000001" http://127.0.0.1:8080/data
//! ```
//!
//! `LISTEN` changes the address (default `127.0.0.1:8080`).

use axum::Json;
use axum::Router;
use axum::routing::get;
use entra_validate::{
    EntraAuthLayer, Principal, RequireLayer, Requirement, Validator, ValidatorConfig,
};
use serde_json::{Value, json};

/// Who called: the principal the layer validated.
async fn me(p: Principal) -> Json<Value> {
    Json(p.to_json())
}

/// Data for callers with `Data.Read` (delegated) or `Data.Read.All` (app-only).
async fn data(p: Principal) -> Json<Value> {
    Json(json!({
        "tenant": p.tenant_id(),
        "items": ["alpha", "beta"],
        "read_by": p.object_id(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| {
        std::env::var(name).map_err(|_| format!("set {name} (see the example's doc comment)"))
    };
    // The authority and CA come from AZURE_AUTHORITY_HOST / SSL_CERT_FILE (or the
    // ENTRA_* names `entra up` prints); the tenant and the audience are the API's own.
    let config = ValidatorConfig::from_env()
        .tenant(var("ENTRA_TENANT_ID")?)
        // The API's client id: what v2 access tokens carry in `aud`.
        .audience(var("API_CLIENT_ID")?)
        // Every request must name the token's tenant in this header.
        .tenant_header("X-Tenant-ID")
        .build()?;
    let validator = Validator::new(config);

    let app = Router::new()
        .route(
            "/data",
            get(data).layer(RequireLayer::new(
                Requirement::scope("Data.Read").or_role("Data.Read.All"),
            )),
        )
        .route("/me", get(me))
        .layer(EntraAuthLayer::new(validator));

    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
