//! Certificates, enough for a client certificate: import a PEM bundle (certificate and
//! private key), get it (latest and by version), list, list versions. As Key Vault does,
//! an import also creates a managed secret of the same name and version whose value is
//! the PEM bundle (`/secrets/{name}` is how a client reads the private key).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::KvError;
use super::request::{Access, Ctx, check};
use super::secrets::{SecretPath, name_of, page};
use super::store::{Cert, CertVersion, PEM_CONTENT_TYPE};
use crate::directory::parse_cert_pem;
use crate::state::AppState;

/// The content type of a PEM bundle.
const PEM: &str = PEM_CONTENT_TYPE;

type KvResult = Result<Json<Value>, KvError>;

#[derive(Deserialize)]
struct SecretProps {
    #[serde(rename = "contentType")]
    content_type: Option<String>,
}

#[derive(Deserialize)]
struct Policy {
    secret_props: Option<SecretProps>,
}

/// `CertificateImportParameters` (the parts the local vault reads).
#[derive(Deserialize)]
struct ImportBody {
    value: String,
    policy: Option<Policy>,
    tags: Option<serde_json::Map<String, Value>>,
}

/// The PEM text of an import's `value`: the PEM itself (as the Azure CLI sends it) or
/// its base64 (as the Azure SDKs send every import).
fn pem_text(value: &str) -> Result<String, KvError> {
    if value.contains("-----BEGIN") {
        return Ok(value.to_string());
    }
    use base64::Engine as _;
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|t| t.contains("-----BEGIN"))
        .ok_or_else(|| {
            KvError::bad_parameter(
                "The certificate could not be imported: only PEM (as text or base64) is served locally, not PKCS#12.",
            )
        })
}

/// A `CertificateBundle` (or item without `cer`/`kid`/`sid`/`policy` when `item`).
fn bundle(ctx: &Ctx, c: &Cert, v: &CertVersion, item: bool) -> Value {
    let attributes = json!({
        "enabled": v.enabled, "nbf": v.nbf, "exp": v.exp, "created": v.created,
        "updated": v.updated, "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90,
    });
    let x5t = entra_jose::x5t_sha1(&v.der);
    if item {
        let id = format!("{}/certificates/{}", ctx.base, c.name);
        return json!({ "id": id, "x5t": x5t, "attributes": attributes, "tags": v.tags });
    }
    json!({
        "id": format!("{}/certificates/{}/{}", ctx.base, c.name, v.id),
        "kid": format!("{}/keys/{}/{}", ctx.base, c.name, v.id),
        "sid": format!("{}/secrets/{}/{}", ctx.base, c.name, v.id),
        "x5t": x5t,
        "cer": entra_jose::b64std(&v.der),
        "attributes": attributes,
        "tags": v.tags,
        "policy": {
            "id": format!("{}/certificates/{}/policy", ctx.base, c.name),
            "key_props": { "exportable": true, "reuse_key": false },
            "secret_props": { "contentType": PEM },
            "issuer": { "name": "Unknown" },
            "attributes": { "enabled": true, "created": v.created, "updated": v.updated },
        },
    })
}

/// `POST /certificates/{name}/import`: a new version of the certificate and of its
/// managed secret (Certificates Officer).
pub(super) async fn import(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> KvResult {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::CertWrite).await?;
    let name = name_of(&p)?;
    let b: ImportBody = serde_json::from_slice(&body).map_err(|_| {
        KvError::bad_parameter("The request body is not valid certificate import parameters.")
    })?;
    let ct = b
        .policy
        .and_then(|p| p.secret_props)
        .and_then(|s| s.content_type);
    if ct.as_deref().is_some_and(|c| c != PEM) {
        return Err(KvError::bad_parameter(
            "Only PEM certificates (application/x-pem-file) are imported by the local Key Vault.",
        ));
    }
    let pem = pem_text(&b.value)?;
    parse_cert_pem(&pem).map_err(|why| {
        KvError::bad_parameter(format!("The certificate could not be imported: {why}."))
    })?;
    let now = st.now();
    let key = name.to_ascii_lowercase();
    st.key_vaults.with(&ctx.vault, now, |d| {
        if d.deleted.contains_key(&key) {
            return Err(KvError::conflict_deleted(&name));
        }
        if d.live.get(&key).is_some_and(|s| !s.latest().managed) {
            return Err(KvError::conflict_secret(&name));
        }
        let tags = b.tags.map(Value::Object);
        d.add_certificate(&name, pem, tags, now)
            .ok_or_else(|| KvError::bad_parameter("The certificate could not be imported."))?;
        let c = &d.certs[&key];
        Ok(Json(bundle(
            &ctx,
            c,
            c.versions.last().expect("just added"),
            false,
        )))
    })
}

/// `GET /certificates/{name}[/]` and `/certificates/{name}/{version}`.
pub(super) async fn get(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> KvResult {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::CertRead).await?;
    let name = name_of(&p)?;
    let key = name.to_ascii_lowercase();
    st.key_vaults.with(&ctx.vault, st.now(), |d| {
        let c = d
            .certs
            .get(&key)
            .ok_or_else(|| KvError::certificate_not_found(&name))?;
        let v = match p.version.as_deref() {
            None | Some("") => c.versions.last(),
            Some(id) => c.versions.iter().find(|v| v.id.eq_ignore_ascii_case(id)),
        }
        .ok_or_else(|| KvError::certificate_not_found(&name))?;
        Ok(Json(bundle(&ctx, c, v, false)))
    })
}

/// `GET /certificates`, paged.
pub(super) async fn list(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> KvResult {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::CertRead).await?;
    let items: Vec<Value> = st.key_vaults.with(&ctx.vault, st.now(), |d| {
        d.certs
            .values()
            .map(|c| bundle(&ctx, c, c.versions.last().expect("a version"), true))
            .collect()
    });
    page(&ctx, q.as_deref(), items, "/certificates")
}

/// `GET /certificates/{name}/versions`, paged.
pub(super) async fn versions(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> KvResult {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::CertRead).await?;
    let name = name_of(&p)?;
    let key = name.to_ascii_lowercase();
    let items = st.key_vaults.with(&ctx.vault, st.now(), |d| {
        let c = d
            .certs
            .get(&key)
            .ok_or_else(|| KvError::certificate_not_found(&name))?;
        Ok(c.versions
            .iter()
            .map(|v| {
                let mut item = bundle(&ctx, c, v, true);
                item["id"] = json!(format!("{}/certificates/{}/{}", ctx.base, c.name, v.id));
                item
            })
            .collect())
    })?;
    page(
        &ctx,
        q.as_deref(),
        items,
        &format!("/certificates/{name}/versions"),
    )
}
