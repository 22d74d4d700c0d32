//! Chat Actions through the SDKs: `/v1/responses` and `/v1/conversations`
//! driven by the `openai` Python SDK (`responses_*`, `conversation*`
//! scenarios of `sdk-tests/python/scenarios.py`) and the `openai` npm
//! package's `responses.stream()` helper (`sdk-tests/node/scenarios.mjs`).
//!
//! Each test scripts the fakes, runs one scenario, and checks what the
//! upstream received.

use crate::harness::{Provider, times, tool_call_expect};
use crate::per_provider;
use hearth_testkit::{FakeReply, Recorded, Script, ToolCall};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const TEXT: &str = "Hearth acts on every word.";
/// Words of [`TEXT`]: the fakes stream one delta per word.
const TEXT_WORDS: usize = 5;
/// What the client's function returns in the round trips.
const TOOL_OUTPUT: &str = "18 C, sunny";
/// Input messages of the paginated responses: three pages of ten.
const INPUT_COUNT: usize = 25;
const PAGE_LIMIT: usize = 10;
/// The file the file-tool scenarios write.
const NOTE_PATH: &str = "notes/today.txt";
const NOTE: &str = "buy bread\ncall Ada\n";

fn text_expect() -> Value {
    json!({"text": TEXT, "input_tokens": 11, "output_tokens": 7, "min_chunks": TEXT_WORDS})
}

/// [`TEXT`] with the usage [`text_expect`] checks.
fn text_reply() -> Script {
    FakeReply::text(TEXT).usage(11, 7)
}

/// A call id in the provider's own style.
fn call_id(provider: Provider, n: u32) -> String {
    provider.call_id(&format!("sdk{n}"))
}

/// One reply that calls `calls`.
fn calls(calls: &[&ToolCall]) -> FakeReply {
    FakeReply::ToolCalls(calls.iter().map(|&call| call.clone()).collect())
}

fn weather_call(provider: Provider, n: u32) -> ToolCall {
    ToolCall::new(
        call_id(provider, n),
        "get_weather",
        json!({"city": "Oslo", "unit": "c"}),
    )
}

fn write_call(provider: Provider) -> ToolCall {
    ToolCall::new(
        call_id(provider, 7),
        "write_file",
        json!({"path": NOTE_PATH, "content": NOTE}),
    )
}

/// The upstream request's whole body as text, to look for a value in it
/// whatever the provider's format.
fn body_text(request: &Recorded) -> String {
    request.body.to_string()
}

/// The built-in file tools were offered to the model, in the provider's
/// own tool format.
fn assert_file_tools_offered(request: &Recorded) {
    let tools = request.body["tools"].to_string();
    for name in [
        "list_files",
        "read_file",
        "write_file",
        "search_files",
        "edit_file",
    ] {
        assert!(tools.contains(name), "{name} not offered: {tools}");
    }
}

/// The content of `path` in the one conversation workspace that has it.
fn workspace_file(workspace_dir: &Path, path: &str) -> String {
    let found: Vec<String> = std::fs::read_dir(workspace_dir)
        .expect("workspace dir")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join(path)).ok())
        .collect();
    assert_eq!(found.len(), 1, "{path} in {} workspaces", found.len());
    found.into_iter().next().unwrap_or_default()
}

// --- Python ---------------------------------------------------------------

async fn responses_create(provider: Provider) {
    let scenario = python!("responses_create");
    let env = scenario
        .run_scripted(provider, [text_reply()], text_expect())
        .await;
    let requests = env.requests(provider);
    assert_eq!(requests.len(), 1);
    let body = body_text(&requests[0]);
    assert!(body.contains("You are terse."), "{body}");
    assert!(body.contains("Say hello."), "{body}");
    assert_eq!(requests[0].body["max_tokens"], 64, "{body}");
    assert_file_tools_offered(&requests[0]);
    env.assert_no_violations();
}

async fn responses_stream_helper(provider: Provider) {
    let scenario = python!("responses_stream_helper");
    let reply = text_reply().chunk_delay(Duration::from_millis(5));
    let env = scenario
        .run_scripted(provider, [reply], text_expect())
        .await;
    assert_eq!(env.requests(provider).len(), 1);
    env.assert_no_violations();
}

