//! `POST /v1/responses` bodies: parsed and checked field by field, so each
//! mistake is a 400 that names the field (`input[2].call_id`).

use crate::EngineError;
use serde_json::{Map, Value};

/// A checked create-response request.
#[derive(Debug, Clone)]
pub struct CreateResponse {
    pub model: String,
    /// Input items, normalised: a string input is one user message; items
    /// without `type` but with `role` are messages.
    pub input: Vec<Value>,
    pub instructions: Option<String>,
    pub conversation: Option<String>,
    pub previous_response_id: Option<String>,
    /// Client function tools, as sent.
    pub functions: Vec<FunctionTool>,
    /// Built-in families named in `tools` (they are on by default anyway).
    pub builtins_named: Vec<String>,
    pub tool_choice: ToolChoice,
    /// `tool_choice` as the client sent it (echoed in the response).
    pub tool_choice_raw: Value,
    pub parallel_tool_calls: bool,
    pub max_output_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// `text.format`, when given.
    pub text_format: Option<Value>,
    pub stream: bool,
    pub store: bool,
    pub metadata: Map<String, Value>,
    pub user: Option<String>,
}

/// A client-side function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionTool {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Value,
    pub strict: Option<bool>,
}

/// Which tools the model may call.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    /// Exactly this function.
    Function(String),
    /// Only these tools; `required` forces a call to one of them.
    Allowed {
        required: bool,
        tools: Vec<AllowedTool>,
    },
}

/// One entry of an `allowed_tools` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedTool {
    Function(String),
    /// A built-in family by its tool type (e.g. `file_operations`).
    Builtin(String),
}

/// The tool type of the built-in file family, and its Kindo-style alias.
pub const FILE_OPERATIONS: &str = "file_operations";
const FILE_OPERATIONS_ALIAS: &str = "kindo_file_operations";

const MAX_METADATA_PAIRS: usize = 16;
const MAX_METADATA_KEY: usize = 64;
const MAX_METADATA_VALUE: usize = 512;

fn invalid(param: impl Into<String>, message: impl Into<String>) -> EngineError {
    EngineError::Invalid {
        param: param.into().into(),
        message: message.into(),
    }
}

/// Parses and checks a request body.
pub fn parse(body: &Map<String, Value>) -> Result<CreateResponse, EngineError> {
    const KNOWN: &[&str] = &[
        "model",
        "input",
        "instructions",
        "conversation",
        "previous_response_id",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "text",
        "stream",
        "store",
        "metadata",
        "user",
        "include",
        "truncation",
        "reasoning",
        "prompt_cache_key",
        "safety_identifier",
        "service_tier",
        "background",
        "max_tool_calls",
        "top_logprobs",
        "stream_options",
    ];
    if let Some(unknown) = body.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(invalid(
            unknown.as_str(),
            format!("unknown parameter '{unknown}'"),
        ));
    }
    if body.get("background").and_then(Value::as_bool) == Some(true) {
        return Err(EngineError::Unsupported {
            param: "background".into(),
            message: "background responses are not supported".into(),
            code: "unsupported_parameter",
        });
    }
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.clone(),
        None | Some(Value::Null) => {
            return Err(invalid("model", "you must provide a model parameter"));
        }
        Some(_) => return Err(invalid("model", "model must be a non-empty string")),
    };
    let input = parse_input(body.get("input"))?;
    let conversation = match body.get("conversation") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
        Some(Value::Object(o)) => match o.get("id") {
            Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
            _ => {
                return Err(invalid(
                    "conversation.id",
                    "conversation.id must be a string",
                ));
            }
        },
        Some(_) => {
            return Err(invalid(
                "conversation",
                "conversation must be an id or {\"id\": …}",
            ));
        }
    };
    let previous_response_id = optional_string(body, "previous_response_id")?;
    if conversation.is_some() && previous_response_id.is_some() {
        return Err(EngineError::Rejected {
            param: "previous_response_id".into(),
            message: "conversation and previous_response_id are mutually exclusive; pass one"
                .into(),
            code: "mutually_exclusive_parameters",
        });
    }
    let (functions, builtins_named) = parse_tools(body.get("tools"))?;
    let tool_choice_raw = body
        .get("tool_choice")
        .cloned()
        .unwrap_or(Value::String("auto".into()));
    let tool_choice = parse_tool_choice(&tool_choice_raw, &functions)?;
    let text_format = match body.get("text") {
        None | Some(Value::Null) => None,
        Some(Value::Object(text)) => match text.get("format") {
            None | Some(Value::Null) => None,
            Some(f @ Value::Object(fo)) => match fo.get("type").and_then(Value::as_str) {
                Some("text") => None,
                Some("json_object") => Some(f.clone()),
                Some("json_schema") => {
                    if !fo.get("schema").is_some_and(Value::is_object) {
                        return Err(invalid(
                            "text.format.schema",
                            "json_schema format needs a schema object",
                        ));
                    }
                    Some(f.clone())
                }
                _ => {
                    return Err(invalid(
                        "text.format.type",
                        "text.format.type must be text, json_object or json_schema",
                    ));
                }
            },
            Some(_) => return Err(invalid("text.format", "text.format must be an object")),
        },
        Some(_) => return Err(invalid("text", "text must be an object")),
    };
    Ok(CreateResponse {
        model,
        input,
        instructions: optional_string(body, "instructions")?,
        conversation,
        previous_response_id,
        functions,
        builtins_named,
        tool_choice,
        tool_choice_raw,
        parallel_tool_calls: optional_bool(body, "parallel_tool_calls")?.unwrap_or(true),
        max_output_tokens: match body.get("max_output_tokens") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                invalid(
                    "max_output_tokens",
                    "max_output_tokens must be a positive integer",
                )
            })?),
        },
        temperature: optional_number(body, "temperature", 0.0, 2.0)?,
        top_p: optional_number(body, "top_p", 0.0, 1.0)?,
        text_format,
        stream: optional_bool(body, "stream")?.unwrap_or(false),
        store: optional_bool(body, "store")?.unwrap_or(true),
        metadata: parse_metadata(body.get("metadata"))?,
        user: optional_string(body, "user")?,
    })
}

