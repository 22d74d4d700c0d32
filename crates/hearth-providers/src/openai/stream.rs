//! OpenAI-compatible streams: relayed verbatim (`Passthrough`), or turned
//! from chat chunks into legacy `text_completion` chunks (`ChatToText`).
//!
//! Both consume `[DONE]`, report usage once at the end, forward a usage
//! chunk only when the client asked for one, and turn an `error` event or a
//! chunk with a top-level `"error"` into an error.

use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::chunk::{ChunkWriter, Shape};
use crate::error::redact;
use crate::http::{Upstream, error_fields};
use crate::legacy::text_id;
use crate::relay::{Out, Translate, unix_now};
use crate::sse::SseEvent;
use crate::{ProviderError, StreamEvent, Usage};

/// OpenAI's `usage` object, as far as Hearth reads it.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<OpenAiUsage> for Usage {
    fn from(usage: OpenAiUsage) -> Self {
        Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        }
    }
}

/// What the passthrough needs to know of a chunk; the rest is skipped
/// (still validated as JSON) without being copied.
#[derive(Debug, Deserialize)]
struct Probe {
    #[serde(default)]
    choices: Option<Vec<ProbeChoice>>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct ProbeChoice {
    #[serde(default)]
    finish_reason: Option<IgnoredAny>,
}

/// State shared by both translators: the end, usage, errors.
struct Common {
    upstream: Arc<Upstream>,
    /// Some output was produced (errors after that break the stream).
    produced: bool,
    /// A choice finished; a missing `[DONE]` after that is forgiven.
    finished: bool,
    usage: Option<Usage>,
    usage_reported: bool,
}

impl Common {
    fn new(upstream: Arc<Upstream>) -> Self {
        Common {
            upstream,
            produced: false,
            finished: false,
            usage: None,
            usage_reported: false,
        }
    }

    /// The error for an `event: error` or a chunk carrying `"error"`.
    fn error(&self, data: &[u8]) -> ProviderError {
        let (message, kind) = error_fields(data)
            .unwrap_or_else(|| (String::from_utf8_lossy(data).into_owned(), None));
        let key = self.upstream.settings.api_key.as_ref();
        if self.produced {
            ProviderError::Stream(redact(&message, key))
        } else {
            ProviderError::upstream(self.upstream.name(), 502, &message, kind, None, key)
        }
    }

    fn unparseable(&self, error: &serde_json::Error) -> ProviderError {
        ProviderError::Stream(format!(
            "provider {} sent an event that is not a JSON chunk: {error}",
            self.upstream.name()
        ))
    }

    /// Reports usage once; a stream cut before `[DONE]` and before any
    /// choice finished is an error.
    fn finish(&mut self, clean: bool, out: &mut Out) -> Result<(), ProviderError> {
        if let Some(usage) = self.usage.filter(|_| !self.usage_reported) {
            self.usage_reported = true;
            out.push_back(Ok(StreamEvent::Usage(usage)));
        }
        if clean || self.finished {
            Ok(())
        } else if !self.produced {
            Err(ProviderError::empty_body(self.upstream.name()))
        } else {
            Err(ProviderError::Stream(format!(
                "provider {} closed the stream before it finished",
                self.upstream.name()
            )))
        }
    }
}

/// Whether an SSE event is the `[DONE]` terminator.
fn is_done(event: &SseEvent) -> bool {
    event.data.trim_ascii() == b"[DONE]"
}

/// Relays an OpenAI-compatible stream verbatim, withholding the usage-only
/// chunk when the client did not ask for it.
pub(crate) struct Passthrough {
    common: Common,
    withhold_usage: bool,
}

impl Passthrough {
    pub(crate) fn new(upstream: Arc<Upstream>, client_wants_usage: bool) -> Self {
        Passthrough {
            common: Common::new(upstream),
            withhold_usage: !client_wants_usage,
        }
    }
}

impl Translate for Passthrough {
    fn event(&mut self, event: SseEvent, out: &mut Out) -> Result<bool, ProviderError> {
        if is_done(&event) {
            return Ok(true);
        }
        if event.event.as_deref() == Some("error") {
            return Err(self.common.error(&event.data));
        }
        let probe: Probe =
            serde_json::from_slice(&event.data).map_err(|e| self.common.unparseable(&e))?;
        if probe.error.is_some() {
            return Err(self.common.error(&event.data));
        }
        // Servers that report usage on every chunk report a running total:
        // the last one counts.
        if let Some(usage) = probe.usage {
            self.common.usage = Some(usage.into());
        }
        let choices = probe.choices.unwrap_or_default();
        if choices.iter().any(|c| c.finish_reason.is_some()) {
            self.common.finished = true;
        }
        let usage_only = choices.is_empty() && probe.usage.is_some();
        if !(usage_only && self.withhold_usage) {
            out.push_back(Ok(StreamEvent::Data(event.data)));
            self.common.produced = true;
        }
        Ok(false)
    }

