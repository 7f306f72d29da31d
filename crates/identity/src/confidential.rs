//! Confidential clients acting as themselves (client credentials grant): with a client
//! secret ([`ClientSecretCredential`]), a certificate ([`ClientCertificateCredential`],
//! RS256 with `x5t` or PS256 with `x5t#S256`, optional `x5c` chain), or an assertion
//! from a callback ([`ClientAssertionCredential`], what workload identity builds on).

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The JWS algorithm of a certificate credential's client assertion.
pub use entra_jose::Algorithm;
use entra_jose::{RsaSigningKey, b64std, b64url, x5t_sha1, x5t_sha256};

use crate::authority::{Authority, InstanceDiscovery};
use crate::cache::{CacheKey, TokenCache, TokenKind};
use crate::error::{EntraErrorResponse, Error};
use crate::http::{Pipeline, form_post};
use crate::persist::{PersistentCache, Protection, TokenResponse, environment_of, store};
use crate::secret::Secret;
use crate::token::{
    AccessToken, BoxFuture, TokenCredential, TokenRequest, now, parse_expires_on, refresh_on,
    seconds,
};

/// `rsaEncryption`, the PKCS#8 algorithm of an RSA key.
#[cfg(feature = "pkcs12")]
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

/// A certificate and its private key, parsed once.
pub struct ClientCertificate {
    key: RsaSigningKey,
    x5t: String,
    x5t_s256: String,
    chain: Vec<String>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t", &self.x5t)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// What [`ClientCertificate::from_pkcs12`] answers without the `pkcs12` feature.
#[cfg(not(feature = "pkcs12"))]
const PKCS12_NOT_BUILT: &str = "PKCS#12 (.pfx/.p12) support is not built in (entra-identity's `pkcs12` feature is off): convert the archive to PEM with `openssl pkcs12 -in cert.pfx -noenc -out cert.pem` (keep cert.pem private), or build with the feature";

impl ClientCertificate {
    /// From PEM text holding an RSA private key (PKCS#8 `PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`) and the certificate (its chain may follow).
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        use rustls_pki_types::pem::{Error as PemError, PemObject};
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        // PEM errors name the broken marker or line, never the key's bytes; the key's
        // DER is zeroed when dropped.
        let key = match PrivateKeyDer::from_pem_slice(pem.as_bytes()) {
            Ok(PrivateKeyDer::Pkcs8(k)) => RsaSigningKey::from_pkcs8_der(k.secret_pkcs8_der()),
            Ok(PrivateKeyDer::Pkcs1(k)) => RsaSigningKey::from_pkcs1_der(k.secret_pkcs1_der()),
            Ok(PrivateKeyDer::Sec1(_)) => {
                return Err(Error::Config("the certificate's key is an EC key; Entra client assertions need RSA (RS256/PS256)".into()));
            }
            Ok(_) | Err(PemError::NoItemsFound) => {
                return Err(Error::Config(
                    "the PEM has no private key (PRIVATE KEY or RSA PRIVATE KEY block)".into(),
                ));
            }
            Err(e) => return Err(Error::Config(format!("certificate PEM: {e}"))),
        }
        .map_err(|e| Error::Config(format!("private key: {e}")))?;
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .map(|c| c.map(|c| c.as_ref().to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Config(format!("certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(Error::Config("the PEM has no CERTIFICATE block".into()));
        }
        Ok(Self::from_parts(key, &certs))
    }

    /// From a PKCS#12 (`.pfx`/`.p12`) archive holding an RSA private key and its
    /// certificate (its chain may follow). PBES2 (AES-256-CBC with PBKDF2, what
    /// `openssl pkcs12 -export` and Windows write today) and the legacy PKCS#12 PBE
    /// schemes (3DES, RC2-40) are read; the archive's MAC is checked, so a wrong
    /// `password` is an [`Error::Config`] saying so (the password is never repeated).
    /// An archive without a password takes `""`.
    ///
    /// Needs the `pkcs12` feature (on by default); without it this answers an
    /// [`Error::Config`] with the `openssl` command that converts the archive to PEM.
    #[cfg(feature = "pkcs12")]
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, Error> {
        use p12_keystore::error::Error as P12;
        let store = p12_keystore::KeyStore::from_pkcs12(
            der,
            password,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .map_err(|e| {
            Error::Config(match e {
                P12::MacError(_) | P12::UnpadError | P12::Pkcs5Error(_) => {
                    "cannot open the PKCS#12 archive: wrong password (or a damaged file)".into()
                }
                other => format!("cannot read the PKCS#12 archive: {other}"),
            })
        })?;
        let (_, chain) = store.private_key_chain().ok_or_else(|| {
            Error::Config(
                "the PKCS#12 archive has no private key with a matching certificate".into(),
            )
        })?;
        let oid = chain.key().oid().to_string();
        if oid != RSA_ENCRYPTION_OID {
            return Err(Error::Config(format!(
                "the PKCS#12 archive's key is not RSA (algorithm {oid}); Entra client assertions need RSA (RS256/PS256)"
            )));
        }
        let key = RsaSigningKey::from_pkcs8_der(chain.key().as_der())
            .map_err(|e| Error::Config(format!("PKCS#12 private key: {e}")))?;
        let certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
        if certs.is_empty() {
            return Err(Error::Config(
                "the PKCS#12 archive has no certificate for its key".into(),
            ));
        }
        Ok(Self::from_parts(key, &certs))
    }

    /// Without the `pkcs12` feature: always [`Error::Config`], saying how to get PEM.
    #[cfg(not(feature = "pkcs12"))]
    pub fn from_pkcs12(_der: &[u8], _password: &str) -> Result<Self, Error> {
        Err(Error::Config(PKCS12_NOT_BUILT.into()))
    }

    /// From a file holding either PEM (see [`ClientCertificate::from_pem`]; `password`
    /// is not used, and an encrypted PEM key is refused with the `openssl` command that
    /// decrypts it) or PKCS#12 (see [`ClientCertificate::from_pkcs12`]; no `password`
    /// means `""`). The content decides, not the extension. Errors name the file.
    pub fn from_file(path: impl AsRef<Path>, password: Option<&str>) -> Result<Self, Error> {
        let path = path.as_ref();
        let shown = path.display();
        // The file holds the private key: zero our copy when done.
        let bytes = zeroize::Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| Error::Config(format!("certificate file {shown}: {e}")))?,
        );
        let pem = std::str::from_utf8(&bytes)
            .ok()
            .filter(|t| t.contains("-----BEGIN"));
        let result = match pem {
            Some(pem)
                if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
                    || pem.contains("Proc-Type: 4,ENCRYPTED") =>
            {
                Err(Error::Config(format!(
                    "the private key is encrypted PEM, which is not supported: decrypt it with `openssl pkey -in {shown} -out key.pem` and put key.pem's block next to the certificate, or use PKCS#12"
                )))
            }
            Some(pem) => Self::from_pem(pem),
            // PKCS#12 is DER: a SEQUENCE, first byte 0x30.
            None if bytes.first() == Some(&0x30) => {
                Self::from_pkcs12(&bytes, password.unwrap_or(""))
            }
            None => Err(Error::Config(
                "neither PEM (PRIVATE KEY and CERTIFICATE blocks) nor PKCS#12 (.pfx/.p12)".into(),
            )),
        };
        result.map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("certificate file {shown}: {m}")),
            other => other,
        })
    }

    fn from_parts(key: RsaSigningKey, certs: &[Vec<u8>]) -> Self {
        let leaf = &certs[0];
        Self {
            x5t: x5t_sha1(leaf),
            x5t_s256: x5t_sha256(leaf),
            chain: certs.iter().map(b64std).collect(),
            key,
        }
    }

    /// Signs a client assertion for `audience` (the token endpoint).
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        alg: Algorithm,
        send_chain: bool,
    ) -> Result<Secret, Error> {
        let mut header = serde_json::json!({ "alg": alg.name(), "typ": "JWT" });
        match alg {
            Algorithm::RS256 => header["x5t"] = self.x5t.clone().into(),
            Algorithm::PS256 => header["x5t#S256"] = self.x5t_s256.clone().into(),
            other => {
                return Err(Error::Config(format!(
                    "client assertions are signed with RS256 or PS256, not {other}"
                )));
            }
        }
        if send_chain {
            header["x5c"] = self.chain.clone().into();
        }
        let now = now();
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        });
        let jws = self
            .key
            .sign_compact(
                alg,
                &b64url(header.to_string()),
                claims.to_string().as_bytes(),
            )
            .map_err(|e| Error::Config(format!("signing the client assertion: {e}")))?;
        Ok(Secret::new(jws))
    }
}