pub(super) fn parse_input(input: Option<&Value>) -> Result<Vec<Value>, EngineError> {
    let items = match input {
        None | Some(Value::Null) => return Err(invalid("input", "you must provide input")),
        // Some providers refuse an empty turn (Anthropic drops empty text
        // and then has no message): say so here, naming the field.
        Some(Value::String(text)) if text.is_empty() => {
            return Err(invalid("input", "input must not be empty"));
        }
        Some(Value::String(text)) => {
            return Ok(vec![serde_json::json!({
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            })]);
        }
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(invalid("input", "input must not be empty"));
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(invalid(
                "input",
                "input must be a string or an array of items",
            ));
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| normalise_item(item, &format!("input[{i}]")))
        .collect()
}

/// Checks one input item and gives it its canonical shape.
fn normalise_item(item: &Value, at: &str) -> Result<Value, EngineError> {
    let Value::Object(o) = item else {
        return Err(invalid(at, "each input item must be an object"));
    };
    let kind = match o.get("type") {
        Some(Value::String(t)) => t.as_str(),
        None if o.contains_key("role") => "message",
        _ => {
            return Err(invalid(
                format!("{at}.type"),
                "each input item needs a type",
            ));
        }
    };
    let string_field = |field: &str| -> Result<String, EngineError> {
        match o.get(field) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(invalid(
                format!("{at}.{field}"),
                format!("{field} must be a non-empty string"),
            )),
        }
    };
    match kind {
        "message" => {
            let role = string_field("role")?;
            if !["user", "assistant", "system", "developer"].contains(&role.as_str()) {
                return Err(invalid(
                    format!("{at}.role"),
                    format!("unknown role '{role}': expected user, assistant, system or developer"),
                ));
            }
            let content = normalise_content(o.get("content"), &role, &format!("{at}.content"))?;
            let mut out = serde_json::json!({"type": "message", "role": role, "content": content});
            if let Some(Value::String(id)) = o.get("id") {
                out["id"] = Value::String(id.clone());
            }
            Ok(out)
        }
        "function_call" => {
            let arguments = match o.get("arguments") {
                Some(Value::String(a)) => a.clone(),
                _ => {
                    return Err(invalid(
                        format!("{at}.arguments"),
                        "arguments must be a JSON string",
                    ));
                }
            };
            let mut out = serde_json::json!({
                "type": "function_call",
                "call_id": string_field("call_id")?,
                "name": string_field("name")?,
                "arguments": arguments,
            });
            if let Some(Value::String(id)) = o.get("id") {
                out["id"] = Value::String(id.clone());
            }
            Ok(out)
        }
        "function_call_output" => {
            let output = match o.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(""),
                _ => return Err(invalid(format!("{at}.output"), "output must be a string")),
            };
            Ok(serde_json::json!({
                "type": "function_call_output",
                "call_id": string_field("call_id")?,
                "output": output,
            }))
        }
        "item_reference" => {
            Ok(serde_json::json!({"type": "item_reference", "id": string_field("id")?}))
        }
        other => Err(invalid(
            format!("{at}.type"),
            format!("unsupported input item type '{other}'"),
        )),
    }
}

