//! Layered configuration for every command: the embedded `default-config.toml`, then an
//! `entra.toml`, then `ENTRA_*` (and the azure-identity) environment variables, then
//! flags. Each value remembers which layer set it, for `entra doctor`. Unknown keys in a
//! file are warned about, not fatal (a newer entra.toml still works with an older entra).
//!
//! The variables the client libraries read work here too, with entra's own names as
//! aliases that win when both are set (what `entra up` prints is enough for all three):
//! - authority: `--authority`, `ENTRA_AUTHORITY`, `AZURE_AUTHORITY_HOST`, entra.toml's
//!   `authority`, the built-in default;
//! - CA file: `--ca-file`, `ENTRA_CA_FILE`, entra.toml's `ca_file`, `SSL_CERT_FILE`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use entra_jose::RsaBackend;
use serde::Deserialize;

/// The embedded lowest layer.
pub(crate) const DEFAULTS: &str = include_str!("default-config.toml");

/// Flags every command accepts (after the command name too).
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct GlobalArgs {
    /// Configuration file (default: ./entra.toml, else <config dir>/entrakit/entra.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Login host, e.g. https://login.microsoftonline.us or the emulator's https://localhost:8443
    /// (else ENTRA_AUTHORITY, AZURE_AUTHORITY_HOST, entra.toml's authority).
    #[arg(long, global = true, value_name = "URL")]
    pub authority: Option<String>,
    /// Tenant: a GUID, a domain, organizations, common or consumers.
    #[arg(long, global = true, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// Client (application) id to sign in with.
    #[arg(long, global = true, value_name = "ID")]
    pub client_id: Option<String>,
    /// An extra CA certificate (PEM) to trust, e.g. the emulator's ca.pem (else
    /// ENTRA_CA_FILE, entra.toml's ca_file, SSL_CERT_FILE).
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// The token cache file (default: ENTRA_TOKEN_CACHE, else the local data directory).
    #[arg(long, global = true, value_name = "FILE")]
    pub token_cache: Option<PathBuf>,
}

/// What an `entra.toml` may hold (every key optional).
#[derive(Debug, Default, Deserialize)]
struct FileLayer {
    authority: Option<String>,
    tenant: Option<String>,
    client_id: Option<String>,
    ca_file: Option<PathBuf>,
    token_cache: Option<PathBuf>,
    #[serde(default)]
    resources: BTreeMap<String, String>,
    #[serde(default)]
    validate: ValidateLayer,
}

/// The `[validate]` table: how `entra validate` checks tokens.
#[derive(Debug, Default, Deserialize)]
struct ValidateLayer {
    /// `auto` (entra-rsa where the CPU has AVX-512 IFMA) or `aws-lc`.
    rsa_backend: Option<String>,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// The embedded defaults.
    Default,
    /// A configuration file.
    File(PathBuf),
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("built-in default"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Env(v) => write!(f, "${v}"),
            Source::Flag(n) => write!(f, "--{n}"),
        }
    }
}

/// A setting and the layer that set it.
#[derive(Debug, Clone)]
pub(crate) struct Setting<T> {
    pub value: T,
    pub source: Source,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub authority: Setting<String>,
    pub tenant: Setting<String>,
    pub client_id: Setting<String>,
    pub ca_file: Option<Setting<PathBuf>>,
    pub token_cache: Option<Setting<PathBuf>>,
    /// `--resource` aliases, lower-case name to scope.
    pub resources: BTreeMap<String, String>,
    /// `[validate] rsa_backend`: which implementation checks RSA signatures
    /// (`ENTRA_RSA_BACKEND=aws-lc` also switches entra-rsa off, on its own).
    pub rsa_backend: Setting<RsaBackend>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Problems worth a warning (unknown keys...).
    pub warnings: Vec<String>,
}

