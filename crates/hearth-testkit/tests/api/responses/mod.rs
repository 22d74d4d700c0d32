//! End-to-end tests of Chat Actions: `POST /v1/responses`, stored
//! responses and conversations, client function tools and the server-side
//! tool loop with the built-in file tools, served by a real Hearth in front
//! of the fake OpenAI-compatible and Anthropic upstreams.
//!
//! Each test starts its own fakes and server ([`Rs`]). What reads back
//! stored state (conversations, retrieval, isolation, accounting) runs on
//! both backends ([`responses_backend_tests!`]); the rest on SQLite.
//!
//! Helpers: [`transcript`] turns what an upstream received into
//! provider-neutral lines (`user: hi`, `call get_weather {…}`,
//! `result call_1: 68F`) so one test checks both fakes; [`check_events`]
//! checks a streamed response the way the OpenAI SDKs' stream helpers do.

/// `sqlite::name` and `postgres::name` tests from `async fn name(rs: Rs)`
/// (see [`fixture_backend_tests!`] in `main.rs`).
macro_rules! responses_backend_tests {
    ($($name:ident),* $(,)?) => {
        fixture_backend_tests!($crate::responses::Rs; $($name),*);
    };
}

mod accounting;
mod bad_input;
mod basics;
mod conversations;
mod function_tools;
mod persistence;
mod streaming;
mod tool_loop;

pub use hearth_testkit::gateway::{ANTHROPIC_MODEL, OPENAI_MODEL};

use hearth_server::Config;
pub use hearth_testkit::eventually;
use hearth_testkit::gateway::Routed;
use hearth_testkit::sse::{EventReader, SseEvent};
use hearth_testkit::{Backend, FakeAnthropic, FakeOpenAi, Recorded, Reply, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Instant;

/// Both models, one per fake.
pub const MODELS: [&str; 2] = [OPENAI_MODEL, ANTHROPIC_MODEL];

/// The built-in file tools, in the order Hearth offers them.
pub const FILE_TOOLS: [&str; 5] = [
    "list_files",
    "read_file",
    "write_file",
    "search_files",
    "edit_file",
];

/// A server routing [`OPENAI_MODEL`] to `openai` and [`ANTHROPIC_MODEL`]
/// to `anthropic`, without retries.
pub struct Rs {
    pub server: TestServer,
    pub openai: FakeOpenAi,
    pub anthropic: FakeAnthropic,
}

impl Rs {
    /// Starts both fakes and a server on `backend`, after `adjust` has
    /// changed the config. `None` when the backend is PostgreSQL and it is
    /// not available.
    pub async fn start(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Rs> {
        let Routed {
            server,
            openai,
            anthropic,
        } = Routed::start(backend, |_| {}, adjust).await?;
        Some(Rs {
            server,
            openai,
            anthropic,
        })
    }

    /// [`Self::start`] on SQLite with the default config.
    pub async fn sqlite() -> Rs {
        Self::sqlite_with(|_| {}).await
    }

    /// [`Self::start`] on SQLite.
    pub async fn sqlite_with(adjust: impl FnOnce(&mut Config)) -> Rs {
        Self::start(Backend::Sqlite, adjust)
            .await
            .expect("SQLite test server")
    }

    /// The instance owner's key.
    pub fn key(&self) -> &str {
        &self.server.admin_key
    }

    /// `POST /v1/responses` with `key`, read whole.
    pub async fn create_as(&self, key: &str, body: &Value) -> Reply {
        self.post("/v1/responses", key, body).await
    }

    /// `POST /v1/responses` as the instance owner, read whole.
    pub async fn create(&self, body: &Value) -> Reply {
        self.create_as(self.key(), body).await
    }

    /// `POST /v1/responses` as the instance owner; asserts a 200 carrying a
    /// well-formed Response object, and returns it.
    pub async fn respond(&self, body: &Value) -> Value {
        let reply = self.create(body).await;
        let response = reply.expect_status(200).clone();
        assert_response_object(&response);
        response
    }

    /// `POST path` with `body` as JSON and `key`, read whole.
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.server
            .send(self.server.request(Method::POST, path, key).json(body))
            .await
    }

    /// `GET path` with `key`, read whole.
    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.server
            .send(self.server.request(Method::GET, path, key))
            .await
    }

    /// `DELETE path` with `key`, read whole.
    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.server
            .send(self.server.request(Method::DELETE, path, key))
            .await
    }

    /// Starts a streamed `POST /v1/responses` (`stream: true` is added) with
    /// `key`; the events are read as they come.
    pub async fn open_stream(&self, key: &str, body: &Value) -> EventReader {
        let mut body = body.clone();
        body["stream"] = json!(true);
        let resp = self
            .server
            .request(Method::POST, "/v1/responses", key)
            .json(&body)
            .send()
            .await
            .expect("request sent");
        EventReader::new(resp)
    }

    /// A streamed `POST /v1/responses` as the instance owner, read to the
    /// end; asserts a 200 event stream.
    pub async fn stream(&self, body: &Value) -> Vec<(SseEvent, Instant)> {
        let mut reader = self.open_stream(self.key(), body).await;
        if reader.status != 200 {
            reader.rest().await;
            panic!("stream status {}: {}", reader.status, reader.raw());
        }
        let ct = reader
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(ct.starts_with("text/event-stream"), "content-type {ct:?}");
        assert!(reader.headers.contains_key("x-request-id"));
        reader.rest().await
    }

    /// What the fake behind `model` received.
    pub fn requests(&self, model: &str) -> Vec<Recorded> {
        match model {
            OPENAI_MODEL => self.openai.requests(),
            ANTHROPIC_MODEL => self.anthropic.requests(),
            other => panic!("no fake serves {other}"),
        }
    }

    /// Queues a reply on the fake behind `model`.
    pub fn enqueue(&self, model: &str, script: impl Into<hearth_testkit::Script>) {
        match model {
            OPENAI_MODEL => self.openai.enqueue(script),
            ANTHROPIC_MODEL => self.anthropic.enqueue(script),
            other => panic!("no fake serves {other}"),
        }
    }

    /// Client connections open on the fake behind `model`.
    pub fn open_connections(&self, model: &str) -> usize {
        match model {
            OPENAI_MODEL => self.openai.open_connections(),
            ANTHROPIC_MODEL => self.anthropic.open_connections(),
            other => panic!("no fake serves {other}"),
        }
    }

    /// Asserts that neither fake saw a malformed request (roles out of
    /// order, tool results that answer no call…).
    pub fn assert_no_violations(&self) {
        assert!(
            self.openai.violations().is_empty(),
            "{:#?}",
            self.openai.violations()
        );
        assert!(
            self.anthropic.violations().is_empty(),
            "{:#?}",
            self.anthropic.violations()
        );
    }

    /// The conversation's items, oldest first (`order=asc`, one page).
    pub async fn items(&self, conversation: &str) -> Vec<Value> {
        let reply = self
            .get(
                &format!("/v1/conversations/{conversation}/items?order=asc&limit=100"),
                self.key(),
            )
            .await;
        let page = reply.expect_status(200);
        assert_eq!(page["has_more"], false, "{page}");
        page["data"].as_array().unwrap().clone()
    }
}