/// A callback that returns a client assertion (a JWT) each time one is needed.
pub type AssertionCallback =
    Arc<dyn Fn() -> BoxFuture<'static, Result<Secret, Error>> + Send + Sync>;

/// How a confidential client proves who it is.
#[derive(Clone)]
pub enum ClientAuth {
    /// A client secret.
    Secret(Secret),
    /// A certificate.
    Certificate {
        /// The certificate and key.
        cert: Arc<ClientCertificate>,
        /// RS256 (`x5t`) or PS256 (`x5t#S256`).
        alg: Algorithm,
        /// Send the `x5c` chain (subject name / issuer authentication).
        send_chain: bool,
    },
    /// An assertion from a callback.
    Assertion(AssertionCallback),
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAuth::Secret(_) => f.write_str("Secret([redacted])"),
            ClientAuth::Certificate { cert, alg, .. } => {
                write!(f, "Certificate({:?}, {alg:?})", cert.x5t)
            }
            ClientAuth::Assertion(_) => f.write_str("Assertion(callback)"),
        }
    }
}

impl ClientAuth {
    /// Appends the credential's form fields.
    pub async fn form_fields(
        &self,
        client_id: &str,
        token_endpoint: &str,
    ) -> Result<Vec<(&'static str, Secret)>, Error> {
        const TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        Ok(match self {
            ClientAuth::Secret(s) => vec![("client_secret", s.clone())],
            ClientAuth::Certificate {
                cert,
                alg,
                send_chain,
            } => vec![
                ("client_assertion_type", Secret::new(TYPE)),
                (
                    "client_assertion",
                    cert.assertion(client_id, token_endpoint, *alg, *send_chain)?,
                ),
            ],
            ClientAuth::Assertion(cb) => vec![
                ("client_assertion_type", Secret::new(TYPE)),
                ("client_assertion", cb().await?),
            ],
        })
    }
}

