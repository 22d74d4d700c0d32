//! Scenarios of `sdk-tests/node/scenarios.mjs` (the `openai` npm package).

use crate::harness::{Provider, tool_call_expect};
use crate::per_provider;
use hearth_testkit::{FakeReply, Script, ToolCall};
use serde_json::{Value, json};
use std::time::Duration;

const TEXT: &str = "Node streams through Hearth too.";
const TEXT_WORDS: usize = 5;

fn text_expect() -> Value {
    json!({"text": TEXT, "prompt_tokens": 13, "completion_tokens": 6, "min_chunks": TEXT_WORDS})
}

/// [`TEXT`] with the usage [`text_expect`] checks.
fn text_reply() -> Script {
    FakeReply::text(TEXT).usage(13, 6)
}

async fn stream_helper_text(provider: Provider) {
    let scenario = node!("stream_helper_text");
    let reply = text_reply().chunk_delay(Duration::from_millis(2));
    let env = scenario
        .run_scripted(provider, [reply], text_expect())
        .await;
    assert!(env.requests(provider)[0].is_stream());
    env.assert_no_violations();
}

async fn stream_helper_tool_call(provider: Provider) {
    let scenario = node!("stream_helper_tool_call");
    let call = ToolCall::new(
        provider.call_id("node7"),
        "get_weather",
        json!({"city": "Oslo", "unit": "f"}),
    );
    let replies = [FakeReply::ToolCalls(vec![call.clone()]).into()];
    let expect = json!({"tool_call": tool_call_expect(&call)});
    let env = scenario.run_scripted(provider, replies, expect).await;
    env.assert_no_violations();
}

async fn for_await_create(provider: Provider) {
    let scenario = node!("for_await_create");
    let env = scenario
        .run_scripted(provider, [text_reply()], text_expect())
        .await;
    env.assert_no_violations();
}

async fn stream_error(provider: Provider) {
    let scenario = node!("stream_error");
    let reply = FakeReply::StreamThenError {
        text: TEXT.to_owned(),
        after_chunks: 3,
    };
    let expect = json!({"text_before_error": "Node streams through"});
    let env = scenario
        .run_scripted(provider, [reply.into()], expect)
        .await;
    env.assert_no_violations();
}

per_provider!(
    stream_helper_text,
    stream_helper_tool_call,
    for_await_create,
    stream_error
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors() {
    let env = node!("errors").run_unscripted().await;
    assert!(env.openai.requests().is_empty());
}
