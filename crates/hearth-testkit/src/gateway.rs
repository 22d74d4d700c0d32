//! Gateway configuration for tests: the fake upstreams as providers, with
//! a fixed set of model ids.

use crate::fake::{FakeAnthropic, FakeOpenAi};
use hearth_engine::gateway::{ModelSettings, RetryPolicy};
use hearth_providers::{ProviderKind, ProviderSettings};
use hearth_server::Config;
use hearth_server::gateway_config::{GatewayConfig, ProviderConfig};
use std::time::Duration;

/// The model served by the fake OpenAI-compatible upstream.
pub const OPENAI_MODEL: &str = "gpt-test";
/// Its upstream name (what the fake sees).
pub const OPENAI_UPSTREAM: &str = "gpt-4o-mini";
/// An alias of [`OPENAI_MODEL`].
pub const OPENAI_ALIAS: &str = "gpt-alias";
/// The model served by the fake Anthropic upstream.
pub const ANTHROPIC_MODEL: &str = "claude-test";
/// Its upstream name.
pub const ANTHROPIC_UPSTREAM: &str = "claude-sonnet-4-5-20250929";

/// Upstreams to route to; `None` leaves a provider out.
#[derive(Default)]
pub struct Upstreams<'a> {
    pub openai: Option<&'a FakeOpenAi>,
    pub anthropic: Option<&'a FakeAnthropic>,
    /// Per-request upstream timeout (short, so hang tests are quick).
    pub timeout: Option<Duration>,
    /// Retries per deployment (default 0 in tests unless set: fast, exact
    /// request counts).
    pub retries: u32,
}

/// Sets `config.gateway` to route [`OPENAI_MODEL`] and [`ANTHROPIC_MODEL`]
/// to the given fakes.
pub fn route_to(config: &mut Config, up: &Upstreams<'_>) {
    let timeout = up.timeout.unwrap_or(Duration::from_secs(10));
    let mut gateway = GatewayConfig {
        retry: RetryPolicy {
            max_retries: up.retries,
            base_delay: Duration::from_millis(20),
            max_wait: Duration::from_secs(5),
        },
        ..GatewayConfig::default()
    };
    let mut provider = |name: &str, kind: ProviderKind, base_url: String| {
        let mut settings = ProviderSettings::new(name.to_owned(), kind);
        settings.base_url = base_url;
        settings.api_key = Some(hearth_providers::Secret::new(format!(
            "upstream-key-{name}"
        )));
        settings.timeout = timeout;
        gateway.providers.push(ProviderConfig {
            settings,
            connect_timeout: Duration::from_secs(2),
        });
    };
    if let Some(fake) = up.openai {
        provider("fake-openai", ProviderKind::OpenAi, fake.base_url());
    }
    if let Some(fake) = up.anthropic {
        provider("fake-anthropic", ProviderKind::Anthropic, fake.base_url());
    }
    if up.openai.is_some() {
        gateway.models.push(ModelSettings {
            id: OPENAI_MODEL.to_owned(),
            provider: "fake-openai".to_owned(),
            upstream_model: Some(OPENAI_UPSTREAM.to_owned()),
            aliases: vec![OPENAI_ALIAS.to_owned()],
            fallbacks: Vec::new(),
            max_tokens: None,
        });
    }
    if up.anthropic.is_some() {
        gateway.models.push(ModelSettings {
            id: ANTHROPIC_MODEL.to_owned(),
            provider: "fake-anthropic".to_owned(),
            upstream_model: Some(ANTHROPIC_UPSTREAM.to_owned()),
            aliases: Vec::new(),
            fallbacks: Vec::new(),
            max_tokens: Some(1024),
        });
    }
    config.gateway = gateway;
}
