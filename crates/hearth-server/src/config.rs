//! Configuration in two stages: the raw TOML (plus `HEARTH__SECTION__KEY`
//! environment overrides) is deserialized strictly, then validated once
//! into the immutable [`Config`] the server runs with.
//!
//! Unknown keys and bad values fail at start-up with a message naming the
//! key, and the environment variable when that is where it came from.

use crate::gateway_config::{self, GatewayConfig, RawGateway, RawModel, RawProvider};
use hearth_engine::responses::{LoopLimits, ResponsesConfig};
use hearth_security::audit::AuditOptions;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Where the server listens when neither the config nor `--listen` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded database used when none is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://hearth-data/hearth.db";
/// Prefix of environment variables that override config keys.
pub const ENV_PREFIX: &str = "HEARTH__";

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// How long in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_grace: Duration,
    /// Request-serving threads (`server.workers`; by default one per core).
    pub workers: usize,
    pub database: DatabaseConfig,
    pub limits: LimitsConfig,
    pub auth_cache_ttl: Duration,
    /// The audit buffer (`[audit]`).
    pub audit: AuditOptions,
    pub log_format: LogFormat,
    /// Providers, models and retry policy of the LLM gateway.
    pub gateway: GatewayConfig,
    /// Workspaces and bounds of the Chat Actions tool loop.
    pub responses: ResponsesConfig,
}

#[derive(Clone)]
pub struct DatabaseConfig {
    /// May carry a password, so it never prints in `Debug`.
    pub url: String,
    pub max_connections: u32,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    pub requests_per_minute: u64,
    pub tokens_per_minute: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    providers: Vec<RawProvider>,
    #[serde(default)]
    models: Vec<RawModel>,
    #[serde(default)]
    gateway: RawGateway,
    #[serde(default)]
    tools: RawTools,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTools {
    workspace_dir: Option<String>,
    max_iterations: Option<u64>,
    max_duration_secs: Option<u64>,
    call_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    max_body_bytes: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    workers: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<String>,
    max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    requests_per_minute: Option<u64>,
    tokens_per_minute: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    cache_ttl_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    buffer_capacity: Option<usize>,
    max_batch: Option<usize>,
    linger_ms: Option<u64>,
}

impl RawAudit {
    /// The set keys over the writer's defaults; the linger is capped at 1 s.
    fn options(&self) -> Result<AuditOptions, ConfigError> {
        let defaults = AuditOptions::default();
        let count = |key: &str, value: Option<usize>, default: usize| {
            positive(key, value.map(|n| n as u64), default as u64)
                .map(|n| usize::try_from(n).unwrap_or(default))
        };
        Ok(AuditOptions {
            capacity: count(
                "audit.buffer_capacity",
                self.buffer_capacity,
                defaults.capacity,
            )?,
            max_batch: count("audit.max_batch", self.max_batch, defaults.max_batch)?,
            linger: self
                .linger_ms
                .map_or(defaults.linger, |ms| Duration::from_millis(ms.min(1_000))),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<LogFormat>,
}

/// A configuration problem, naming the key (and its source) at fault.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub(crate) String);

impl Config {
    /// Loads the file (if any), applies environment overrides from `env`
    /// and the `--listen` flag, and validates the result.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        listen_flag: Option<&str>,
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                text.parse::<toml::Table>().map_err(|e| {
                    ConfigError(format!("{} is not valid TOML: {e}", path.display()))
                })?
            }
            None => toml::Table::new(),
        };
        let env: Vec<(String, String)> = env.into_iter().collect();
        let from_env = apply_env(&mut table, env.iter().cloned())?;
        let env_map: HashMap<String, String> = env.into_iter().collect();
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let path = e.path().to_string();
                let source = from_env
                    .iter()
                    .find(|(key, _)| path != "." && key.starts_with(&path))
                    .map(|(_, var)| format!(" (set by environment variable {var})"))
                    .unwrap_or_default();
                // The toml error's message alone: its `Display` appends a
                // second line ("in `section`") that repeats the path.
                ConfigError(format!("key '{path}'{source}: {}", e.inner().message()))
            })?;
        raw.validate(listen_flag, &env_map)
            .map_err(|ConfigError(message)| {
                // Validation names the key; add the variable that set it.
                let message = from_env
                    .iter()
                    .map(|(key, var)| (format!("key '{key}'"), var))
                    .find(|(named, _)| message.contains(named.as_str()))
                    .map_or_else(
                        || message.clone(),
                        |(named, var)| {
                            message.replacen(
                                &named,
                                &format!("{named} (set by environment variable {var})"),
                                1,
                            )
                        },
                    );
                ConfigError(message)
            })
    }

    /// The defaults, as `hearth serve` with no config file runs.
    pub fn defaults() -> Config {
        // The empty raw config always validates; fall back to the same
        // values spelled out should that ever change.
        RawConfig::default()
            .validate(None, &HashMap::new())
            .unwrap_or_else(|_| Config {
                listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
                max_body_bytes: 50 * 1024 * 1024,
                shutdown_grace: Duration::from_secs(30),
                workers: 1,
                database: DatabaseConfig {
                    url: DEFAULT_DATABASE_URL.to_owned(),
                    max_connections: 8,
                },
                limits: LimitsConfig {
                    requests_per_minute: 600,
                    tokens_per_minute: 1_000_000,
                },
                auth_cache_ttl: Duration::from_secs(10),
                audit: AuditOptions::default(),
                log_format: LogFormat::Text,
                gateway: GatewayConfig::default(),
                responses: default_responses(),
            })
    }
}

