//! The server-side tool loop: call the model, stream what it says, run the
//! built-in tools it calls, and go round again until it answers, asks the
//! client to run a function, or the loop's bounds are reached.

use super::items::{BUILTIN_CALL, to_chat_messages};
use super::state::{Emitter, Gone, ResponseState};
use super::tools::ToolSet;
use crate::gateway::catalog::Route;
use crate::gateway::{Endpoint, Reply, TokenCharge};
use crate::{Engine, EngineError};
use futures_util::StreamExt as _;
use hearth_providers::{ChatRequest, ProviderError, StreamEvent, Usage};
use hearth_security::Principal;
use hearth_tools::{BuiltinTool, ToolLimits, Workspace};
use hearth_types::id::{IdKind, new_id};
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bounds of one response's loop.
#[derive(Debug, Clone)]
pub struct LoopLimits {
    /// Model calls per response.
    pub max_iterations: u32,
    /// Wall time per response; checked between model calls.
    pub max_duration: Duration,
    pub tools: ToolLimits,
}

impl Default for LoopLimits {
    fn default() -> Self {
        LoopLimits {
            max_iterations: 16,
            max_duration: Duration::from_secs(600),
            tools: ToolLimits::default(),
        }
    }
}

/// How a run ended.
pub enum Ended {
    /// The state is final (completed, incomplete or failed).
    Finished,
    /// The client went away; nothing should be stored.
    Abandoned,
}

pub(crate) struct Run {
    pub engine: Engine,
    pub actor: Principal,
    pub route: Arc<Route>,
    /// History and this turn's input, already translated to items.
    pub context: Vec<Value>,
    pub state: ResponseState,
    pub tools: ToolSet,
    pub workspace: Option<Workspace>,
    pub limits: LoopLimits,
    /// Usage so far, for the caller's accounting.
    pub usage: Arc<Mutex<Usage>>,
    /// The error that failed the run, for a non-streaming caller to answer
    /// with its proper status.
    pub failure: Option<EngineError>,
}

impl Run {
    /// Runs the loop, emitting events; the state is final when it returns
    /// `Finished`.
    pub async fn run(&mut self, em: &mut Emitter) -> Ended {
        match self.drive(em).await {
            Ok(()) => Ended::Finished,
            Err(Gone) => Ended::Abandoned,
        }
    }

    async fn drive(&mut self, em: &mut Emitter) -> Result<(), Gone> {
        self.state.status = "in_progress";
        em.emit(
            "response.created",
            json!({"response": self.state.to_json()}),
        )
        .await?;
        em.emit(
            "response.in_progress",
            json!({"response": self.state.to_json()}),
        )
        .await?;
        let started = Instant::now();
        let mut iteration = 0;
        loop {
            if iteration >= self.limits.max_iterations
                || started.elapsed() >= self.limits.max_duration
            {
                self.state.status = "incomplete";
                self.state.incomplete_reason = Some("max_tool_iterations".into());
                break;
            }
            let turn = match self.model_turn(em, iteration == 0).await? {
                Ok(turn) => turn,
                Err(error) => {
                    self.fail(em, error).await?;
                    return Ok(());
                }
            };
            iteration += 1;
            if turn.truncated {
                self.state.status = "incomplete";
                self.state.incomplete_reason = Some("max_output_tokens".into());
                break;
            }
            for call in &turn.builtin_calls {
                self.run_builtin(em, call).await?;
            }
            if turn.client_calls > 0 {
                // Kindo's signal that the client must run its functions.
                self.state.status = "incomplete";
                self.state.incomplete_reason = Some("tool_use".into());
                break;
            }
            if turn.builtin_calls.is_empty() {
                self.state.status = "completed";
                break;
            }
        }
        let kind = match self.state.status {
            "completed" => "response.completed",
            _ => "response.incomplete",
        };
        em.emit(kind, json!({"response": self.state.to_json()}))
            .await
    }

    /// One model call, streamed into output items.
    async fn model_turn(
        &mut self,
        em: &mut Emitter,
        first: bool,
    ) -> Result<Result<Turn, EngineError>, Gone> {
        let body = self.chat_body(first);
        let body_len = serde_json::to_vec(&body).map_or(0, |b| b.len());
        let charge = match self.engine.charge_tokens(&self.actor, body_len).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let events = match self.open_stream(body).await {
            Ok(events) => events,
            Err(e) => {
                self.engine.settle_tokens(&charge, 0);
                return Ok(Err(e));
            }
        };
        let mut turn = TurnBuilder::default();
        let result = self.consume(em, events, &mut turn, &charge).await?;
        let usage = turn.usage.unwrap_or(Usage {
            prompt_tokens: charge.charged,
            completion_tokens: turn.chunks,
        });
        self.engine
            .settle_tokens(&charge, usage.prompt_tokens + usage.completion_tokens);
        self.state.input_tokens += usage.prompt_tokens;
        self.state.output_tokens += usage.completion_tokens;
        *self.usage.lock().unwrap_or_else(|e| e.into_inner()) = Usage {
            prompt_tokens: self.state.input_tokens,
            completion_tokens: self.state.output_tokens,
        };
        if let Err(e) = result {
            return Ok(Err(e));
        }
        Ok(Ok(self.finish_turn(em, turn).await?))
    }

