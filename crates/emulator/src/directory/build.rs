//! Loading a directory: reading the file (or the embedded default), then checking every
//! entry and building the indexes, step by step (tenants, apps, cross references,
//! managed identities, users). Errors name the file, line and key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use toml::Spanned;

use super::config::{
    AppConfig, ConfigError, DEFAULT_DIRECTORY_TOML, DirectoryConfig, ManagedIdentityConfig,
    UserConfig,
};
use super::model::{App, ClientSecret, Directory, ManagedIdentity, Tenant, User};
use crate::keys::{self, ClientCertificate};

/// Where files referenced by the config live.
#[derive(Debug, Clone)]
pub(crate) struct LoadContext {
    /// Name for error messages.
    pub(crate) file: String,
    /// The config file's folder (for `file =`).
    pub(crate) config_dir: PathBuf,
    /// The state directory (for `generate =`).
    pub(crate) state_dir: PathBuf,
    /// The text, for mapping spans to lines.
    pub(crate) text: String,
}

impl LoadContext {
    pub(super) fn invalid(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: String,
        message: String,
    ) -> ConfigError {
        // Spans of entries added through the admin API point into another text: no line.
        let line = span
            .filter(|s| s.end > 0)
            .and_then(|s| self.text.get(..s.start))
            .map(|before| before.matches('\n').count() + 1)
            .unwrap_or(0);
        ConfigError::Invalid {
            file: self.file.clone(),
            line,
            key,
            message,
        }
    }
}

/// A deterministic GUID-shaped id derived from `parts` (for object ids not given).
pub(crate) fn derived_guid(parts: &[&str]) -> String {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, parts.join("\u{1f}").as_bytes());
    let b = digest.as_ref();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-8{:01x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6] & 0xf,
        b[7],
        b[8] & 0xf,
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

/// Is `s` a GUID in 8-4-4-4-12 form?
pub(crate) fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn find_tenant(
    tenants: &[Tenant],
    ctx: &LoadContext,
    s: &Spanned<String>,
    key: String,
) -> Result<String, ConfigError> {
    let want = s.get_ref().to_ascii_lowercase();
    tenants
        .iter()
        .find(|t| t.id == want || t.domain == want)
        .map(|t| t.id.clone())
        .ok_or_else(|| {
            ctx.invalid(
                Some(s.span()),
                key,
                format!("no tenant {want:?} (define it under [[tenants]])"),
            )
        })
}

impl Directory {
    /// Checks `config` and builds the indexes. Certificates named by `generate` are
    /// created in the state directory when missing.
    pub(crate) fn build(config: &DirectoryConfig, ctx: &LoadContext) -> Result<Self, ConfigError> {
        let tenants = build_tenants(config, ctx)?;
        let mut apps = Vec::new();
        let mut app_index = HashMap::new();
        for (i, a) in config.apps.iter().enumerate() {
            let client_id = a.client_id.get_ref().to_ascii_lowercase();
            if !is_guid(&client_id) {
                return Err(ctx.invalid(
                    Some(a.client_id.span()),
                    format!("apps[{i}].client_id"),
                    format!("{client_id:?} is not a GUID"),
                ));
            }
            if app_index.insert(client_id.clone(), i).is_some() {
                return Err(ctx.invalid(
                    Some(a.client_id.span()),
                    format!("apps[{i}].client_id"),
                    "duplicate client id".into(),
                ));
            }
            let tenant_id = find_tenant(&tenants, ctx, &a.tenant, format!("apps[{i}].tenant"))?;
            apps.push(build_app(i, a, client_id, tenant_id, ctx)?);
        }
        let uri_index = uri_index(&apps);

        let mut dir = Directory {
            settings: config.settings.clone(),
            tenants,
            apps,
            managed_identities: Vec::new(),
            users: Vec::new(),
            subscriptions: Vec::new(),
            workspaces: Vec::new(),
            vaults: Vec::new(),
            app_index,
            uri_index,
        };

        // Cross references, now that every app is known.
        dir.resolve_app_permissions(config, ctx)?;
        for (i, m) in config.managed_identities.iter().enumerate() {
            let identity = dir.build_managed_identity(i, m, ctx)?;
            dir.managed_identities.push(identity);
        }
        if dir.managed_identities.iter().filter(|m| m.system).count() > 1 {
            return Err(ctx.invalid(
                None,
                "managed_identities".into(),
                "at most one system-assigned identity".into(),
            ));
        }
        for (i, u) in config.users.iter().enumerate() {
            let user = dir.build_user(i, u, ctx)?;
            dir.users.push(user);
        }
        let invalid = |span, key, message| ctx.invalid(span, key, message);
        dir.subscriptions = dir.build_subscriptions(&config.subscriptions, &invalid)?;
        dir.workspaces = super::workspaces_build::build(&config.workspaces, &dir, &invalid)?;
        let dirs = (ctx.config_dir.as_path(), ctx.state_dir.as_path());
        dir.vaults = super::vaults_build::build(&config.vaults, &dir, dirs, &invalid)?;
        Ok(dir)
    }

