//! Checks of the fields Hearth interprets in `/v1/chat/completions` and
//! `/v1/completions` bodies. Everything else passes through to the
//! provider untouched. Each failure names the field, JSON-path style
//! (`messages[2].role`).

use crate::EngineError;
use serde_json::{Map, Value};

const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

type Body = Map<String, Value>;

fn invalid(param: &str, message: impl Into<String>) -> EngineError {
    EngineError::Invalid {
        param: param.to_owned().into(),
        message: message.into(),
    }
}

/// The client's model id.
pub(crate) fn model(body: &Body) -> Result<&str, EngineError> {
    match body.get("model") {
        None | Some(Value::Null) => Err(invalid("model", "you must provide a model parameter")),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(invalid("model", "model must not be empty")),
        Some(other) => Err(invalid(
            "model",
            format!("model must be a string, got {}", kind(other)),
        )),
    }
}

/// Whether the client asked for a stream, and for the usage chunk in it.
pub(crate) fn stream_flags(body: &Body) -> Result<(bool, bool), EngineError> {
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                "stream",
                format!("stream must be a boolean, got {}", kind(other)),
            ));
        }
    };
    let include_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(opts)) => {
            if !stream {
                return Err(invalid(
                    "stream_options",
                    "stream_options is only allowed when stream is true",
                ));
            }
            match opts.get("include_usage") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(invalid(
                        "stream_options.include_usage",
                        format!("include_usage must be a boolean, got {}", kind(other)),
                    ));
                }
            }
        }
        Some(other) => {
            return Err(invalid(
                "stream_options",
                format!("stream_options must be an object, got {}", kind(other)),
            ));
        }
    };
    Ok((stream, include_usage))
}

/// Checks a chat-completions body.
pub(crate) fn chat(body: &Body) -> Result<(), EngineError> {
    let messages = match body.get("messages") {
        None | Some(Value::Null) => return Err(invalid("messages", "you must provide messages")),
        Some(Value::Array(m)) if m.is_empty() => {
            return Err(invalid(
                "messages",
                "messages must contain at least one message",
            ));
        }
        Some(Value::Array(m)) => m,
        Some(other) => {
            return Err(invalid(
                "messages",
                format!("messages must be an array, got {}", kind(other)),
            ));
        }
    };
    for (i, message) in messages.iter().enumerate() {
        let Value::Object(m) = message else {
            return Err(invalid(
                &format!("messages[{i}]"),
                "each message must be an object",
            ));
        };
        let role = match m.get("role") {
            Some(Value::String(r)) if ROLES.contains(&r.as_str()) => r.as_str(),
            Some(Value::String(r)) => {
                return Err(invalid(
                    &format!("messages[{i}].role"),
                    format!("unknown role '{r}': expected one of {}", ROLES.join(", ")),
                ));
            }
            _ => {
                return Err(invalid(
                    &format!("messages[{i}].role"),
                    "each message needs a string role",
                ));
            }
        };
        match m.get("content") {
            Some(Value::String(_)) => {}
            Some(Value::Array(parts)) => {
                for (j, part) in parts.iter().enumerate() {
                    let ok = part
                        .as_object()
                        .is_some_and(|p| p.get("type").is_some_and(Value::is_string));
                    if !ok {
                        return Err(invalid(
                            &format!("messages[{i}].content[{j}]"),
                            "each content part must be an object with a string type",
                        ));
                    }
                }
            }
            None | Some(Value::Null) if role == "assistant" => {}
            None | Some(Value::Null) => {
                return Err(invalid(
                    &format!("messages[{i}].content"),
                    "content is required",
                ));
            }
            Some(other) => {
                return Err(invalid(
                    &format!("messages[{i}].content"),
                    format!(
                        "content must be a string or an array of parts, got {}",
                        kind(other)
                    ),
                ));
            }
        }
        if role == "tool" && !m.get("tool_call_id").is_some_and(Value::is_string) {
            return Err(invalid(
                &format!("messages[{i}].tool_call_id"),
                "tool messages need a string tool_call_id",
            ));
        }
    }
    if let Some(tools) = body.get("tools").filter(|v| !v.is_null()) {
        let Value::Array(tools) = tools else {
            return Err(invalid("tools", "tools must be an array"));
        };
        for (i, tool) in tools.iter().enumerate() {
            let name_ok = tool
                .get("function")
                .and_then(|f| f.get("name"))
                .is_some_and(Value::is_string);
            if tool.get("type").and_then(Value::as_str) != Some("function") || !name_ok {
                return Err(invalid(
                    &format!("tools[{i}]"),
                    "each tool must be {\"type\":\"function\",\"function\":{\"name\":…}}",
                ));
            }
        }
    }
    if let Some(choice) = body.get("tool_choice").filter(|v| !v.is_null()) {
        let ok = match choice {
            Value::String(s) => ["none", "auto", "required"].contains(&s.as_str()),
            Value::Object(o) => o.get("type").is_some_and(Value::is_string),
            _ => false,
        };
        if !ok {
            return Err(invalid(
                "tool_choice",
                "tool_choice must be \"none\", \"auto\", \"required\" or an object",
            ));
        }
    }
    optional_bool(body, "parallel_tool_calls")?;
    if let Some(format) = body.get("response_format").filter(|v| !v.is_null()) {
        let t = format.get("type").and_then(Value::as_str);
        if !matches!(t, Some("text" | "json_object" | "json_schema")) {
            return Err(invalid(
                "response_format.type",
                "response_format.type must be text, json_object or json_schema",
            ));
        }
    }
    optional_positive_int(body, "max_completion_tokens")?;
    common(body)
}

