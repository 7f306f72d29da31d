//! Shared by the test modules: a forging kit (sign any header and claims with a local
//! key served as a static JWKS) and Entra-shaped claims.

use entra_jose::{Algorithm, RsaSigningKey, b64url};
use entra_validate::{
    Authority, Clock, Principal, ValidationError, Validator, ValidatorConfig,
    ValidatorConfigBuilder,
};
use serde_json::{Value, json};

// The emulator's dev identities (entra-testkit), so forged and emulator-issued tokens
// name the same tenant, API and clients.
pub use entra_testkit::dev::{API, API_URI};
pub const TENANT: &str = entra_testkit::dev::TENANT_ID;
pub const OTHER_TENANT: &str = entra_testkit::dev::OTHER_TENANT_ID;
/// The web client (a confidential client of the dev tenant).
pub const CLIENT: &str = entra_testkit::dev::WEB;
pub const BASE: &str = "https://login.test";
pub const GRAPH: &str = "https://graph.microsoft.com";
/// The manual clock's start (2027-01-15).
pub const NOW: i64 = 1_800_000_000;

/// The 2048-bit test key of the jose crate.
const TEST_KEY: &[u8] = include_bytes!("../../../jose/testdata/rsa2048.pk8");

/// A signing key and its `kid`.
pub struct Forge {
    pub key: RsaSigningKey,
    pub kid: String,
}

impl Forge {
    /// The test key as `k1`.
    pub fn test_key() -> Self {
        Self {
            key: RsaSigningKey::from_pkcs8_der(TEST_KEY).unwrap(),
            kid: "k1".into(),
        }
    }

    /// A fresh 2048-bit key (an attacker's, or a second issuer key).
    pub fn generated(kid: &str) -> Self {
        use aws_lc_rs::encoding::AsDer as _;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        Self {
            key: RsaSigningKey::from_pkcs8_der(pair.as_der().unwrap().as_ref()).unwrap(),
            kid: kid.into(),
        }
    }

    /// This key's JWK with `kid` and `extra` members.
    pub fn jwk(&self, extra: Value) -> Value {
        let mut members = extra.as_object().cloned().unwrap_or_default();
        members.insert("kid".into(), self.kid.clone().into());
        self.key.public_key().to_jwk(members)
    }

    /// Signs raw header and payload JSON text.
    pub fn sign_raw(&self, alg: Algorithm, header: &str, payload: &str) -> String {
        self.key
            .sign_compact(alg, &b64url(header), payload.as_bytes())
            .unwrap()
    }

    /// Signs `claims` under `header`.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let alg = Algorithm::from_name(header["alg"].as_str().unwrap_or("RS256"))
            .unwrap_or(Algorithm::RS256);
        self.sign_raw(alg, &header.to_string(), &claims.to_string())
    }

    /// `{"typ":"JWT","alg":"RS256","kid":<kid>}`.
    pub fn header(&self) -> Value {
        json!({ "typ": "JWT", "alg": "RS256", "kid": self.kid })
    }

    /// Signs `claims` with the usual header.
    pub fn token(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }
}

/// A v2 user token for the API, as Entra shapes it.
pub fn v2_claims() -> Value {
    json!({
        "aud": API,
        "iss": format!("{BASE}/{TENANT}/v2.0"),
        "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 3600,
        "aio": "x", "azp": CLIENT, "azpacr": "1",
        "name": "Alice Example",
        "oid": "a11ce000-0000-4000-8000-000000000001",
        "preferred_username": "alice@contoso.onmicrosoft.com",
        "rh": "0.x.", "scp": "Data.Read Data.Write",
        "sub": "pairwise-sub", "tid": TENANT, "uti": "u", "ver": "2.0",
    })
}

/// A v1 app-only token for the API's App ID URI.
pub fn v1_claims() -> Value {
    json!({
        "aud": API_URI,
        "iss": format!("{BASE}/{TENANT}/"),
        "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 3600,
        "appid": CLIENT, "appidacr": "1", "idtyp": "app",
        "oid": "5e000000-0000-4000-8000-000000000005",
        "roles": ["Data.Read.All"],
        "sub": "5e000000-0000-4000-8000-000000000005", "tid": TENANT, "ver": "1.0",
    })
}

/// `claims` with `changes` merged in (a `null` removes the claim).
pub fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

/// The audiences the test validators accept, as a `wrong_audience` refusal lists them.
pub fn accepted() -> Vec<String> {
    vec![API.to_string(), API_URI.to_string()]
}

/// A builder for the test issuer with `keys` as its static JWKS and a manual clock.
pub fn builder_with_keys(keys: &[Value]) -> ValidatorConfigBuilder {
    ValidatorConfig::builder()
        .authority(Authority::custom(BASE))
        .tenant(TENANT)
        .audience(API)
        .audience(API_URI)
        .static_jwks(json!({ "keys": keys }).to_string())
        .clock(Clock::manual(NOW))
}

/// A builder trusting `forge`'s key (with an Entra-style `issuer` member).
pub fn builder(forge: &Forge) -> ValidatorConfigBuilder {
    builder_with_keys(&[forge.jwk(json!({ "issuer": format!("{BASE}/{{tenantid}}/v2.0") }))])
}

/// Runs a future to completion on a fresh current-thread runtime.
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Validates synchronously (static keys never wait on the network).
pub fn check(v: &Validator, token: &str) -> Result<Principal, ValidationError> {
    run(v.validate(token))
}
