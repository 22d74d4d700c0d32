//! OpenAI chat body → Anthropic Messages request.
//!
//! Decisions where the two APIs differ:
//! - `system` and `developer` messages, wherever they appear, are hoisted
//!   in order into the top-level `system` (a string when there is one,
//!   text blocks when several). A `response_format` of `json_object` or
//!   `json_schema` adds one more system instruction demanding JSON.
//! - Turns are merged so roles alternate; `tool` messages become
//!   `tool_result` blocks of a user turn, placed before any other block of
//!   that turn as Anthropic requires. Empty text and empty turns are dropped.
//!   The first remaining turn must be the user's.
//! - `n > 1`, audio input, file ids, several prompts and malformed tool-call
//!   arguments are refused (400) instead of being silently dropped.
//! - `seed`, `metadata`, `logprobs`, `top_logprobs`, `frequency_penalty`,
//!   `presence_penalty`, `logit_bias` and other OpenAI-only fields are
//!   ignored: Anthropic has no equivalent and rejects unknown fields.
//!   `top_k` (not OpenAI, but sent by some clients) is passed on.
//! - `tool_choice` without any `tools` is dropped (Anthropic rejects it).

use serde::Serialize;
use serde_json::{Map, Value};

use super::tools::{Tool, tool_choice, tools};
use crate::ProviderError;

/// A Messages API request body.
#[derive(Debug, Serialize)]
pub(crate) struct MessagesRequest {
    model: String,
    max_tokens: u64,
    messages: Vec<Turn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<System>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<Tool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Debug, Serialize)]
struct Turn {
    role: &'static str,
    content: Vec<Block>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum System {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    Image {
        source: Source,
    },
    Document {
        source: Source,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: ToolResultContent,
    },
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Source {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum ToolResultContent {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Debug, Serialize)]
struct Metadata {
    user_id: String,
}

/// Translates a validated OpenAI chat body.
pub(crate) fn messages_request(
    mut body: Map<String, Value>,
    upstream_model: &str,
    default_max_tokens: u32,
    stream: bool,
) -> Result<MessagesRequest, ProviderError> {
    if let Some(n) = body.get("n").filter(|n| !n.is_null())
        && n.as_u64() != Some(1)
    {
        return Err(ProviderError::unsupported(
            "n",
            "n must be 1 for anthropic models: they return one choice per request",
        ));
    }
    let messages = match body.remove("messages") {
        Some(Value::Array(messages)) => messages,
        _ => {
            return Err(ProviderError::unsupported(
                "messages",
                "messages must be an array",
            ));
        }
    };
    let (mut system, messages) = translate_messages(messages)?;
    if let Some(instruction) = json_instruction(body.get("response_format"))? {
        system.push(instruction);
    }
    let tools = tools(body.remove("tools"))?;
    let tool_choice = match &tools {
        Some(_) => tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))?,
        None => None,
    };
    Ok(MessagesRequest {
        model: upstream_model.to_owned(),
        max_tokens: max_tokens(&body, default_max_tokens)?,
        messages,
        system: match system.len() {
            0 => None,
            1 => system.pop().map(System::Text),
            _ => Some(System::Blocks(
                system
                    .into_iter()
                    .map(|text| Block::Text { text })
                    .collect(),
            )),
        },
        temperature: number(&mut body, "temperature")?,
        top_p: number(&mut body, "top_p")?,
        top_k: number(&mut body, "top_k")?,
        stop_sequences: stop_sequences(body.remove("stop"))?,
        tools,
        tool_choice,
        metadata: match body.remove("user") {
            Some(Value::String(user_id)) if !user_id.is_empty() => Some(Metadata { user_id }),
            _ => None,
        },
        stream,
    })
}