/// Settings shared by every credential that talks to an authority.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Authority host; `AZURE_AUTHORITY_HOST` or the public cloud when unset.
    pub authority_host: Option<String>,
    /// An extra CA to trust (for a local emulator), besides the system roots and `SSL_CERT_FILE`.
    pub ca_file: Option<PathBuf>,
    /// A transport to use instead of the default one.
    pub pipeline: Option<Pipeline>,
    /// Tenants a request may switch to (`*` for any); empty: only the configured tenant.
    pub additionally_allowed_tenants: Vec<String>,
    /// A token cache file (MSAL schema, [`crate::persist`]) to keep tokens in across
    /// processes, behind the in-memory cache. Used by [`ClientSecretCredential`],
    /// [`ClientCertificateCredential`] and [`ClientAssertionCredential`] (and the
    /// credentials built on them) for the app's own tokens, and by
    /// [`PublicClient`](crate::PublicClient), [`InteractiveBrowserCredential`](crate::InteractiveBrowserCredential)
    /// and [`DeviceCodeCredential`](crate::DeviceCodeCredential) for accounts, refresh,
    /// ID and access tokens; other credentials ignore it. A cache file that cannot be
    /// read or written fails the request with [`Error::Cache`] (it is never bypassed
    /// silently). `None` (the default): memory only.
    pub persistent_cache: Option<Arc<PersistentCache>>,
    /// How a login host that is not a well-known Microsoft one is checked before secrets
    /// are sent to it ([`crate::authority`]); [`InstanceDiscovery::DangerDisabled`] opts out.
    pub instance_discovery: InstanceDiscovery,
}

impl ClientOptions {
    /// Options for a local emulator: its authority and CA file.
    pub fn for_emulator(authority: &str, ca_file: impl Into<PathBuf>) -> Self {
        Self {
            authority_host: Some(authority.to_string()),
            ca_file: Some(ca_file.into()),
            ..Default::default()
        }
    }

    /// The authority these options point at, for `tenant`.
    pub(crate) fn authority(&self, tenant: &str) -> Result<Authority, Error> {
        let host = self
            .authority_host
            .clone()
            .unwrap_or_else(Authority::host_from_env);
        Ok(Authority::new(&host, tenant)?.with_instance_discovery(self.instance_discovery.clone()))
    }

    /// These options with a persistent token cache at `path`, opened now (a blocking
    /// read of the file; an unreadable file is an error here already).
    pub fn with_persistent_cache(
        mut self,
        path: impl AsRef<std::path::Path>,
        protection: Protection,
    ) -> Result<Self, Error> {
        self.persistent_cache = Some(Arc::new(PersistentCache::open(path, protection)?));
        Ok(self)
    }