impl Config {
    /// Loads every layer, reading variables through `var` (the process's in `entra`).
    pub(crate) fn load(
        args: &GlobalArgs,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let mut config = Self::defaults();
        if let Some(path) = config_file(args, var) {
            config.apply_file(path)?;
        }
        config.apply_env(var);
        config.apply_flags(args);
        // SSL_CERT_FILE is what MSAL, azure-identity and the entrakit libraries read, and
        // what `entra up` prints; it is also often set machine-wide to the system bundle,
        // so it only fills in when no layer named a CA (the system roots include it anyway).
        if config.ca_file.is_none() {
            set_opt(
                &mut config.ca_file,
                var("SSL_CERT_FILE").map(PathBuf::from),
                Source::Env("SSL_CERT_FILE"),
            );
        }
        Ok(config)
    }

    /// The embedded lowest layer.
    fn defaults() -> Config {
        let defaults: FileLayer = toml::from_str(DEFAULTS).expect("embedded defaults parse");
        let rsa_backend = default(defaults.validate.rsa_backend.map(|b| {
            b.parse::<RsaBackend>()
                .expect("the embedded rsa_backend is valid")
        }));
        Config {
            authority: default(defaults.authority),
            tenant: default(defaults.tenant),
            client_id: default(defaults.client_id),
            ca_file: None,
            token_cache: None,
            resources: defaults.resources,
            rsa_backend,
            file: None,
            warnings: Vec::new(),
        }
    }

    /// The file layer: `path`'s keys over what is set.
    fn apply_file(&mut self, path: PathBuf) -> Result<(), String> {
        let config = self;
        let layer = read_file(&path, &mut config.warnings)?;
        let src = || Source::File(path.clone());
        set(&mut config.authority, layer.authority, src());
        set(&mut config.tenant, layer.tenant, src());
        set(&mut config.client_id, layer.client_id, src());
        set_opt(&mut config.ca_file, layer.ca_file, src());
        set_opt(&mut config.token_cache, layer.token_cache, src());
        for (k, v) in layer.resources {
            config.resources.insert(k.to_ascii_lowercase(), v);
        }
        if let Some(name) = layer.validate.rsa_backend {
            let value = name
                .trim()
                .parse::<RsaBackend>()
                .map_err(|e| format!("{}: [validate] rsa_backend: {e}", path.display()))?;
            config.rsa_backend = Setting {
                value,
                source: src(),
            };
        }
        config.file = Some(path);
        Ok(())
    }

    /// The environment layer: azure-identity's names first, ours on top (so
    /// ENTRA_AUTHORITY wins over AZURE_AUTHORITY_HOST when both are set).
    fn apply_env(&mut self, var: &dyn Fn(&str) -> Option<String>) {
        let config = self;
        for name in ["AZURE_AUTHORITY_HOST", "ENTRA_AUTHORITY"] {
            set(&mut config.authority, var(name), Source::Env(name));
        }
        for name in ["AZURE_TENANT_ID", "ENTRA_TENANT"] {
            set(&mut config.tenant, var(name), Source::Env(name));
        }
        set(
            &mut config.client_id,
            var("ENTRA_CLIENT_ID"),
            Source::Env("ENTRA_CLIENT_ID"),
        );
        set_opt(
            &mut config.ca_file,
            var("ENTRA_CA_FILE").map(PathBuf::from),
            Source::Env("ENTRA_CA_FILE"),
        );
        set_opt(
            &mut config.token_cache,
            var("ENTRA_TOKEN_CACHE").map(PathBuf::from),
            Source::Env("ENTRA_TOKEN_CACHE"),
        );
    }

    /// The flags, over everything.
    fn apply_flags(&mut self, args: &GlobalArgs) {
        let config = self;
        set(
            &mut config.authority,
            args.authority.clone(),
            Source::Flag("authority"),
        );
        set(
            &mut config.tenant,
            args.tenant.clone(),
            Source::Flag("tenant"),
        );
        set(
            &mut config.client_id,
            args.client_id.clone(),
            Source::Flag("client-id"),
        );
        set_opt(
            &mut config.ca_file,
            args.ca_file.clone(),
            Source::Flag("ca-file"),
        );
        set_opt(
            &mut config.token_cache,
            args.token_cache.clone(),
            Source::Flag("token-cache"),
        );
    }

