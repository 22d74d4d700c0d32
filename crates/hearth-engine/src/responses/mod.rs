//! Chat Actions: the Responses API with stored responses and
//! conversations, client function tools, and the server-side tool loop.
//!
//! A request is checked and its history loaded before anything is sent, so
//! every mistake is an HTTP error. The loop then runs in a task tied to the
//! request: if the client goes away the task is aborted, and since a
//! response and its items are stored in one transaction at the end, an
//! abandoned response leaves nothing behind.

mod conversations;
mod items;
mod request;
mod run;
mod state;
mod tools;

pub use conversations::ListItems;
pub use request::{CreateResponse, FILE_OPERATIONS};
pub use run::LoopLimits;

use crate::{CallContext, Engine, EngineError};
use hearth_providers::Usage;
use hearth_security::Principal;
use hearth_tools::Workspace;
use hearth_types::Permission;
use hearth_types::conversation::{Conversation, ItemKind, NewItem, StoredResponse};
use hearth_types::id::{IdKind, new_id};
use hearth_types::time::now_millis;
use run::{Ended, Run};
use serde_json::{Map, Value, json};
use state::{Emitter, ResponseState};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tools::ToolSet;

/// Where workspaces live and how far a loop may go.
#[derive(Debug, Clone)]
pub struct ResponsesConfig {
    /// Each conversation's file tools work in `workspace_dir/<conversation id>`.
    pub workspace_dir: PathBuf,
    pub limits: LoopLimits,
}

/// Longest history chain followed through `previous_response_id`.
const MAX_CHAIN: usize = 256;

/// A running response.
pub struct ResponseHandle {
    pub stream: bool,
    /// The model id the client asked for.
    pub model: String,
    /// Events (streaming) or just the terminal one (non-streaming).
    pub events: mpsc::Receiver<Value>,
    /// Token usage so far, summed over every model call.
    pub usage: Arc<Mutex<Usage>>,
    /// The final Response object, or the error that failed it.
    pub done: oneshot::Receiver<Result<Value, EngineError>>,
    _task: AbortOnDrop,
}

/// A workspace to remove unless [`OrphanWorkspace::keep`] is called; if
/// dropped armed (the task was aborted), removed in the background.
struct OrphanWorkspace(Option<Workspace>);

impl OrphanWorkspace {
    fn keep(&mut self) {
        self.0 = None;
    }

    async fn remove(&mut self) {
        if let Some(ws) = self.0.take() {
            let _ = ws.remove().await;
        }
    }
}

impl Drop for OrphanWorkspace {
    fn drop(&mut self) {
        if let Some(ws) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = ws.remove().await;
            });
        }
    }
}

