//! Secrets: set (PUT), get (latest and by version), list, list versions, update
//! attributes (PATCH).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::KvError;
use super::request::{Access, Ctx, check, query_param};
use super::store::{Secret, Version};
use crate::directory::valid_secret_name;
use crate::state::AppState;

/// Key Vault's largest page (`maxresults` is 1-25).
const MAX_RESULTS: usize = 25;

/// The path parameters of a secret route.
#[derive(Deserialize)]
pub(super) struct SecretPath {
    pub(super) vault: String,
    pub(super) name: Option<String>,
    pub(super) version: Option<String>,
}

type KvResult = Result<Json<Value>, KvError>;

/// The request body's attributes (`SecretAttributes`).
#[derive(Deserialize, Default)]
struct Attributes {
    enabled: Option<bool>,
    nbf: Option<i64>,
    exp: Option<i64>,
}

/// `SecretSetParameters` / `SecretUpdateParameters`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    value: Option<String>,
    content_type: Option<String>,
    tags: Option<serde_json::Map<String, Value>>,
    attributes: Option<Attributes>,
}

fn parse_body(bytes: &Bytes) -> Result<Body, KvError> {
    serde_json::from_slice(bytes).map_err(|_| {
        KvError::bad_parameter(
            "The request body is not a valid JSON object of the operation's parameters.",
        )
    })
}

/// The secret name from the path, checked.
pub(super) fn name_of(p: &SecretPath) -> Result<String, KvError> {
    let name = p.name.clone().unwrap_or_default();
    if !valid_secret_name(&name) {
        return Err(KvError::bad_parameter(
            "The request URI contains an invalid name: secret names are 1-127 of letters, digits and -.",
        ));
    }
    Ok(name)
}

fn apply(v: &mut Version, b: Body) {
    if let Some(ct) = b.content_type {
        v.content_type = Some(ct);
    }
    if let Some(t) = b.tags {
        v.tags = Some(Value::Object(t));
    }
    if let Some(a) = b.attributes {
        if let Some(e) = a.enabled {
            v.enabled = e;
        }
        if a.nbf.is_some() {
            v.nbf = a.nbf;
        }
        if a.exp.is_some() {
            v.exp = a.exp;
        }
    }
}

/// `PUT /secrets/{name}`: a new version (Secrets Officer).
pub(super) async fn set(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> KvResult {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Write).await?;
    let name = name_of(&p)?;
    let mut b = parse_body(&body)?;
    let Some(value) = b.value.take() else {
        return Err(KvError::bad_parameter("Property value is required."));
    };
    let now = st.now();
    let mut ver = Version::new(value, None, now);
    apply(&mut ver, b);
    let key = name.to_ascii_lowercase();
    st.key_vaults.with(&ctx.vault, now, |d| {
        if d.deleted.contains_key(&key) {
            return Err(KvError::conflict_deleted(&name));
        }
        if d.live.get(&key).is_some_and(|s| s.latest().managed) {
            return Err(KvError::managed_secret(&name));
        }
        let s = d.live.entry(key).or_insert_with(|| Secret {
            name: name.clone(),
            versions: Vec::new(),
        });
        s.versions.push(ver);
        Ok(Json(s.latest().bundle(&ctx.base, &s.name, true)))
    })
}

/// A version's bundle with its value, or why not (disabled, not found).
fn read(st: &AppState, ctx: &Ctx, name: &str, version: Option<&str>) -> KvResult {
    let key = name.to_ascii_lowercase();
    st.key_vaults.with(&ctx.vault, st.now(), |d| {
        let s = d
            .live
            .get(&key)
            .ok_or_else(|| KvError::secret_not_found(name))?;
        let v = match version {
            None | Some("") => s.latest(),
            Some(id) => s
                .versions
                .iter()
                .find(|v| v.id.eq_ignore_ascii_case(id))
                .ok_or_else(|| KvError::secret_not_found(name))?,
        };
        if !v.enabled {
            return Err(KvError::secret_disabled());
        }
        Ok(Json(v.bundle(&ctx.base, &s.name, true)))
    })
}

