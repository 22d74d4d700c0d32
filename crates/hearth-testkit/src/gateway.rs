//! Gateway configuration for tests: the fake upstreams as providers, with
//! a fixed set of model ids.

use crate::fake::{FakeAnthropic, FakeOpenAi};
use crate::{Backend, TestServer};
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
/// The `max_tokens` Hearth sends for [`ANTHROPIC_MODEL`] when the client
/// gives none.
pub const ANTHROPIC_DEFAULT_MAX_TOKENS: u32 = 1024;
/// The name of the provider that points at the fake OpenAI upstream.
pub const OPENAI_PROVIDER: &str = "fake-openai";
/// The name of the provider that points at the fake Anthropic upstream.
pub const ANTHROPIC_PROVIDER: &str = "fake-anthropic";

/// The upstream credential Hearth presents to the provider named
/// `provider` (the fakes accept any key unless started with one).
pub fn upstream_key(provider: &str) -> String {
    format!("upstream-key-{provider}")
}

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
    /// Model ids (or aliases) [`OPENAI_MODEL`] falls back to, in order.
    pub openai_fallbacks: Vec<String>,
    /// Model ids (or aliases) [`ANTHROPIC_MODEL`] falls back to, in order.
    pub anthropic_fallbacks: Vec<String>,
    /// Configures the OpenAI provider with `legacy_completions = false`, so
    /// `/v1/completions` is translated to chat instead of passed through.
    pub openai_chat_only: bool,
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
        settings.api_key = Some(hearth_providers::Secret::new(upstream_key(name)));
        settings.timeout = timeout;
        if kind == ProviderKind::OpenAi {
            settings.legacy_completions = !up.openai_chat_only;
        }
        gateway.providers.push(ProviderConfig {
            settings,
            connect_timeout: Duration::from_secs(2),
        });
    };
    if let Some(fake) = up.openai {
        provider(OPENAI_PROVIDER, ProviderKind::OpenAi, fake.base_url());
    }
    if let Some(fake) = up.anthropic {
        provider(ANTHROPIC_PROVIDER, ProviderKind::Anthropic, fake.base_url());
    }
    if up.openai.is_some() {
        gateway.models.push(ModelSettings {
            id: OPENAI_MODEL.to_owned(),
            provider: OPENAI_PROVIDER.to_owned(),
            upstream_model: Some(OPENAI_UPSTREAM.to_owned()),
            aliases: vec![OPENAI_ALIAS.to_owned()],
            fallbacks: up.openai_fallbacks.clone(),
            max_tokens: None,
        });
    }
    if up.anthropic.is_some() {
        gateway.models.push(ModelSettings {
            id: ANTHROPIC_MODEL.to_owned(),
            provider: ANTHROPIC_PROVIDER.to_owned(),
            upstream_model: Some(ANTHROPIC_UPSTREAM.to_owned()),
            aliases: Vec::new(),
            fallbacks: up.anthropic_fallbacks.clone(),
            max_tokens: Some(ANTHROPIC_DEFAULT_MAX_TOKENS),
        });
    }
    config.gateway = gateway;
}

/// Both fake upstreams and a server routed to them.
pub struct Routed {
    pub server: TestServer,
    pub openai: FakeOpenAi,
    pub anthropic: FakeAnthropic,
}

impl Routed {
    /// Starts both fakes and a server on `backend` routed to them:
    /// `upstreams` sets the gateway options (timeouts, retries,
    /// fallbacks…), then `adjust` changes the routed config. `None` when
    /// the backend is PostgreSQL and it is not available.
    pub async fn start(
        backend: Backend,
        upstreams: impl FnOnce(&mut Upstreams<'_>),
        adjust: impl FnOnce(&mut Config),
    ) -> Option<Routed> {
        let openai = FakeOpenAi::start().await;
        let anthropic = FakeAnthropic::start().await;
        let server = TestServer::start_with(backend, |config| {
            let mut up = Upstreams {
                openai: Some(&openai),
                anthropic: Some(&anthropic),
                ..Upstreams::default()
            };
            upstreams(&mut up);
            route_to(config, &up);
            adjust(config);
        })
        .await?;
        Some(Routed {
            server,
            openai,
            anthropic,
        })
    }
}