    /// Resolves each app's admin consents and app-role assignments (every app is known).
    fn resolve_app_permissions(
        &mut self,
        config: &DirectoryConfig,
        ctx: &LoadContext,
    ) -> Result<(), ConfigError> {
        for (i, a) in config.apps.iter().enumerate() {
            self.apps[i].admin_consent = self.resolve_permissions(
                &a.admin_consent,
                false,
                ctx,
                &format!("apps[{i}].admin_consent"),
            )?;
            self.apps[i].role_assignments = self.resolve_permissions(
                &a.app_role_assignments,
                true,
                ctx,
                &format!("apps[{i}].app_role_assignments"),
            )?;
        }
        Ok(())
    }

    /// Checks one `[[managed_identities]]` entry.
    fn build_managed_identity(
        &self,
        i: usize,
        m: &ManagedIdentityConfig,
        ctx: &LoadContext,
    ) -> Result<ManagedIdentity, ConfigError> {
        let client_id = m.client_id.get_ref().to_ascii_lowercase();
        if !is_guid(&client_id) {
            return Err(ctx.invalid(
                Some(m.client_id.span()),
                format!("managed_identities[{i}].client_id"),
                "not a GUID".into(),
            ));
        }
        let system = match m.kind.as_str() {
            "system" => true,
            "user" => false,
            other => {
                return Err(ctx.invalid(
                    Some(m.client_id.span()),
                    format!("managed_identities[{i}].kind"),
                    format!("{other:?}: use \"system\" or \"user\""),
                ));
            }
        };
        let tenant_id = find_tenant(
            &self.tenants,
            ctx,
            &m.tenant,
            format!("managed_identities[{i}].tenant"),
        )?;
        let role_assignments = self.resolve_permissions(
            &m.app_role_assignments,
            true,
            ctx,
            &format!("managed_identities[{i}].app_role_assignments"),
        )?;
        Ok(ManagedIdentity {
            object_id: m
                .object_id
                .clone()
                .unwrap_or_else(|| derived_guid(&["mi", &client_id])),
            client_id,
            resource_id: m.resource_id.clone(),
            name: m.name.clone(),
            tenant_id,
            system,
            role_assignments,
        })
    }

    /// Checks one `[[users]]` entry (its consents name apps already built).
    fn build_user(&self, i: usize, u: &UserConfig, ctx: &LoadContext) -> Result<User, ConfigError> {
        let upn = u.upn.get_ref().to_ascii_lowercase();
        let Some((_, domain)) = upn.split_once('@') else {
            return Err(ctx.invalid(
                Some(u.upn.span()),
                format!("users[{i}].upn"),
                "a UPN looks like name@domain".into(),
            ));
        };
        if self.users.iter().any(|x| x.upn == upn) {
            return Err(ctx.invalid(
                Some(u.upn.span()),
                format!("users[{i}].upn"),
                "duplicate user".into(),
            ));
        }
        let tenant_id = match &u.tenant {
            Some(t) => find_tenant(&self.tenants, ctx, t, format!("users[{i}].tenant"))?,
            None => self
                .tenants
                .iter()
                .find(|t| t.domain == domain)
                .map(|t| t.id.clone())
                .ok_or_else(|| {
                    ctx.invalid(
                        Some(u.upn.span()),
                        format!("users[{i}].upn"),
                        format!("no tenant has the domain {domain:?}; set `tenant`"),
                    )
                })?,
        };
        let mut consents: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (j, c) in u.consents.iter().enumerate() {
            let client = c.client_id.get_ref().to_ascii_lowercase();
            if self.app(&client).is_none() {
                return Err(ctx.invalid(
                    Some(c.client_id.span()),
                    format!("users[{i}].consents[{j}].client_id"),
                    format!("no app {client:?}"),
                ));
            }
            let perms = self.resolve_permissions(
                &c.scopes,
                false,
                ctx,
                &format!("users[{i}].consents[{j}].scopes"),
            )?;
            consents.entry(client).or_default().extend(perms);
        }
        Ok(User {
            object_id: u
                .object_id
                .clone()
                .unwrap_or_else(|| derived_guid(&["user", &upn])),
            upn,
            password: u.password.clone(),
            name: u.name.clone(),
            tenant_id,
            mfa_required: u.mfa_required,
            groups: u.groups.clone(),
            roles: u.roles.clone(),
            consents,
        })
    }