    pub(crate) fn pipeline(&self) -> Result<Pipeline, Error> {
        match &self.pipeline {
            Some(p) => Ok(p.clone()),
            None => Pipeline::default_with_ca(self.ca_file.as_deref()),
        }
    }
}

/// Parses a token endpoint answer into an [`AccessToken`] (or Entra's error).
pub fn parse_token_response(
    endpoint: &str,
    status: u16,
    body: &[u8],
) -> Result<(AccessToken, serde_json::Value), Error> {
    if !(200..300).contains(&status) {
        return Err(match EntraErrorResponse::parse(status, body) {
            Some(e) => Error::Entra(Box::new(e)),
            None => Error::Response {
                endpoint: endpoint.to_string(),
                message: format!("HTTP {status} without an OAuth error body"),
            },
        });
    }
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| Error::Response {
        endpoint: endpoint.to_string(),
        message: format!("not JSON: {e}"),
    })?;
    let token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Response {
            endpoint: endpoint.to_string(),
            message: "no access_token in the response".into(),
        })?;
    let issued = now();
    let expires_in = seconds(v.get("expires_in"));
    let expires_on = match (expires_in, v.get("expires_on").and_then(parse_expires_on)) {
        (Some(i), _) => issued + i,
        (None, Some(on)) => on,
        (None, None) => {
            return Err(Error::Response {
                endpoint: endpoint.to_string(),
                message: "no expires_in or expires_on in the response".into(),
            });
        }
    };
    let token = AccessToken {
        token: Secret::new(token),
        expires_on,
        refresh_on: refresh_on(issued, expires_on - issued, seconds(v.get("refresh_in"))),
        token_type: v
            .get("token_type")
            .and_then(|t| t.as_str())
            .unwrap_or("Bearer")
            .into(),
    };
    Ok((token, v))
}

/// The client-credentials engine behind the three public credentials.
struct ClientCredentials {
    authority: Authority,
    client_id: String,
    auth: ClientAuth,
    pipeline: Pipeline,
    cache: TokenCache,
    allowed_tenants: Vec<String>,
    persistent: Option<Arc<PersistentCache>>,
    tenant_authorities: tokio::sync::Mutex<std::collections::HashMap<String, Arc<Authority>>>,
}

impl ClientCredentials {
    fn new(
        tenant: &str,
        client_id: &str,
        auth: ClientAuth,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        if client_id.trim().is_empty() {
            return Err(Error::Config("client id is empty".into()));
        }
        Ok(Self {
            authority: options.authority(tenant)?,
            client_id: client_id.trim().to_string(),
            auth,
            pipeline: options.pipeline()?,
            cache: TokenCache::new(),
            allowed_tenants: options.additionally_allowed_tenants,
            persistent: options.persistent_cache,
            tenant_authorities: Default::default(),
        })
    }

