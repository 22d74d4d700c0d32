//! Anthropic stream events → OpenAI stream chunks.
//!
//! `message_start` opens the stream (the role chunk); `text_delta`s become
//! content; each `tool_use` block becomes tool call number k (k counts tool
//! blocks from 0) whose `input_json_delta`s stream as arguments;
//! `message_delta` carries the finish reason and output tokens;
//! `message_stop` ends it. Thinking and other new block or event types are
//! skipped. Usage (input tokens from `message_start`, output tokens from
//! `message_delta`) is reported once at the end, and as a usage chunk when
//! the client asked for one.

use std::sync::Arc;

use serde::Deserialize;

use super::response::{AnthropicUsage, finish_reason};
use crate::chunk::{ChunkWriter, Shape};
use crate::http::{Upstream, error_fields};
use crate::relay::{Out, Translate, unix_now};
use crate::sse::SseEvent;
use crate::{ProviderError, StreamEvent, Usage};

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u64,
        content_block: BlockStart,
    },
    ContentBlockDelta {
        index: u64,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u64,
    },
    MessageDelta {
        #[serde(default)]
        delta: MessageDelta,
        #[serde(default)]
        usage: Option<AnthropicUsage>,
    },
    MessageStop,
    Error {
        error: ErrorBody,
    },
    /// `ping`, and event types added after this was written.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct StartMessage {
    id: String,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockStart {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Default, Deserialize)]
struct MessageDelta {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// A `tool_use` block being streamed.
#[derive(Debug)]
struct ToolBlock {
    /// Anthropic's content block index.
    block: u64,
    /// OpenAI's tool call index.
    tool: u32,
    /// Whether any argument text was sent.
    has_arguments: bool,
}

/// Translation state of one stream.
pub(crate) struct AnthropicStream {
    upstream: Arc<Upstream>,
    shape: Shape,
    client_model: String,
    include_usage: bool,
    /// Set by `message_start`; `None` until then.
    writer: Option<ChunkWriter>,
    tools: Vec<ToolBlock>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    finished: bool,
    usage_reported: bool,
}

impl AnthropicStream {
    pub(crate) fn new(
        upstream: Arc<Upstream>,
        shape: Shape,
        client_model: String,
        include_usage: bool,
    ) -> Self {
        AnthropicStream {
            upstream,
            shape,
            client_model,
            include_usage,
            writer: None,
            tools: Vec::new(),
            prompt_tokens: None,
            completion_tokens: None,
            finished: false,
            usage_reported: false,
        }
    }

    fn record_usage(&mut self, usage: Option<AnthropicUsage>) {
        if let Some(usage) = usage {
            if let Some(prompt) = usage.prompt_tokens() {
                self.prompt_tokens = Some(prompt);
            }
            if let Some(output) = usage.output_tokens {
                self.completion_tokens = Some(output);
            }
        }
    }

    fn push(out: &mut Out, chunk: Option<bytes::Bytes>) {
        if let Some(chunk) = chunk {
            out.push_back(Ok(StreamEvent::Data(chunk)));
        }
    }