/// System texts and alternating turns from OpenAI messages.
fn translate_messages(messages: Vec<Value>) -> Result<(Vec<String>, Vec<Turn>), ProviderError> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for (i, message) in messages.into_iter().enumerate() {
        let Value::Object(mut message) = message else {
            return Err(bad(format!("messages[{i}] must be an object")));
        };
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let content = message.remove("content").unwrap_or(Value::Null);
        let (role, blocks) = match role.as_str() {
            "system" | "developer" => {
                system.extend(texts(content, i)?.into_iter().filter(|t| !t.is_empty()));
                continue;
            }
            "user" => ("user", user_content(content, i)?),
            "assistant" => {
                let mut blocks = assistant_content(content, i)?;
                blocks.extend(tool_uses(message.remove("tool_calls"), i)?);
                ("assistant", blocks)
            }
            "tool" => ("user", vec![tool_result(&message, content, i)?]),
            other => {
                return Err(bad(format!(
                    "messages[{i}].role '{other}' is not supported for anthropic models"
                )));
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => turns.push(Turn {
                role,
                content: blocks,
            }),
        }
    }
    for turn in &mut turns {
        if turn.role == "user" {
            // Tool results must open the user turn that answers the tool calls.
            turn.content
                .sort_by_key(|block| !matches!(block, Block::ToolResult { .. }));
        }
    }
    match turns.first() {
        Some(turn) if turn.role == "user" => Ok((system, turns)),
        Some(_) => Err(bad(
            "the first message after any system messages must be a user message for anthropic models",
        )),
        None => Err(bad(
            "messages must contain at least one user message for anthropic models",
        )),
    }
}

/// A 400 about `messages`.
fn bad(message: impl Into<String>) -> ProviderError {
    ProviderError::unsupported("messages", message)
}

/// The texts of a system message (a string or text parts).
fn texts(content: Value, i: usize) -> Result<Vec<String>, ProviderError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(vec![text]),
        Value::Array(parts) => parts
            .into_iter()
            .enumerate()
            .map(|(j, part)| match part_text(&part) {
                Some(text) => Ok(text.to_owned()),
                None => Err(bad(format!(
                    "messages[{i}].content[{j}] must be a text part in a system message"
                ))),
            })
            .collect(),
        _ => Err(bad(format!(
            "messages[{i}].content must be a string or an array of parts"
        ))),
    }
}

/// The text of a `{"type":"text","text":…}` part.
fn part_text(part: &Value) -> Option<&str> {
    (part.get("type")?.as_str()? == "text")
        .then(|| part.get("text")?.as_str())
        .flatten()
}

/// Blocks of a user message: text, images, PDF files.
fn user_content(content: Value, i: usize) -> Result<Vec<Block>, ProviderError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(text_block(text).into_iter().collect()),
        Value::Array(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, part) in parts.into_iter().enumerate() {
                blocks.extend(user_part(part, i, j)?);
            }
            Ok(blocks)
        }
        _ => Err(bad(format!(
            "messages[{i}].content must be a string or an array of parts"
        ))),
    }
}

/// A text block, or nothing for empty text (which Anthropic rejects).
fn text_block(text: String) -> Option<Block> {
    (!text.is_empty()).then_some(Block::Text { text })
}

/// One content part of a user (or tool) message.
fn user_part(part: Value, i: usize, j: usize) -> Result<Option<Block>, ProviderError> {
    let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "text" => match part.get("text").and_then(Value::as_str) {
            Some(text) => Ok(text_block(text.to_owned())),
            None => Err(bad(format!(
                "messages[{i}].content[{j}].text must be a string"
            ))),
        },
        "image_url" => {
            let url = match part.get("image_url") {
                Some(Value::String(url)) => Some(url.as_str()),
                Some(image) => image.get("url").and_then(Value::as_str),
                None => None,
            };
            let Some(url) = url else {
                return Err(bad(format!(
                    "messages[{i}].content[{j}].image_url.url must be a string"
                )));
            };
            Ok(Some(Block::Image {
                source: image_source(url, i, j)?,
            }))
        }
        "file" => {
            let data = part.pointer("/file/file_data").and_then(Value::as_str);
            let Some((media_type, data)) = data.and_then(parse_data_url) else {
                return Err(bad(format!(
                    "messages[{i}].content[{j}]: only files given inline as file_data (a base64 data URL) are supported for anthropic models"
                )));
            };
            Ok(Some(Block::Document {
                source: Source::Base64 {
                    media_type: media_type.to_owned(),
                    data: data.to_owned(),
                },
            }))
        }
        other => Err(bad(format!(
            "messages[{i}].content[{j}]: content parts of type '{other}' are not supported for anthropic models"
        ))),
    }
}

