//! OpenAI tools → Anthropic tools: `{type:"function",function:{name,
//! description,parameters}}` becomes `{name,description,input_schema}`, and
//! `tool_choice` plus `parallel_tool_calls` become Anthropic's `tool_choice`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::ProviderError;

#[derive(Debug, Serialize)]
pub(super) struct Tool {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    input_schema: Value,
}

/// OpenAI function tools → Anthropic tools.
pub(super) fn tools(tools: Option<Value>) -> Result<Option<Vec<Tool>>, ProviderError> {
    let tools = match tools {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(tools)) if tools.is_empty() => return Ok(None),
        Some(Value::Array(tools)) => tools,
        Some(_) => {
            return Err(ProviderError::unsupported(
                "tools",
                "tools must be an array",
            ));
        }
    };
    tools
        .into_iter()
        .enumerate()
        .map(|(k, tool)| {
            let is_function = tool.get("type").and_then(Value::as_str) == Some("function");
            let function = tool.get("function");
            let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
            let (true, Some(function), Some(name)) = (is_function, function, name) else {
                return Err(ProviderError::unsupported(
                    "tools",
                    format!(
                        "tools[{k}] must be {{\"type\":\"function\",\"function\":{{\"name\",…}}}} for anthropic models"
                    ),
                ));
            };
            Ok(Tool {
                name: name.to_owned(),
                description: function
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                input_schema: function
                    .get("parameters")
                    .filter(|p| p.is_object())
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// OpenAI `tool_choice` and `parallel_tool_calls` → Anthropic `tool_choice`.
pub(super) fn tool_choice(
    choice: Option<&Value>,
    parallel: Option<&Value>,
) -> Result<Option<Value>, ProviderError> {
    let mut out = Map::new();
    match choice {
        None | Some(Value::Null) => {
            out.insert("type".into(), "auto".into());
        }
        Some(Value::String(choice)) => {
            let kind = match choice.as_str() {
                "auto" => "auto",
                "required" => "any",
                "none" => "none",
                _ => {
                    return Err(ProviderError::unsupported(
                        "tool_choice",
                        "tool_choice must be auto, required, none or a function",
                    ));
                }
            };
            out.insert("type".into(), kind.into());
        }
        Some(choice) => {
            let name = choice
                .pointer("/function/name")
                .and_then(Value::as_str)
                .filter(|_| choice.get("type").and_then(Value::as_str) == Some("function"));
            let Some(name) = name else {
                return Err(ProviderError::unsupported(
                    "tool_choice",
                    "tool_choice must be auto, required, none or {\"type\":\"function\",\"function\":{\"name\"}}",
                ));
            };
            out.insert("type".into(), "tool".into());
            out.insert("name".into(), name.into());
        }
    }
    let parallel_off = parallel.and_then(Value::as_bool) == Some(false);
    if parallel_off && out.get("type").and_then(Value::as_str) != Some("none") {
        out.insert("disable_parallel_tool_use".into(), true.into());
    } else if choice.is_none() || choice == Some(&Value::Null) {
        // Anthropic's default is auto: say nothing.
        return Ok(None);
    }
    Ok(Some(Value::Object(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn choice(tool_choice: Value, parallel: Value) -> Option<Value> {
        let some = |v: Value| (!v.is_null()).then_some(v);
        let (tool_choice, parallel) = (some(tool_choice), some(parallel));
        super::tool_choice(tool_choice.as_ref(), parallel.as_ref()).unwrap()
    }

    #[test]
    fn tool_choice_mapping() {
        assert_eq!(
            choice(json!("auto"), Value::Null),
            Some(json!({"type": "auto"}))
        );
        assert_eq!(
            choice(json!("required"), Value::Null),
            Some(json!({"type": "any"}))
        );
        assert_eq!(
            choice(json!("none"), Value::Null),
            Some(json!({"type": "none"}))
        );
        assert_eq!(
            choice(
                json!({"type": "function", "function": {"name": "f"}}),
                Value::Null
            ),
            Some(json!({"type": "tool", "name": "f"}))
        );
        // Anthropic's default is auto: nothing is sent.
        assert_eq!(choice(Value::Null, Value::Null), None);
        assert_eq!(
            choice(Value::Null, json!(false)),
            Some(json!({"type": "auto", "disable_parallel_tool_use": true}))
        );
        assert_eq!(
            choice(json!("required"), json!(false)),
            Some(json!({"type": "any", "disable_parallel_tool_use": true}))
        );
        assert_eq!(
            choice(json!("none"), json!(false)),
            Some(json!({"type": "none"}))
        );
        assert_eq!(
            choice(json!("auto"), json!(true)),
            Some(json!({"type": "auto"}))
        );
        for bad in [
            json!("sometimes"),
            json!({"type": "allowed_tools"}),
            json!(3),
        ] {
            assert!(matches!(
                super::tool_choice(Some(&bad), None),
                Err(ProviderError::Unsupported {
                    param: "tool_choice",
                    ..
                })
            ));
        }
    }

    #[test]
    fn function_tools_become_anthropic_tools() {
        let out = tools(Some(json!([
            {"type": "function", "function": {"name": "weather", "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}},
            {"type": "function", "function": {"name": "now"}}
        ])))
        .unwrap();
        assert_eq!(
            serde_json::to_value(out).unwrap(),
            json!([
                {"name": "weather", "description": "Current weather",
                 "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
                {"name": "now", "input_schema": {"type": "object", "properties": {}}}
            ])
        );
        assert!(tools(Some(json!([]))).unwrap().is_none());
        assert!(matches!(
            tools(Some(json!([{"type": "custom", "custom": {"name": "g"}}]))),
            Err(ProviderError::Unsupported { param: "tools", .. })
        ));
    }
}