    fn chat_body(&self, first: bool) -> Map<String, Value> {
        let req = &self.state.request;
        let mut items = self.context.clone();
        items.extend(self.state.output.iter().cloned());
        let mut body = Map::new();
        body.insert("model".into(), Value::String(self.route.id.clone()));
        body.insert(
            "messages".into(),
            Value::Array(to_chat_messages(req.instructions.as_deref(), &items)),
        );
        if let Some((tools, choice)) = self.tools.chat_tools(first) {
            body.insert("tools".into(), tools);
            body.insert("tool_choice".into(), choice);
            if !req.parallel_tool_calls {
                body.insert("parallel_tool_calls".into(), Value::Bool(false));
            }
        }
        if let Some(n) = req.max_output_tokens {
            body.insert("max_tokens".into(), Value::from(n));
        }
        if let Some(t) = req.temperature {
            body.insert("temperature".into(), Value::from(t));
        }
        if let Some(p) = req.top_p {
            body.insert("top_p".into(), Value::from(p));
        }
        if let Some(format) = &req.text_format {
            body.insert("response_format".into(), response_format(format));
        }
        if let Some(user) = &req.user {
            body.insert("user".into(), Value::String(user.clone()));
        }
        body.insert("stream".into(), Value::Bool(true));
        body
    }

    /// Opens the upstream stream, trying the model's fallbacks in order.
    async fn open_stream(
        &self,
        body: Map<String, Value>,
    ) -> Result<hearth_providers::EventStream, EngineError> {
        let body = Arc::new(body);
        let mut last = None;
        for target in
            std::iter::once(self.route.clone()).chain(self.engine.fallbacks_of(&self.route))
        {
            let request = ChatRequest {
                body: Arc::clone(&body),
                upstream_model: target.upstream_model.clone(),
                client_model: self.route.id.clone(),
                default_max_tokens: target.max_tokens,
                include_usage: true,
            };
            match self
                .engine
                .try_route(&target, Endpoint::Chat, true, request)
                .await
            {
                Ok(Reply::Stream(events)) => return Ok(events),
                Ok(Reply::Complete(_)) => {
                    return Err(EngineError::Upstream(ProviderError::InvalidResponse(
                        "expected a stream".into(),
                    )));
                }
                Err(e) if e.is_retryable() => last = Some(e),
                Err(e) => return Err(EngineError::Upstream(e)),
            }
        }
        Err(EngineError::Upstream(last.unwrap_or(
            ProviderError::Connect("no deployment answered".into()),
        )))
    }

