//! Items (the Responses API's unit of conversation) and their translation
//! into chat messages, the form every provider speaks.

use serde_json::{Value, json};

/// The item type of a built-in tool call that Hearth ran.
pub const BUILTIN_CALL: &str = "file_operation_call";

/// Chat messages for a sequence of items (history, then this turn).
/// Consecutive function calls (and built-in calls) become one assistant
/// message with several `tool_calls`, as the chat format wants.
pub fn to_chat_messages(instructions: Option<&str>, items: &[Value]) -> Vec<Value> {
    let mut messages: Vec<Value> = Vec::with_capacity(items.len() + 1);
    if let Some(text) = instructions.filter(|t| !t.is_empty()) {
        messages.push(json!({"role": "system", "content": text}));
    }
    let mut pending_outputs: Vec<Value> = Vec::new();
    for item in items {
        match item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
        {
            "message" => {
                flush(&mut messages, &mut pending_outputs);
                let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
                let role = if role == "developer" { "system" } else { role };
                messages.push(
                    json!({"role": role, "content": chat_content(role, item.get("content"))}),
                );
            }
            "function_call" => {
                let call = tool_call(item, "call_id", "name", "arguments");
                push_tool_call(&mut messages, &mut pending_outputs, call);
            }
            "function_call_output" => {
                pending_outputs.push(json!({
                    "role": "tool",
                    "tool_call_id": item.get("call_id").cloned().unwrap_or(Value::Null),
                    "content": item.get("output").and_then(Value::as_str).unwrap_or(""),
                }));
            }
            t if t == BUILTIN_CALL => {
                let call = tool_call(item, "call_id", "name", "arguments");
                push_tool_call(&mut messages, &mut pending_outputs, call);
                let output = match item.get("error").and_then(Value::as_str) {
                    Some(error) => format!("error: {error}"),
                    None => item
                        .get("output")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                };
                pending_outputs.push(json!({
                    "role": "tool",
                    "tool_call_id": item.get("call_id").cloned().unwrap_or(Value::Null),
                    "content": output,
                }));
            }
            _ => {}
        }
    }
    flush(&mut messages, &mut pending_outputs);
    messages
}

fn tool_call(item: &Value, id: &str, name: &str, arguments: &str) -> Value {
    json!({
        "id": item.get(id).cloned().unwrap_or(Value::Null),
        "type": "function",
        "function": {
            "name": item.get(name).cloned().unwrap_or(Value::Null),
            "arguments": item.get(arguments).and_then(Value::as_str).unwrap_or("{}"),
        },
    })
}

/// Adds a tool call to the last assistant message if it is still open
/// (no tool results since), else starts one.
fn push_tool_call(messages: &mut Vec<Value>, pending_outputs: &mut Vec<Value>, call: Value) {
    if pending_outputs.is_empty()
        && let Some(last) = messages.last_mut()
        && last.get("role").and_then(Value::as_str) == Some("assistant")
    {
        if let Some(calls) = last.get_mut("tool_calls").and_then(Value::as_array_mut) {
            calls.push(call);
        } else {
            last["tool_calls"] = json!([call]);
        }
        return;
    }
    flush(messages, pending_outputs);
    messages.push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
}

/// Tool results follow their assistant message in one run.
fn flush(messages: &mut Vec<Value>, pending_outputs: &mut Vec<Value>) {
    messages.append(pending_outputs);
}

/// Item content parts → chat content (a string for plain text).
fn chat_content(role: &str, content: Option<&Value>) -> Value {
    let Some(Value::Array(parts)) = content else {
        return content.cloned().unwrap_or(Value::String(String::new()));
    };
    let only_text = parts.iter().all(|p| {
        matches!(
            p.get("type").and_then(Value::as_str),
            Some("input_text" | "output_text")
        )
    });
    if only_text || role == "assistant" {
        let text: String = parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("");
        return Value::String(text);
    }
    Value::Array(
        parts
            .iter()
            .filter_map(|p| match p.get("type").and_then(Value::as_str) {
                Some("input_text" | "output_text") => {
                    Some(json!({"type": "text", "text": p.get("text")}))
                }
                Some("input_image") => {
                    let mut image = json!({"url": p.get("image_url")});
                    if let Some(detail) = p.get("detail") {
                        image["detail"] = detail.clone();
                    }
                    Some(json!({"type": "image_url", "image_url": image}))
                }
                _ => None,
            })
            .collect(),
    )
}

/// The call ids of function calls in `items` that no later
/// `function_call_output` answers.
pub fn unanswered_calls(items: &[Value]) -> Vec<String> {
    let mut open: Vec<String> = Vec::new();
    for item in items {
        let call_id = item.get("call_id").and_then(Value::as_str);
        match (item.get("type").and_then(Value::as_str), call_id) {
            (Some("function_call"), Some(id)) => open.push(id.to_owned()),
            (Some("function_call_output"), Some(id)) => open.retain(|c| c != id),
            _ => {}
        }
    }
    open
}

/// The text of an output message item.
pub fn message_text(item: &Value) -> String {
    item.get("content")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("output_text"))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<String>()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_round_trip_becomes_chat_messages() {
        let items = vec![
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]}),
            json!({"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\":\"SF\"}"}),
            json!({"type": "function_call", "call_id": "c2", "name": "get_time", "arguments": "{}"}),
            json!({"type": "function_call_output", "call_id": "c1", "output": "68F"}),
            json!({"type": "function_call_output", "call_id": "c2", "output": "noon"}),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "68F at noon"}]}),
        ];
        let m = to_chat_messages(Some("be brief"), &items);
        assert_eq!(m.len(), 6);
        assert_eq!(m[0], json!({"role": "system", "content": "be brief"}));
        assert_eq!(m[1]["content"], "weather?");
        assert_eq!(m[2]["tool_calls"].as_array().unwrap().len(), 2);
        assert_eq!(
            m[3],
            json!({"role": "tool", "tool_call_id": "c1", "content": "68F"})
        );
        assert_eq!(m[4]["tool_call_id"], "c2");
        assert_eq!(m[5], json!({"role": "assistant", "content": "68F at noon"}));
    }

    #[test]
    fn builtin_calls_carry_their_own_results() {
        let items = vec![json!({
            "type": BUILTIN_CALL, "call_id": "t1", "name": "read_file",
            "arguments": "{\"path\":\"a.txt\"}", "output": "hello", "status": "completed"
        })];
        let m = to_chat_messages(None, &items);
        assert_eq!(m[0]["tool_calls"][0]["function"]["name"], "read_file");
        assert_eq!(
            m[1],
            json!({"role": "tool", "tool_call_id": "t1", "content": "hello"})
        );
    }

    #[test]
    fn images_stay_parts() {
        let items = vec![json!({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "what is this?"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}
        ]})];
        let m = to_chat_messages(None, &items);
        assert_eq!(
            m[0]["content"][1]["image_url"]["url"],
            "data:image/png;base64,AAAA"
        );
    }

    #[test]
    fn unanswered_calls_are_found() {
        let items = vec![
            json!({"type": "function_call", "call_id": "a"}),
            json!({"type": "function_call", "call_id": "b"}),
            json!({"type": "function_call_output", "call_id": "a"}),
        ];
        assert_eq!(unanswered_calls(&items), vec!["b".to_owned()]);
    }
}