/// An image source: a base64 data URL or an http(s) URL.
fn image_source(url: &str, i: usize, j: usize) -> Result<Source, ProviderError> {
    if let Some((media_type, data)) = parse_data_url(url) {
        return Ok(Source::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        });
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(Source::Url {
            url: url.to_owned(),
        });
    }
    Err(bad(format!(
        "messages[{i}].content[{j}].image_url.url must be a base64 data URL or an http(s) URL"
    )))
}

/// `data:<media type>;base64,<data>` → (media type, data).
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    (!media_type.is_empty()).then_some((media_type, data))
}

/// Text blocks of an assistant message (text and refusal parts).
fn assistant_content(content: Value, i: usize) -> Result<Vec<Block>, ProviderError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(text_block(text).into_iter().collect()),
        Value::Array(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, part) in parts.into_iter().enumerate() {
                let text = part_text(&part)
                    .or_else(|| {
                        (part.get("type")?.as_str()? == "refusal")
                            .then(|| part.get("refusal")?.as_str())
                            .flatten()
                    })
                    .ok_or_else(|| {
                        bad(format!(
                            "messages[{i}].content[{j}] must be a text or refusal part in an assistant message"
                        ))
                    })?;
                blocks.extend(text_block(text.to_owned()));
            }
            Ok(blocks)
        }
        _ => Err(bad(format!(
            "messages[{i}].content must be a string, an array of parts or null"
        ))),
    }
}

/// `tool_use` blocks from an assistant message's `tool_calls`.
fn tool_uses(tool_calls: Option<Value>, i: usize) -> Result<Vec<Block>, ProviderError> {
    let calls = match tool_calls {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(calls)) => calls,
        Some(_) => return Err(bad(format!("messages[{i}].tool_calls must be an array"))),
    };
    calls
        .into_iter()
        .enumerate()
        .map(|(j, call)| {
            let field = |pointer: &str| call.pointer(pointer).and_then(Value::as_str);
            let (Some(id), Some(name)) = (field("/id"), field("/function/name")) else {
                return Err(bad(format!(
                    "messages[{i}].tool_calls[{j}] needs an id and a function.name"
                )));
            };
            let arguments = field("/function/arguments").unwrap_or_default();
            let input = if arguments.trim().is_empty() {
                Value::Object(Map::new())
            } else {
                match serde_json::from_str::<Value>(arguments) {
                    Ok(input @ Value::Object(_)) => input,
                    _ => {
                        return Err(bad(format!(
                            "messages[{i}].tool_calls[{j}].function.arguments must be a JSON object"
                        )));
                    }
                }
            };
            Ok(Block::ToolUse {
                id: id.to_owned(),
                name: name.to_owned(),
                input,
            })
        })
        .collect()
}

/// The `tool_result` block of a `tool` message.
fn tool_result(
    message: &Map<String, Value>,
    content: Value,
    i: usize,
) -> Result<Block, ProviderError> {
    let Some(tool_use_id) = message.get("tool_call_id").and_then(Value::as_str) else {
        return Err(bad(format!("messages[{i}].tool_call_id is required")));
    };
    let content = match content {
        Value::Null => ToolResultContent::Text(String::new()),
        Value::String(text) => ToolResultContent::Text(text),
        Value::Array(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, part) in parts.into_iter().enumerate() {
                blocks.extend(user_part(part, i, j)?);
            }
            ToolResultContent::Blocks(blocks)
        }
        _ => {
            return Err(bad(format!(
                "messages[{i}].content must be a string or an array of parts"
            )));
        }
    };
    Ok(Block::ToolResult {
        tool_use_id: tool_use_id.to_owned(),
        content,
    })
}

/// The system instruction that stands in for `response_format`.
fn json_instruction(format: Option<&Value>) -> Result<Option<String>, ProviderError> {
    let Some(format) = format.filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(
            "Respond with a single valid JSON object and nothing else: no prose and no code fences."
                .to_owned(),
        )),
        Some("json_schema") => {
            let schema = format
                .pointer("/json_schema/schema")
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            Ok(Some(format!(
                "Respond with a single valid JSON value that conforms to this JSON Schema, and nothing else: no prose and no code fences.\n{schema}"
            )))
        }
        _ => Err(ProviderError::unsupported(
            "response_format",
            "response_format.type must be text, json_object or json_schema",
        )),
    }
}