    /// Reads the upstream stream: text goes out as it arrives, client
    /// function calls too; built-in calls are collected to run after.
    async fn consume(
        &mut self,
        em: &mut Emitter,
        mut events: hearth_providers::EventStream,
        turn: &mut TurnBuilder,
        _charge: &TokenCharge,
    ) -> Result<Result<(), EngineError>, Gone> {
        while let Some(event) = events.next().await {
            let data = match event {
                Ok(StreamEvent::Data(data)) => data,
                Ok(StreamEvent::Usage(u)) => {
                    turn.usage = Some(u);
                    continue;
                }
                Err(e) => return Ok(Err(EngineError::Upstream(e))),
            };
            turn.chunks += 1;
            let Ok(chunk) = serde_json::from_slice::<Value>(&data) else {
                continue;
            };
            let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
                continue;
            };
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                turn.finish_reason = Some(reason.to_owned());
            }
            let Some(delta) = choice.get("delta") else {
                continue;
            };
            if let Some(text) = delta
                .get("content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                self.text_delta(em, turn, text).await?;
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for call in calls {
                    self.tool_call_delta(em, turn, call).await?;
                }
            }
        }
        Ok(Ok(()))
    }

    async fn text_delta(
        &mut self,
        em: &mut Emitter,
        turn: &mut TurnBuilder,
        text: &str,
    ) -> Result<(), Gone> {
        let index = match turn.message {
            Some(index) => index,
            None => {
                let item = json!({
                    "id": new_id(IdKind::Message), "type": "message", "status": "in_progress",
                    "role": "assistant", "content": [],
                });
                let index = self.state.output.len();
                self.state.output.push(item.clone());
                turn.message = Some(index);
                em.emit(
                    "response.output_item.added",
                    json!({"output_index": index, "item": item}),
                )
                .await?;
                let part = json!({"type": "output_text", "text": "", "annotations": []});
                em.emit(
                    "response.content_part.added",
                    json!({"item_id": self.state.output[index]["id"], "output_index": index, "content_index": 0, "part": part}),
                )
                .await?;
                index
            }
        };
        turn.text.push_str(text);
        em.emit(
            "response.output_text.delta",
            json!({"item_id": self.state.output[index]["id"], "output_index": index, "content_index": 0, "delta": text, "logprobs": []}),
        )
        .await
    }

    async fn close_message(
        &mut self,
        em: &mut Emitter,
        turn: &mut TurnBuilder,
    ) -> Result<(), Gone> {
        let Some(index) = turn.message.take() else {
            return Ok(());
        };
        let text = std::mem::take(&mut turn.text);
        let part = json!({"type": "output_text", "text": text, "annotations": []});
        let item_id = self.state.output[index]["id"].clone();
        self.state.output[index]["content"] = json!([part]);
        self.state.output[index]["status"] = json!("completed");
        em.emit(
            "response.output_text.done",
            json!({"item_id": item_id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
        )
        .await?;
        em.emit(
            "response.content_part.done",
            json!({"item_id": item_id, "output_index": index, "content_index": 0, "part": part}),
        )
        .await?;
        em.emit(
            "response.output_item.done",
            json!({"output_index": index, "item": self.state.output[index]}),
        )
        .await
    }

    async fn tool_call_delta(
        &mut self,
        em: &mut Emitter,
        turn: &mut TurnBuilder,
        delta: &Value,
    ) -> Result<(), Gone> {
        let slot = delta.get("index").and_then(Value::as_u64).unwrap_or(0);
        let position = match turn.calls.iter().position(|c| c.slot == slot) {
            Some(p) => p,
            None => {
                // A tool call starts: any text before it is done.
                self.close_message(em, turn).await?;
                turn.calls.push(PendingCall {
                    slot,
                    ..PendingCall::default()
                });
                turn.calls.len() - 1
            }
        };
        if let Some(id) = delta.get("id").and_then(Value::as_str) {
            turn.calls[position].call_id = id.to_owned();
        }
        let function = delta.get("function");
        if let Some(name) = function.and_then(|f| f.get("name")).and_then(Value::as_str) {
            turn.calls[position].name.push_str(name);
        }
        let fragment = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or("");
        turn.calls[position].arguments.push_str(fragment);
        let call = &turn.calls[position];
        if call.name.is_empty() || !self.tools.is_client_function(&call.name) {
            return Ok(());
        }
        // A client function: stream it as a function_call item.
        let index = match call.output_index {
            Some(index) => index,
            None => {
                let call_id = if call.call_id.is_empty() {
                    new_id(IdKind::Call)
                } else {
                    call.call_id.clone()
                };
                let item = json!({
                    "id": new_id(IdKind::FunctionCall), "type": "function_call", "status": "in_progress",
                    "call_id": call_id, "name": call.name, "arguments": "",
                });
                let index = self.state.output.len();
                self.state.output.push(item.clone());
                turn.calls[position].output_index = Some(index);
                em.emit(
                    "response.output_item.added",
                    json!({"output_index": index, "item": item}),
                )
                .await?;
                // Arguments that arrived with the name go out now.
                let so_far = turn.calls[position].arguments.clone();
                if !so_far.is_empty() {
                    em.emit(
                        "response.function_call_arguments.delta",
                        json!({"item_id": self.state.output[index]["id"], "output_index": index, "delta": so_far}),
                    )
                    .await?;
                }
                return Ok(());
            }
        };
        if !fragment.is_empty() {
            em.emit(
                "response.function_call_arguments.delta",
                json!({"item_id": self.state.output[index]["id"], "output_index": index, "delta": fragment}),
            )
            .await?;
        }
        Ok(())
    }

    /// Closes the turn's items; returns what the loop must do next.
    async fn finish_turn(&mut self, em: &mut Emitter, mut turn: TurnBuilder) -> Result<Turn, Gone> {
        self.close_message(em, &mut turn).await?;
        let mut out = Turn {
            truncated: turn.finish_reason.as_deref() == Some("length"),
            ..Turn::default()
        };
        for call in std::mem::take(&mut turn.calls) {
            let arguments = if call.arguments.trim().is_empty() {
                "{}".to_owned()
            } else {
                call.arguments.clone()
            };
            match call.output_index {
                Some(index) => {
                    self.state.output[index]["arguments"] = json!(arguments);
                    self.state.output[index]["status"] = json!("completed");
                    let item_id = self.state.output[index]["id"].clone();
                    em.emit(
                        "response.function_call_arguments.done",
                        json!({"item_id": item_id, "output_index": index, "name": call.name, "arguments": arguments}),
                    )
                    .await?;
                    em.emit(
                        "response.output_item.done",
                        json!({"output_index": index, "item": self.state.output[index]}),
                    )
                    .await?;
                    out.client_calls += 1;
                }
                None => {
                    let call_id = if call.call_id.is_empty() {
                        new_id(IdKind::Call)
                    } else {
                        call.call_id
                    };
                    out.builtin_calls.push(BuiltinCall {
                        call_id,
                        name: call.name,
                        arguments,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Runs one built-in tool and records it as an output item. A failing
    /// or unknown tool is a failed call the model sees, never an error of
    /// the response.
    ///
    /// Streamed, the call is `response.output_item.added` (status
    /// `in_progress`) and `response.output_item.done` (status `completed`
    /// or `failed`) and nothing else: the OpenAI SDKs' stream helpers
    /// reject event types outside OpenAI's set (the npm package's
    /// `responses.stream()` throws "Unhandled response stream event"), so
    /// there are no `response.file_operation_call.*` events.
    async fn run_builtin(&mut self, em: &mut Emitter, call: &BuiltinCall) -> Result<(), Gone> {
        let index = self.state.output.len();
        let mut item = json!({
            "id": new_id(IdKind::ToolCall), "type": BUILTIN_CALL, "status": "in_progress",
            "call_id": call.call_id, "name": call.name, "arguments": call.arguments, "output": null,
        });
        self.state.output.push(item.clone());
        em.emit(
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        )
        .await?;
        let outcome = match (BuiltinTool::from_name(&call.name), &self.workspace) {
            (Some(tool), Some(ws)) if self.tools.may_run(tool) => {
                match serde_json::from_str::<Value>(&call.arguments) {
                    Ok(args) => tool
                        .run(ws, &args, &self.limits.tools)
                        .await
                        .map(|o| o.text)
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(format!("the arguments are not valid JSON: {e}")),
                }
            }
            _ => Err(format!("no tool named '{}' is available", call.name)),
        };
        match outcome {
            Ok(text) => {
                item["status"] = json!("completed");
                item["output"] = json!(text);
            }
            Err(error) => {
                item["status"] = json!("failed");
                item["error"] = json!(error);
            }
        }
        self.state.output[index] = item.clone();
        em.emit(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        )
        .await
    }

    /// Ends the response as failed: an `error` event, then
    /// `response.failed`.
    async fn fail(&mut self, em: &mut Emitter, error: EngineError) -> Result<(), Gone> {
        let (code, message) = match &error {
            EngineError::Upstream(e) => {
                let view = e.client_view();
                (view.code.to_owned(), view.message)
            }
            EngineError::TokensExhausted(_) => {
                ("rate_limit_exceeded".to_owned(), error.to_string())
            }
            other => ("server_error".to_owned(), other.to_string()),
        };
        self.state.status = "failed";
        self.state.error = Some(json!({"code": code, "message": message}));
        em.emit(
            "error",
            json!({"code": code, "message": message, "param": null}),
        )
        .await?;
        em.emit("response.failed", json!({"response": self.state.to_json()}))
            .await?;
        self.failure = Some(error);
        Ok(())
    }
}

/// `text.format` → chat `response_format`.
fn response_format(format: &Value) -> Value {
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => json!({
            "type": "json_schema",
            "json_schema": {
                "name": format.get("name").cloned().unwrap_or(json!("response")),
                "schema": format.get("schema").cloned().unwrap_or(json!({})),
                "strict": format.get("strict").cloned().unwrap_or(json!(false)),
            }
        }),
        _ => json!({"type": "json_object"}),
    }
}

#[derive(Default)]
struct PendingCall {
    slot: u64,
    call_id: String,
    name: String,
    arguments: String,
    /// Set once a client function call has its item in the output.
    output_index: Option<usize>,
}

#[derive(Default)]
struct TurnBuilder {
    message: Option<usize>,
    text: String,
    calls: Vec<PendingCall>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    chunks: u64,
}

#[derive(Default)]
struct Turn {
    truncated: bool,
    client_calls: usize,
    builtin_calls: Vec<BuiltinCall>,
}

struct BuiltinCall {
    call_id: String,
    name: String,
    arguments: String,
}
