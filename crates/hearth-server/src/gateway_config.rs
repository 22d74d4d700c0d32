//! The gateway part of the configuration: `[[providers]]`, `[[models]]`
//! and `[gateway]`, plus providers registered from `OPENAI_API_KEY` and
//! `ANTHROPIC_API_KEY` when none of that kind is configured.

use crate::config::ConfigError;
use hearth_engine::gateway::{ModelSettings, RetryPolicy};
use hearth_providers::{ProviderKind, ProviderSettings, Secret};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProvider {
    name: String,
    kind: ProviderKind,
    base_url: Option<String>,
    api_key: Option<String>,
    api_key_env: Option<String>,
    timeout_secs: Option<u64>,
    connect_timeout_secs: Option<u64>,
    legacy_completions: Option<bool>,
    stream_usage: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    id: String,
    provider: String,
    upstream_model: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    fallbacks: Vec<String>,
    max_tokens: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGateway {
    max_retries: Option<u32>,
    retry_base_delay_ms: Option<u64>,
    max_retry_wait_secs: Option<u64>,
}

/// A provider with the connect timeout its HTTP client needs.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub settings: ProviderSettings,
    pub connect_timeout: Duration,
}

/// The validated gateway configuration. Whether models reference real
/// providers and fallbacks real models is checked when the catalogue is
/// built at start-up.
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    pub providers: Vec<ProviderConfig>,
    pub models: Vec<ModelSettings>,
    pub retry: RetryPolicy,
}

const DEFAULT_TIMEOUT_SECS: u64 = 600;
const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;

/// Models registered with a provider that comes from `OPENAI_API_KEY`.
const OPENAI_MODELS: &[(&str, &[&str])] = &[
    ("gpt-4o", &[]),
    ("gpt-4o-mini", &[]),
    ("gpt-4.1", &[]),
    ("gpt-4.1-mini", &[]),
    ("gpt-4.1-nano", &[]),
    ("o3-mini", &[]),
    ("o4-mini", &[]),
];

/// Models registered with a provider that comes from `ANTHROPIC_API_KEY`.
const ANTHROPIC_MODELS: &[(&str, &[&str])] = &[
    ("claude-sonnet-4-5-20250929", &["claude-sonnet-4-5"]),
    ("claude-opus-4-1-20250805", &["claude-opus-4-1"]),
    ("claude-haiku-4-5-20251001", &["claude-haiku-4-5"]),
    ("claude-3-5-haiku-20241022", &["claude-3-5-haiku-latest"]),
];

pub(crate) fn build(
    providers: Vec<RawProvider>,
    models: Vec<RawModel>,
    gateway: RawGateway,
    env: &HashMap<String, String>,
) -> Result<GatewayConfig, ConfigError> {
    let mut out = GatewayConfig {
        retry: RetryPolicy {
            max_retries: gateway.max_retries.unwrap_or(2),
            base_delay: Duration::from_millis(gateway.retry_base_delay_ms.unwrap_or(200)),
            max_wait: Duration::from_secs(gateway.max_retry_wait_secs.unwrap_or(10)),
        },
        ..GatewayConfig::default()
    };
    for (i, p) in providers.into_iter().enumerate() {
        let key = |field: &str| format!("providers[{i}].{field}");
        let api_key = match (p.api_key, p.api_key_env) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(format!(
                    "key '{}': set api_key or api_key_env, not both",
                    key("api_key")
                )));
            }
            (Some(k), None) => Some(Secret::new(k)),
            (None, Some(var)) => match env.get(&var).filter(|v| !v.is_empty()) {
                Some(v) => Some(Secret::new(v.clone())),
                None => {
                    return Err(ConfigError(format!(
                        "key '{}': environment variable {var} is not set",
                        key("api_key_env")
                    )));
                }
            },
            (None, None) => None,
        };
        let base_url = p
            .base_url
            .unwrap_or_else(|| p.kind.default_base_url().to_owned());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError(format!(
                "key '{}': '{base_url}' must start with http:// or https://",
                key("base_url")
            )));
        }
        out.providers.push(ProviderConfig {
            settings: ProviderSettings {
                name: p.name,
                kind: p.kind,
                base_url: base_url.trim_end_matches('/').to_owned(),
                api_key,
                timeout: Duration::from_secs(positive(
                    &key("timeout_secs"),
                    p.timeout_secs,
                    DEFAULT_TIMEOUT_SECS,
                )?),
                legacy_completions: p.legacy_completions.unwrap_or(true),
                stream_usage: p.stream_usage.unwrap_or(true),
            },
            connect_timeout: Duration::from_secs(positive(
                &key("connect_timeout_secs"),
                p.connect_timeout_secs,
                DEFAULT_CONNECT_TIMEOUT_SECS,
            )?),
        });
    }
    out.models = models
        .into_iter()
        .map(|m| ModelSettings {
            id: m.id,
            provider: m.provider,
            upstream_model: m.upstream_model,
            aliases: m.aliases,
            fallbacks: m.fallbacks,
            max_tokens: m.max_tokens,
        })
        .collect();
    register_from_env(
        &mut out,
        env,
        ProviderKind::OpenAi,
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        OPENAI_MODELS,
    );
    register_from_env(
        &mut out,
        env,
        ProviderKind::Anthropic,
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        ANTHROPIC_MODELS,
    );
    Ok(out)
}