/// Checks a legacy completions body.
pub(crate) fn completion(body: &Body) -> Result<(), EngineError> {
    match body.get("prompt") {
        None | Some(Value::Null) => return Err(invalid("prompt", "you must provide a prompt")),
        Some(Value::String(_)) => {}
        Some(Value::Array(items)) if !items.is_empty() => {}
        Some(Value::Array(_)) => return Err(invalid("prompt", "prompt must not be empty")),
        Some(other) => {
            return Err(invalid(
                "prompt",
                format!("prompt must be a string or an array, got {}", kind(other)),
            ));
        }
    }
    common(body)
}

/// Fields shared by both endpoints.
fn common(body: &Body) -> Result<(), EngineError> {
    optional_positive_int(body, "max_tokens")?;
    optional_positive_int(body, "n")?;
    optional_number(body, "temperature", 0.0, 2.0)?;
    optional_number(body, "top_p", 0.0, 1.0)?;
    if let Some(seed) = body.get("seed").filter(|v| !v.is_null())
        && !seed.is_i64()
        && !seed.is_u64()
    {
        return Err(invalid("seed", "seed must be an integer"));
    }
    if let Some(user) = body.get("user").filter(|v| !v.is_null())
        && !user.is_string()
    {
        return Err(invalid("user", "user must be a string"));
    }
    if let Some(stop) = body.get("stop").filter(|v| !v.is_null()) {
        let ok = match stop {
            Value::String(_) => true,
            Value::Array(items) => items.len() <= 4 && items.iter().all(Value::is_string),
            _ => false,
        };
        if !ok {
            return Err(invalid(
                "stop",
                "stop must be a string or an array of up to 4 strings",
            ));
        }
    }
    if let Some(metadata) = body.get("metadata").filter(|v| !v.is_null()) {
        let ok = metadata
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string));
        if !ok {
            return Err(invalid(
                "metadata",
                "metadata must be an object of string values",
            ));
        }
    }
    Ok(())
}

fn optional_bool(body: &Body, field: &'static str) -> Result<(), EngineError> {
    match body.get(field) {
        None | Some(Value::Null | Value::Bool(_)) => Ok(()),
        Some(other) => Err(invalid(
            field,
            format!("{field} must be a boolean, got {}", kind(other)),
        )),
    }
}

fn optional_positive_int(body: &Body, field: &'static str) -> Result<(), EngineError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_u64().is_some_and(|n| n >= 1) => Ok(()),
        Some(_) => Err(invalid(
            field,
            format!("{field} must be a positive integer"),
        )),
    }
}

fn optional_number(
    body: &Body,
    field: &'static str,
    min: f64,
    max: f64,
) -> Result<(), EngineError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_f64().is_some_and(|n| (min..=max).contains(&n)) => Ok(()),
        Some(_) => Err(invalid(
            field,
            format!("{field} must be a number from {min} to {max}"),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn param_of(body: Value, check: fn(&Body) -> Result<(), EngineError>) -> String {
        match check(body.as_object().unwrap()) {
            Err(EngineError::Invalid { param, .. }) => param.into_owned(),
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn chat_errors_name_the_field() {
        assert_eq!(param_of(json!({"model":"m"}), chat), "messages");
        assert_eq!(param_of(json!({"messages":[]}), chat), "messages");
        assert_eq!(param_of(json!({"messages":"hi"}), chat), "messages");
        assert_eq!(
            param_of(json!({"messages":[{"role":"wizard","content":"x"}]}), chat),
            "messages[0].role"
        );
        assert_eq!(
            param_of(
                json!({"messages":[{"role":"user","content":"a"},{"role":"user","content":5}]}),
                chat
            ),
            "messages[1].content"
        );
        assert_eq!(
            param_of(json!({"messages":[{"role":"tool","content":"x"}]}), chat),
            "messages[0].tool_call_id"
        );
        assert_eq!(
            param_of(
                json!({"messages":[{"role":"user","content":"x"}],"temperature":"hot"}),
                chat
            ),
            "temperature"
        );
        assert_eq!(
            param_of(
                json!({"messages":[{"role":"user","content":"x"}],"max_tokens":0}),
                chat
            ),
            "max_tokens"
        );
        assert_eq!(
            param_of(
                json!({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"retrieval"}]}),
                chat
            ),
            "tools[0]"
        );
        assert_eq!(
            param_of(
                json!({"messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"}),
                chat
            ),
            "tool_choice"
        );
    }

    #[test]
    fn good_bodies_pass() {
        let body = json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": null, "tool_calls": []},
                {"role": "tool", "tool_call_id": "c1", "content": "42"}
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "stop": ["\n"], "n": 1, "temperature": 0.2, "seed": 7, "metadata": {"a": "b"},
            "some_future_field": {"passes": "through"}
        });
        chat(body.as_object().unwrap()).unwrap();
        completion(json!({"prompt": "Say hi"}).as_object().unwrap()).unwrap();
    }

    #[test]
    fn model_and_stream_flags() {
        assert!(model(json!({}).as_object().unwrap()).is_err());
        assert!(model(json!({"model": 3}).as_object().unwrap()).is_err());
        let b = json!({"stream": true, "stream_options": {"include_usage": true}});
        assert_eq!(stream_flags(b.as_object().unwrap()).unwrap(), (true, true));
        let b = json!({"stream_options": {"include_usage": true}});
        assert!(stream_flags(b.as_object().unwrap()).is_err());
    }
}