/// Content as a list of typed parts.
fn normalise_content(content: Option<&Value>, role: &str, at: &str) -> Result<Value, EngineError> {
    let text_type = if role == "assistant" {
        "output_text"
    } else {
        "input_text"
    };
    match content {
        Some(Value::String(text)) => Ok(serde_json::json!([{"type": text_type, "text": text}])),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let at = format!("{at}[{j}]");
                let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
                match kind {
                    "input_text" | "output_text" | "text" => {
                        let Some(text) = part.get("text").and_then(Value::as_str) else {
                            return Err(invalid(
                                format!("{at}.text"),
                                "text parts need a string text",
                            ));
                        };
                        let kind = if kind == "text" { text_type } else { kind };
                        out.push(serde_json::json!({"type": kind, "text": text}));
                    }
                    "input_image" => {
                        let Some(url) = part.get("image_url").and_then(Value::as_str) else {
                            return Err(invalid(
                                format!("{at}.image_url"),
                                "input_image parts need an image_url (an http(s) or data URL)",
                            ));
                        };
                        let mut p = serde_json::json!({"type": "input_image", "image_url": url});
                        if let Some(detail) = part.get("detail").and_then(Value::as_str) {
                            p["detail"] = Value::String(detail.to_owned());
                        }
                        out.push(p);
                    }
                    "refusal" => out.push(part.clone()),
                    other => {
                        return Err(invalid(
                            format!("{at}.type"),
                            format!("unsupported content part type '{other}'"),
                        ));
                    }
                }
            }
            Ok(Value::Array(out))
        }
        _ => Err(invalid(
            at,
            "content must be a string or an array of content parts",
        )),
    }
}

fn parse_tools(tools: Option<&Value>) -> Result<(Vec<FunctionTool>, Vec<String>), EngineError> {
    let mut functions: Vec<FunctionTool> = Vec::new();
    let mut builtins = Vec::new();
    let items = match tools {
        None | Some(Value::Null) => return Ok((functions, builtins)),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("tools", "tools must be an array")),
    };
    for (i, tool) in items.iter().enumerate() {
        let at = format!("tools[{i}]");
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "function" => {
                let name = match tool.get("name") {
                    Some(Value::String(n)) if valid_function_name(n) => n.clone(),
                    _ => {
                        return Err(invalid(
                            format!("{at}.name"),
                            "function names must be 1-64 characters of a-z, A-Z, 0-9, _ and -",
                        ));
                    }
                };
                if functions.iter().any(|f| f.name == name)
                    || hearth_tools::BuiltinTool::from_name(&name).is_some()
                {
                    return Err(invalid(
                        format!("{at}.name"),
                        format!("a tool named '{name}' is already defined"),
                    ));
                }
                let parameters = match tool.get("parameters") {
                    None | Some(Value::Null) => {
                        serde_json::json!({"type": "object", "properties": {}})
                    }
                    Some(Value::Object(p)) => {
                        if p.get("type").is_some_and(|t| t != "object") {
                            return Err(invalid(
                                format!("{at}.parameters.type"),
                                "parameters must be a JSON schema of type object",
                            ));
                        }
                        if p.get("properties").is_some_and(|props| !props.is_object()) {
                            return Err(invalid(
                                format!("{at}.parameters.properties"),
                                "properties must be an object",
                            ));
                        }
                        if p.get("required").is_some_and(|r| {
                            !r.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                        }) {
                            return Err(invalid(
                                format!("{at}.parameters.required"),
                                "required must be an array of property names",
                            ));
                        }
                        Value::Object(p.clone())
                    }
                    Some(_) => {
                        return Err(invalid(
                            format!("{at}.parameters"),
                            "parameters must be a JSON schema object",
                        ));
                    }
                };
                functions.push(FunctionTool {
                    name,
                    description: tool
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    parameters,
                    strict: tool.get("strict").and_then(Value::as_bool),
                });
            }
            FILE_OPERATIONS | FILE_OPERATIONS_ALIAS => builtins.push(FILE_OPERATIONS.to_owned()),
            "mcp" => {
                return Err(EngineError::Unsupported {
                    param: format!("{at}.type").into(),
                    message: "MCP integrations are not configured on this server".into(),
                    code: "unsupported_tool_type",
                });
            }
            "" => return Err(invalid(format!("{at}.type"), "each tool needs a type")),
            other => {
                return Err(EngineError::Unsupported {
                    param: format!("{at}.type").into(),
                    message: format!("unsupported tool type '{other}'"),
                    code: "unsupported_tool_type",
                });
            }
        }
    }
    Ok((functions, builtins))
}