/// Registers a provider of `kind` from its conventional environment
/// variables when the config has none of that kind.
fn register_from_env(
    out: &mut GatewayConfig,
    env: &HashMap<String, String>,
    kind: ProviderKind,
    key_var: &str,
    base_var: &str,
    models: &[(&str, &[&str])],
) {
    let Some(api_key) = env.get(key_var).filter(|k| !k.is_empty()) else {
        return;
    };
    if out.providers.iter().any(|p| p.settings.kind == kind) {
        return;
    }
    let name = match kind {
        ProviderKind::OpenAi => "openai",
        ProviderKind::Anthropic => "anthropic",
    };
    if out.providers.iter().any(|p| p.settings.name == name) {
        return;
    }
    let base_url = env
        .get(base_var)
        .filter(|u| !u.is_empty())
        .map_or(kind.default_base_url(), String::as_str)
        .trim_end_matches('/')
        .to_owned();
    out.providers.push(ProviderConfig {
        settings: ProviderSettings {
            name: name.to_owned(),
            kind,
            base_url,
            api_key: Some(Secret::new(api_key.clone())),
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            legacy_completions: true,
            stream_usage: true,
        },
        connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS),
    });
    let taken = |name: &str| {
        out.models
            .iter()
            .any(|m| m.id == name || m.aliases.iter().any(|a| a == name))
    };
    let added: Vec<ModelSettings> = models
        .iter()
        .filter(|(id, _)| !taken(id))
        .map(|(id, aliases)| ModelSettings {
            id: (*id).to_owned(),
            provider: name.to_owned(),
            upstream_model: None,
            aliases: aliases
                .iter()
                .filter(|a| !taken(a))
                .map(|a| (*a).to_owned())
                .collect(),
            fallbacks: Vec::new(),
            max_tokens: None,
        })
        .collect();
    out.models.extend(added);
}