/// `GET /secrets/{name}` and `/secrets/{name}/`: the latest version.
pub(super) async fn get_latest(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> KvResult {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Read).await?;
    read(&st, &ctx, &name_of(&p)?, None)
}

/// `GET /secrets/{name}/{version}`.
pub(super) async fn get_version(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> KvResult {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Read).await?;
    read(&st, &ctx, &name_of(&p)?, p.version.as_deref())
}

/// `PATCH /secrets/{name}/{version}`: attributes, content type, tags (not the value).
pub(super) async fn update(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> KvResult {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Write).await?;
    let name = name_of(&p)?;
    let b = parse_body(&body)?;
    if b.value.is_some() {
        return Err(KvError::bad_parameter(
            "A secret's value cannot be updated; set a new version.",
        ));
    }
    let key = name.to_ascii_lowercase();
    let now = st.now();
    st.key_vaults.with(&ctx.vault, now, |d| {
        let s = d
            .live
            .get_mut(&key)
            .ok_or_else(|| KvError::secret_not_found(&name))?;
        let v = match p.version.as_deref() {
            None | Some("") => s.versions.last_mut(),
            Some(id) => s
                .versions
                .iter_mut()
                .find(|v| v.id.eq_ignore_ascii_case(id)),
        }
        .ok_or_else(|| KvError::secret_not_found(&name))?;
        apply(v, b);
        v.updated = now;
        Ok(Json(v.bundle(&ctx.base, &s.name, false)))
    })
}

/// `PATCH /secrets/{name}/`: the latest version's attributes.
pub(super) async fn update_latest(
    st: State<AppState>,
    p: Path<SecretPath>,
    q: RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> KvResult {
    update(st, p, q, headers, body).await
}

/// `GET /secrets`: one item per secret (its latest version's attributes), paged.
pub(super) async fn list(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> KvResult {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Read).await?;
    let items: Vec<Value> = st.key_vaults.with(&ctx.vault, st.now(), |d| {
        d.live
            .values()
            .map(|s| s.latest().item(&ctx.base, &s.name, false))
            .collect()
    });
    page(&ctx, q.as_deref(), items, "/secrets")
}

/// `GET /secrets/{name}/versions`: one item per version, paged.
pub(super) async fn versions(
    State(st): State<AppState>,
    Path(p): Path<SecretPath>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> KvResult {
    let ctx = check(&st, &headers, &p.vault, q.as_deref(), Access::Read).await?;
    let name = name_of(&p)?;
    let key = name.to_ascii_lowercase();
    let items = st.key_vaults.with(&ctx.vault, st.now(), |d| {
        let s = d
            .live
            .get(&key)
            .ok_or_else(|| KvError::secret_not_found(&name))?;
        Ok(s.versions
            .iter()
            .map(|v| v.item(&ctx.base, &s.name, true))
            .collect())
    })?;
    page(
        &ctx,
        q.as_deref(),
        items,
        &format!("/secrets/{name}/versions"),
    )
}

/// One page of `items`: `maxresults` (1-25, default 25) from `$skiptoken` (an offset this
/// listing issued), with `nextLink` to the next page or `null`.
pub(super) fn page(ctx: &Ctx, query: Option<&str>, items: Vec<Value>, path: &str) -> KvResult {
    let max = match query_param(query, "maxresults") {
        None => MAX_RESULTS,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=MAX_RESULTS).contains(&n) => n,
            _ => {
                return Err(KvError::bad_parameter(
                    "maxresults must be an integer from 1 to 25.",
                ));
            }
        },
    };
    let skip = match query_param(query, "$skiptoken") {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| KvError::bad_parameter("The $skiptoken is invalid."))?,
    };
    let end = (skip + max).min(items.len());
    let next = (end < items.len()).then(|| {
        format!(
            "{}{path}?api-version={}&$skiptoken={end}&maxresults={max}",
            ctx.base, ctx.api_version
        )
    });
    Ok(Json(json!({ "value": items[skip..end], "nextLink": next })))
}
