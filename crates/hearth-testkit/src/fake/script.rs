//! What a test tells a fake upstream to do ([`Reply`], [`Script`]) and what
//! the fake saw ([`Recorded`]).

use serde_json::Value;
use std::time::Duration;

/// The text a fake answers with when no reply is queued.
pub const DEFAULT_TEXT: &str = "Hello from the fake upstream.";

/// How a fake answers one model request (chat, completion or message).
#[derive(Clone, Debug)]
pub enum Reply {
    /// The model answers with this text, as JSON or, when the request asked
    /// for `stream: true`, as several streamed deltas (one per word).
    Text { text: String },
    /// The model calls these tools (`finish_reason: "tool_calls"` /
    /// `stop_reason: "tool_use"`). Streamed arguments arrive in several
    /// fragments. Chat and messages only.
    ToolCalls(Vec<ToolCall>),
    /// The provider's own error body with this status, and a `retry-after`
    /// header (seconds) when given.
    Error {
        status: u16,
        message: String,
        retry_after: Option<u64>,
    },
    /// An HTML error page (`text/html`), as a proxy in front of a provider
    /// sends it.
    Html { status: u16 },
    /// 200 with a body that is neither JSON nor, for stream requests, SSE.
    Garbage,
    /// 200 with an empty body.
    Empty,
    /// Reads the request and never answers; the fake gives up after
    /// [`MAX_HOLD`](super::MAX_HOLD) and closes the connection.
    Hang,
    /// Closes the connection (with a TCP reset) without answering.
    Reset,
    /// Streams the first `after_chunks` deltas of `text`, then the
    /// provider's mid-stream error, then ends. A non-stream request gets a
    /// 500 error body instead.
    StreamThenError { text: String, after_chunks: usize },
}

impl Reply {
    /// A text answer.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Text { text: text.into() }
    }

    /// The provider's error with this status and no `retry-after`.
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::Error {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// This reply, streamed with `delay` between chunks.
    pub fn chunk_delay(self, delay: Duration) -> Script {
        Script::from(self).chunk_delay(delay)
    }

    /// This reply, answered after `delay`.
    pub fn first_byte_delay(self, delay: Duration) -> Script {
        Script::from(self).first_byte_delay(delay)
    }

    /// This reply, reporting this usage.
    pub fn usage(self, prompt_tokens: u64, completion_tokens: u64) -> Script {
        Script::from(self).usage(prompt_tokens, completion_tokens)
    }
}

/// One tool call the model makes.
#[derive(Clone, Debug)]
pub struct ToolCall {
    /// The call id (`call_…` for OpenAI, `toolu_…` for Anthropic), sent as
    /// given.
    pub id: String,
    pub name: String,
    /// The arguments; OpenAI receives them serialised as a string,
    /// Anthropic as the `input` object.
    pub arguments: Value,
}

impl ToolCall {
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: Value) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments,
        }
    }
}

/// A queued reply with its timing and reported usage.
#[derive(Clone, Debug)]
pub struct Script {
    pub reply: Reply,
    /// Pause between streamed chunks (SSE events).
    pub chunk_delay: Duration,
    /// Pause before the response head is sent; capped at
    /// [`MAX_HOLD`](super::MAX_HOLD).
    pub first_byte_delay: Duration,
    /// `(prompt, completion)` tokens reported in usage.
    pub usage: (u64, u64),
}

impl Script {
    pub fn chunk_delay(mut self, delay: Duration) -> Script {
        self.chunk_delay = delay;
        self
    }

    pub fn first_byte_delay(mut self, delay: Duration) -> Script {
        self.first_byte_delay = delay;
        self
    }

    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Script {
        self.usage = (prompt_tokens, completion_tokens);
        self
    }
}

impl From<Reply> for Script {
    fn from(reply: Reply) -> Script {
        Script {
            reply,
            chunk_delay: Duration::ZERO,
            first_byte_delay: Duration::ZERO,
            usage: (10, 5),
        }
    }
}

impl Default for Script {
    fn default() -> Script {
        Script::from(Reply::text(DEFAULT_TEXT))
    }
}

/// A request as the fake received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The JSON body; `Null` when empty, a JSON string holding the raw text
    /// when it is not JSON.
    pub body: Value,
}

impl Recorded {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body asks for a stream (`"stream": true`).
    pub fn is_stream(&self) -> bool {
        self.body.get("stream").and_then(Value::as_bool) == Some(true)
    }

    /// The `model` field, or `""`.
    pub fn model(&self) -> &str {
        self.body.get("model").and_then(Value::as_str).unwrap_or("")
    }
}