    fn finish(&mut self, clean: bool, out: &mut Out) -> Result<(), ProviderError> {
        self.common.finish(clean, out)
    }
}

/// A chat chunk, as far as the legacy translation reads it.
#[derive(Debug, Deserialize)]
struct ChatChunk {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default)]
    choices: Vec<ChatChoice>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct ChatChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<ChatDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChatDelta {
    #[serde(default)]
    content: Option<String>,
}

/// Turns a chat stream into a legacy completions stream.
pub(crate) struct ChatToText {
    common: Common,
    client_model: String,
    include_usage: bool,
    writer: Option<ChunkWriter>,
}

impl ChatToText {
    pub(crate) fn new(upstream: Arc<Upstream>, client_model: String, include_usage: bool) -> Self {
        ChatToText {
            common: Common::new(upstream),
            client_model,
            include_usage,
            writer: None,
        }
    }
}

impl Translate for ChatToText {
    fn event(&mut self, event: SseEvent, out: &mut Out) -> Result<bool, ProviderError> {
        if is_done(&event) {
            return Ok(true);
        }
        if event.event.as_deref() == Some("error") {
            return Err(self.common.error(&event.data));
        }
        let chunk: ChatChunk =
            serde_json::from_slice(&event.data).map_err(|e| self.common.unparseable(&e))?;
        if chunk.error.is_some() {
            return Err(self.common.error(&event.data));
        }
        if let Some(usage) = chunk.usage {
            self.common.usage = Some(usage.into());
        }
        let client_model = &self.client_model;
        let writer = self.writer.get_or_insert_with(|| {
            ChunkWriter::new(
                Shape::Text,
                text_id(chunk.id.as_deref().unwrap_or_default()),
                chunk.created.unwrap_or_else(unix_now),
                client_model.clone(),
            )
        });
        for choice in chunk.choices {
            let text = choice.delta.and_then(|d| d.content).unwrap_or_default();
            if !text.is_empty() {
                out.push_back(Ok(StreamEvent::Data(writer.content(choice.index, &text))));
            }
            if let Some(reason) = choice.finish_reason {
                out.push_back(Ok(StreamEvent::Data(writer.finish(choice.index, &reason))));
                self.common.finished = true;
            }
        }
        self.common.produced |= !out.is_empty();
        Ok(false)
    }

