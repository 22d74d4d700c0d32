//! Anthropic Messages response bodies and named SSE events (`ev_*`):
//! `message` with text / tool_use blocks, the event sequence
//! `message_start`, `content_block_start`, `ping`, `content_block_delta`
//! (`text_delta`, `input_json_delta`), `content_block_stop`,
//! `message_delta`, `message_stop`, and `error`.

use super::script::ToolCall;
use super::wire::{argument_fragments, arguments_text, named_event, text_deltas};
use hyper::body::Bytes;
use serde_json::{Value, json};

/// What every body or event of one answer shares.
pub(crate) struct Turn<'a> {
    /// `msg_…`.
    pub id: String,
    /// Echoes the request's model.
    pub model: &'a str,
    /// `(input, output)` tokens.
    pub usage: (u64, u64),
}

fn usage((input, output): (u64, u64)) -> Value {
    json!({
        "input_tokens": input,
        "output_tokens": output,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0
    })
}

fn message(turn: &Turn, content: Value, stop_reason: Option<&str>, usage: Value) -> Value {
    json!({
        "id": turn.id,
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage
    })
}

/// A whole message answering with text.
pub(crate) fn text_message(turn: &Turn, text: &str) -> Value {
    message(
        turn,
        json!([{"type": "text", "text": text}]),
        Some("end_turn"),
        usage(turn.usage),
    )
}

/// A whole message calling tools.
pub(crate) fn tool_message(turn: &Turn, calls: &[ToolCall]) -> Value {
    let blocks: Vec<Value> = calls
        .iter()
        .map(|c| json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}))
        .collect();
    message(
        turn,
        Value::Array(blocks),
        Some("tool_use"),
        usage(turn.usage),
    )
}

/// `message_start`: an empty message with the input tokens (and, as
/// Anthropic does, a token or so of output counted already).
fn ev_message_start(turn: &Turn) -> Bytes {
    let start_usage = usage((turn.usage.0, turn.usage.1.min(1)));
    let data =
        json!({"type": "message_start", "message": message(turn, json!([]), None, start_usage)});
    named_event("message_start", &data)
}

fn ev_block_start(index: usize, block: Value) -> Bytes {
    let data = json!({"type": "content_block_start", "index": index, "content_block": block});
    named_event("content_block_start", &data)
}

fn ev_block_delta(index: usize, delta: Value) -> Bytes {
    let data = json!({"type": "content_block_delta", "index": index, "delta": delta});
    named_event("content_block_delta", &data)
}

fn ev_block_stop(index: usize) -> Bytes {
    named_event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    )
}

fn ev_ping() -> Bytes {
    named_event("ping", &json!({"type": "ping"}))
}

/// `message_delta` (stop reason, cumulative output tokens) and
/// `message_stop`.
fn ev_message_end(turn: &Turn, stop_reason: &str) -> [Bytes; 2] {
    let delta = json!({
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": turn.usage.1}
    });
    [
        named_event("message_delta", &delta),
        named_event("message_stop", &json!({"type": "message_stop"})),
    ]
}

/// An `error` event, as Anthropic sends it mid-stream.
pub(crate) fn ev_error(kind: &str, message: &str) -> Bytes {
    named_event("error", &error_body(kind, message, None))
}

/// The stream of a text answer. With `fail_after`, only that many deltas go
/// out, followed by an `overloaded_error` event and nothing else.
pub(crate) fn text_events(turn: &Turn, text: &str, fail_after: Option<usize>) -> Vec<Bytes> {
    let mut events = vec![
        ev_message_start(turn),
        ev_block_start(0, json!({"type": "text", "text": ""})),
        ev_ping(),
    ];
    let pieces = text_deltas(text);
    let sent = fail_after.unwrap_or(pieces.len());
    for piece in pieces.iter().take(sent) {
        events.push(ev_block_delta(
            0,
            json!({"type": "text_delta", "text": piece}),
        ));
    }
    if fail_after.is_some() {
        events.push(ev_error("overloaded_error", "Overloaded"));
        return events;
    }
    events.push(ev_block_stop(0));
    events.extend(ev_message_end(turn, "end_turn"));
    events
}

/// The stream of a tool-calling answer: one `tool_use` block per call,
/// started with `input: {}` and filled by `input_json_delta` fragments.
pub(crate) fn tool_events(turn: &Turn, calls: &[ToolCall]) -> Vec<Bytes> {
    let mut events = vec![ev_message_start(turn), ev_ping()];
    for (index, call) in calls.iter().enumerate() {
        let block = json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}});
        events.push(ev_block_start(index, block));
        for fragment in argument_fragments(&arguments_text(&call.arguments)) {
            let delta = json!({"type": "input_json_delta", "partial_json": fragment});
            events.push(ev_block_delta(index, delta));
        }
        events.push(ev_block_stop(index));
    }
    events.extend(ev_message_end(turn, "tool_use"));
    events
}

/// `{"type":"error","error":{"type","message"}}`, with `request_id` when
/// given (HTTP errors carry one, stream events do not).
pub(crate) fn error_body(kind: &str, message: &str, request_id: Option<&str>) -> Value {
    let mut body = json!({"type": "error", "error": {"type": kind, "message": message}});
    if let Some(id) = request_id {
        body["request_id"] = json!(id);
    }
    body
}

/// The error `type` Anthropic uses for a status.
pub(crate) fn error_kind(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500.. => "api_error",
        _ => "invalid_request_error",
    }
}