    fn resolve_permissions(
        &self,
        list: &Spanned<Vec<String>>,
        roles: bool,
        ctx: &LoadContext,
        key: &str,
    ) -> Result<Vec<(String, String)>, ConfigError> {
        let mut out = Vec::new();
        for entry in list.get_ref() {
            let err = |m: String| ctx.invalid(Some(list.span()), key.to_string(), m);
            let (app, name) = self.split_permission(entry).ok_or_else(|| {
                err(format!(
                    "{entry:?}: no app has that App ID URI or client id"
                ))
            })?;
            let known = if roles { &app.app_roles } else { &app.scopes };
            if !known.iter().any(|s| s == name) {
                let what = if roles { "app role" } else { "scope" };
                return Err(err(format!(
                    "{entry:?}: {} defines no {what} {name:?}",
                    app.name
                )));
            }
            out.push((app.client_id.clone(), name.to_string()));
        }
        Ok(out)
    }
}

/// Checks the `[[tenants]]` entries.
fn build_tenants(config: &DirectoryConfig, ctx: &LoadContext) -> Result<Vec<Tenant>, ConfigError> {
    let mut tenants: Vec<Tenant> = Vec::new();
    for (i, t) in config.tenants.iter().enumerate() {
        let id = t.id.get_ref().to_ascii_lowercase();
        if !is_guid(&id) {
            return Err(ctx.invalid(
                Some(t.id.span()),
                format!("tenants[{i}].id"),
                format!("{id:?} is not a GUID"),
            ));
        }
        if tenants.iter().any(|x| x.id == id) {
            return Err(ctx.invalid(
                Some(t.id.span()),
                format!("tenants[{i}].id"),
                "duplicate tenant id".into(),
            ));
        }
        tenants.push(Tenant {
            id,
            domain: t.domain.to_ascii_lowercase(),
            name: t.name.clone(),
        });
    }
    Ok(tenants)
}

/// Checks one `[[apps]]` entry whose client id and tenant are already checked.
fn build_app(
    i: usize,
    a: &AppConfig,
    client_id: String,
    tenant_id: String,
    ctx: &LoadContext,
) -> Result<App, ConfigError> {
    let secrets = app_secrets(i, a, &client_id, ctx)?;
    let certificates = app_certificates(i, a, ctx)?;
    check_app_uris(i, a, ctx)?;
    Ok(App {
        object_id: a
            .object_id
            .clone()
            .unwrap_or_else(|| derived_guid(&["sp", &client_id, &tenant_id])),
        client_id,
        name: if a.name.is_empty() {
            a.client_id.get_ref().clone()
        } else {
            a.name.clone()
        },
        tenant_id,
        multi_tenant: a.multi_tenant,
        public_client: a.public_client,
        secrets,
        certificates,
        federated: a.federated_credentials.clone(),
        redirect_uris: a.redirect_uris.clone(),
        identifier_uris: a.identifier_uris.clone(),
        token_version: a.access_token_accepted_version.unwrap_or(1),
        scopes: a.scopes.clone(),
        app_roles: a.app_roles.clone(),
        admin_consent: Vec::new(),
        role_assignments: Vec::new(),
        pre_authorized: app_pre_authorized(i, a, ctx)?,
    })
}

/// An app's pre-authorized clients: each scope must be one this app exposes. The client
/// id must be a GUID; it need not be in the directory (Microsoft's own clients are
/// pre-authorized by id whether or not a tenant has them).
fn app_pre_authorized(
    i: usize,
    a: &AppConfig,
    ctx: &LoadContext,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (j, p) in a.pre_authorized.iter().enumerate() {
        let client = p.client_id.get_ref().to_ascii_lowercase();
        if !is_guid(&client) {
            return Err(ctx.invalid(
                Some(p.client_id.span()),
                format!("apps[{i}].pre_authorized[{j}].client_id"),
                format!("{client:?} is not a GUID"),
            ));
        }
        for s in &p.scopes {
            if !a.scopes.iter().any(|x| x.eq_ignore_ascii_case(s)) {
                return Err(ctx.invalid(
                    Some(p.client_id.span()),
                    format!("apps[{i}].pre_authorized[{j}].scopes"),
                    format!("{s:?} is not one of this app's scopes {:?}", a.scopes),
                ));
            }
            out.push((client.clone(), s.clone()));
        }
    }
    Ok(out)
}

/// An app's client secrets (an expiry must be RFC 3339; a value must not be empty).
fn app_secrets(
    i: usize,
    a: &AppConfig,
    client_id: &str,
    ctx: &LoadContext,
) -> Result<Vec<ClientSecret>, ConfigError> {
    let mut secrets = Vec::new();
    for (j, s) in a.secrets.iter().enumerate() {
        let expires = match &s.expires {
            Some(e) => Some(parse_rfc3339(e).ok_or_else(|| {
                ctx.invalid(
                    Some(a.client_id.span()),
                    format!("apps[{i}].secrets[{j}].expires"),
                    format!("{e:?} is not an RFC 3339 date-time"),
                )
            })?),
            None => None,
        };
        if s.value.is_empty() {
            return Err(ctx.invalid(
                Some(a.client_id.span()),
                format!("apps[{i}].secrets[{j}].value"),
                "empty secret".into(),
            ));
        }
        secrets.push(ClientSecret {
            key_id: s
                .key_id
                .clone()
                .unwrap_or_else(|| derived_guid(&["secret", client_id, &j.to_string()])),
            value: s.value.clone(),
            expires,
        });
    }
    Ok(secrets)
}