    /// The scope for `--resource NAME`: an alias, or a URL (which gets `/.default`).
    pub(crate) fn resource_scope(&self, resource: &str) -> Result<String, String> {
        if let Some(scope) = self.resources.get(&resource.to_ascii_lowercase()) {
            return Ok(scope.clone());
        }
        if resource.contains("://") || resource.starts_with("api://") {
            let base = resource.trim_end_matches('/');
            return Ok(if base.ends_with("/.default") {
                base.to_string()
            } else {
                format!("{base}/.default")
            });
        }
        let known: Vec<&str> = self.resources.keys().map(String::as_str).collect();
        Err(format!(
            "unknown resource {resource:?}: use one of {} or a resource URL (https://... or api://...)",
            known.join(", ")
        ))
    }
}

/// The configuration file: `--config`, else `ENTRA_CONFIG`, else `./entra.toml` or
/// `<config dir>/entrakit/entra.toml` if there is one.
fn config_file(args: &GlobalArgs, var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let explicit = args
        .config
        .clone()
        .map(|p| (p, Source::Flag("config")))
        .or_else(|| var("ENTRA_CONFIG").map(|p| (PathBuf::from(p), Source::Env("ENTRA_CONFIG"))));
    match explicit {
        Some((path, _)) => Some(path),
        None => [
            Some(PathBuf::from("entra.toml")),
            dirs::config_dir().map(|d| d.join("entrakit").join("entra.toml")),
        ]
        .into_iter()
        .flatten()
        .find(|p| p.is_file()),
    }
}

fn default<T>(value: Option<T>) -> Setting<T> {
    Setting {
        value: value.expect("the embedded defaults set every required key"),
        source: Source::Default,
    }
}

fn set(slot: &mut Setting<String>, value: Option<String>, source: Source) {
    if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
        *slot = Setting {
            value: v.trim().to_string(),
            source,
        };
    }
}

fn set_opt(slot: &mut Option<Setting<PathBuf>>, value: Option<PathBuf>, source: Source) {
    if let Some(v) = value.filter(|v| !v.as_os_str().is_empty()) {
        *slot = Some(Setting { value: v, source });
    }
}