    /// An upstream `error` event: before anything was produced it is an
    /// error of the call (with the status Anthropic uses for its type), so
    /// the caller can still retry; afterwards the stream breaks.
    fn error(&self, kind: Option<String>, message: &str) -> ProviderError {
        let key = self.upstream.settings.api_key.as_ref();
        if self.writer.is_some() {
            return ProviderError::Stream(crate::error::redact(message, key));
        }
        let status = match kind.as_deref() {
            Some("invalid_request_error") => 400,
            Some("authentication_error") => 401,
            Some("permission_error") => 403,
            Some("not_found_error") => 404,
            Some("request_too_large") => 413,
            Some("rate_limit_error") => 429,
            Some("api_error") => 500,
            Some("overloaded_error") => 529,
            _ => 502,
        };
        ProviderError::upstream(self.upstream.name(), status, message, kind, None, key)
    }
}

impl Translate for AnthropicStream {
    fn event(&mut self, event: SseEvent, out: &mut Out) -> Result<bool, ProviderError> {
        let parsed = match serde_json::from_slice::<Event>(&event.data) {
            Ok(parsed) => parsed,
            Err(_) if event.event.as_deref() == Some("error") => {
                let (message, kind) = error_fields(&event.data)
                    .unwrap_or_else(|| (String::from_utf8_lossy(&event.data).into_owned(), None));
                return Err(self.error(kind, &message));
            }
            Err(e) => {
                return Err(ProviderError::Stream(format!(
                    "provider {} sent an event that does not parse: {e}",
                    self.upstream.name()
                )));
            }
        };
        match parsed {
            Event::MessageStart { message } => {
                self.record_usage(message.usage);
                let writer = ChunkWriter::new(
                    self.shape,
                    format!("{}{}", self.shape.id_prefix(), message.id),
                    unix_now(),
                    self.client_model.clone(),
                );
                Self::push(out, writer.role());
                self.writer = Some(writer);
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => {
                let Some(writer) = self.writer.as_ref() else {
                    return Err(self.not_started());
                };
                match content_block {
                    BlockStart::Text { text } if !text.is_empty() => {
                        out.push_back(Ok(StreamEvent::Data(writer.content(0, &text))));
                    }
                    BlockStart::ToolUse { id, name } => {
                        let tool = u32::try_from(self.tools.len()).unwrap_or(u32::MAX);
                        Self::push(out, writer.tool_call_start(tool, &id, &name));
                        self.tools.push(ToolBlock {
                            block: index,
                            tool,
                            has_arguments: false,
                        });
                    }
                    BlockStart::Text { .. } | BlockStart::Other => {}
                }
            }
            Event::ContentBlockDelta { index, delta } => {
                let Some(writer) = self.writer.as_ref() else {
                    return Err(self.not_started());
                };
                match delta {
                    BlockDelta::TextDelta { text } if !text.is_empty() => {
                        out.push_back(Ok(StreamEvent::Data(writer.content(0, &text))));
                    }
                    BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                        if let Some(tool) = self.tools.iter_mut().find(|t| t.block == index) {
                            Self::push(out, writer.tool_call_arguments(tool.tool, &partial_json));
                            tool.has_arguments = true;
                        }
                    }
                    _ => {}
                }
            }
            Event::ContentBlockStop { index } => {
                let Some(writer) = self.writer.as_ref() else {
                    return Err(self.not_started());
                };
                // A tool without input streams no JSON at all; OpenAI
                // clients expect a parseable arguments string.
                if let Some(tool) = self
                    .tools
                    .iter_mut()
                    .find(|t| t.block == index && !t.has_arguments)
                {
                    Self::push(out, writer.tool_call_arguments(tool.tool, "{}"));
                    tool.has_arguments = true;
                }
            }
            Event::MessageDelta { delta, usage } => {
                self.record_usage(usage);
                if let Some(stop_reason) = delta.stop_reason {
                    let Some(writer) = self.writer.as_ref() else {
                        return Err(self.not_started());
                    };
                    let chunk = writer.finish(0, finish_reason(Some(&stop_reason)));
                    out.push_back(Ok(StreamEvent::Data(chunk)));
                    self.finished = true;
                }
            }
            Event::MessageStop => {
                if self.writer.is_none() {
                    return Err(self.not_started());
                }
                return Ok(true);
            }
            Event::Error { error } => {
                let message = error.message.unwrap_or_else(|| "stream error".to_owned());
                return Err(self.error(error.kind, &message));
            }
            Event::Other => {}
        }
        Ok(false)
    }