/// An app's certificates: each from a `file`, a `pem`, or generated in the state directory.
fn app_certificates(
    i: usize,
    a: &AppConfig,
    ctx: &LoadContext,
) -> Result<Vec<ClientCertificate>, ConfigError> {
    let mut certificates = Vec::new();
    for (j, c) in a.certificates.iter().enumerate() {
        let key = format!("apps[{i}].certificates[{j}]");
        let cert = match (&c.file, &c.generate, &c.pem) {
            (Some(f), None, None) => {
                let path = ctx.config_dir.join(f);
                let pem = std::fs::read_to_string(&path).map_err(|e| {
                    ctx.invalid(
                        Some(a.client_id.span()),
                        format!("{key}.file"),
                        format!("{}: {e}", path.display()),
                    )
                })?;
                keys::ClientCertificate::from_pem(&pem).map_err(|e| e.to_string())
            }
            (None, Some(g), None) => {
                keys::ClientCertificate::load_or_generate(&ctx.state_dir.join(g), &a.name)
                    .map_err(|e| e.to_string())
            }
            (None, None, Some(p)) => {
                keys::ClientCertificate::from_pem(p).map_err(|e| e.to_string())
            }
            _ => Err("give exactly one of file, generate or pem".to_string()),
        }
        .map_err(|m| ctx.invalid(Some(a.client_id.span()), key, m))?;
        certificates.push(cert);
    }
    Ok(certificates)
}

/// Checks an app's token version, redirect URIs and federated credential issuers.
fn check_app_uris(i: usize, a: &AppConfig, ctx: &LoadContext) -> Result<(), ConfigError> {
    if let Some(v) = a.access_token_accepted_version
        && v != 1
        && v != 2
    {
        return Err(ctx.invalid(
            Some(a.client_id.span()),
            format!("apps[{i}].access_token_accepted_version"),
            "must be 1 or 2".into(),
        ));
    }
    for (j, r) in a.redirect_uris.iter().enumerate() {
        if !(r.starts_with("https://")
            || r.starts_with("http://localhost")
            || r.starts_with("http://127.0.0.1")
            || r.starts_with("http://[::1]")
            || (r.contains("://") && !r.starts_with("http://")))
        {
            return Err(ctx.invalid(
                Some(a.client_id.span()),
                format!("apps[{i}].redirect_uris[{j}]"),
                format!("{r:?}: Entra accepts https://, loopback http:// or a custom scheme"),
            ));
        }
    }
    for (j, f) in a.federated_credentials.iter().enumerate() {
        if f.issuer != "emulator"
            && !f.issuer.starts_with("https://")
            && !f.issuer.starts_with("http://")
        {
            return Err(ctx.invalid(
                Some(a.client_id.span()),
                format!("apps[{i}].federated_credentials[{j}].issuer"),
                "an https:// issuer URL or \"emulator\"".into(),
            ));
        }
    }
    Ok(())
}

/// (lower-cased App ID URI, app index), longest first.
fn uri_index(apps: &[App]) -> Vec<(String, usize)> {
    let mut uri_index: Vec<(String, usize)> = apps
        .iter()
        .enumerate()
        .flat_map(|(i, a)| {
            a.identifier_uris
                .iter()
                .map(move |u| (u.trim_end_matches('/').to_ascii_lowercase(), i))
        })
        .collect();
    uri_index.sort_by_key(|(uri, _)| std::cmp::Reverse(uri.len()));
    uri_index
}

/// Loads the directory from a file (or the embedded default when `path` is `None`).
pub(crate) fn load(
    path: Option<&Path>,
    state_dir: &Path,
) -> Result<(DirectoryConfig, Directory, LoadContext), ConfigError> {
    let (text, file, config_dir) = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
                file: p.display().to_string(),
                source,
            })?;
            let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
            (text, p.display().to_string(), dir)
        }
        None => (
            DEFAULT_DIRECTORY_TOML.to_string(),
            "<embedded default>".to_string(),
            state_dir.to_path_buf(),
        ),
    };
    let config = DirectoryConfig::parse(&text, &file)?;
    let ctx = LoadContext {
        file,
        config_dir,
        state_dir: state_dir.to_path_buf(),
        text,
    };
    let dir = Directory::build(&config, &ctx)?;
    Ok((config, dir, ctx))
}