fn valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn parse_tool_choice(raw: &Value, functions: &[FunctionTool]) -> Result<ToolChoice, EngineError> {
    let known = |name: &str| {
        functions.iter().any(|f| f.name == name)
            || hearth_tools::BuiltinTool::from_name(name).is_some()
    };
    match raw {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(invalid(
                "tool_choice",
                "tool_choice must be auto, none, required or an object",
            )),
        },
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = o.get("name").and_then(Value::as_str).unwrap_or("");
                if !known(name) {
                    return Err(invalid(
                        "tool_choice.name",
                        format!("no tool named '{name}' is available"),
                    ));
                }
                Ok(ToolChoice::Function(name.to_owned()))
            }
            Some("allowed_tools") => {
                let required = match o.get("mode").and_then(Value::as_str) {
                    None | Some("auto") => false,
                    Some("required") => true,
                    Some(_) => {
                        return Err(invalid("tool_choice.mode", "mode must be auto or required"));
                    }
                };
                let Some(list) = o.get("tools").and_then(Value::as_array) else {
                    return Err(invalid(
                        "tool_choice.tools",
                        "allowed_tools needs a tools array",
                    ));
                };
                let mut tools = Vec::with_capacity(list.len());
                for (i, t) in list.iter().enumerate() {
                    match t.get("type").and_then(Value::as_str) {
                        Some("function") => {
                            let name = t.get("name").and_then(Value::as_str).unwrap_or("");
                            if !known(name) {
                                return Err(invalid(
                                    format!("tool_choice.tools[{i}].name"),
                                    format!("no tool named '{name}' is available"),
                                ));
                            }
                            tools.push(AllowedTool::Function(name.to_owned()));
                        }
                        Some(FILE_OPERATIONS | FILE_OPERATIONS_ALIAS) => {
                            tools.push(AllowedTool::Builtin(FILE_OPERATIONS.to_owned()))
                        }
                        // MCP integrations are not configured: allowing one allows nothing.
                        Some("mcp") => {}
                        _ => {
                            return Err(invalid(
                                format!("tool_choice.tools[{i}].type"),
                                "unsupported tool type in allowed_tools",
                            ));
                        }
                    }
                }
                Ok(ToolChoice::Allowed { required, tools })
            }
            _ => Err(invalid(
                "tool_choice.type",
                "tool_choice.type must be function or allowed_tools",
            )),
        },
        Value::Null => Ok(ToolChoice::Auto),
        _ => Err(invalid(
            "tool_choice",
            "tool_choice must be a string or an object",
        )),
    }
}