    fn finish(&mut self, clean: bool, out: &mut Out) -> Result<(), ProviderError> {
        if clean
            && !self.finished
            && let Some(writer) = &self.writer
        {
            out.push_back(Ok(StreamEvent::Data(writer.finish(0, "stop"))));
            self.finished = true;
        }
        if !self.usage_reported
            && (self.prompt_tokens.is_some() || self.completion_tokens.is_some())
        {
            self.usage_reported = true;
            let usage = Usage {
                prompt_tokens: self.prompt_tokens.unwrap_or(0),
                completion_tokens: self.completion_tokens.unwrap_or(0),
            };
            if clean
                && self.include_usage
                && let Some(writer) = &self.writer
            {
                out.push_back(Ok(StreamEvent::Data(writer.usage(usage))));
            }
            out.push_back(Ok(StreamEvent::Usage(usage)));
        }
        if clean {
            Ok(())
        } else if self.writer.is_none() {
            Err(ProviderError::empty_body(self.upstream.name()))
        } else {
            Err(ProviderError::Stream(format!(
                "provider {} closed the stream before message_stop",
                self.upstream.name()
            )))
        }
    }
}

impl AnthropicStream {
    /// The error for content before `message_start`.
    fn not_started(&self) -> ProviderError {
        ProviderError::Stream(format!(
            "provider {} sent content before message_start",
            self.upstream.name()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ProviderKind, ProviderSettings};
    use bytes::Bytes;
    use serde_json::{Value, json};

    fn upstream() -> Arc<Upstream> {
        Arc::new(Upstream::new(
            ProviderSettings::new("claude-main", ProviderKind::Anthropic),
            crate::http_client(std::time::Duration::from_secs(1)).expect("client"),
            http::header::HeaderName::from_static("x-api-key"),
            false,
        ))
    }

    fn ev(name: &str, data: Value) -> SseEvent {
        SseEvent {
            event: Some(name.to_owned()),
            data: Bytes::from(data.to_string()),
        }
    }

    /// Runs events through a translator; returns the parsed data chunks,
    /// the usage events, and the final result.
    fn run(
        shape: Shape,
        include_usage: bool,
        events: Vec<SseEvent>,
    ) -> (Vec<Value>, Vec<Usage>, Result<(), ProviderError>) {
        let mut translate = AnthropicStream::new(upstream(), shape, "claude".into(), include_usage);
        let mut out = Out::new();
        let mut result = Ok(());
        let mut clean = false;
        for event in events {
            match translate.event(event, &mut out) {
                Ok(true) => {
                    clean = true;
                    break;
                }
                Ok(false) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_ok() {
            result = translate.finish(clean, &mut out);
        } else {
            let _ = translate.finish(false, &mut out);
        }
        let mut chunks = Vec::new();
        let mut usage = Vec::new();
        for item in out {
            match item.unwrap() {
                StreamEvent::Data(data) => chunks.push(serde_json::from_slice(&data).unwrap()),
                StreamEvent::Usage(u) => usage.push(u),
            }
        }
        (chunks, usage, result)
    }

    fn message_start() -> SseEvent {
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_9", "type": "message", "role": "assistant",
                "content": [], "model": "claude-up", "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 5}}}),
        )
    }

    fn deltas(chunks: &[Value]) -> Vec<Value> {
        chunks
            .iter()
            .map(|c| c["choices"][0]["delta"].clone())
            .collect()
    }

    #[test]
    fn text_stream_becomes_chunks() {
        let (chunks, usage, result) = run(
            Shape::Chat,
            true,
            vec![
                message_start(),
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ),
                ev("ping", json!({"type": "ping"})),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
                ),
                ev(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 0}),
                ),
                ev(
                    "message_delta",
                    json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 12}}),
                ),
                ev("message_stop", json!({"type": "message_stop"})),
            ],
        );
        result.unwrap();
        assert_eq!(
            deltas(&chunks[..4]),
            vec![
                json!({"role": "assistant", "content": ""}),
                json!({"content": "Hel"}),
                json!({"content": "lo"}),
                json!({}),
            ]
        );
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
        for chunk in &chunks {
            assert_eq!(chunk["id"], "chatcmpl-msg_9");
            assert_eq!(chunk["model"], "claude");
            assert_eq!(chunk["object"], "chat.completion.chunk");
            assert_eq!(chunk["created"], chunks[0]["created"]);
        }
        assert_eq!(chunks.len(), 5);
        assert_eq!(chunks[4]["choices"], json!([]));
        assert_eq!(
            chunks[4]["usage"],
            json!({"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42})
        );
        assert_eq!(
            usage,
            vec![Usage {
                prompt_tokens: 30,
                completion_tokens: 12
            }]
        );
    }

    #[test]
    fn streamed_tool_call_arguments() {
        let (chunks, usage, result) = run(
            Shape::Chat,
            false,
            vec![
                message_start(),
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}}),
                ),
                ev(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 0}),
                ),
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_A", "name": "weather", "input": {}}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Pa"}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ris\"}"}}),
                ),
                ev(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 1}),
                ),
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_B", "name": "now", "input": {}}}),
                ),
                ev(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 2}),
                ),
                ev(
                    "message_delta",
                    json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 40}}),
                ),
                ev("message_stop", json!({"type": "message_stop"})),
            ],
        );
        result.unwrap();
        assert_eq!(
            deltas(&chunks),
            vec![
                json!({"role": "assistant", "content": ""}),
                json!({"content": "Checking."}),
                json!({"tool_calls": [{"index": 0, "id": "toolu_A", "type": "function", "function": {"name": "weather", "arguments": ""}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": \"Pa"}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "ris\"}"}}]}),
                json!({"tool_calls": [{"index": 1, "id": "toolu_B", "type": "function", "function": {"name": "now", "arguments": ""}}]}),
                json!({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
                json!({}),
            ]
        );
        assert_eq!(chunks[7]["choices"][0]["finish_reason"], "tool_calls");
        // The client did not ask for usage: no usage chunk, but usage is reported.
        assert_eq!(
            usage,
            vec![Usage {
                prompt_tokens: 30,
                completion_tokens: 40
            }]
        );
    }

    #[test]
    fn error_event_mid_stream_breaks_the_stream() {
        let (chunks, usage, result) = run(
            Shape::Chat,
            false,
            vec![
                message_start(),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
                ),
                ev(
                    "error",
                    json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
                ),
            ],
        );
        assert_eq!(chunks.len(), 2);
        // Input tokens are still reported for accounting.
        assert_eq!(usage[0].prompt_tokens, 30);
        match result {
            Err(ProviderError::Stream(message)) => assert_eq!(message, "Overloaded"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_event_first_is_a_retryable_call_error() {
        let (chunks, _, result) = run(
            Shape::Chat,
            false,
            vec![ev(
                "error",
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            )],
        );
        assert!(chunks.is_empty());
        let err = result.unwrap_err();
        assert!(
            matches!(err, ProviderError::Upstream { status: 529, .. }),
            "{err:?}"
        );
        assert!(err.is_retryable());
    }

    #[test]
    fn stream_cut_before_message_stop_is_an_error() {
        let (chunks, usage, result) = run(
            Shape::Chat,
            true,
            vec![
                message_start(),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
                ),
            ],
        );
        assert_eq!(chunks.len(), 2, "no usage chunk on a broken stream");
        assert_eq!(usage.len(), 1);
        assert!(matches!(result, Err(ProviderError::Stream(_))));
    }

    #[test]
    fn legacy_text_stream() {
        let (chunks, _, result) = run(
            Shape::Text,
            false,
            vec![
                message_start(),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "4"}}),
                ),
                ev(
                    "message_delta",
                    json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 1}}),
                ),
                ev("message_stop", json!({"type": "message_stop"})),
            ],
        );
        result.unwrap();
        assert_eq!(
            chunks
                .iter()
                .map(|c| c["choices"][0].clone())
                .collect::<Vec<_>>(),
            vec![
                json!({"text": "4", "index": 0, "logprobs": null, "finish_reason": null}),
                json!({"text": "", "index": 0, "logprobs": null, "finish_reason": "length"}),
            ]
        );
        assert_eq!(chunks[0]["object"], "text_completion");
        assert_eq!(chunks[0]["id"], "cmpl-msg_9");
    }

    #[test]
    fn garbage_event_is_a_stream_error() {
        let mut translate = AnthropicStream::new(upstream(), Shape::Chat, "c".into(), false);
        let mut out = Out::new();
        let garbage = SseEvent {
            event: Some("message_start".into()),
            data: Bytes::from_static(b"<html>"),
        };
        assert!(matches!(
            translate.event(garbage, &mut out),
            Err(ProviderError::Stream(_))
        ));
    }
}