    /// The authority for another tenant, if this credential may use it (cached, so its
    /// discovery document is fetched once).
    async fn authority_for(&self, tenant: &str) -> Result<Arc<Authority>, Error> {
        if !self
            .allowed_tenants
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(tenant))
        {
            return Err(Error::Config(format!(
                "the request asks for tenant {tenant:?}, which this credential may not use; add it to additionally_allowed_tenants"
            )));
        }
        let mut map = self.tenant_authorities.lock().await;
        if let Some(a) = map.get(tenant) {
            return Ok(a.clone());
        }
        let a = Arc::new(self.authority.with_tenant(tenant)?);
        map.insert(tenant.to_string(), a.clone());
        Ok(a)
    }

    /// A fresh cached token for `request`, without any async machinery: only for the
    /// common case (own tenant, no claims challenge); `None` sends the caller to
    /// [`ClientCredentials::get_token`], which handles everything else.
    #[inline]
    fn cached(&self, request: &TokenRequest) -> Option<AccessToken> {
        if request.skips_cache() || request.scopes.is_empty() {
            return None;
        }
        if let Some(t) = &request.tenant
            && !t.eq_ignore_ascii_case(self.authority.tenant())
        {
            return None;
        }
        self.cache.fresh_by_scopes(&request.scopes)
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        if request.scopes.is_empty() {
            return Err(Error::Config(
                "no scopes requested (client credentials need one scope ending in /.default)"
                    .into(),
            ));
        }
        let tenant = request.tenant.as_deref().unwrap_or(self.authority.tenant());
        let key = || {
            CacheKey::new(
                self.authority.host(),
                tenant,
                &self.client_id,
                "",
                &request.scopes,
                TokenKind::App,
            )
        };
        let bypass = request.skips_cache();
        if tenant.eq_ignore_ascii_case(self.authority.tenant()) {
            // The common case: this credential's own tenant; no key is built on a hit.
            self.cache
                .get_or_fetch_by_scopes(&request.scopes, key, bypass, || self.fetch(request))
                .await
        } else {
            self.cache
                .get_or_fetch(&key(), bypass, || self.fetch(request))
                .await
        }
    }

    /// On a miss in memory: the cache file (when there is one and no claims challenge),
    /// else the network (and the answer goes to the file).
    async fn fetch(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        let tenant = request.tenant.as_deref().unwrap_or(self.authority.tenant());
        if let Some(file) = &self.persistent
            && !request.skips_cache()
            && let Some(t) = store::find_app_token(
                file,
                &self.client_id,
                self.authority.host(),
                tenant,
                &request.scopes,
            )
            .await?
        {
            tracing::debug!("app token served from the persistent cache");
            return Ok(t);
        }
        let (token, body) = self.fetch_from_authority(request).await?;
        if let Some(file) = &self.persistent {
            let response = TokenResponse::from_json(
                body,
                &self.client_id,
                &environment_of(self.authority.host()),
                tenant,
                &request.scopes,
            );
            store::save_response(file, response).await?;
        }
        Ok(token)
    }

    async fn fetch_from_authority(
        &self,
        request: &TokenRequest,
    ) -> Result<(AccessToken, serde_json::Value), Error> {
        let endpoint = match request.tenant.as_deref() {
            Some(t) if !t.eq_ignore_ascii_case(self.authority.tenant()) => {
                let other = self.authority_for(t).await?;
                other.metadata(&self.pipeline).await?.token_endpoint.clone()
            }
            _ => self
                .authority
                .metadata(&self.pipeline)
                .await?
                .token_endpoint
                .clone(),
        };
        let scope = request.scopes.join(" ");
        let creds = self.auth.form_fields(&self.client_id, &endpoint).await?;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", &self.client_id),
            ("scope", &scope),
        ];
        for (k, v) in &creds {
            form.push((k, v.expose()));
        }
        let claims = merged_claims(request);
        if let Some(c) = &claims {
            form.push(("claims", c));
        }
        let resp = self
            .pipeline
            .send(form_post(&endpoint, &form)?, "token request")
            .await?;
        parse_token_response(&endpoint, resp.status().as_u16(), resp.body())
    }
}

/// The `claims` parameter: the challenge, plus `xms_cc: cp1` when CAE is on.
pub fn merged_claims(request: &TokenRequest) -> Option<String> {
    let mut claims: serde_json::Value = match &request.claims {
        Some(c) => serde_json::from_str(c).unwrap_or_else(|_| serde_json::json!({})),
        None if request.enable_cae => serde_json::json!({}),
        None => return None,
    };
    if request.enable_cae {
        claims["access_token"]["xms_cc"] = serde_json::json!({ "values": ["cp1"] });
    }
    Some(claims.to_string())
}

macro_rules! confidential_credential {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name(ClientCredentials);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("authority", &self.0.authority.host())
                    .field("tenant", &self.0.authority.tenant())
                    .field("client_id", &self.0.client_id)
                    .field("auth", &self.0.auth)
                    .finish()
            }
        }

        impl TokenCredential for $name {
            fn get_token<'a>(&'a self, request: &'a TokenRequest) -> BoxFuture<'a, Result<AccessToken, Error>> {
                // A hit boxes a ready value (a few dozen bytes), not the request state
                // machine (kilobytes, with the HTTP send inside).
                if let Some(t) = self.0.cached(request) {
                    return Box::pin(std::future::ready(Ok(t)));
                }
                Box::pin(self.0.get_token(request))
            }

            fn name(&self) -> &'static str {
                stringify!($name)
            }
        }
    };
}

confidential_credential!(
    /// A confidential client with a client secret.
    ClientSecretCredential
);
confidential_credential!(
    /// A confidential client with a certificate.
    ClientCertificateCredential
);
confidential_credential!(
    /// A confidential client whose assertion comes from a callback.
    ClientAssertionCredential
);

impl ClientSecretCredential {
    /// `tenant`, `client_id`, `secret` (the secret's *value*, not its id).
    pub fn new(
        tenant: &str,
        client_id: &str,
        secret: impl Into<Secret>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(Error::Config("client secret is empty".into()));
        }
        Ok(Self(ClientCredentials::new(
            tenant,
            client_id,
            ClientAuth::Secret(secret),
            options,
        )?))
    }
}

