//! Legacy completions (`/v1/completions`) for upstreams that only have chat:
//! the request becomes a one-message chat request, and the chat answer
//! becomes a `text_completion`.
//!
//! Fields of the legacy API that chat cannot express are refused rather
//! than silently dropped: several prompts, token-id prompts, `suffix`,
//! `echo`, `best_of > 1` and `logprobs` (whose legacy shape the chat
//! answer cannot fill).

use serde_json::{Map, Value, json};

use crate::ProviderError;

/// The chat body for a legacy completions body: `prompt` becomes one user
/// message; every other field is kept (chat understands the common ones).
pub(crate) fn chat_body(mut body: Map<String, Value>) -> Result<Map<String, Value>, ProviderError> {
    let prompt = match body.remove("prompt") {
        Some(Value::String(prompt)) => prompt,
        Some(Value::Array(prompts)) => one_prompt(prompts)?,
        _ => {
            return Err(ProviderError::unsupported(
                "prompt",
                "prompt must be a string (or an array of one string) for this model",
            ));
        }
    };
    if let Some(suffix) = body.remove("suffix")
        && suffix.as_str().is_some_and(|s| !s.is_empty())
    {
        return Err(ProviderError::unsupported(
            "suffix",
            "suffix is not supported for this model",
        ));
    }
    if body.remove("echo").and_then(|v| v.as_bool()) == Some(true) {
        return Err(ProviderError::unsupported(
            "echo",
            "echo is not supported for this model",
        ));
    }
    if body
        .remove("best_of")
        .and_then(|v| v.as_u64())
        .is_some_and(|n| n > 1)
    {
        return Err(ProviderError::unsupported(
            "best_of",
            "best_of greater than 1 is not supported for this model",
        ));
    }
    if body
        .remove("logprobs")
        .is_some_and(|v| !v.is_null() && v.as_u64() != Some(0))
    {
        return Err(ProviderError::unsupported(
            "logprobs",
            "logprobs is not supported on /v1/completions for this model",
        ));
    }
    body.insert(
        "messages".to_owned(),
        json!([{"role": "user", "content": prompt}]),
    );
    Ok(body)
}

/// The single prompt of a prompt array.
fn one_prompt(prompts: Vec<Value>) -> Result<String, ProviderError> {
    let mut prompts = prompts.into_iter();
    match (prompts.next(), prompts.next()) {
        (Some(Value::String(prompt)), None) => Ok(prompt),
        (Some(Value::String(_)), Some(_)) => Err(ProviderError::unsupported(
            "prompt",
            "only one prompt per request is supported for this model",
        )),
        _ => Err(ProviderError::unsupported(
            "prompt",
            "prompt must be a string (or an array of one string) for this model; token ids are not supported",
        )),
    }
}

/// The legacy `id` for a chat `id`: `chatcmpl-x` becomes `cmpl-x`.
pub(crate) fn text_id(chat_id: &str) -> String {
    format!(
        "cmpl-{}",
        chat_id.strip_prefix("chatcmpl-").unwrap_or(chat_id)
    )
}

/// A `text_completion` object from a `chat.completion` object.
pub(crate) fn text_completion(chat: &Value) -> Value {
    let choices: Vec<Value> = chat
        .get("choices")
        .and_then(Value::as_array)
        .map(|choices| {
            choices
                .iter()
                .map(|choice| {
                    let text = choice
                        .pointer("/message/content")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    json!({
                        "text": text,
                        "index": choice.get("index").cloned().unwrap_or(json!(0)),
                        "logprobs": null,
                        "finish_reason": choice.get("finish_reason").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = Map::new();
    let id = chat.get("id").and_then(Value::as_str).unwrap_or("");
    out.insert("id".to_owned(), json!(text_id(id)));
    out.insert("object".to_owned(), json!("text_completion"));
    for field in ["created", "model"] {
        out.insert(
            field.to_owned(),
            chat.get(field).cloned().unwrap_or(Value::Null),
        );
    }
    out.insert("choices".to_owned(), Value::Array(choices));
    for field in ["usage", "system_fingerprint"] {
        if let Some(value) = chat.get(field) {
            out.insert(field.to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn prompt_becomes_a_user_message_and_other_fields_stay() {
        let chat = chat_body(body(json!({
            "model": "m", "prompt": ["Say hi"], "max_tokens": 5, "stop": "\n",
            "temperature": 0.2, "echo": false, "best_of": 1, "logprobs": null, "suffix": ""
        })))
        .unwrap();
        assert_eq!(
            Value::Object(chat),
            json!({"model": "m", "max_tokens": 5, "stop": "\n", "temperature": 0.2,
                   "messages": [{"role": "user", "content": "Say hi"}]})
        );
    }

    #[test]
    fn inexpressible_fields_are_refused_by_name() {
        let param = |value: Value| match chat_body(body(value)) {
            Err(ProviderError::Unsupported { param, .. }) => param,
            other => panic!("{other:?}"),
        };
        assert_eq!(param(json!({"prompt": ["a", "b"]})), "prompt");
        assert_eq!(param(json!({"prompt": [1, 2, 3]})), "prompt");
        assert_eq!(param(json!({"prompt": 5})), "prompt");
        assert_eq!(param(json!({"prompt": "a", "echo": true})), "echo");
        assert_eq!(param(json!({"prompt": "a", "best_of": 3})), "best_of");
        assert_eq!(param(json!({"prompt": "a", "suffix": "end"})), "suffix");
        assert_eq!(param(json!({"prompt": "a", "logprobs": 2})), "logprobs");
    }

    #[test]
    fn chat_answer_becomes_text_completion() {
        let chat = json!({
            "id": "chatcmpl-42", "object": "chat.completion", "created": 9, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}
        });
        assert_eq!(
            text_completion(&chat),
            json!({
                "id": "cmpl-42", "object": "text_completion", "created": 9, "model": "m",
                "choices": [{"text": "Hi", "index": 0, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}
            })
        );
    }
}
