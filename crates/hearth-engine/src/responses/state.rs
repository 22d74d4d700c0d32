//! The Response object as it is built up, and the events that report each
//! step of it to a streaming client.

use super::request::CreateResponse;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

/// A response in the making.
#[derive(Debug, Clone)]
pub struct ResponseState {
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    pub model: String,
    pub status: &'static str,
    pub output: Vec<Value>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub incomplete_reason: Option<String>,
    pub error: Option<Value>,
    pub conversation_id: Option<String>,
    pub previous_response_id: Option<String>,
    /// `tools` as the response lists them: built-in families, then the
    /// client's functions.
    pub tools: Vec<Value>,
    pub request: CreateResponse,
}

impl ResponseState {
    /// The OpenAI Response object, with Kindo's `output_text` and
    /// `conversation`.
    pub fn to_json(&self) -> Value {
        let output_text: String = self
            .output
            .iter()
            .filter(|i| i.get("type").and_then(Value::as_str) == Some("message"))
            .map(super::items::message_text)
            .collect();
        let r = &self.request;
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": self.status,
            "background": false,
            "error": self.error,
            "incomplete_details": self.incomplete_reason.as_ref().map(|reason| json!({"reason": reason})),
            "instructions": r.instructions,
            "max_output_tokens": r.max_output_tokens,
            "max_tool_calls": null,
            "model": self.model,
            "output": self.output,
            "output_text": output_text,
            "parallel_tool_calls": r.parallel_tool_calls,
            "previous_response_id": self.previous_response_id,
            "reasoning": {"effort": null, "summary": null},
            "store": r.store,
            "temperature": r.temperature.unwrap_or(1.0),
            "text": {"format": r.text_format.clone().unwrap_or_else(|| json!({"type": "text"}))},
            "tool_choice": r.tool_choice_raw,
            "tools": self.tools,
            "top_p": r.top_p.unwrap_or(1.0),
            "truncation": "disabled",
            "usage": {
                "input_tokens": self.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": self.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": self.input_tokens + self.output_tokens,
            },
            "user": r.user,
            "metadata": r.metadata,
            "conversation": self.conversation_id.as_ref().map(|id| json!({"id": id})),
        })
    }
}

/// The receiving side went away: the client disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// Numbers events and hands them to the HTTP side. In non-streaming mode
/// only the terminal event is passed on.
pub struct Emitter {
    tx: mpsc::Sender<Value>,
    next_sequence: u64,
    stream: bool,
}

impl Emitter {
    pub fn new(tx: mpsc::Sender<Value>, stream: bool) -> Self {
        Emitter {
            tx,
            next_sequence: 0,
            stream,
        }
    }

    /// Sends one event: `fields` plus its `type` and `sequence_number`.
    pub async fn emit(&mut self, kind: &str, fields: Value) -> Result<(), Gone> {
        let terminal = matches!(
            kind,
            "response.completed" | "response.incomplete" | "response.failed"
        );
        if !self.stream && !terminal && kind != "error" {
            return Ok(());
        }
        let mut event = Map::new();
        event.insert("type".into(), Value::String(kind.to_owned()));
        event.insert("sequence_number".into(), Value::from(self.next_sequence));
        if let Value::Object(fields) = fields {
            event.extend(fields);
        }
        self.next_sequence += 1;
        self.tx.send(Value::Object(event)).await.map_err(|_| Gone)
    }
}
