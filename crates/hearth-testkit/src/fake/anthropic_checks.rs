//! Protocol invariants of Anthropic Messages requests: the rules the real
//! API enforces with a 400, plus OpenAI-only fields that show a translation
//! left something behind.

use serde_json::{Map, Value};
use std::collections::HashSet;

const BLOCK_TYPES: [&str; 5] = ["text", "image", "tool_use", "tool_result", "document"];
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];
/// Top-level fields of the OpenAI chat API that Anthropic rejects.
const OPENAI_ONLY: [&str; 14] = [
    "response_format",
    "n",
    "stream_options",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "max_completion_tokens",
    "seed",
    "user",
    "parallel_tool_calls",
    "functions",
];
/// Per-message fields of the OpenAI chat API.
const OPENAI_MESSAGE_FIELDS: [&str; 3] = ["tool_calls", "tool_call_id", "name"];

/// Breaches in the headers of a `/v1/messages` request (the key itself is
/// checked by the fake, which answers 401).
pub(crate) fn headers(anthropic_version: Option<&str>) -> Vec<String> {
    match anthropic_version {
        Some(v) if !v.is_empty() => Vec::new(),
        _ => vec!["missing `anthropic-version` header".into()],
    }
}

/// Breaches in a `/v1/messages` body.
pub(crate) fn messages(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(top) = body.as_object() else {
        return vec!["body is not a JSON object".into()];
    };
    if top
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        out.push("`model` is missing or not a non-empty string".into());
    }
    if top
        .get("max_tokens")
        .and_then(Value::as_u64)
        .is_none_or(|n| n == 0)
    {
        out.push(format!(
            "`max_tokens` is missing or not a positive integer: {:?}",
            top.get("max_tokens")
        ));
    }
    check_top_level(top, &mut out);
    match top.get("messages").and_then(Value::as_array) {
        None => out.push("`messages` is missing or not an array".into()),
        Some(list) if list.is_empty() => out.push("`messages` is empty".into()),
        Some(list) => check_turns(list, &mut out),
    }
    out
}

fn check_top_level(top: &Map<String, Value>, out: &mut Vec<String>) {
    for field in OPENAI_ONLY {
        if top.contains_key(field) {
            out.push(format!("OpenAI-only field `{field}` at top level"));
        }
    }
    if top.get("stream").is_some_and(|s| !s.is_boolean()) {
        out.push("`stream` is not a boolean".into());
    }
    if top
        .get("temperature")
        .and_then(Value::as_f64)
        .is_some_and(|t| !(0.0..=1.0).contains(&t))
    {
        out.push("`temperature` outside 0..=1".into());
    }
    match top.get("system") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(blocks)) => {
            if blocks
                .iter()
                .any(|b| b.get("type").and_then(Value::as_str) != Some("text"))
            {
                out.push("`system` holds a block that is not text".into());
            }
        }
        Some(other) => out.push(format!(
            "`system` is neither a string nor text blocks: {other}"
        )),
    }
    match top.get("tool_choice") {
        None => {}
        Some(Value::Object(choice)) => match choice.get("type").and_then(Value::as_str) {
            Some("auto" | "any" | "none") => {}
            Some("tool") if choice.get("name").is_some_and(Value::is_string) => {}
            _ => out.push(format!(
                "`tool_choice` is not a valid Anthropic choice: {choice:?}"
            )),
        },
        Some(other) => out.push(format!(
            "`tool_choice` is not an object (OpenAI form?): {other}"
        )),
    }
    if let Some(tools) = top.get("tools") {
        let valid = tools.as_array().is_some_and(|tools| {
            tools.iter().all(|t| {
                t.get("name").is_some_and(Value::is_string)
                    && (t.get("input_schema").is_some_and(Value::is_object)
                        || t.get("type").is_some_and(|k| k != "function"))
            })
        });
        if !valid {
            out.push("`tools` are not Anthropic tools ({\"name\", \"input_schema\"})".into());
        }
    }
}