/// Aborts the loop's task when the request that owns it goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Engine {
    /// Starts a response. Checks everything that can fail as a client
    /// error first; the returned handle yields its events.
    pub async fn create_response(
        &self,
        actor: &Principal,
        call: &CallContext,
        body: &Map<String, Value>,
    ) -> Result<ResponseHandle, EngineError> {
        actor.require(Permission::UseModels)?;
        let req = request::parse(body)?;
        let route = self.route_for(actor, &req.model).await?;
        let org = actor.org_id();

        // History: a conversation's items, or a chain of responses.
        let (mut history, mut conversation_id, is_new_conversation) =
            if let Some(conv) = &req.conversation {
                if self.store.get_conversation(org, conv).await?.is_none() {
                    return Err(EngineError::NotFoundMessage(format!(
                        "conversation '{conv}' not found"
                    )));
                }
                let items = self.store.conversation_history(org, conv).await?;
                (
                    items.into_iter().map(|i| i.body).collect::<Vec<_>>(),
                    Some(conv.clone()),
                    false,
                )
            } else if let Some(prev) = &req.previous_response_id {
                let (items, conv) = self.response_chain(org, prev).await?;
                (items, conv, false)
            } else {
                (Vec::new(), None, true)
            };
        if conversation_id.is_none() && req.store {
            conversation_id = Some(new_id(IdKind::Conversation));
        }
        let is_new_conversation = is_new_conversation && req.store;

        // This turn's input, with ids, references resolved and function
        // outputs matched to their calls.
        // Calls still waiting for their output: the history's, then this
        // turn's as its items are read.
        let mut pending = items::unanswered_calls(&history);
        let mut input = Vec::with_capacity(req.input.len());
        for (i, item) in req.input.iter().enumerate() {
            let mut item = item.clone();
            if item.get("type").and_then(Value::as_str) == Some("item_reference") {
                let id = item.get("id").and_then(Value::as_str).unwrap_or("");
                let found =
                    self.store
                        .get_item(org, id)
                        .await?
                        .ok_or_else(|| EngineError::Invalid {
                            param: format!("input[{i}].id").into(),
                            message: format!("no item '{id}' exists"),
                        })?;
                item = found.body;
            }
            let call_id = item.get("call_id").and_then(Value::as_str).unwrap_or("");
            match item.get("type").and_then(Value::as_str) {
                Some("function_call") => pending.push(call_id.to_owned()),
                Some("function_call_output") => {
                    let Some(at) = pending.iter().position(|c| c == call_id) else {
                        return Err(EngineError::Rejected {
                            param: format!("input[{i}].call_id").into(),
                            message: format!(
                                "no function call with call_id '{call_id}' is waiting for its output"
                            ),
                            code: "invalid_function_call_output",
                        });
                    };
                    pending.remove(at);
                }
                _ => {}
            }
            let kind = match item.get("type").and_then(Value::as_str) {
                Some("function_call") => IdKind::FunctionCall,
                Some("function_call_output") => IdKind::FunctionCallOutput,
                _ => IdKind::Message,
            };
            item["id"] = Value::String(new_id(kind));
            if item.get("type").and_then(Value::as_str) == Some("message") {
                item["status"] = json!("completed");
            }
            input.push(item);
        }
        let mut context = std::mem::take(&mut history);
        context.extend(input.iter().cloned());
        if let Some(call_id) = pending.first() {
            return Err(EngineError::Rejected {
                param: "input".into(),
                message: format!(
                    "no output was given for function call '{call_id}'; send a function_call_output item for it"
                ),
                code: "missing_function_call_output",
            });
        }

        let response_id = new_id(IdKind::Response);
        let workspace_name = conversation_id
            .clone()
            .unwrap_or_else(|| response_id.clone());
        let workspace = match Workspace::open(&self.responses.workspace_dir, &workspace_name) {
            Ok(ws) => Some(ws),
            Err(error) => {
                tracing::warn!(%error, "tool workspace unavailable; built-in file tools are off for this response");
                None
            }
        };
        let tools = ToolSet::for_request(&req);
        let stream = req.stream;
        let state = ResponseState {
            id: response_id,
            created_at: now_millis() / 1000,
            model: req.model.clone(),
            status: "in_progress",
            output: Vec::new(),
            input_tokens: 0,
            output_tokens: 0,
            incomplete_reason: None,
            error: None,
            conversation_id: conversation_id.clone(),
            previous_response_id: req.previous_response_id.clone(),
            tools: tools.listed(),
            request: req,
        };
        let usage = Arc::new(Mutex::new(Usage::default()));
        let (tx, events) = mpsc::channel(64);
        let (done_tx, done) = oneshot::channel();
        let model = state.model.clone();
        let mut run = Run {
            engine: self.clone(),
            actor: actor.clone(),
            route,
            context,
            state,
            tools,
            workspace,
            limits: self.responses.limits.clone(),
            usage: usage.clone(),
            failure: None,
        };
        let engine = self.clone();
        let actor = actor.clone();
        let call = call.clone();
        let task = tokio::spawn(async move {
            // The workspace of a conversation that exists only if this
            // response is stored: removed unless it is, also when the
            // client goes away and the task is aborted.
            let mut orphan = OrphanWorkspace(
                (is_new_conversation || run.state.conversation_id.is_none())
                    .then(|| run.workspace.clone())
                    .flatten(),
            );
            let mut emitter = Emitter::new(tx, stream);
            if let Ended::Abandoned = run.run(&mut emitter).await {
                return;
            }
            let body = run.state.to_json();
            if run.state.request.store {
                let saved = engine
                    .save_response(
                        &actor,
                        &call,
                        &run.state,
                        &input,
                        is_new_conversation,
                        &body,
                    )
                    .await;
                match saved {
                    Ok(()) => orphan.keep(),
                    Err(error) => {
                        tracing::error!(%error, response = %run.state.id, "could not store the response");
                    }
                }
            }
            orphan.remove().await;
            let result = match run.failure.take() {
                Some(error) => Err(error),
                None => Ok(body),
            };
            let _ = done_tx.send(result);
        });
        Ok(ResponseHandle {
            stream,
            model,
            events,
            usage,
            done,
            _task: AbortOnDrop(task),
        })
    }

    /// The items of a chain of responses, oldest first, and the
    /// conversation the newest belongs to.
    async fn response_chain(
        &self,
        org: &str,
        id: &str,
    ) -> Result<(Vec<Value>, Option<String>), EngineError> {
        let not_found = || EngineError::Rejected {
            param: "previous_response_id".into(),
            message: format!(
                "previous response '{id}' not found; only stored responses can be continued"
            ),
            code: "previous_response_not_found",
        };
        let first = self
            .store
            .get_response(org, id)
            .await?
            .ok_or_else(not_found)?;
        let conversation = first.conversation_id.clone();
        let mut chain = vec![first];
        while let Some(prev) = chain.last().and_then(|r| r.previous_response_id.clone()) {
            if chain.len() >= MAX_CHAIN {
                break;
            }
            match self.store.get_response(org, &prev).await? {
                Some(r) => chain.push(r),
                None => break,
            }
        }
        let mut items = Vec::new();
        for response in chain.iter().rev() {
            for item in self.store.response_items(org, &response.id).await? {
                items.push(item.body);
            }
        }
        Ok((items, conversation))
    }

    /// Stores a finished response with its input and output items, and its
    /// conversation if it is new, in one transaction.
    async fn save_response(
        &self,
        actor: &Principal,
        call: &CallContext,
        state: &ResponseState,
        input: &[Value],
        new_conversation: bool,
        body: &Value,
    ) -> Result<(), EngineError> {
        let now = now_millis();
        let org = actor.org_id();
        let items: Vec<NewItem> = input
            .iter()
            .map(|i| (ItemKind::Input, i))
            .chain(state.output.iter().map(|o| (ItemKind::Output, o)))
            .map(|(kind, item)| NewItem {
                id: item
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                response_id: Some(state.id.clone()),
                kind,
                created_at: now,
                body: item.clone(),
            })
            .collect();
        let mut tx = self.store.begin().await?;
        if let (true, Some(conv)) = (new_conversation, &state.conversation_id) {
            tx.insert_conversation(&Conversation {
                id: conv.clone(),
                org_id: org.to_owned(),
                user_id: actor.user_id().to_owned(),
                created_at: now,
                metadata: Map::new(),
            })
            .await?;
        }
        tx.append_items(org, state.conversation_id.as_deref(), &items)
            .await?;
        tx.insert_response(&StoredResponse {
            id: state.id.clone(),
            org_id: org.to_owned(),
            user_id: actor.user_id().to_owned(),
            conversation_id: state.conversation_id.clone(),
            previous_response_id: state.previous_response_id.clone(),
            created_at: now,
            body: body.clone(),
        })
        .await?;
        tx.append_audit(vec![crate::admin::action_record(
            call,
            actor,
            org,
            "response.create",
            &state.id,
            now,
        )])
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A stored response.
    pub async fn get_response(&self, actor: &Principal, id: &str) -> Result<Value, EngineError> {
        actor.require(Permission::Read)?;
        let r = self
            .store
            .get_response(actor.org_id(), id)
            .await?
            .ok_or(EngineError::not_found("response"))?;
        Ok(r.body)
    }

    /// Deletes a stored response.
    pub async fn delete_response(
        &self,
        actor: &Principal,
        call: &CallContext,
        id: &str,
    ) -> Result<Value, EngineError> {
        actor.require(Permission::UseModels)?;
        let mut tx = self.store.begin().await?;
        if !tx.delete_response(actor.org_id(), id).await? {
            return Err(EngineError::not_found("response"));
        }
        let now = now_millis();
        tx.append_audit(vec![crate::admin::action_record(
            call,
            actor,
            actor.org_id(),
            "response.delete",
            id,
            now,
        )])
        .await?;
        tx.commit().await?;
        Ok(json!({"id": id, "object": "response", "deleted": true}))
    }
}