/// A minimal request for `model`.
pub fn ask(model: &str, input: &str) -> Value {
    json!({"model": model, "input": input})
}

/// The `get_weather` function tool of the Responses API.
pub fn weather_tool() -> Value {
    json!({
        "type": "function",
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"]
        }
    })
}

/// The `get_time` function tool.
pub fn time_tool() -> Value {
    json!({
        "type": "function",
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}
    })
}

/// `id` as a string, panicking with the object otherwise.
pub fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// The conversation id of a Response object.
pub fn conversation_of(response: &Value) -> String {
    response["conversation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no conversation in {response}"))
        .to_owned()
}

/// Asserts the fields the OpenAI SDKs read on a Response object.
pub fn assert_response_object(r: &Value) {
    assert_eq!(r["object"], "response", "{r}");
    assert!(
        r["id"].as_str().is_some_and(|id| id.starts_with("resp_")),
        "{r}"
    );
    let created = r["created_at"].as_i64().expect("created_at");
    assert!(
        (crate::now_secs() - created).abs() < 600,
        "created_at {created} is not now"
    );
    assert!(
        ["completed", "incomplete", "failed", "in_progress"]
            .contains(&r["status"].as_str().unwrap_or("")),
        "{r}"
    );
    assert!(r["model"].is_string(), "{r}");
    assert!(r["tools"].is_array(), "{r}");
    assert!(!r["tool_choice"].is_null(), "{r}");
    assert!(r["parallel_tool_calls"].is_boolean(), "{r}");
    assert!(r["metadata"].is_object(), "{r}");
    assert!(r.get("error").is_some() && r.get("incomplete_details").is_some());
    match r["status"].as_str() {
        Some("completed") => {
            assert!(
                r["error"].is_null() && r["incomplete_details"].is_null(),
                "{r}"
            );
        }
        Some("incomplete") => assert!(r["incomplete_details"]["reason"].is_string(), "{r}"),
        Some("failed") => assert!(r["error"]["code"].is_string(), "{r}"),
        _ => {}
    }
    let usage = &r["usage"];
    let n = |f: &str| {
        usage[f]
            .as_u64()
            .unwrap_or_else(|| panic!("usage.{f}: {r}"))
    };
    assert_eq!(
        n("total_tokens"),
        n("input_tokens") + n("output_tokens"),
        "{r}"
    );
    let output = r["output"].as_array().expect("output");
    let mut text = String::new();
    for item in output {
        let id = item["id"]
            .as_str()
            .unwrap_or_else(|| panic!("item id: {r}"));
        match item["type"].as_str() {
            Some("message") => {
                assert!(id.starts_with("msg_"), "{item}");
                assert_eq!(item["role"], "assistant", "{item}");
                assert!(item["status"].is_string(), "{item}");
                for part in item["content"].as_array().expect("content") {
                    assert_eq!(part["type"], "output_text", "{part}");
                    assert!(part["annotations"].is_array(), "{part}");
                    text.push_str(part["text"].as_str().expect("text"));
                }
            }
            Some("function_call") => {
                assert!(id.starts_with("fc_"), "{item}");
                for f in ["call_id", "name", "arguments", "status"] {
                    assert!(item[f].is_string(), "{f}: {item}");
                }
            }
            Some("file_operation_call") => {
                for f in ["call_id", "name", "arguments", "status"] {
                    assert!(item[f].is_string(), "{f}: {item}");
                }
                match item["status"].as_str() {
                    Some("completed") => assert!(item["output"].is_string(), "{item}"),
                    Some("failed") => assert!(item["error"].is_string(), "{item}"),
                    _ => panic!("status of {item}"),
                }
            }
            _ => panic!("unexpected output item {item}"),
        }
    }
    assert_eq!(r["output_text"], text, "output_text of {r}");
}