async fn responses_stream_function_call(provider: Provider) {
    let scenario = python!("responses_stream_function_call");
    let call = weather_call(provider, 1);
    // Once through the stream helper, once through `create(stream=True)`.
    let replies = times(2, calls(&[&call]));
    let expect = json!({"tool_call": tool_call_expect(&call)});
    let env = scenario.run_scripted(provider, replies, expect).await;
    let requests = env.requests(provider);
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert!(
            request.body["tools"].to_string().contains("get_weather"),
            "{}",
            request.body
        );
    }
    env.assert_no_violations();
}

async fn responses_function_round_trip(provider: Provider) {
    let scenario = python!("responses_function_round_trip");
    let (first, second) = (weather_call(provider, 1), weather_call(provider, 2));
    let replies = [
        calls(&[&first]).into(),
        FakeReply::text(TEXT).into(),
        calls(&[&second]).into(),
        FakeReply::text(TEXT).into(),
    ];
    let expect = json!({
        "text": TEXT,
        "tool_output": TOOL_OUTPUT,
        "call_ids": [first.id, second.id],
        "tool_call": {"name": "get_weather", "arguments": first.arguments},
    });
    let env = scenario.run_scripted(provider, replies, expect).await;
    let requests = env.requests(provider);
    assert_eq!(
        requests.len(),
        4,
        "the bad call_id must not reach the upstream"
    );
    // Each continuation carried the call and the client's output for it.
    for (request, call) in [(&requests[1], &first), (&requests[3], &second)] {
        let body = body_text(request);
        assert!(body.contains(&call.id), "{body}");
        assert!(body.contains(TOOL_OUTPUT), "{body}");
    }
    // Through the conversation, the third request has the whole history;
    // through previous_response_id, the fourth has its chain.
    assert!(body_text(&requests[2]).contains(&first.id));
    assert!(body_text(&requests[3]).contains("And in Oslo?"));
    env.assert_no_violations();
}

async fn responses_file_tool_loop(provider: Provider) {
    let scenario = python!("responses_file_tool_loop");
    let write = write_call(provider);
    let read = ToolCall::new(
        call_id(provider, 8),
        "read_file",
        json!({"path": NOTE_PATH}),
    );
    let replies = [
        calls(&[&write]).usage(11, 7),
        FakeReply::text(TEXT).usage(13, 5),
        calls(&[&read]).into(),
        FakeReply::text(TEXT).into(),
    ];
    let expect = json!({
        "text": TEXT,
        // Summed over both model calls of the first response.
        "input_tokens": 24,
        "output_tokens": 12,
        "write": {"id": write.id, "arguments": write.arguments},
    });
    let env = scenario.run_scripted(provider, replies, expect).await;
    let requests = env.requests(provider);
    assert_eq!(requests.len(), 4);
    assert_file_tools_offered(&requests[0]);
    // The model saw each tool's result before answering.
    let second = body_text(&requests[1]);
    assert!(second.contains(&write.id), "{second}");
    assert!(second.contains("wrote"), "{second}");
    let fourth = body_text(&requests[3]);
    assert!(fourth.contains("buy bread"), "{fourth}");
    assert_eq!(workspace_file(env.server.workspace_dir(), NOTE_PATH), NOTE);
    env.assert_no_violations();
}

async fn responses_stream_file_tool(provider: Provider) {
    let scenario = python!("responses_stream_file_tool");
    let write = write_call(provider);
    let replies = [calls(&[&write]).into(), FakeReply::text(TEXT).into()];
    let expect = json!({"text": TEXT, "write": {"id": write.id, "arguments": write.arguments}});
    let env = scenario.run_scripted(provider, replies, expect).await;
    assert_eq!(env.requests(provider).len(), 2);
    assert_eq!(workspace_file(env.server.workspace_dir(), NOTE_PATH), NOTE);
    env.assert_no_violations();
}

