//! Validate Entra ID (Azure AD) access tokens in a Rust API, correctly and fast.
//!
//! An API that takes `Authorization: Bearer` tokens must check the signature against the
//! issuer's current keys, the issuer (with Entra's `{tenantid}` template), the audience,
//! the times, the version, the tenant and the permissions, and answer 401 or 403 with
//! the right `WWW-Authenticate`. This crate does all of it:
//!
//! - [`ValidatorConfig`]: one tenant, a list, or multi-tenant with an allow-list (or any
//!   OIDC issuer); audiences (client id and App ID URI); v1/v2; required scopes/roles;
//!   clock skew; token size; algorithm and client allow-lists; a tenant header.
//! - [`JwksCache`]: OIDC discovery and JWKS per tenant, single-flight, throttled refresh
//!   on an unknown `kid`, background refresh, last-known-good on failure.
//! - [`Validator`]: [`validate`](Validator::validate) (async, fetches keys as needed) and
//!   [`validate_cached`](Validator::validate_cached) (sync, the validated-token cache);
//!   [`revoke_tokens_issued_before`](Validator::revoke_tokens_issued_before) refuses an
//!   account's older tokens with a claims challenge for a newer one, and
//!   [`stats`](Validator::stats) counts outcomes (opt-in).
//! - [`EntraAuthLayer`] (tower) and the [`Principal`] axum extractor; [`RequireLayer`]
//!   for per-route scopes, roles and Conditional Access authentication contexts
//!   ([`Requirement::auth_context`]: a token without the context gets a 401 claims
//!   challenge, `error="insufficient_claims"`). [`EntraAuthLayer::optional`] lets requests without
//!   any `Authorization` header through (handlers take `Option<Principal>`) and judges
//!   every credential that is sent. Browsers send CORS preflights without credentials:
//!   answer them outside the layer (a CORS layer wrapped around it).
//! - [`parse_token`] and [`parse_jwks`]: the bounded parsers, public for fuzzing.
//!
//! # Example
//!
//! A validator with a fixed key set (in production, leave keys to discovery: just
//! `.tenant(...)` and `.audience(...)`), checking a token signed with that key. The
//! audience is the API's client id (application id), which is what v2 access tokens
//! carry in `aud`; v1 tokens carry the App ID URI (`api://...`) instead, so an API that
//! takes both versions lists both. A token for another audience is refused with
//! `wrong_audience`, whose message lists the audiences configured here:
//!
//! ```
//! use entra_jose::{b64url, RsaSigningKey};
//! use entra_validate::{Algorithm, Authority, ValidatorConfig, Validator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let pk8 = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../jose/testdata/rsa2048.pk8"))?;
//! let key = RsaSigningKey::from_pkcs8_der(&pk8)?;
//! let jwks = serde_json::json!({ "keys": [key.public_key().to_jwk(
//!     serde_json::json!({ "kid": "k1" }).as_object().unwrap().clone()
//! )] });
//!
//! let tenant = "c0ffee00-0000-4000-8000-000000000001";
//! let api_client_id = "a0000000-0000-4000-8000-0000000000a1";
//! let config = ValidatorConfig::builder()
//!     .authority(Authority::custom("https://login.example"))
//!     .tenant(tenant)
//!     .audience(api_client_id)
//!     .static_jwks(jwks.to_string())
//!     .build()?;
//! let validator = Validator::new(config);
//!
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! let claims = serde_json::json!({
//!     "iss": format!("https://login.example/{tenant}/v2.0"), "aud": api_client_id,
//!     "tid": tenant, "ver": "2.0", "azp": "client-1", "scp": "Data.Read",
//!     "oid": "a11ce000-0000-4000-8000-000000000001", "iat": now, "nbf": now, "exp": now + 3600,
//! });
//! let header = b64url(r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
//! let token = key.sign_compact(Algorithm::RS256, &header, claims.to_string().as_bytes())?;
//!
//! let principal = validator.validate(&token).await?;
//! assert_eq!(principal.tenant_id(), tenant);
//! assert!(principal.has_scope("Data.Read"));
//! // The second time is a cache hit: no parsing, no RSA.
//! assert!(validator.validate_cached(&token).is_some());
//!
//! let err = validator.validate("0.AXkAcode-not-a-token").await.unwrap_err();
//! assert_eq!(err.code(), "authorization_code");
//! # Ok(()) }
//! ```
//!
//! # From the environment
//!
//! [`ValidatorConfig::from_env`] reads the authority and the CA to trust from the
//! variables `entra up` prints and the Azure SDKs read: `AZURE_AUTHORITY_HOST` (or
//! `ENTRA_AUTHORITY`) and `SSL_CERT_FILE` (or `ENTRA_CA_FILE`). Unset, it is Entra's
//! public cloud with the system's roots. The tenant and the audience stay explicit, so the
//! same program runs against the local emulator and against Entra:
//!
//! ```no_run
//! # use entra_validate::{Validator, ValidatorConfig};
//! # fn main() -> Result<(), entra_validate::ConfigError> {
//! // With the variables `entra up` prints exported (or a production environment):
//! let validator = Validator::new(
//!     ValidatorConfig::from_env()
//!         .tenant("c0ffee00-0000-4000-8000-000000000001")
//!         .audience("a0000000-0000-4000-8000-0000000000a1") // the API's client id
//!         .build()?,
//! );
//! # let _ = validator; Ok(()) }
//! ```
//!
//! With axum:
//!
//! ```no_run
//! # use entra_validate::*;
//! # fn app(validator: Validator) -> axum::Router {
//! use axum::{Router, routing::get};
//! async fn me(p: Principal) -> String {
//!     format!("{} in {}", p.object_id().unwrap_or("?"), p.tenant_id())
//! }
//! Router::new()
//!     .route("/data", get(me).layer(RequireLayer::new(
//!         Requirement::scope("Data.Read").or_role("Data.Read.All"))))
//!     .route("/account/me", get(me))
//!     .layer(EntraAuthLayer::new(validator))
//! # }
//! ```
//!
//! A sensitive route that demands a step-up (Conditional Access authentication context
//! `c1`), an account revoked at once, and the counts for a metrics endpoint:
//!
//! ```no_run
//! # use entra_validate::*;
//! # fn app(validator: Validator, compromised_oid: &str, now: i64) -> axum::Router {
//! use axum::{Router, routing::delete};
//! async fn remove(_p: Principal) -> &'static str { "removed" }
//! // A token without `acrs` c1 gets 401 error="insufficient_claims" with the claims to
//! // ask for; MSAL (claims_challenge) and `entra call` get a new token and retry.
//! let router = Router::new()
//!     .route("/items/{id}", delete(remove).layer(RequireLayer::new(
//!         Requirement::scope("Data.Write").and(Requirement::auth_context("c1")))))
//!     .layer(EntraAuthLayer::new(validator.clone()));
//! // Tokens of this account issued until now are refused from the next request on.
//! validator.revoke_tokens_issued_before(compromised_oid, now);
//! // With `.collect_stats(true)` in the configuration:
//! let stats = validator.stats();
//! println!("accepted {}, cache hits {}, refused {:?}", stats.accepted, stats.cache_hits, stats.refused);
//! # router
//! # }
//! ```
//!
//! # Security notes
//!
//! - **Algorithms.** RS256 only by default, what Entra signs with;
//!   [`ValidatorConfigBuilder::algorithms`] adds others for other issuers (RS384/512,
//!   PS256/384/512, ES256/384/512, EdDSA with Ed25519). `none` in any casing and every
//!   `HS*` are refused before any key lookup, so a public key is never used as an HMAC
//!   secret. The key's type (RSA, EC on the algorithm's curve, OKP Ed25519) and its own
//!   `alg` must fit the header's: no ES256 checked with an RSA key, no ES384 with a P-256
//!   key. EC keys are checked to be on their curve when the JWKS is read.
//! - **Keys only from the issuer.** `jku`, `x5u`, `jwk` and `x5c` in a token header are
//!   ignored, never fetched. `kid` is a map key and nothing else (bounded length, never a
//!   path or URL). An unknown `kid` refreshes the JWKS at most once per 5 minutes. A
//!   key's own `issuer` (Entra publishes one, with `{tenantid}`) binds it to that issuer.
//! - **Strict parsing.** Three parts of canonical, unpadded base64url; no duplicate
//!   JSON member at any depth; bounded nesting and size; any `crit` refused.
//! - **Issuer.** `iss` must equal the authority's v1 or v2 issuer for the token's `tid`,
//!   and `tid` must be a GUID on the allow-list; tokens of other tenants are refused
//!   before keys are fetched for them.
//! - **ID tokens** are refused: a token with `nonce`, `at_hash` or `c_hash`, or (Entra
//!   issuers) without `azp`/`appid` (every Entra access token names its client; an ID
//!   token does not) is an ID token.
//! - **Bearers that are not JWTs** get a specific message: a dot-free string or one
//!   starting `0.A`/`1.A`/`OAQAB` is probably an authorization code that should have been
//!   redeemed at the token endpoint.
//! - **Times.** `exp` is required; `exp`, `nbf`, `iat` get the configured skew (default 5
//!   minutes). A cached validation answers until `exp + skew`, exactly as a fresh one would,
//!   and stops the moment its signing key leaves the JWKS.
//! - **Errors never contain the token**, nor header or claim values (they end up in
//!   `WWW-Authenticate` and logs).

#![warn(missing_docs)]

mod cache;
mod clock;
mod config;
mod error;
mod json;
mod jwks;
mod middleware;
mod principal;
mod requirement;
mod token;
mod validator;

pub use cache::ValidatedTokenCache;
pub use clock::Clock;
pub use config::{
    AcceptedVersions, Authority, ConfigError, PUBLIC_CLOUD, Tenancy, ValidatorConfig,
    ValidatorConfigBuilder,
};
pub use entra_jose::{Algorithm, RsaBackend};
pub use error::{NotAJwt, ValidationError};
pub use jwks::{
    JwksCache, JwksError, JwksSettings, KeySet, MAX_JWKS_BYTES, MAX_JWKS_KEYS, SigningKeySource,
    TrustedKey, parse_jwks, parse_jwks_with,
};
#[cfg(feature = "axum")]
pub use middleware::MissingPrincipal;
pub use middleware::{
    EntraAuth, EntraAuthLayer, Require, RequireLayer, challenge, error_response, require_role,
    require_scope,
};
pub use principal::Principal;
pub use requirement::Requirement;
pub use token::{
    Audience, Claims, Header, MAX_JSON_DEPTH, MAX_KID_LEN, ParsedToken, TokenVersion,
    classify_non_jwt, is_guid, parse_token,
};
pub use validator::{ValidationStats, Validator, bearer};
