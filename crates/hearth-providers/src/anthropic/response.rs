//! Anthropic Messages response → OpenAI `chat.completion` (or
//! `text_completion` for legacy completions).
//!
//! Text blocks are joined into `message.content`; `tool_use` blocks become
//! `tool_calls` with compact JSON arguments; thinking and server-tool blocks
//! are dropped (OpenAI's chat object has no place for them). Cache reads
//! and writes count as prompt tokens, since they are input the upstream billed.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::chunk::{Shape, UsageJson};
use crate::relay::unix_now;
use crate::{Completion, ProviderError, Usage};

/// The parts of a Messages response that are translated.
#[derive(Debug, Deserialize)]
struct Message {
    id: String,
    #[serde(default)]
    content: Vec<ContentBlock>,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

/// Anthropic's `usage` object, in responses, `message_start` and `message_delta`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// All input tokens, cached ones included; `None` if none were reported.
    pub(crate) fn prompt_tokens(&self) -> Option<u64> {
        let parts = [
            self.input_tokens,
            self.cache_creation_input_tokens,
            self.cache_read_input_tokens,
        ];
        parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().flatten().sum())
    }
}

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn, and anything new.
        _ => "stop",
    }
}

/// Translates a 2xx Messages response body.
pub(crate) fn completion(
    body: Value,
    client_model: &str,
    shape: Shape,
    provider: &str,
) -> Result<Completion, ProviderError> {
    let message: Message = serde_json::from_value(body).map_err(|e| {
        ProviderError::InvalidResponse(format!(
            "provider {provider} answered with a body that is not a Messages response: {e}"
        ))
    })?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in message.content {
        match block {
            ContentBlock::Text { text: part } => text.push_str(&part),
            ContentBlock::ToolUse { id, name, input } => {
                let arguments = if input.is_null() {
                    "{}".to_owned()
                } else {
                    input.to_string()
                };
                tool_calls.push(json!({
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }));
            }
            ContentBlock::Other => {}
        }
    }
    let usage = message.usage.map(|u| Usage {
        prompt_tokens: u.prompt_tokens().unwrap_or(0),
        completion_tokens: u.output_tokens.unwrap_or(0),
    });
    let finish_reason = finish_reason(message.stop_reason.as_deref());
    let choice = match shape {
        Shape::Chat => {
            let mut reply = json!({
                "role": "assistant",
                "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { Value::String(text) },
                "refusal": null,
            });
            if !tool_calls.is_empty() {
                reply["tool_calls"] = Value::Array(tool_calls);
            }
            json!({"index": 0, "message": reply, "logprobs": null, "finish_reason": finish_reason})
        }
        Shape::Text => {
            json!({"text": text, "index": 0, "logprobs": null, "finish_reason": finish_reason})
        }
    };
    let mut body = json!({
        "id": format!("{}{}", shape.id_prefix(), message.id),
        "object": match shape { Shape::Chat => "chat.completion", Shape::Text => "text_completion" },
        "created": unix_now(),
        "model": client_model,
        "choices": [choice],
    });
    if let Some(usage) = usage {
        body["usage"] = serde_json::to_value(UsageJson::from(usage)).unwrap_or(Value::Null);
    }
    Ok(Completion::from_value(&body, usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_answer() {
        let upstream = json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-up",
            "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 3, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 5}
        });
        let out = completion(upstream, "claude", Shape::Chat, "a").unwrap();
        assert_eq!(
            out.usage,
            Some(Usage {
                prompt_tokens: 17,
                completion_tokens: 3
            })
        );
        let mut body = out.json().unwrap();
        assert!(body["created"].as_u64().unwrap() > 1_600_000_000);
        body["created"] = json!(0);
        assert_eq!(
            body,
            json!({
                "id": "chatcmpl-msg_01", "object": "chat.completion", "created": 0, "model": "claude",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there", "refusal": null},
                             "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 17, "completion_tokens": 3, "total_tokens": 20}
            })
        );
    }

    #[test]
    fn tool_use_answer() {
        let upstream = json!({
            "id": "msg_02", "type": "message", "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "x"},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris", "days": 2}},
                {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {}}
            ],
            "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 2}
        });
        let body = completion(upstream, "claude", Shape::Chat, "a")
            .unwrap()
            .json()
            .unwrap();
        let message = &body["choices"][0]["message"];
        assert_eq!(message["content"], Value::Null);
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(message["tool_calls"][0]["id"], "toolu_1");
        assert_eq!(message["tool_calls"][0]["type"], "function");
        assert_eq!(message["tool_calls"][0]["function"]["name"], "weather");
        let arguments = message["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap();
        assert!(!arguments.contains(' '), "compact: {arguments}");
        assert_eq!(
            serde_json::from_str::<Value>(arguments).unwrap(),
            json!({"city": "Paris", "days": 2})
        );
        assert_eq!(message["tool_calls"][1]["function"]["arguments"], "{}");
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(finish_reason(Some("end_turn")), "stop");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("pause_turn")), "stop");
        assert_eq!(finish_reason(Some("max_tokens")), "length");
        assert_eq!(finish_reason(Some("tool_use")), "tool_calls");
        assert_eq!(finish_reason(Some("refusal")), "content_filter");
        assert_eq!(finish_reason(None), "stop");
    }

    #[test]
    fn legacy_text_shape() {
        let upstream = json!({
            "id": "msg_03", "content": [{"type": "text", "text": "4"}],
            "stop_reason": "max_tokens", "usage": {"input_tokens": 4, "output_tokens": 1}
        });
        let body = completion(upstream, "claude", Shape::Text, "a")
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(body["id"], "cmpl-msg_03");
        assert_eq!(body["object"], "text_completion");
        assert_eq!(
            body["choices"],
            json!([{"text": "4", "index": 0, "logprobs": null, "finish_reason": "length"}])
        );
    }

    #[test]
    fn not_a_message_is_invalid() {
        let err = completion(json!({"hello": "world"}), "claude", Shape::Chat, "a").unwrap_err();
        assert!(matches!(err, ProviderError::InvalidResponse(_)), "{err:?}");
    }
}
