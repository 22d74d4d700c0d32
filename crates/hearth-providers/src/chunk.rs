//! Writes the OpenAI stream chunks that translated providers emit:
//! `chat.completion.chunk` for chat, `text_completion` for legacy
//! completions. One writer per stream keeps `id`, `created` and `model`
//! the same on every chunk, as OpenAI's are.

use bytes::Bytes;
use serde::Serialize;

use crate::Usage;

/// Which OpenAI object a translated stream or response takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `/v1/chat/completions`: `chat.completion(.chunk)`.
    Chat,
    /// `/v1/completions`: `text_completion`.
    Text,
}

impl Shape {
    /// The `id` prefix OpenAI uses for this shape.
    pub(crate) fn id_prefix(self) -> &'static str {
        match self {
            Shape::Chat => "chatcmpl-",
            Shape::Text => "cmpl-",
        }
    }
}

/// OpenAI's `usage` object.
#[derive(Debug, Serialize)]
pub(crate) struct UsageJson {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

impl From<Usage> for UsageJson {
    fn from(usage: Usage) -> Self {
        UsageJson {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.prompt_tokens + usage.completion_tokens,
        }
    }
}

#[derive(Serialize)]
struct Chunk<'a, C> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: C,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageJson>,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: (),
    finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize)]
struct TextChoice<'a> {
    text: &'a str,
    index: u32,
    logprobs: (),
    finish_reason: Option<&'a str>,
}

/// Writes the chunks of one translated stream.
#[derive(Debug)]
pub(crate) struct ChunkWriter {
    shape: Shape,
    id: String,
    created: u64,
    model: String,
}

impl ChunkWriter {
    /// `id` is used as is (prefix included).
    pub(crate) fn new(shape: Shape, id: String, created: u64, model: String) -> Self {
        ChunkWriter {
            shape,
            id,
            created,
            model,
        }
    }

    /// The opening chunk, `delta: {role: "assistant", content: ""}`; chat only.
    pub(crate) fn role(&self) -> Option<Bytes> {
        let delta = Delta {
            role: Some("assistant"),
            content: Some(""),
            ..Delta::default()
        };
        (self.shape == Shape::Chat).then(|| self.chat(0, delta, None))
    }

    /// Generated text of choice `index`.
    pub(crate) fn content(&self, index: u32, text: &str) -> Bytes {
        match self.shape {
            Shape::Chat => {
                let delta = Delta {
                    content: Some(text),
                    ..Delta::default()
                };
                self.chat(index, delta, None)
            }
            Shape::Text => self.text(index, text, None),
        }
    }

    /// The start of tool call number `tool` (counted from 0); chat only.
    pub(crate) fn tool_call_start(&self, tool: u32, id: &str, name: &str) -> Option<Bytes> {
        let call = ToolCallDelta {
            index: tool,
            id: Some(id),
            kind: Some("function"),
            function: FunctionDelta {
                name: Some(name),
                arguments: "",
            },
        };
        self.tool_call(call)
    }

    /// A piece of the JSON arguments of tool call number `tool`; chat only.
    pub(crate) fn tool_call_arguments(&self, tool: u32, arguments: &str) -> Option<Bytes> {
        let call = ToolCallDelta {
            index: tool,
            id: None,
            kind: None,
            function: FunctionDelta {
                name: None,
                arguments,
            },
        };
        self.tool_call(call)
    }

    /// The chunk that ends choice `index` with an OpenAI `finish_reason`.
    pub(crate) fn finish(&self, index: u32, reason: &str) -> Bytes {
        match self.shape {
            Shape::Chat => self.chat(index, Delta::default(), Some(reason)),
            Shape::Text => self.text(index, "", Some(reason)),
        }
    }

    /// The usage-only chunk: `choices: []` and `usage`.
    pub(crate) fn usage(&self, usage: Usage) -> Bytes {
        self.write(
            [(); 0],
            match self.shape {
                Shape::Chat => "chat.completion.chunk",
                Shape::Text => "text_completion",
            },
            Some(usage.into()),
        )
    }

    fn tool_call(&self, call: ToolCallDelta<'_>) -> Option<Bytes> {
        let delta = Delta {
            tool_calls: Some([call]),
            ..Delta::default()
        };
        (self.shape == Shape::Chat).then(|| self.chat(0, delta, None))
    }

    fn chat(&self, index: u32, delta: Delta<'_>, finish_reason: Option<&str>) -> Bytes {
        let choice = ChatChoice {
            index,
            delta,
            logprobs: (),
            finish_reason,
        };
        self.write([choice], "chat.completion.chunk", None)
    }

    fn text(&self, index: u32, text: &str, finish_reason: Option<&str>) -> Bytes {
        let choice = TextChoice {
            text,
            index,
            logprobs: (),
            finish_reason,
        };
        self.write([choice], "text_completion", None)
    }

    fn write<C: Serialize>(
        &self,
        choices: C,
        object: &'static str,
        usage: Option<UsageJson>,
    ) -> Bytes {
        let chunk = Chunk {
            id: &self.id,
            object,
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        // Serialising these plain structs cannot fail.
        serde_json::to_vec(&chunk)
            .map(Bytes::from)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(bytes: Option<Bytes>) -> Value {
        serde_json::from_slice(&bytes.unwrap()).unwrap()
    }

    #[test]
    fn chat_chunks() {
        let w = ChunkWriter::new(Shape::Chat, "chatcmpl-1".into(), 7, "m".into());
        assert_eq!(
            parse(w.role()),
            json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m",
                   "choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})
        );
        assert_eq!(
            parse(w.tool_call_start(1, "toolu_1", "f"))["choices"][0]["delta"],
            json!({"tool_calls":[{"index":1,"id":"toolu_1","type":"function","function":{"name":"f","arguments":""}}]})
        );
        assert_eq!(
            parse(w.tool_call_arguments(1, "{\"a\""))["choices"][0]["delta"],
            json!({"tool_calls":[{"index":1,"function":{"arguments":"{\"a\""}}]})
        );
        let finish = parse(Some(w.finish(0, "stop")));
        assert_eq!(finish["choices"][0]["delta"], json!({}));
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        let usage = parse(Some(w.usage(Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
        })));
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(
            usage["usage"],
            json!({"prompt_tokens":3,"completion_tokens":4,"total_tokens":7})
        );
    }

    #[test]
    fn text_chunks() {
        let w = ChunkWriter::new(Shape::Text, "cmpl-1".into(), 7, "m".into());
        assert_eq!(w.role(), None);
        assert_eq!(w.tool_call_start(0, "x", "f"), None);
        assert_eq!(
            parse(Some(w.content(0, "hi"))),
            json!({"id":"cmpl-1","object":"text_completion","created":7,"model":"m",
                   "choices":[{"text":"hi","index":0,"logprobs":null,"finish_reason":null}]})
        );
        assert_eq!(
            parse(Some(w.finish(0, "length")))["choices"][0],
            json!({"text":"","index":0,"logprobs":null,"finish_reason":"length"})
        );
    }
}