/// `max_completion_tokens`, else `max_tokens`, else the default.
fn max_tokens(body: &Map<String, Value>, default: u32) -> Result<u64, ProviderError> {
    for field in ["max_completion_tokens", "max_tokens"] {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(value) => {
                return match value.as_u64() {
                    Some(n) if n > 0 => Ok(n),
                    _ => Err(ProviderError::unsupported(
                        if field == "max_tokens" {
                            "max_tokens"
                        } else {
                            "max_completion_tokens"
                        },
                        format!("{field} must be a positive integer"),
                    )),
                };
            }
        }
    }
    Ok(u64::from(default))
}

/// A numeric sampling field, passed on as is.
fn number(
    body: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<Value>, ProviderError> {
    match body.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value @ Value::Number(_)) => Ok(Some(value)),
        Some(_) => Err(ProviderError::unsupported(
            field,
            format!("{field} must be a number"),
        )),
    }
}

/// `stop` (a string or an array of strings) → `stop_sequences`.
fn stop_sequences(stop: Option<Value>) -> Result<Option<Vec<String>>, ProviderError> {
    let refuse =
        || ProviderError::unsupported("stop", "stop must be a string or an array of strings");
    match stop {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(stop)) => Ok(Some(vec![stop])),
        Some(Value::Array(stops)) if stops.is_empty() => Ok(None),
        Some(Value::Array(stops)) => stops
            .into_iter()
            .map(|stop| match stop {
                Value::String(stop) => Ok(stop),
                _ => Err(refuse()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn translate(body: Value) -> Result<Value, ProviderError> {
        let Value::Object(body) = body else {
            unreachable!()
        };
        messages_request(body, "claude-up", 1024, false)
            .map(|request| serde_json::to_value(request).unwrap())
    }

    fn refused(body: Value) -> (&'static str, String) {
        match translate(body) {
            Err(ProviderError::Unsupported { param, message }) => (param, message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn plain_chat_with_sampling_fields() {
        let out = translate(json!({
            "model": "claude", "messages": [{"role": "user", "content": "Hi"}],
            "temperature": 0.5, "top_p": 0.9, "stop": "END", "max_tokens": 50,
            "user": "u-1", "seed": 3, "metadata": {"a": "b"}, "logprobs": false,
            "frequency_penalty": 0.1, "stream": true, "stream_options": {"include_usage": true}
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({
                "model": "claude-up", "max_tokens": 50,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["END"],
                "metadata": {"user_id": "u-1"}
            })
        );
    }

    #[test]
    fn max_tokens_precedence_and_default() {
        let base = json!({"messages": [{"role": "user", "content": "Hi"}]});
        assert_eq!(translate(base.clone()).unwrap()["max_tokens"], 1024);
        let mut both = base.clone();
        both["max_tokens"] = json!(10);
        both["max_completion_tokens"] = json!(20);
        assert_eq!(translate(both).unwrap()["max_tokens"], 20);
        let mut bad = base;
        bad["max_tokens"] = json!(-1);
        assert_eq!(refused(bad).0, "max_tokens");
    }

    #[test]
    fn system_and_developer_messages_are_hoisted_and_merged() {
        let one = translate(json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"}
        ]}))
        .unwrap();
        assert_eq!(one["system"], "Be brief.");

        let several = translate(json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "Hi"},
            {"role": "system", "content": "Late rule."}
        ], "response_format": {"type": "json_object"}}))
        .unwrap();
        let system = several["system"].as_array().unwrap();
        let texts: Vec<&str> = system.iter().map(|b| b["text"].as_str().unwrap()).collect();
        assert_eq!(&texts[..3], ["Be brief.", "Use French.", "Late rule."]);
        assert!(texts[3].contains("JSON object"), "{}", texts[3]);
        assert!(system.iter().all(|b| b["type"] == "text"));
    }

    #[test]
    fn json_schema_instruction_carries_the_schema() {
        let out = translate(json!({
            "messages": [{"role": "user", "content": "Weather?"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object", "properties": {"temp": {"type": "number"}}}}}
        }))
        .unwrap();
        let system = out["system"].as_str().unwrap();
        let schema_text = system.lines().last().unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(schema_text).unwrap(),
            json!({"type": "object", "properties": {"temp": {"type": "number"}}})
        );
        assert!(system.contains("JSON Schema"), "{system}");
        assert_eq!(
            refused(json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}})).0,
            "response_format"
        );
    }

    #[test]
    fn images_and_files() {
        let out = translate(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0"}}
        ]}]}))
        .unwrap();
        assert_eq!(
            out["messages"][0]["content"],
            json!([
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0"}}
            ])
        );
        let (param, message) = refused(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://example.com/cat.jpg"}}
        ]}]}));
        assert_eq!(param, "messages");
        assert!(
            message.contains("messages[0].content[0].image_url.url"),
            "{message}"
        );
        let (_, message) = refused(json!({"messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}
        ]}]}));
        assert!(message.contains("input_audio"), "{message}");
    }

    #[test]
    fn multi_turn_tool_conversation() {
        let out = translate(json!({
            "messages": [
                {"role": "system", "content": "You are a weather bot."},
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "22C"}]},
                {"role": "assistant", "content": "Paris 18C, Rome 22C."},
                {"role": "user", "content": "Thanks"}
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
            "tool_choice": "auto"
        }))
        .unwrap();
        assert_eq!(out["system"], "You are a weather bot.");
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "22C"}]}
                ]},
                {"role": "assistant", "content": [{"type": "text", "text": "Paris 18C, Rome 22C."}]},
                {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}
            ])
        );
        assert_eq!(
            out["tools"],
            json!([{"name": "weather", "description": "Current weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
        );
        assert_eq!(out["tool_choice"], json!({"type": "auto"}));
    }

    #[test]
    fn consecutive_turns_merge_and_tool_results_come_first() {
        let out = translate(json!({"messages": [
            {"role": "user", "content": "a"},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}
            ]},
            {"role": "assistant", "content": null},
            {"role": "tool", "tool_call_id": "t1", "content": "done"},
            {"role": "user", "content": "and?"}
        ], "tools": [{"type": "function", "function": {"name": "f"}}]}))
        .unwrap();
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "done"},
                    {"type": "text", "text": "and?"}
                ]}
            ])
        );
        assert_eq!(
            out["tools"][0]["input_schema"],
            json!({"type": "object", "properties": {}})
        );
    }

    #[test]
    fn tool_choice_without_tools_is_dropped() {
        let out = translate(json!({
            "messages": [{"role": "user", "content": "x"}],
            "tool_choice": "required", "parallel_tool_calls": false
        }))
        .unwrap();
        assert!(out.get("tool_choice").is_none(), "{out}");
        assert!(out.get("tools").is_none(), "{out}");
    }

    #[test]
    fn bad_conversations_are_refused_by_name() {
        let (param, message) = refused(json!({"messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [
                {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
            ]}
        ]}));
        assert_eq!(param, "messages");
        assert!(
            message.contains("messages[1].tool_calls[0].function.arguments"),
            "{message}"
        );
        let (param, message) = refused(json!({"messages": [
            {"role": "system", "content": "s"},
            {"role": "assistant", "content": "I start"},
            {"role": "user", "content": "x"}
        ]}));
        assert_eq!(param, "messages");
        assert!(message.contains("first message"), "{message}");
        assert_eq!(
            refused(json!({"messages": [{"role": "system", "content": "only"}]})).0,
            "messages"
        );
        let (_, message) = refused(json!({"messages": [{"role": "tool", "content": "r"}]}));
        assert!(message.contains("messages[0].tool_call_id"), "{message}");
        assert_eq!(
            refused(json!({"messages": [{"role": "user", "content": "x"}], "n": 2})).0,
            "n"
        );
        assert!(translate(json!({"messages": [{"role": "user", "content": "x"}], "n": 1})).is_ok());
        assert_eq!(
            refused(json!({"messages": [{"role": "user", "content": "x"}], "stop": 5})).0,
            "stop"
        );
    }
}