/// Provider-neutral lines for the messages an upstream received:
/// `system: …`, `user: …`, `assistant: …`, `call <name> <args>`,
/// `result <call id>: <content>`. Arguments are normalised JSON.
pub fn transcript(model: &str, request: &Recorded) -> Vec<String> {
    let body = &request.body;
    let mut lines = Vec::new();
    let norm = |args: &Value| match args {
        Value::String(s) => serde_json::from_str::<Value>(s)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| s.clone()),
        other => other.to_string(),
    };
    let text_of = |content: &Value| -> String {
        match content {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        }
    };
    if model == ANTHROPIC_MODEL {
        if !body["system"].is_null() {
            lines.push(format!("system: {}", text_of(&body["system"])));
        }
        for m in body["messages"].as_array().expect("messages") {
            let role = m["role"].as_str().unwrap();
            match &m["content"] {
                Value::String(s) => lines.push(format!("{role}: {s}")),
                Value::Array(blocks) => {
                    for b in blocks {
                        match b["type"].as_str().unwrap() {
                            "text" => {
                                lines.push(format!("{role}: {}", b["text"].as_str().unwrap()))
                            }
                            "tool_use" => lines.push(format!(
                                "call {} {}",
                                b["name"].as_str().unwrap(),
                                norm(&b["input"])
                            )),
                            "tool_result" => lines.push(format!(
                                "result {}: {}",
                                b["tool_use_id"].as_str().unwrap(),
                                text_of(&b["content"])
                            )),
                            other => lines.push(format!("{role}: <{other}>")),
                        }
                    }
                }
                other => panic!("content {other}"),
            }
        }
    } else {
        for m in body["messages"].as_array().expect("messages") {
            let role = m["role"].as_str().unwrap();
            match role {
                "tool" => lines.push(format!(
                    "result {}: {}",
                    m["tool_call_id"].as_str().unwrap(),
                    text_of(&m["content"])
                )),
                _ => {
                    let text = text_of(&m["content"]);
                    if !text.is_empty() || m["tool_calls"].is_null() {
                        lines.push(format!("{role}: {text}"));
                    }
                    for call in m["tool_calls"].as_array().into_iter().flatten() {
                        lines.push(format!(
                            "call {} {}",
                            call["function"]["name"].as_str().unwrap(),
                            norm(&call["function"]["arguments"])
                        ));
                    }
                }
            }
        }
    }
    lines
}

/// The tool call ids in the order of `result …` lines.
pub fn result_lines(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter(|l| l.starts_with("result "))
        .map(String::as_str)
        .collect()
}