pub(super) fn parse_metadata(raw: Option<&Value>) -> Result<Map<String, Value>, EngineError> {
    let map = match raw {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(invalid("metadata", "metadata must be an object of strings")),
    };
    if map.len() > MAX_METADATA_PAIRS {
        return Err(invalid(
            "metadata",
            format!("metadata may hold at most {MAX_METADATA_PAIRS} pairs"),
        ));
    }
    for (k, v) in map {
        if k.chars().count() > MAX_METADATA_KEY {
            return Err(invalid(
                format!("metadata.{k}"),
                format!("metadata keys may be at most {MAX_METADATA_KEY} characters"),
            ));
        }
        match v {
            Value::String(s) if s.chars().count() <= MAX_METADATA_VALUE => {}
            Value::String(_) => {
                return Err(invalid(
                    format!("metadata.{k}"),
                    format!("metadata values may be at most {MAX_METADATA_VALUE} characters"),
                ));
            }
            _ => {
                return Err(invalid(
                    format!("metadata.{k}"),
                    "metadata values must be strings",
                ));
            }
        }
    }
    Ok(map.clone())
}

fn optional_string(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, EngineError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(field, format!("{field} must be a string"))),
    }
}

fn optional_bool(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<bool>, EngineError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(field, format!("{field} must be a boolean"))),
    }
}

fn optional_number(
    body: &Map<String, Value>,
    field: &'static str,
    min: f64,
    max: f64,
) -> Result<Option<f64>, EngineError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|n| (min..=max).contains(n))
            .map(Some)
            .ok_or_else(|| {
                invalid(
                    field,
                    format!("{field} must be a number from {min} to {max}"),
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn param(body: Value) -> String {
        match parse(body.as_object().unwrap()) {
            Err(
                EngineError::Invalid { param, .. }
                | EngineError::Unsupported { param, .. }
                | EngineError::Rejected { param, .. },
            ) => param.into_owned(),
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn string_input_becomes_a_user_message() {
        let r = parse(json!({"model": "m", "input": "hi"}).as_object().unwrap()).unwrap();
        assert_eq!(r.input[0]["role"], "user");
        assert_eq!(r.input[0]["content"][0]["text"], "hi");
        assert!(r.store && !r.stream && r.parallel_tool_calls);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(param(json!({"input": "x"})), "model");
        assert_eq!(param(json!({"model": "m"})), "input");
        assert_eq!(param(json!({"model": "m", "input": ""})), "input");
        assert_eq!(
            param(
                json!({"model": "m", "input": [{"type": "function_call_output", "output": "x"}]})
            ),
            "input[0].call_id"
        );
        assert_eq!(
            param(json!({"model": "m", "input": [{"role": "wizard", "content": "x"}]})),
            "input[0].role"
        );
        assert_eq!(
            param(
                json!({"model": "m", "input": "x", "conversation": "c", "previous_response_id": "r"})
            ),
            "previous_response_id"
        );
        assert_eq!(
            param(json!({"model": "m", "input": "x", "tools": [{"type": "retrieval"}]})),
            "tools[0].type"
        );
        assert_eq!(
            param(
                json!({"model": "m", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": {"type": "string"}}]})
            ),
            "tools[0].parameters.type"
        );
        assert_eq!(
            param(
                json!({"model": "m", "input": "x", "tools": [{"type": "function", "name": "bad name"}]})
            ),
            "tools[0].name"
        );
        assert_eq!(
            param(
                json!({"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "nope"}})
            ),
            "tool_choice.name"
        );
        assert_eq!(
            param(json!({"model": "m", "input": "x", "temperature": 9})),
            "temperature"
        );
        assert_eq!(
            param(json!({"model": "m", "input": "x", "bogus": 1})),
            "bogus"
        );
    }

    #[test]
    fn metadata_is_bounded() {
        let many: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(
            param(json!({"model": "m", "input": "x", "metadata": many})),
            "metadata"
        );
        let long_key = "k".repeat(65);
        assert_eq!(
            param(json!({"model": "m", "input": "x", "metadata": {long_key.clone(): "v"}})),
            format!("metadata.{long_key}")
        );
        assert_eq!(
            param(json!({"model": "m", "input": "x", "metadata": {"k": "v".repeat(513)}})),
            "metadata.k"
        );
        assert_eq!(
            param(json!({"model": "m", "input": "x", "metadata": {"k": 1}})),
            "metadata.k"
        );
    }

    #[test]
    fn allowed_tools_parse() {
        let body = json!({
            "model": "m", "input": "x",
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}],
            "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]}
        });
        let r = parse(body.as_object().unwrap()).unwrap();
        assert_eq!(
            r.tool_choice,
            ToolChoice::Allowed {
                required: false,
                tools: vec![AllowedTool::Function("get_weather".into())]
            }
        );
    }
}
