//! The request a provider gets from the gateway and what it gives back.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::ProviderError;

/// One call the gateway routes to a provider.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The client's OpenAI-shaped body (chat: `/v1/chat/completions`;
    /// completion: `/v1/completions`), already validated by the gateway
    /// (model present, messages a non-empty array / prompt present). The
    /// provider replaces `model` with `upstream_model` and owns `stream` and
    /// `stream_options`. Shared, because a call may be tried again (retries,
    /// fallbacks) and a passthrough provider writes it without copying.
    pub body: Arc<Map<String, Value>>,
    /// The model id the upstream knows.
    pub upstream_model: String,
    /// The id the client asked for; translated providers report it as
    /// `model` (the openai passthrough may keep upstream's value).
    pub client_model: String,
    /// Used when the client gave no `max_tokens`/`max_completion_tokens` and
    /// the provider requires one (anthropic).
    pub default_max_tokens: u32,
    /// Whether the client asked for `stream_options.include_usage`: only then
    /// is a usage chunk forwarded. Usage always reaches the caller as
    /// [`StreamEvent::Usage`].
    pub include_usage: bool,
}

/// Tokens an upstream counted for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
}

/// A whole (non-streamed) answer.
#[derive(Debug, Clone)]
pub struct Completion {
    /// An OpenAI `chat.completion` or `text_completion` object as JSON
    /// bytes, ready to send: the openai passthrough hands on upstream's
    /// bytes without parsing them into a tree and writing them out again.
    pub body: Bytes,
    /// The upstream's token count, if it gave one.
    pub usage: Option<Usage>,
}

impl Completion {
    /// An answer built as a JSON value (by a translating provider).
    pub fn from_value(body: &Value, usage: Option<Usage>) -> Completion {
        Completion {
            // Serialising a `Value` cannot fail: its keys are strings.
            body: Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
            usage,
        }
    }

    /// The answer parsed.
    pub fn json(&self) -> serde_json::Result<Value> {
        serde_json::from_slice(&self.body)
    }
}

/// One item of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// One SSE `data:` payload to forward as is: a `chat.completion.chunk`
    /// or `text_completion` chunk as JSON bytes, without the `data: ` prefix
    /// or a newline. The openai passthrough forwards upstream's bytes verbatim.
    Data(Bytes),
    /// Token usage reported by the upstream; emitted at most once, before
    /// the stream ends.
    Usage(Usage),
}

/// A streamed answer. Ends after the last event; `[DONE]` is the gateway's
/// to write. Dropping it closes the upstream connection.
pub type EventStream =
    Pin<Box<dyn futures_core::Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;