per_provider!(
    responses_create,
    responses_stream_helper,
    responses_stream_function_call,
    responses_function_round_trip,
    responses_file_tool_loop,
    responses_stream_file_tool,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_retrieve() {
    let scenario = python!("responses_retrieve");
    let replies = times(2, FakeReply::text(TEXT));
    let env = scenario
        .run_scripted(Provider::OpenAi, replies, json!({"text": TEXT}))
        .await;
    assert_eq!(env.openai.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_input_items_pages() {
    let scenario = python!("responses_input_items_pages");
    let replies = [FakeReply::text(TEXT).into()];
    let expect = json!({"text": TEXT, "input_count": INPUT_COUNT, "limit": PAGE_LIMIT});
    let env = scenario
        .run_scripted(Provider::Anthropic, replies, expect)
        .await;
    let requests = env.anthropic.requests();
    assert_eq!(requests.len(), 1);
    let body = body_text(&requests[0]);
    for i in [0, INPUT_COUNT - 1] {
        assert!(body.contains(&format!("message {i:02}")), "{body}");
    }
    env.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_items_pages() {
    let scenario = python!("conversation_items_pages");
    let replies = times(2, FakeReply::text(TEXT));
    let expect = json!({"text": TEXT, "input_count": INPUT_COUNT, "limit": PAGE_LIMIT});
    let env = scenario
        .run_scripted(Provider::OpenAi, replies, expect)
        .await;
    let requests = env.openai.requests();
    assert_eq!(requests.len(), 2);
    // The second turn was sent with the whole stored history.
    let messages = requests[1].body["messages"].as_array().unwrap();
    assert!(messages.len() > INPUT_COUNT + 1, "{}", requests[1].body);
    assert!(body_text(&requests[1]).contains("message 00"));
    env.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_crud() {
    let scenario = python!("conversations_crud");
    let seed = "Remember the number 4711.";
    let replies = times(2, FakeReply::text(TEXT));
    let expect = json!({"text": TEXT, "seed_text": seed});
    let env = scenario
        .run_scripted(Provider::OpenAi, replies, expect)
        .await;
    let requests = env.openai.requests();
    assert_eq!(
        requests.len(),
        2,
        "a deleted conversation must not reach the upstream"
    );
    // The items the conversation was created with are its history.
    for request in &requests {
        assert!(body_text(request).contains(seed), "{}", request.body);
    }
    env.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_errors() {
    let env = python!("responses_errors").run_unscripted().await;
    assert!(env.openai.requests().is_empty());
    assert!(env.anthropic.requests().is_empty());
}

// --- Node -----------------------------------------------------------------

async fn node_responses_stream_text(provider: Provider) {
    let scenario = node!("responses_stream_text");
    let reply = text_reply().chunk_delay(Duration::from_millis(2));
    let env = scenario
        .run_scripted(provider, [reply], text_expect())
        .await;
    assert_eq!(env.requests(provider).len(), 1);
    env.assert_no_violations();
}

async fn node_responses_stream_function_call(provider: Provider) {
    let scenario = node!("responses_stream_function_call");
    let call = weather_call(provider, 3);
    let replies = [calls(&[&call]).into()];
    let expect = json!({"tool_call": tool_call_expect(&call)});
    let env = scenario.run_scripted(provider, replies, expect).await;
    assert_eq!(env.requests(provider).len(), 1);
    env.assert_no_violations();
}

async fn node_responses_stream_file_tool(provider: Provider) {
    let scenario = node!("responses_stream_file_tool");
    let write = write_call(provider);
    let failing = ToolCall::new(
        call_id(provider, 9),
        "read_file",
        json!({"path": "no/such/file.txt"}),
    );
    let replies = [
        calls(&[&write, &failing]).usage(11, 7),
        FakeReply::text(TEXT).usage(13, 5),
    ];
    let expect = json!({
        "text": TEXT,
        "input_tokens": 24,
        "output_tokens": 12,
        "write": {"id": write.id, "arguments": write.arguments},
        "failing": {"id": failing.id},
    });
    let env = scenario.run_scripted(provider, replies, expect).await;
    let requests = env.requests(provider);
    assert_eq!(requests.len(), 2);
    // The model saw the failure as the call's result.
    let second = body_text(&requests[1]);
    assert!(second.contains(&failing.id), "{second}");
    assert!(second.contains("error"), "{second}");
    assert_eq!(workspace_file(env.server.workspace_dir(), NOTE_PATH), NOTE);
    env.assert_no_violations();
}

async fn node_responses_for_await_create(provider: Provider) {
    let scenario = node!("responses_for_await_create");
    let env = scenario
        .run_scripted(provider, [text_reply()], text_expect())
        .await;
    env.assert_no_violations();
}

per_provider!(
    node_responses_stream_text,
    node_responses_stream_function_call,
    node_responses_stream_file_tool,
    node_responses_for_await_create,
);