fn read_file(path: &Path, warnings: &mut Vec<String>) -> Result<FileLayer, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read configuration {}: {e}", path.display()))?;
    let de = toml::Deserializer::new(&text);
    let mut unknown = Vec::new();
    let layer: FileLayer = serde_ignored::deserialize(de, |p| unknown.push(p.to_string()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for key in unknown {
        warnings.push(format!("{}: unknown key `{key}` ignored", path.display()));
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("entra-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("entra.toml");
        std::fs::write(
            &file,
            "tenant = \"contoso.onmicrosoft.com\"\nclient_id = \"from-file\"\nsurprise = 1\n[resources]\nMyApi = \"api://my-api/.default\"\n",
        )
        .unwrap();
        let args = GlobalArgs {
            config: Some(file.clone()),
            client_id: Some("from-flag".into()),
            ..Default::default()
        };
        let c = Config::load(
            &args,
            &vars(&[
                ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us"),
                ("ENTRA_CLIENT_ID", "from-env"),
            ]),
        )
        .unwrap();
        assert_eq!(c.authority.value, "https://login.microsoftonline.us");
        assert_eq!(c.authority.source, Source::Env("AZURE_AUTHORITY_HOST"));
        assert_eq!(c.tenant.value, "contoso.onmicrosoft.com");
        assert_eq!(c.tenant.source, Source::File(file.clone()));
        assert_eq!(c.client_id.value, "from-flag");
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("unknown key `surprise`"));
        assert_eq!(c.resource_scope("myapi").unwrap(), "api://my-api/.default");
        assert_eq!(
            c.resource_scope("Fabric").unwrap(),
            "https://api.fabric.microsoft.com/.default"
        );
        assert_eq!(
            c.resource_scope("https://contoso.example/").unwrap(),
            "https://contoso.example/.default"
        );
        assert!(c.resource_scope("nope").unwrap_err().contains("fabric"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn entra_toml_rsa_backend_switches_entra_rsa_off() {
        let dir = std::env::temp_dir().join(format!("entra-config-rsa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("entra.toml");
        let load = |text: &str| {
            std::fs::write(&file, text).unwrap();
            Config::load(
                &GlobalArgs {
                    config: Some(file.clone()),
                    ..Default::default()
                },
                &vars(&[]),
            )
        };
        let c = load("").unwrap();
        assert_eq!(c.rsa_backend.value, RsaBackend::Auto);
        assert_eq!(c.rsa_backend.source, Source::Default);
        let c = load("[validate]\nrsa_backend = \"aws-lc\"\n").unwrap();
        assert_eq!(c.rsa_backend.value, RsaBackend::AwsLc);
        assert_eq!(c.rsa_backend.source, Source::File(file.clone()));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let err = load("[validate]\nrsa_backend = \"ring\"\n").unwrap_err();
        assert!(
            err.contains("[validate] rsa_backend") && err.contains("\"aws-lc\""),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn client_library_variables_work_and_entra_names_win() {
        let args = GlobalArgs {
            config: Some(PathBuf::from("/nonexistent/entra.toml")),
            ..Default::default()
        };
        let empty = std::env::temp_dir().join(format!("entra-config-env-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let file = empty.join("entra.toml");
        std::fs::write(&file, "").unwrap();
        let args = GlobalArgs {
            config: Some(file.clone()),
            ..args
        };
        let azure = [
            ("AZURE_AUTHORITY_HOST", "https://localhost:8443"),
            ("SSL_CERT_FILE", "/emu/ca.pem"),
        ];
        let c = Config::load(&args, &vars(&azure)).unwrap();
        assert_eq!(c.authority.value, "https://localhost:8443");
        assert_eq!(c.authority.source, Source::Env("AZURE_AUTHORITY_HOST"));
        let ca = c.ca_file.unwrap();
        assert_eq!(ca.value, PathBuf::from("/emu/ca.pem"));
        assert_eq!(ca.source, Source::Env("SSL_CERT_FILE"));
        // Both set: entra's names win.
        let both = [
            azure[0],
            azure[1],
            ("ENTRA_AUTHORITY", "https://login.microsoftonline.us"),
            ("ENTRA_CA_FILE", "/entra/ca.pem"),
        ];
        let c = Config::load(&args, &vars(&both)).unwrap();
        assert_eq!(c.authority.source, Source::Env("ENTRA_AUTHORITY"));
        assert_eq!(c.ca_file.unwrap().source, Source::Env("ENTRA_CA_FILE"));
        // SSL_CERT_FILE (often the system bundle) does not hide entra.toml's CA.
        std::fs::write(&file, "ca_file = \"/file/ca.pem\"\n").unwrap();
        let c = Config::load(&args, &vars(&azure)).unwrap();
        assert_eq!(c.ca_file.unwrap().source, Source::File(file.clone()));
        // A flag beats them all.
        let c = Config::load(
            &GlobalArgs {
                ca_file: Some("/flag/ca.pem".into()),
                authority: Some("https://flag.example".into()),
                ..args.clone()
            },
            &vars(&both),
        )
        .unwrap();
        assert_eq!(c.authority.source, Source::Flag("authority"));
        assert_eq!(c.ca_file.unwrap().source, Source::Flag("ca-file"));
        std::fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn defaults_alone() {
        let c = Config::load(
            &GlobalArgs {
                config: Some(PathBuf::from("/nonexistent/entra.toml")),
                ..Default::default()
            },
            &vars(&[]),
        );
        assert!(c.unwrap_err().contains("cannot read configuration"));
        let dir = std::env::temp_dir().join(format!("entra-config-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("entra.toml");
        std::fs::write(&empty, "").unwrap();
        let c = Config::load(
            &GlobalArgs {
                config: Some(empty),
                ..Default::default()
            },
            &vars(&[]),
        )
        .unwrap();
        assert_eq!(c.authority.value, "https://login.microsoftonline.com");
        assert_eq!(c.client_id.value, entra_identity::DEFAULT_PUBLIC_CLIENT_ID);
        assert_eq!(c.tenant.value, "organizations");
        assert_eq!(c.resources.len(), 8);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