/// The names of the tools offered in an upstream request, whatever the
/// provider.
pub fn offered_tools(request: &Recorded) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|t| {
                    t["function"]["name"]
                        .as_str()
                        .or_else(|| t["name"].as_str())
                        .unwrap_or_else(|| panic!("tool without a name: {t}"))
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The Response object of a streamed response's terminal event, after
/// checking the whole sequence as the OpenAI SDKs' stream helpers do:
///
/// - every event is named after its `type` and carries a
///   `sequence_number`, strictly increasing from 0;
/// - `response.created`, then `response.in_progress`, both in progress;
/// - output items are added at the next index, their parts and deltas
///   come between their `added` and `done`, text deltas add up to
///   `output_text.done`, argument deltas to `function_call_arguments.done`;
///   built-in calls are items added `in_progress` and done `completed` or
///   `failed`, with no event types of their own (the npm SDK's stream
///   helper throws on types outside OpenAI's set);
/// - exactly one terminal event, last, `response.failed` right after an
///   `error`; its `output` is the items as they were done, in order.
pub fn check_events(events: &[(SseEvent, Instant)]) -> Value {
    let all: Vec<Value> = events.iter().map(|(e, _)| e.json()).collect();
    let dump = || {
        all.iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(all.len() >= 3, "too few events:\n{}", dump());
    let mut last_seq: Option<u64> = None;
    for ((frame, _), event) in events.iter().zip(&all) {
        let kind = event["type"]
            .as_str()
            .unwrap_or_else(|| panic!("event without type: {event}"));
        assert_eq!(frame.event.as_deref(), Some(kind), "event name of {event}");
        let seq = event["sequence_number"]
            .as_u64()
            .unwrap_or_else(|| panic!("no sequence_number: {event}"));
        match last_seq {
            None => assert_eq!(seq, 0, "first sequence_number: {event}"),
            Some(prev) => assert!(seq > prev, "sequence_number {seq} after {prev}"),
        }
        last_seq = Some(seq);
    }
    assert_eq!(all[0]["type"], "response.created", "{}", dump());
    assert_eq!(all[1]["type"], "response.in_progress", "{}", dump());
    let response_id = all[0]["response"]["id"].clone();
    for e in &all[..2] {
        assert_eq!(e["response"]["status"], "in_progress", "{e}");
        assert_eq!(e["response"]["id"], response_id, "{e}");
    }
    let terminal = [
        "response.completed",
        "response.incomplete",
        "response.failed",
    ];
    let terminals: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, e)| terminal.contains(&e["type"].as_str().unwrap()))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        terminals,
        [all.len() - 1],
        "one terminal event, last:\n{}",
        dump()
    );
    let last = &all[all.len() - 1];
    let errors: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, e)| e["type"] == "error")
        .map(|(i, _)| i)
        .collect();
    if last["type"] == "response.failed" {
        assert_eq!(errors, [all.len() - 2], "error before failed:\n{}", dump());
        let error = &all[all.len() - 2];
        assert!(
            error["code"].is_string() && error["message"].is_string(),
            "{error}"
        );
    } else {
        assert!(errors.is_empty(), "error events:\n{}", dump());
    }

    // Items, by output index: (item as added, text, arguments, done item).
    #[derive(Default)]
    struct Open {
        item: Value,
        part_open: bool,
        text: String,
        text_done: Option<String>,
        arguments: String,
        arguments_done: Option<String>,
        done: Option<Value>,
    }
    let mut items: Vec<Open> = Vec::new();
    let index_of = |e: &Value, items: &Vec<Open>| -> usize {
        let i = e["output_index"]
            .as_u64()
            .unwrap_or_else(|| panic!("no output_index: {e}")) as usize;
        assert!(i < items.len(), "output_index {i} before its item: {e}");
        assert!(
            items[i].done.is_none(),
            "event after the item was done: {e}"
        );
        if let Some(item_id) = e.get("item_id") {
            assert_eq!(item_id, &items[i].item["id"], "item_id of {e}");
        }
        i
    };
    for e in &all[2..all.len() - 1] {
        match e["type"].as_str().unwrap() {
            "response.output_item.added" => {
                let i = e["output_index"].as_u64().unwrap() as usize;
                assert_eq!(i, items.len(), "items are added in order: {e}");
                let item = e["item"].clone();
                assert!(item["id"].is_string(), "{e}");
                assert_eq!(item["status"], "in_progress", "{e}");
                items.push(Open {
                    item,
                    ..Open::default()
                });
            }
            "response.content_part.added" => {
                let i = index_of(e, &items);
                assert_eq!(items[i].item["type"], "message", "{e}");
                assert!(!items[i].part_open, "{e}");
                assert_eq!(e["content_index"], 0, "{e}");
                items[i].part_open = true;
            }
            "response.output_text.delta" => {
                let i = index_of(e, &items);
                assert!(items[i].part_open, "delta outside a part: {e}");
                assert!(items[i].text_done.is_none(), "{e}");
                items[i].text.push_str(e["delta"].as_str().expect("delta"));
            }
            "response.output_text.done" => {
                let i = index_of(e, &items);
                assert_eq!(e["text"], items[i].text, "text.done vs deltas");
                items[i].text_done = Some(items[i].text.clone());
            }
            "response.content_part.done" => {
                let i = index_of(e, &items);
                assert!(items[i].part_open, "{e}");
                assert_eq!(
                    Some(e["part"]["text"].as_str().unwrap().to_owned()),
                    items[i].text_done,
                    "{e}"
                );
                items[i].part_open = false;
            }
            "response.function_call_arguments.delta" => {
                let i = index_of(e, &items);
                assert_eq!(items[i].item["type"], "function_call", "{e}");
                items[i]
                    .arguments
                    .push_str(e["delta"].as_str().expect("delta"));
            }
            "response.function_call_arguments.done" => {
                let i = index_of(e, &items);
                assert_eq!(e["arguments"], items[i].arguments, "arguments vs deltas");
                items[i].arguments_done = Some(items[i].arguments.clone());
            }
            "response.output_item.done" => {
                let i = index_of(e, &items);
                let item = e["item"].clone();
                assert_eq!(item["id"], items[i].item["id"], "{e}");
                let open = &items[i];
                assert!(!open.part_open, "item done with a part open: {e}");
                match item["type"].as_str().unwrap() {
                    "message" => {
                        assert_eq!(item["status"], "completed", "{e}");
                        assert_eq!(
                            Some(crate::responses::item_text(&item)),
                            open.text_done,
                            "{e}"
                        );
                    }
                    "function_call" => {
                        assert_eq!(item["status"], "completed", "{e}");
                        assert_eq!(
                            item["arguments"].as_str().map(str::to_owned),
                            open.arguments_done,
                            "{e}"
                        );
                    }
                    "file_operation_call" => {
                        assert!(
                            item["status"] == "completed" || item["status"] == "failed",
                            "status of {e}"
                        );
                    }
                    other => panic!("unexpected item type {other}: {e}"),
                }
                items[i].done = Some(item);
            }
            "error" => {}
            // The npm SDK's stream helper throws on event types outside
            // OpenAI's set, so Hearth must not invent any.
            other => panic!("unexpected event type {other}: {e}"),
        }
    }
    let response = last["response"].clone();
    assert_eq!(response["id"], response_id);
    let expected_status = match last["type"].as_str().unwrap() {
        "response.completed" => "completed",
        "response.incomplete" => "incomplete",
        _ => "failed",
    };
    assert_eq!(response["status"], expected_status, "{last}");
    if expected_status != "failed" {
        assert!(
            items.iter().all(|i| i.done.is_some()),
            "items left open:\n{}",
            dump()
        );
    }
    let done: Vec<Value> = items.into_iter().filter_map(|i| i.done).collect();
    let output = response["output"].as_array().unwrap();
    if expected_status == "failed" {
        // An item cut short by the failure stays as it was.
        assert_eq!(
            &output[..done.len().min(output.len())],
            &done[..],
            "the final output starts with the items as done"
        );
    } else {
        assert_eq!(output, &done, "the final output is the items as done");
    }
    assert_response_object(&response);
    response
}

/// The event types of a stream, in order.
pub fn kinds(events: &[(SseEvent, Instant)]) -> Vec<String> {
    events
        .iter()
        .map(|(e, _)| e.json()["type"].as_str().unwrap().to_owned())
        .collect()
}

/// The text of a message item.
pub fn item_text(item: &Value) -> String {
    item["content"]
        .as_array()
        .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect())
        .unwrap_or_default()
}

/// The output items of a given type.
pub fn items_of<'a>(response: &'a Value, kind: &str) -> Vec<&'a Value> {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == kind)
        .collect()
}

/// Asserts a 400 in the envelope naming `param`, with `code` when given.
pub fn expect_bad_request<'a>(reply: &'a Reply, param: &str, code: Option<&str>) -> &'a Value {
    let error = reply.expect_error(400, "invalid_request_error");
    assert_eq!(error["param"], param, "{}", reply.body);
    if let Some(code) = code {
        assert_eq!(error["code"], code, "{}", reply.body);
    }
    error
}

/// Names of the entries of a directory (empty when it does not exist).
pub fn dir_entries(dir: &std::path::Path) -> BTreeMap<String, bool> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.file_type().unwrap().is_dir(),
                )
            })
            .collect()
        })
        .unwrap_or_default()
}
