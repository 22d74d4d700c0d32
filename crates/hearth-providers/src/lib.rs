//! Hearth's upstream LLM clients.
//!
//! A [`Provider`] is one configured upstream: any OpenAI-compatible server
//! ([`openai::OpenAi`]) or Anthropic's Messages API
//! ([`anthropic::Anthropic`]). Each takes an OpenAI-shaped request body
//! ([`ChatRequest`]) and gives back OpenAI-shaped answers: whole
//! ([`Completion`]) or streamed chunk by chunk ([`EventStream`]).
//! Failures are typed ([`ProviderError`]) with whether to retry and what the
//! client sees.
//!
//! Architecture invariant: this crate never sees an organisation, a key of
//! Hearth's users, or the database. It knows provider settings and
//! OpenAI-shaped JSON, nothing else. Upstream credentials never appear in
//! an error, and nothing here logs.
//!
//! Codemap:
//! - `settings.rs`: [`ProviderKind`], [`Secret`], [`ProviderSettings`], [`HttpClient`].
//! - `types.rs`: [`ChatRequest`], [`Completion`], [`StreamEvent`], [`Usage`].
//! - `error.rs`: [`ProviderError`], [`ClientError`], credential redaction.
//! - `http.rs`: sending within the timeout, error statuses, bounded bodies, `Retry-After`.
//! - `sse.rs`: the incremental server-sent-events decoder.
//! - `relay.rs`: network chunks → SSE events → translated [`StreamEvent`]s.
//! - `chunk.rs`: OpenAI stream chunks written by the translating providers.
//! - `legacy.rs`: `/v1/completions` ↔ chat.
//! - `openai/`: the passthrough provider. `anthropic/`: the translating one.

pub mod anthropic;
mod chunk;
mod error;
mod http;
mod legacy;
pub mod openai;
mod relay;
mod settings;
mod sse;
mod types;

use std::future::Future;

pub use error::{ClientError, ProviderError};
pub use settings::{HttpClient, ProviderKind, ProviderSettings, Secret, http_client};
pub use types::{ChatRequest, Completion, EventStream, StreamEvent, Usage};

/// What every provider does. Each method takes an OpenAI-shaped body
/// (see [`ChatRequest::body`]); chat methods take a `/v1/chat/completions`
/// body, completion methods a `/v1/completions` body.
pub trait LlmProvider: Send + Sync {
    /// A whole `chat.completion`.
    fn chat(
        &self,
        req: ChatRequest,
    ) -> impl Future<Output = Result<Completion, ProviderError>> + Send;

    /// A stream of `chat.completion.chunk`s. Resolves once the upstream
    /// answered 2xx and sent its first event (so the caller may still retry
    /// or fall back on errors before that); the stream then yields events as
    /// upstream bytes arrive, never buffering the whole body.
    fn chat_stream(
        &self,
        req: ChatRequest,
    ) -> impl Future<Output = Result<EventStream, ProviderError>> + Send;

    /// A whole `text_completion`.
    fn completion(
        &self,
        req: ChatRequest,
    ) -> impl Future<Output = Result<Completion, ProviderError>> + Send;

    /// A stream of `text_completion` chunks; resolves like [`Self::chat_stream`].
    fn completion_stream(
        &self,
        req: ChatRequest,
    ) -> impl Future<Output = Result<EventStream, ProviderError>> + Send;
}

/// One configured upstream. A closed set: one variant and one module per
/// wire protocol.
#[derive(Debug, Clone)]
pub enum Provider {
    OpenAi(openai::OpenAi),
    Anthropic(anthropic::Anthropic),
}

impl Provider {
    /// The provider `settings.kind` names, sharing the pooled `client`
    /// (see [`http_client`]).
    pub fn new(settings: ProviderSettings, client: HttpClient) -> Provider {
        match settings.kind {
            ProviderKind::OpenAi => Provider::OpenAi(openai::OpenAi::new(settings, client)),
            ProviderKind::Anthropic => {
                Provider::Anthropic(anthropic::Anthropic::new(settings, client))
            }
        }
    }

    /// The provider's settings.
    pub fn settings(&self) -> &ProviderSettings {
        match self {
            Provider::OpenAi(p) => p.settings(),
            Provider::Anthropic(p) => p.settings(),
        }
    }

    /// The provider's name in the configuration.
    pub fn name(&self) -> &str {
        &self.settings().name
    }

    /// The provider's wire protocol.
    pub fn kind(&self) -> ProviderKind {
        self.settings().kind
    }
}

impl LlmProvider for Provider {
    async fn chat(&self, req: ChatRequest) -> Result<Completion, ProviderError> {
        match self {
            Provider::OpenAi(p) => p.chat(req).await,
            Provider::Anthropic(p) => p.chat(req).await,
        }
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<EventStream, ProviderError> {
        match self {
            Provider::OpenAi(p) => p.chat_stream(req).await,
            Provider::Anthropic(p) => p.chat_stream(req).await,
        }
    }

    async fn completion(&self, req: ChatRequest) -> Result<Completion, ProviderError> {
        match self {
            Provider::OpenAi(p) => p.completion(req).await,
            Provider::Anthropic(p) => p.completion(req).await,
        }
    }

    async fn completion_stream(&self, req: ChatRequest) -> Result<EventStream, ProviderError> {
        match self {
            Provider::OpenAi(p) => p.completion_stream(req).await,
            Provider::Anthropic(p) => p.completion_stream(req).await,
        }
    }
}
