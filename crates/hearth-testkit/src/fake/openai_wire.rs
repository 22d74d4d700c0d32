//! OpenAI response bodies and SSE events (`ev_*`): `chat.completion`,
//! `chat.completion.chunk` (text and tool-call deltas, the `include_usage`
//! chunk), `text_completion` and its stream, and the error envelope.

use super::script::ToolCall;
use super::wire::{argument_fragments, arguments_text, data_event, text_deltas};
use hyper::body::Bytes;
use serde_json::{Value, json};

/// The stream terminator.
const DONE: &str = "data: [DONE]\n\n";
const FINGERPRINT: &str = "fp_fake";
/// What OpenAI says when it fails mid-stream.
pub(crate) const SERVER_ERROR_MESSAGE: &str =
    "The server had an error while processing your request. Sorry about that!";

/// What every body or chunk of one answer shares.
pub(crate) struct Turn<'a> {
    /// `chatcmpl-…` or `cmpl-…`; the same in every chunk.
    pub id: String,
    pub created: u64,
    /// Echoes the request's model.
    pub model: &'a str,
    /// `(prompt, completion)` tokens.
    pub usage: (u64, u64),
    /// The request had `stream_options.include_usage: true`.
    pub include_usage: bool,
}

/// The `usage` object of chat completions.
fn chat_usage((prompt, completion): (u64, u64)) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

/// The `usage` object of legacy completions.
fn completion_usage((prompt, completion): (u64, u64)) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

fn tool_call_json(call: &ToolCall) -> Value {
    json!({
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments_text(&call.arguments)}
    })
}

/// A whole `chat.completion` answering with text.
pub(crate) fn chat_text(turn: &Turn, text: &str) -> Value {
    let message = json!({"role": "assistant", "content": text, "refusal": null, "annotations": []});
    chat_completion(turn, message, "stop")
}

/// A whole `chat.completion` calling tools.
pub(crate) fn chat_tool_calls(turn: &Turn, calls: &[ToolCall]) -> Value {
    let message = json!({
        "role": "assistant",
        "content": null,
        "refusal": null,
        "annotations": [],
        "tool_calls": calls.iter().map(tool_call_json).collect::<Vec<_>>()
    });
    chat_completion(turn, message, "tool_calls")
}

fn chat_completion(turn: &Turn, message: Value, finish_reason: &str) -> Value {
    json!({
        "id": turn.id,
        "object": "chat.completion",
        "created": turn.created,
        "model": turn.model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": chat_usage(turn.usage),
        "service_tier": "default"
    })
}

/// One `chat.completion.chunk` with one choice.
fn ev_chat_chunk(turn: &Turn, delta: Value, finish_reason: Option<&str>) -> Bytes {
    let choices =
        json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]);
    data_event(&chunk_object(turn, "chat.completion.chunk", choices))
}

/// The chunk object around `choices`; with `include_usage`, every chunk but
/// the last carries `"usage": null`.
fn chunk_object(turn: &Turn, object: &str, choices: Value) -> Value {
    let mut chunk = json!({
        "id": turn.id,
        "object": object,
        "created": turn.created,
        "model": turn.model,
        "system_fingerprint": FINGERPRINT,
        "choices": choices
    });
    if turn.include_usage {
        chunk["usage"] = Value::Null;
    }
    chunk
}

/// The final usage chunk: no choices, the usage of the whole request.
fn ev_usage_chunk(turn: &Turn, object: &str, usage: Value) -> Bytes {
    let mut chunk = chunk_object(turn, object, json!([]));
    chunk["usage"] = usage;
    data_event(&chunk)
}

/// A mid-stream error, as OpenAI sends it: a data event with an `error`.
pub(crate) fn ev_error(message: &str) -> Bytes {
    data_event(&error_body(message, "server_error", None))
}