    fn finish(&mut self, clean: bool, out: &mut Out) -> Result<(), ProviderError> {
        if clean
            && self.include_usage
            && let (Some(writer), Some(usage)) = (&self.writer, self.common.usage)
        {
            out.push_back(Ok(StreamEvent::Data(writer.usage(usage))));
        }
        self.common.finish(clean, out)
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
            ProviderSettings::new("local", ProviderKind::OpenAi),
            crate::http_client(std::time::Duration::from_secs(1)).expect("client"),
            http::header::AUTHORIZATION,
            true,
        ))
    }

    fn data(text: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: Bytes::copy_from_slice(text.as_bytes()),
        }
    }

    fn run(
        translate: &mut dyn Translate,
        events: &[&str],
    ) -> (Vec<Bytes>, Vec<Usage>, Result<(), ProviderError>) {
        let mut out = Out::new();
        let mut clean = false;
        let mut result = Ok(());
        for event in events {
            match translate.event(data(event), &mut out) {
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
        }
        let mut chunks = Vec::new();
        let mut usage = Vec::new();
        for item in out {
            match item.unwrap() {
                StreamEvent::Data(d) => chunks.push(d),
                StreamEvent::Usage(u) => usage.push(u),
            }
        }
        (chunks, usage, result)
    }

    const ROLE: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":5,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#;
    const TEXT: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":5,"model":"up","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}"#;
    const STOP: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":5,"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#;
    const USAGE: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":5,"model":"up","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#;

    #[test]
    fn usage_chunk_is_withheld_unless_asked_but_always_reported() {
        let (chunks, usage, result) = run(
            &mut Passthrough::new(upstream(), false),
            &[ROLE, TEXT, STOP, USAGE, "[DONE]"],
        );
        result.unwrap();
        assert_eq!(
            chunks,
            [ROLE, TEXT, STOP].map(|s| Bytes::from(s.as_bytes()))
        );
        assert_eq!(
            usage,
            [Usage {
                prompt_tokens: 9,
                completion_tokens: 2
            }]
        );

        let (chunks, usage, _) = run(
            &mut Passthrough::new(upstream(), true),
            &[ROLE, TEXT, STOP, USAGE, "[DONE]"],
        );
        // Verbatim bytes, usage chunk included.
        assert_eq!(
            chunks,
            [ROLE, TEXT, STOP, USAGE].map(|s| Bytes::from(s.as_bytes()))
        );
        assert_eq!(usage.len(), 1);
    }

    #[test]
    fn running_usage_totals_count_once() {
        let with_usage = |n: u64| {
            format!(
                r#"{{"choices":[{{"index":0,"delta":{{"content":"x"}},"finish_reason":null}}],"usage":{{"prompt_tokens":3,"completion_tokens":{n}}}}}"#
            )
        };
        let (chunks, usage, _) = run(
            &mut Passthrough::new(upstream(), false),
            &[&with_usage(1), &with_usage(2), STOP, "[DONE]"],
        );
        assert_eq!(chunks.len(), 3);
        assert_eq!(
            usage,
            [Usage {
                prompt_tokens: 3,
                completion_tokens: 2
            }]
        );
    }

    #[test]
    fn errors_in_the_stream() {
        let error = r#"{"error":{"message":"model crashed","type":"server_error"}}"#;
        let (chunks, _, result) = run(&mut Passthrough::new(upstream(), false), &[ROLE, error]);
        assert_eq!(chunks.len(), 1);
        assert!(
            matches!(&result, Err(ProviderError::Stream(m)) if m == "model crashed"),
            "{result:?}"
        );

        // Before any output it is a (retryable) error of the call.
        let (_, _, result) = run(&mut Passthrough::new(upstream(), false), &[error]);
        let err = result.unwrap_err();
        assert!(err.is_retryable(), "{err:?}");

        let (_, _, result) = run(&mut Passthrough::new(upstream(), false), &[ROLE, "garbage"]);
        assert!(matches!(result, Err(ProviderError::Stream(_))));

        let mut translate = Passthrough::new(upstream(), false);
        let mut out = Out::new();
        let named = SseEvent {
            event: Some("error".into()),
            data: Bytes::from_static(br#"{"message":"bad"}"#),
        };
        assert!(translate.event(named, &mut out).is_err());
    }

    #[test]
    fn missing_done_is_forgiven_only_after_a_finish() {
        let (_, _, result) = run(
            &mut Passthrough::new(upstream(), false),
            &[ROLE, TEXT, STOP],
        );
        result.unwrap();
        let (_, _, result) = run(&mut Passthrough::new(upstream(), false), &[ROLE, TEXT]);
        assert!(matches!(result, Err(ProviderError::Stream(_))));
    }

    #[test]
    fn chat_stream_becomes_text_completion_stream() {
        let (chunks, usage, result) = run(
            &mut ChatToText::new(upstream(), "client-model".into(), true),
            &[ROLE, TEXT, STOP, USAGE, "[DONE]"],
        );
        result.unwrap();
        let chunks: Vec<Value> = chunks
            .iter()
            .map(|c| serde_json::from_slice(c).unwrap())
            .collect();
        assert_eq!(
            chunks,
            vec![
                json!({"id": "cmpl-1", "object": "text_completion", "created": 5, "model": "client-model",
                       "choices": [{"text": "Hi", "index": 0, "logprobs": null, "finish_reason": null}]}),
                json!({"id": "cmpl-1", "object": "text_completion", "created": 5, "model": "client-model",
                       "choices": [{"text": "", "index": 0, "logprobs": null, "finish_reason": "stop"}]}),
                json!({"id": "cmpl-1", "object": "text_completion", "created": 5, "model": "client-model",
                       "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}),
            ]
        );
        assert_eq!(usage.len(), 1);
    }
}