impl RawConfig {
    fn validate(
        self,
        listen_flag: Option<&str>,
        env: &HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let gateway = gateway_config::build(self.providers, self.models, self.gateway, env)?;
        let mut responses = default_responses();
        if let Some(dir) = self.tools.workspace_dir {
            if dir.trim().is_empty() {
                return Err(ConfigError(
                    "key 'tools.workspace_dir': must not be empty".to_owned(),
                ));
            }
            responses.workspace_dir = dir.into();
        }
        responses.limits.max_iterations = u32::try_from(positive(
            "tools.max_iterations",
            self.tools.max_iterations,
            u64::from(responses.limits.max_iterations),
        )?)
        .unwrap_or(u32::MAX);
        responses.limits.max_duration = Duration::from_secs(positive(
            "tools.max_duration_secs",
            self.tools.max_duration_secs,
            responses.limits.max_duration.as_secs(),
        )?);
        responses.limits.tools.timeout = Duration::from_secs(positive(
            "tools.call_timeout_secs",
            self.tools.call_timeout_secs,
            responses.limits.tools.timeout.as_secs(),
        )?);
        let listen_text = listen_flag
            .map(str::to_owned)
            .or(self.server.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse::<SocketAddr>().map_err(|_| {
            let source = if listen_flag.is_some() {
                "--listen"
            } else {
                "key 'server.listen'"
            };
            ConfigError(format!(
                "{source}: '{listen_text}' is not an address like 127.0.0.1:8080"
            ))
        })?;
        let url = self
            .database
            .url
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !["sqlite:", "postgres:", "postgresql:"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            return Err(ConfigError(format!(
                "key 'database.url': '{}' must start with sqlite:, postgres: or postgresql:",
                redact_url(&url)
            )));
        }
        Ok(Config {
            listen,
            max_body_bytes: positive(
                "server.max_body_bytes",
                self.server.max_body_bytes,
                50 * 1024 * 1024,
            )?
            .try_into()
            .map_err(|_| ConfigError("key 'server.max_body_bytes': too large".to_owned()))?,
            shutdown_grace: Duration::from_secs(self.server.shutdown_grace_secs.unwrap_or(30)),
            workers: workers(self.server.workers)?,
            database: DatabaseConfig {
                url,
                max_connections: u32::try_from(positive(
                    "database.max_connections",
                    self.database.max_connections.map(u64::from),
                    8,
                )?)
                .unwrap_or(8),
            },
            limits: LimitsConfig {
                requests_per_minute: positive(
                    "limits.requests_per_minute",
                    self.limits.requests_per_minute,
                    600,
                )?,
                tokens_per_minute: positive(
                    "limits.tokens_per_minute",
                    self.limits.tokens_per_minute,
                    1_000_000,
                )?,
            },
            auth_cache_ttl: Duration::from_secs(self.auth.cache_ttl_secs.unwrap_or(10)),
            audit: self.audit.options()?,
            log_format: self.log.format.unwrap_or(LogFormat::Text),
            gateway,
            responses,
        })
    }
}

/// The most request-serving threads accepted; far above any core count
/// where one thread per core pays off.
const MAX_WORKERS: u64 = 1024;

/// `server.workers`: absent or 0 means one per available core.
fn workers(value: Option<u64>) -> Result<usize, ConfigError> {
    match value {
        None | Some(0) => Ok(std::thread::available_parallelism().map_or(1, usize::from)),
        Some(n) if n <= MAX_WORKERS => Ok(usize::try_from(n).unwrap_or(1)),
        Some(n) => Err(ConfigError(format!(
            "key 'server.workers': {n} is more than {MAX_WORKERS}"
        ))),
    }
}

fn positive(key: &str, value: Option<u64>, default: u64) -> Result<u64, ConfigError> {
    match value {
        Some(0) => Err(ConfigError(format!("key '{key}': must be greater than 0"))),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

/// Applies `HEARTH__SECTION__KEY=value` overrides. Values are read as TOML
/// literals (`600`, `true`, `"quoted"`), falling back to a plain string.
/// Returns the dotted keys set, with the variable that set each.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut applied = Vec::new();
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let segments: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if segments.iter().any(String::is_empty) {
            return Err(ConfigError(format!(
                "environment variable {var}: expected HEARTH__SECTION__KEY"
            )));
        }
        let value = parse_env_value(&raw);
        insert_path(table, &segments, value)
            .map_err(|why| ConfigError(format!("environment variable {var}: {why}")))?;
        applied.push((segments.join("."), var));
    }
    Ok(applied)
}

fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty key".to_owned());
    };
    let mut current = table;
    for segment in parents {
        let entry = current
            .entry(segment.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("'{segment}' is not a section")),
        };
    }
    current.insert(last.clone(), value);
    Ok(())
}

