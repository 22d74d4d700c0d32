//! Scenarios of `sdk-tests/node/scenarios.mjs` (the `openai` npm package).

use crate::harness::{Env, Provider, Sdk};
use crate::per_provider;
use hearth_testkit::{FakeReply, ToolCall};
use serde_json::json;
use std::time::Duration;

const TEXT: &str = "Node streams through Hearth too.";
const TEXT_WORDS: usize = 5;

macro_rules! node {
    ($name:expr) => {
        match Sdk::Node.installed() {
            Some(sdk) => sdk.scenario($name),
            None => return,
        }
    };
}

async fn stream_helper_text(provider: Provider) {
    let scenario = node!("stream_helper_text");
    let env = Env::start().await;
    env.enqueue(
        provider,
        FakeReply::text(TEXT)
            .usage(13, 6)
            .chunk_delay(Duration::from_millis(2)),
    );
    scenario
        .model(provider.model())
        .expect(json!({"text": TEXT, "prompt_tokens": 13, "completion_tokens": 6, "min_chunks": TEXT_WORDS}))
        .run(&env)
        .await;
    assert!(env.requests(provider)[0].is_stream());
    env.assert_no_violations();
}

async fn stream_helper_tool_call(provider: Provider) {
    let scenario = node!("stream_helper_tool_call");
    let env = Env::start().await;
    let id = match provider {
        Provider::OpenAi => "call_node7",
        Provider::Anthropic => "toolu_node7",
    };
    let call = ToolCall::new(id, "get_weather", json!({"city": "Oslo", "unit": "f"}));
    env.enqueue(provider, FakeReply::ToolCalls(vec![call.clone()]));
    scenario
        .model(provider.model())
        .expect(
            json!({"tool_call": {"id": call.id, "name": call.name, "arguments": call.arguments}}),
        )
        .run(&env)
        .await;
    env.assert_no_violations();
}

async fn for_await_create(provider: Provider) {
    let scenario = node!("for_await_create");
    let env = Env::start().await;
    env.enqueue(provider, FakeReply::text(TEXT).usage(13, 6));
    scenario
        .model(provider.model())
        .expect(json!({"text": TEXT, "prompt_tokens": 13, "completion_tokens": 6, "min_chunks": TEXT_WORDS}))
        .run(&env)
        .await;
    env.assert_no_violations();
}

async fn stream_error(provider: Provider) {
    let scenario = node!("stream_error");
    let env = Env::start().await;
    env.enqueue(
        provider,
        FakeReply::StreamThenError {
            text: TEXT.to_owned(),
            after_chunks: 3,
        },
    );
    scenario
        .model(provider.model())
        .expect(json!({"text_before_error": "Node streams through"}))
        .run(&env)
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
    let scenario = node!("errors");
    let env = Env::start().await;
    scenario.run(&env).await;
    assert!(env.openai.requests().is_empty());
}