/// The stream of a text answer. With `fail_after`, only that many content
/// deltas go out, followed by an error event and nothing else.
pub(crate) fn chat_text_events(turn: &Turn, text: &str, fail_after: Option<usize>) -> Vec<Bytes> {
    let mut events = vec![ev_chat_chunk(
        turn,
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
    )];
    let pieces = text_deltas(text);
    let sent = fail_after.unwrap_or(pieces.len());
    for piece in pieces.iter().take(sent) {
        events.push(ev_chat_chunk(turn, json!({"content": piece}), None));
    }
    if fail_after.is_some() {
        events.push(ev_error(SERVER_ERROR_MESSAGE));
        return events;
    }
    events.push(ev_chat_chunk(turn, json!({}), Some("stop")));
    finish(
        turn,
        "chat.completion.chunk",
        chat_usage(turn.usage),
        events,
    )
}

/// The stream of a tool-calling answer. The first delta of each call
/// carries its index, id, type, name and empty arguments; the arguments
/// follow in fragments that carry only the index.
pub(crate) fn chat_tool_events(turn: &Turn, calls: &[ToolCall]) -> Vec<Bytes> {
    let mut events = Vec::new();
    for (index, call) in calls.iter().enumerate() {
        let header = json!({
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""}
        });
        let delta = if index == 0 {
            json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [header]})
        } else {
            json!({"tool_calls": [header]})
        };
        events.push(ev_chat_chunk(turn, delta, None));
        for fragment in argument_fragments(&arguments_text(&call.arguments)) {
            let delta =
                json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]});
            events.push(ev_chat_chunk(turn, delta, None));
        }
    }
    if calls.is_empty() {
        events.push(ev_chat_chunk(
            turn,
            json!({"role": "assistant", "content": null}),
            None,
        ));
    }
    events.push(ev_chat_chunk(turn, json!({}), Some("tool_calls")));
    finish(
        turn,
        "chat.completion.chunk",
        chat_usage(turn.usage),
        events,
    )
}

/// Appends the usage chunk (when asked for) and `[DONE]`.
fn finish(turn: &Turn, object: &str, usage: Value, mut events: Vec<Bytes>) -> Vec<Bytes> {
    if turn.include_usage {
        events.push(ev_usage_chunk(turn, object, usage));
    }
    events.push(Bytes::from_static(DONE.as_bytes()));
    events
}

/// A whole `text_completion`.
pub(crate) fn completion_text(turn: &Turn, text: &str) -> Value {
    json!({
        "id": turn.id,
        "object": "text_completion",
        "created": turn.created,
        "model": turn.model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": "stop"}],
        "usage": completion_usage(turn.usage)
    })
}

fn ev_completion_chunk(turn: &Turn, text: &str, finish_reason: Option<&str>) -> Bytes {
    let choices =
        json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": finish_reason}]);
    data_event(&chunk_object(turn, "text_completion", choices))
}

/// The stream of a legacy completion; `fail_after` as for chat.
pub(crate) fn completion_events(turn: &Turn, text: &str, fail_after: Option<usize>) -> Vec<Bytes> {
    let pieces = text_deltas(text);
    let sent = fail_after.unwrap_or(pieces.len());
    let mut events: Vec<Bytes> = pieces
        .iter()
        .take(sent)
        .map(|piece| ev_completion_chunk(turn, piece, None))
        .collect();
    if fail_after.is_some() {
        events.push(ev_error(SERVER_ERROR_MESSAGE));
        return events;
    }
    events.push(ev_completion_chunk(turn, "", Some("stop")));
    finish(
        turn,
        "text_completion",
        completion_usage(turn.usage),
        events,
    )
}

/// `{"error": {"message", "type", "param", "code"}}`.
pub(crate) fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// The error `type` and `code` OpenAI uses for a status.
pub(crate) fn error_kind(status: u16) -> (&'static str, Option<&'static str>) {
    match status {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        404 => ("invalid_request_error", Some("model_not_found")),
        429 => ("requests", Some("rate_limit_exceeded")),
        500.. => ("server_error", None),
        _ => ("invalid_request_error", None),
    }
}

/// The `/v1/models` list.
pub(crate) fn model_list(ids: &[String]) -> Value {
    json!({"object": "list", "data": ids.iter().map(|id| model_object(id)).collect::<Vec<_>>()})
}

pub(crate) fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "fake-upstream"})
}