/// Hides the password in a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Where tool workspaces live by default: next to the embedded database.
pub const DEFAULT_WORKSPACE_DIR: &str = "hearth-data/workspaces";

fn default_responses() -> ResponsesConfig {
    ResponsesConfig {
        workspace_dir: DEFAULT_WORKSPACE_DIR.into(),
        limits: LoopLimits::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn load_str(toml_text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.toml");
        std::fs::write(&path, toml_text).unwrap();
        Config::load(Some(&path), env(vars), None)
    }

    #[test]
    fn defaults_match_the_documented_contract() {
        let c = Config::load(None, env(&[]), None).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.database.url, DEFAULT_DATABASE_URL);
        assert_eq!(c.limits.requests_per_minute, 600);
        assert_eq!(c.limits.tokens_per_minute, 1_000_000);
        assert_eq!(c.max_body_bytes, 52_428_800);
    }

    #[test]
    fn env_overrides_file_and_flag_overrides_both() {
        let c = load_str(
            "[limits]\nrequests_per_minute = 5\n[server]\nlisten = \"127.0.0.1:9000\"\n",
            &[
                ("HEARTH__LIMITS__REQUESTS_PER_MINUTE", "7"),
                ("HEARTH_ADMIN_KEY", "x"),
            ],
        )
        .unwrap();
        assert_eq!(c.limits.requests_per_minute, 7);
        assert_eq!(c.listen.port(), 9000);
        let c = Config::load(None, env(&[]), Some("127.0.0.1:0")).unwrap();
        assert_eq!(c.listen.port(), 0);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = load_str("[database]\nurll = \"x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("urll") && err.contains("database"), "{err}");
        let err = load_str("[nope]\n", &[]).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
        let err = Config::load(None, env(&[("HEARTH__LIMITS__RPM", "3")]), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rpm") && err.contains("HEARTH__LIMITS__RPM"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = load_str("[limits]\nrequests_per_minute = \"lots\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits.requests_per_minute"), "{err}");
        let err = load_str("[limits]\nrequests_per_minute = 0\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits.requests_per_minute"), "{err}");
        let err = load_str("[server]\nlisten = \"localhost\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.listen"), "{err}");
        let err = load_str("[database]\nurl = \"mysql://x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.url"), "{err}");
        let err = Config::load(
            None,
            env(&[("HEARTH__LIMITS__REQUESTS_PER_MINUTE", "0")]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("HEARTH__LIMITS__REQUESTS_PER_MINUTE"), "{err}");
        let err = Config::load(None, env(&[]), Some("localhost"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--listen"), "{err}");
        let err = Config::load(None, env(&[("HEARTH__LOG__FORMAT", "xml")]), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("log.format") && err.contains("HEARTH__LOG__FORMAT"),
            "{err}"
        );
    }

    #[test]
    fn database_passwords_never_print() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        let c = Config::load(
            None,
            env(&[("HEARTH__DATABASE__URL", "postgres://u:secret@h/db")]),
            None,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn workers_default_to_one_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(Config::load(None, env(&[]), None).unwrap().workers, cores);
        let zero = Config::load(None, env(&[("HEARTH__SERVER__WORKERS", "0")]), None).unwrap();
        assert_eq!(zero.workers, cores);
        assert_eq!(load_str("[server]\nworkers = 3\n", &[]).unwrap().workers, 3);
        let err = load_str("[server]\nworkers = 5000\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.workers"), "{err}");
    }
}