impl ClientCertificateCredential {
    /// From a PEM file with the key and certificate. RS256 with `x5t` by default.
    pub fn from_pem_file(
        tenant: &str,
        client_id: &str,
        path: impl AsRef<std::path::Path>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        let pem = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("certificate file {}: {e}", path.display())))?;
        Self::new(
            tenant,
            client_id,
            ClientCertificate::from_pem(&pem)?,
            Algorithm::RS256,
            false,
            options,
        )
    }

    /// From a PEM or PKCS#12 file (the content decides; see
    /// [`ClientCertificate::from_file`]), `password` unlocking a PKCS#12 archive. RS256
    /// with `x5t`, no `x5c`.
    pub fn from_file(
        tenant: &str,
        client_id: &str,
        path: impl AsRef<Path>,
        password: Option<&str>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        Self::new(
            tenant,
            client_id,
            ClientCertificate::from_file(path, password)?,
            Algorithm::RS256,
            false,
            options,
        )
    }

    /// From a parsed certificate, choosing the algorithm and whether to send `x5c`.
    pub fn new(
        tenant: &str,
        client_id: &str,
        cert: ClientCertificate,
        alg: Algorithm,
        send_chain: bool,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        if !matches!(alg, Algorithm::RS256 | Algorithm::PS256) {
            return Err(Error::Config(format!(
                "client assertions are signed with RS256 or PS256, not {alg}"
            )));
        }
        Ok(Self(ClientCredentials::new(
            tenant,
            client_id,
            ClientAuth::Certificate {
                cert: Arc::new(cert),
                alg,
                send_chain,
            },
            options,
        )?))
    }
}

impl ClientAssertionCredential {
    /// `callback` returns a fresh assertion whenever a token is requested.
    pub fn new(
        tenant: &str,
        client_id: &str,
        callback: AssertionCallback,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        Ok(Self(ClientCredentials::new(
            tenant,
            client_id,
            ClientAuth::Assertion(callback),
            options,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built without the `pkcs12` feature (scripts/test builds it so), a PKCS#12 file is
    /// a configuration error naming the feature and the conversion, never a panic or
    /// a silent PEM attempt.
    #[cfg(not(feature = "pkcs12"))]
    #[test]
    fn pkcs12_without_the_feature_says_how_to_convert() {
        let err = ClientCertificate::from_pkcs12(&[0x30, 0x82, 0x0a, 0x01], "pw").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(
            text.contains("`pkcs12` feature") && text.contains("openssl pkcs12 -in"),
            "{text}"
        );
        assert!(!text.contains("pw\""));
        let dir = std::env::temp_dir().join(format!("entra-p12-off-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("app.pfx");
        std::fs::write(&file, [0x30, 0x82, 0x0a, 0x01, 0x02, 0x01, 0x03]).unwrap();
        let text = ClientCertificate::from_file(&file, Some("pw"))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("app.pfx") && text.contains("`pkcs12` feature"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn token_responses_are_read_leniently() {
        let (t, _) = parse_token_response(
            "e",
            200,
            br#"{"access_token":"x","expires_in":"3599","token_type":"Bearer"}"#,
        )
        .unwrap();
        assert!((t.expires_on - now() - 3599).abs() <= 1);
        let (t, _) = parse_token_response(
            "e",
            200,
            br#"{"access_token":"x","expires_on":"1/10/2030 8:01:28 AM +00:00"}"#,
        )
        .unwrap();
        assert_eq!(t.expires_on, 1894262488);
        let (t, _) = parse_token_response(
            "e",
            200,
            br#"{"access_token":"x","expires_in":86400,"refresh_in":43200}"#,
        )
        .unwrap();
        assert!(t.refresh_on.is_some());
        assert!(parse_token_response("e", 200, br#"{"access_token":"x"}"#).is_err());
        assert!(parse_token_response("e", 200, b"<html>").is_err());
        let err = parse_token_response(
            "e",
            400,
            br#"{"error":"invalid_scope","error_codes":[1002012]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("/.default"));
    }

    #[test]
    fn cae_and_claims_merge() {
        let mut r = TokenRequest::new(["s"]);
        assert_eq!(merged_claims(&r), None);
        r.enable_cae = true;
        assert_eq!(
            merged_claims(&r).unwrap(),
            r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#
        );
        r.claims = Some(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#.into());
        let merged = merged_claims(&r).unwrap();
        assert!(merged.contains("nbf") && merged.contains("cp1"));
    }
}