fn positive(key: &str, value: Option<u64>, default: u64) -> Result<u64, ConfigError> {
    match value {
        Some(0) => Err(ConfigError(format!("key '{key}': must be greater than 0"))),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(toml_text: &str, vars: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.toml");
        std::fs::write(&path, toml_text).unwrap();
        let env = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Config::load(Some(&path), env, None)
    }

    const ANTHROPIC: &str = r#"
[[providers]]
name = "anthropic"
kind = "anthropic"
api_key_env = "MY_ANTHROPIC_KEY"

[[models]]
id = "claude-sonnet-4-5-20250929"
provider = "anthropic"
aliases = ["claude-sonnet-4-5"]
fallbacks = ["local"]
max_tokens = 2048

[[providers]]
name = "local"
kind = "openai"
base_url = "http://127.0.0.1:11434/v1/"

[[models]]
id = "local"
provider = "local"
upstream_model = "llama3.1:8b"
"#;

    #[test]
    fn providers_and_models_are_read_with_secrets_from_the_environment() {
        let c = load(ANTHROPIC, &[("MY_ANTHROPIC_KEY", "sk-ant-123")]).unwrap();
        let g = &c.gateway;
        assert_eq!(g.providers.len(), 2);
        let anthropic = &g.providers[0].settings;
        assert_eq!(anthropic.base_url, "https://api.anthropic.com");
        assert_eq!(anthropic.api_key.as_ref().unwrap().expose(), "sk-ant-123");
        assert_eq!(
            g.providers[1].settings.base_url,
            "http://127.0.0.1:11434/v1"
        );
        assert_eq!(g.models[0].aliases, vec!["claude-sonnet-4-5"]);
        assert_eq!(g.models[0].max_tokens, Some(2048));
        assert_eq!(g.models[1].upstream_model.as_deref(), Some("llama3.1:8b"));
        assert!(
            !format!("{c:?}").contains("sk-ant-123"),
            "secrets never print"
        );
        // And the catalogue accepts it.
        crate::app::catalog(&c).unwrap();
    }

    #[test]
    fn a_missing_secret_or_a_bad_key_is_named() {
        let err = load(ANTHROPIC, &[]).unwrap_err().to_string();
        assert!(
            err.contains("providers[0].api_key_env") && err.contains("MY_ANTHROPIC_KEY"),
            "{err}"
        );
        let err = load(
            "[[providers]]\nname = \"x\"\nkind = \"openai\"\nurl = \"http://h\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("url"), "{err}");
        let err = load("[[providers]]\nname = \"x\"\nkind = \"cohere\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("kind"), "{err}");
        let err = load(
            "[[providers]]\nname = \"x\"\nkind = \"openai\"\nbase_url = \"ftp://h\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("providers[0].base_url"), "{err}");
    }

    #[test]
    fn the_catalogue_names_bad_references() {
        let c = load("[[models]]\nid = \"m\"\nprovider = \"nobody\"\n", &[]).unwrap();
        let err = crate::app::catalog(&c).unwrap_err().to_string();
        assert!(err.contains("models[0].provider"), "{err}");
        let text = "[[providers]]\nname = \"p\"\nkind = \"openai\"\n[[models]]\nid = \"m\"\nprovider = \"p\"\nfallbacks = [\"ghost\"]\n";
        let err = crate::app::catalog(&load(text, &[]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("models[0].fallbacks[0]"), "{err}");
    }

    #[test]
    fn provider_keys_in_the_environment_register_providers() {
        let c = load(
            "",
            &[
                ("OPENAI_API_KEY", "sk-1"),
                ("ANTHROPIC_API_KEY", "sk-ant-2"),
            ],
        )
        .unwrap();
        let names: Vec<&str> = c
            .gateway
            .providers
            .iter()
            .map(|p| p.settings.name.as_str())
            .collect();
        assert_eq!(names, vec!["openai", "anthropic"]);
        let ids: Vec<&str> = c.gateway.models.iter().map(|m| m.id.as_str()).collect();
        assert!(
            ids.contains(&"gpt-4o-mini") && ids.contains(&"claude-sonnet-4-5-20250929"),
            "{ids:?}"
        );
        crate::app::catalog(&c).unwrap();

        // A configured provider of the kind wins; its models are kept.
        let c = load(
            ANTHROPIC,
            &[("MY_ANTHROPIC_KEY", "k"), ("ANTHROPIC_API_KEY", "other")],
        )
        .unwrap();
        assert_eq!(c.gateway.providers.len(), 2);
        assert_eq!(c.gateway.models.len(), 2);

        // No keys, no providers: Hearth still starts, with an empty catalogue.
        let c = load("", &[]).unwrap();
        assert!(crate::app::catalog(&c).unwrap().is_empty());
    }
}