/// Roles, alternation, content blocks and tool_use/tool_result pairing.
fn check_turns(list: &[Value], out: &mut Vec<String>) {
    // The tool_use ids of the previous assistant turn.
    let mut pending: Vec<String> = Vec::new();
    let mut previous_role = "";
    for (i, message) in list.iter().enumerate() {
        let at = format!("messages[{i}]");
        let Some(message) = message.as_object() else {
            out.push(format!("{at} is not an object"));
            continue;
        };
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        match role {
            "user" | "assistant" => {}
            "system" => out.push(format!(
                "{at}: role \"system\" inside messages (use the top-level `system`)"
            )),
            other => out.push(format!("{at}: invalid role {other:?}")),
        }
        if i == 0 && role != "user" {
            out.push(format!(
                "{at}: the first message must be from the user, not {role:?}"
            ));
        }
        if i > 0 && role == previous_role {
            out.push(format!(
                "{at}: two {role:?} messages in a row (roles must alternate)"
            ));
        }
        for field in OPENAI_MESSAGE_FIELDS {
            if message.contains_key(field) {
                out.push(format!("{at}: OpenAI-only field `{field}`"));
            }
        }
        let blocks = content_blocks(&at, message.get("content"), out);
        check_blocks(&at, role, &blocks, out);
        let results: HashSet<&str> = blocks
            .iter()
            .filter(|b| kind(b) == "tool_result")
            .filter_map(|b| b.get("tool_use_id").and_then(Value::as_str))
            .collect();
        for id in &results {
            if !pending.iter().any(|p| p == id) {
                out.push(format!(
                    "{at}: tool_result for {id:?}, which the previous assistant turn did not use"
                ));
            }
        }
        if role == "user" {
            for id in &pending {
                if !results.contains(id.as_str()) {
                    out.push(format!(
                        "{at}: no tool_result for tool_use {id:?} of the previous turn"
                    ));
                }
            }
        }
        pending = if role == "assistant" {
            blocks
                .iter()
                .filter(|b| kind(b) == "tool_use")
                .filter_map(|b| b.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        } else {
            Vec::new()
        };
        previous_role = role;
    }
}

fn kind(block: &Value) -> &str {
    block.get("type").and_then(Value::as_str).unwrap_or("")
}

/// The content as blocks (a string is one text block).
fn content_blocks(at: &str, content: Option<&Value>, out: &mut Vec<String>) -> Vec<Value> {
    match content {
        Some(Value::String(text)) => vec![serde_json::json!({"type": "text", "text": text})],
        Some(Value::Array(blocks)) if !blocks.is_empty() => blocks.clone(),
        Some(Value::Array(_)) => {
            out.push(format!("{at}: empty content"));
            Vec::new()
        }
        other => {
            out.push(format!(
                "{at}: content is neither a string nor an array of blocks: {other:?}"
            ));
            Vec::new()
        }
    }
}

fn check_blocks(at: &str, role: &str, blocks: &[Value], out: &mut Vec<String>) {
    let mut seen_other = false;
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        match kind(block) {
            "text" if !block.get("text").is_some_and(Value::is_string) => {
                out.push(format!("{at}: text block without a string `text`"));
            }
            "image" => check_image(&at, block.get("source"), out),
            "document"
                if !block
                    .get("source")
                    .is_some_and(|s| s.get("type").is_some_and(Value::is_string)) =>
            {
                out.push(format!("{at}: document block without a typed `source`"));
            }
            "tool_use" => {
                if role != "assistant" {
                    out.push(format!("{at}: tool_use block outside an assistant turn"));
                }
                if !block.get("id").is_some_and(Value::is_string)
                    || !block.get("name").is_some_and(Value::is_string)
                    || !block.get("input").is_some_and(Value::is_object)
                {
                    out.push(format!(
                        "{at}: tool_use needs string `id`, `name` and an object `input`"
                    ));
                }
            }
            "tool_result" => {
                if role != "user" {
                    out.push(format!("{at}: tool_result block outside a user turn"));
                }
                if seen_other {
                    out.push(format!(
                        "{at}: tool_result after other content (tool results must come first)"
                    ));
                }
                if !block.get("tool_use_id").is_some_and(Value::is_string) {
                    out.push(format!("{at}: tool_result without a string `tool_use_id`"));
                }
                if let Some(Value::Array(inner)) = block.get("content") {
                    for (k, part) in inner.iter().enumerate() {
                        match kind(part) {
                            "text" => {}
                            "image" => {
                                check_image(&format!("{at}.content[{k}]"), part.get("source"), out)
                            }
                            other => out
                                .push(format!("{at}.content[{k}]: {other:?} inside a tool_result")),
                        }
                    }
                }
            }
            other if !BLOCK_TYPES.contains(&other) => {
                out.push(format!("{at}: unknown block type {other:?}"))
            }
            _ => {}
        }
        if kind(block) != "tool_result" {
            seen_other = true;
        }
    }
}

/// `{"type":"base64","media_type","data"}` or `{"type":"url","url"}`.
fn check_image(at: &str, source: Option<&Value>, out: &mut Vec<String>) {
    let Some(source) = source.and_then(Value::as_object) else {
        out.push(format!("{at}: image without a `source` object"));
        return;
    };
    let text = |key: &str| source.get(key).and_then(Value::as_str).unwrap_or("");
    match text("type") {
        "base64" => {
            if !IMAGE_TYPES.contains(&text("media_type")) {
                out.push(format!(
                    "{at}: image media_type {:?} is not jpeg/png/gif/webp",
                    text("media_type")
                ));
            }
            let data = text("data");
            if data.is_empty() || data.starts_with("data:") || data.contains(',') {
                out.push(format!(
                    "{at}: image data is not bare base64 (a data URL was passed through?)"
                ));
            }
        }
        "url" => {
            let url = text("url");
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                out.push(format!("{at}: image url {url:?} is not http(s)"));
            }
        }
        other => out.push(format!(
            "{at}: image source type {other:?} is not base64 or url"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tool_round_trip_with_an_image_is_clean() {
        let body = json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": "be brief",
            "tools": [{"name": "w", "description": "weather", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "auto"},
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "weather here?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"city": "Bern"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                    {"type": "text", "text": "and tomorrow?"}]}
            ]
        });
        assert_eq!(messages(&body), Vec::<String>::new());
    }

    #[test]
    fn translation_mistakes_are_named() {
        let body = json!({
            "model": "claude",
            "max_tokens": 0,
            "n": 1,
            "tool_choice": "auto",
            "messages": [
                {"role": "system", "content": "x"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}],
                 "tool_calls": []},
                {"role": "user", "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "x"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "data:image/png;base64,AA"}},
                    {"type": "image_url", "image_url": {"url": "x"}}]}
            ]
        });
        let found = messages(&body).join("\n");
        for expected in [
            "`max_tokens`",
            "`n`",
            "`tool_choice`",
            "role \"system\"",
            "first message",
            "`tool_calls`",
            "must come first",
            "\"toolu_2\"",
            "no tool_result for tool_use \"toolu_1\"",
            "bare base64",
            "unknown block type \"image_url\"",
        ] {
            assert!(found.contains(expected), "{expected} not in:\n{found}");
        }
    }
}
