//! Protocol invariants of requests to an OpenAI-compatible server: what a
//! client (here, Hearth relaying to an upstream) must get right for a
//! strict server to accept the request.

use serde_json::{Map, Value};
use std::collections::HashSet;

const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];
const USER_PART_TYPES: [&str; 4] = ["text", "image_url", "input_audio", "file"];

/// Breaches in a `/v1/chat/completions` body.
pub(crate) fn chat(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(top) = common(body, &mut out) else {
        return out;
    };
    match top.get("messages").and_then(Value::as_array) {
        None => out.push("`messages` is missing or not an array".into()),
        Some(messages) if messages.is_empty() => out.push("`messages` is empty".into()),
        Some(messages) => check_messages(messages, &mut out),
    }
    if let Some(tools) = top.get("tools") {
        check_tools(tools, &mut out);
    }
    out
}

/// Breaches in a `/v1/completions` body.
pub(crate) fn completion(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(top) = common(body, &mut out) else {
        return out;
    };
    match top.get("prompt") {
        Some(Value::String(_)) => {}
        Some(Value::Array(items)) if !items.is_empty() => {}
        _ => out.push("`prompt` is missing, empty or not a string or array".into()),
    }
    if top.contains_key("messages") {
        out.push("`messages` sent to the legacy completions endpoint".into());
    }
    out
}

/// Checks shared by both endpoints; `None` when the body is not an object.
fn common<'a>(body: &'a Value, out: &mut Vec<String>) -> Option<&'a Map<String, Value>> {
    let Some(top) = body.as_object() else {
        out.push("body is not a JSON object".into());
        return None;
    };
    if top
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        out.push("`model` is missing or not a non-empty string".into());
    }
    let stream = match top.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            out.push(format!("`stream` is not a boolean: {other}"));
            false
        }
    };
    match top.get("stream_options") {
        None | Some(Value::Null) => {}
        Some(_) if !stream => out.push("`stream_options` is set but `stream` is not true".into()),
        Some(Value::Object(_)) => {}
        Some(other) => out.push(format!("`stream_options` is not an object: {other}")),
    }
    Some(top)
}

fn check_messages(messages: &[Value], out: &mut Vec<String>) {
    // Tool call ids offered by assistant turns so far.
    let mut offered: HashSet<&str> = HashSet::new();
    for (i, message) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let Some(message) = message.as_object() else {
            out.push(format!("{at} is not an object"));
            continue;
        };
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        if !ROLES.contains(&role) {
            out.push(format!("{at}: invalid role {:?}", message.get("role")));
            continue;
        }
        match role {
            "assistant" => check_assistant(&at, message, &mut offered, out),
            "tool" => match message.get("tool_call_id").and_then(Value::as_str) {
                None => out.push(format!(
                    "{at}: tool message without a string `tool_call_id`"
                )),
                Some(id) if !offered.contains(id) => out.push(format!(
                    "{at}: tool_call_id {id:?} answers no earlier assistant tool call"
                )),
                Some(_) => check_content(&at, message.get("content"), &["text"], out),
            },
            "user" => check_content(&at, message.get("content"), &USER_PART_TYPES, out),
            "system" | "developer" => check_content(&at, message.get("content"), &["text"], out),
            _ => {}
        }
    }
}

fn check_assistant<'a>(
    at: &str,
    message: &'a Map<String, Value>,
    offered: &mut HashSet<&'a str>,
    out: &mut Vec<String>,
) {
    let calls = message.get("tool_calls").and_then(Value::as_array);
    let content = message.get("content").unwrap_or(&Value::Null);
    if content.is_null()
        && calls.is_none_or(Vec::is_empty)
        && !message.contains_key("function_call")
    {
        out.push(format!(
            "{at}: assistant message with neither content nor tool_calls"
        ));
    } else if !content.is_null() {
        check_content(at, Some(content), &["text", "refusal"], out);
    }
    match message.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            for (j, call) in calls.iter().enumerate() {
                let at = format!("{at}.tool_calls[{j}]");
                match call.get("id").and_then(Value::as_str) {
                    Some(id) if !id.is_empty() => {
                        offered.insert(id);
                    }
                    _ => out.push(format!("{at}: missing `id`")),
                }
                if call.get("type").and_then(Value::as_str) != Some("function") {
                    out.push(format!("{at}: `type` is not \"function\""));
                }
                if call
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .is_none()
                {
                    out.push(format!("{at}: missing `function.name`"));
                }
                if !call
                    .pointer("/function/arguments")
                    .is_some_and(Value::is_string)
                {
                    out.push(format!(
                        "{at}: `function.arguments` is not a JSON-encoded string"
                    ));
                }
            }
        }
        Some(other) => out.push(format!("{at}: `tool_calls` is not an array: {other}")),
    }
}

/// Content is a string or an array of parts of the allowed types.
fn check_content(at: &str, content: Option<&Value>, part_types: &[&str], out: &mut Vec<String>) {
    match content {
        Some(Value::String(_)) => {}
        Some(Value::Array(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
                if !part_types.contains(&kind) {
                    out.push(format!(
                        "{at}.content[{j}]: part type {kind:?} is not allowed here"
                    ));
                } else if kind == "text" && !part.get("text").is_some_and(Value::is_string) {
                    out.push(format!(
                        "{at}.content[{j}]: text part without a string `text`"
                    ));
                } else if kind == "image_url"
                    && part
                        .pointer("/image_url/url")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                {
                    out.push(format!(
                        "{at}.content[{j}]: image_url part without `image_url.url`"
                    ));
                }
            }
        }
        None | Some(Value::Null) => out.push(format!("{at}: missing `content`")),
        Some(other) => out.push(format!(
            "{at}: `content` is neither a string nor an array: {other}"
        )),
    }
}

fn check_tools(tools: &Value, out: &mut Vec<String>) {
    let Some(tools) = tools.as_array() else {
        out.push("`tools` is not an array".into());
        return;
    };
    for (i, tool) in tools.iter().enumerate() {
        if tool.get("type").and_then(Value::as_str) != Some("function")
            || tool
                .pointer("/function/name")
                .and_then(Value::as_str)
                .is_none()
        {
            out.push(format!(
                "tools[{i}]: not {{\"type\":\"function\",\"function\":{{\"name\",…}}}}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tool_round_trip_is_clean() {
        let body = json!({
            "model": "gpt-4o-mini",
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "weather?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
            ],
            "tools": [{"type": "function", "function": {"name": "w", "parameters": {}}}]
        });
        assert_eq!(chat(&body), Vec::<String>::new());
    }

    #[test]
    fn breaches_are_named() {
        let body = json!({
            "stream_options": {"include_usage": true},
            "messages": [
                {"role": "robot", "content": "hi"},
                {"role": "assistant", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": {"a": 1}}}]},
                {"role": "tool", "tool_call_id": "call_9", "content": "x"}
            ]
        });
        let found = chat(&body).join("\n");
        for expected in [
            "`model`",
            "`stream_options`",
            "invalid role",
            "JSON-encoded string",
            "call_9",
        ] {
            assert!(found.contains(expected), "{expected} not in:\n{found}");
        }
        assert!(chat(&json!({"model": "m", "messages": []}))[0].contains("empty"));
        assert_eq!(
            completion(&json!({"model": "m", "prompt": "hi"})),
            Vec::<String>::new()
        );
        assert!(!completion(&json!({"model": "m"})).is_empty());
    }
}
