//! Scenarios of `sdk-tests/python/scenarios.py` (the `openai` Python SDK).

use crate::harness::{Env, Provider, times, tool_call_expect};
use crate::per_provider;
use hearth_testkit::gateway;
use hearth_testkit::{FakeReply, Script, ToolCall};
use serde_json::{Value, json};
use std::time::Duration;

const TEXT: &str = "Hearth relays every word.";
/// Words of [`TEXT`]: the fakes stream one delta per word.
const TEXT_WORDS: usize = 4;

fn text_expect() -> Value {
    json!({"text": TEXT, "prompt_tokens": 11, "completion_tokens": 7, "min_chunks": TEXT_WORDS})
}

/// [`TEXT`] with the usage [`text_expect`] checks.
fn text_reply() -> Script {
    FakeReply::text(TEXT).usage(11, 7)
}

fn tool_call(provider: Provider) -> ToolCall {
    ToolCall::new(
        provider.call_id("sdk42"),
        "get_weather",
        json!({"city": "Paris", "unit": "c"}),
    )
}

fn tool_expect(call: &ToolCall) -> Value {
    json!({"text": TEXT, "tool_call": tool_call_expect(call)})
}

/// An upstream 429 with this `retry-after`.
fn rate_limited(retry_after: u64) -> FakeReply {
    FakeReply::Error {
        status: 429,
        message: "slow down".to_owned(),
        retry_after: Some(retry_after),
    }
}

async fn chat_plain(provider: Provider) {
    let scenario = python!("chat_plain");
    let env = scenario
        .run_scripted(provider, [text_reply()], text_expect())
        .await;
    let requests = env.requests(provider);
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    assert!(!requests[0].is_stream(), "{body}");
    match provider {
        Provider::OpenAi => {
            assert_eq!(body["model"], gateway::OPENAI_UPSTREAM);
            assert_eq!(body["messages"][0]["content"], "You are terse.");
            assert_eq!(body["max_tokens"], 64);
        }
        Provider::Anthropic => {
            assert_eq!(body["model"], gateway::ANTHROPIC_UPSTREAM);
            assert!(
                body["system"].to_string().contains("You are terse."),
                "{body}"
            );
            assert_eq!(body["max_tokens"], 64);
            assert_eq!(body["temperature"], 0.2);
        }
    }
    env.assert_no_violations();
}

async fn chat_stream(provider: Provider) {
    let scenario = python!("chat_stream");
    let reply = text_reply().chunk_delay(Duration::from_millis(5));
    let env = scenario
        .run_scripted(provider, [reply], text_expect())
        .await;
    assert!(env.requests(provider)[0].is_stream());
    env.assert_no_violations();
}

async fn chat_stream_usage(provider: Provider) {
    let scenario = python!("chat_stream_usage");
    let env = scenario
        .run_scripted(provider, [text_reply()], text_expect())
        .await;
    env.assert_no_violations();
}

async fn chat_stream_helper_text(provider: Provider) {
    let scenario = python!("chat_stream_helper_text");
    let env = scenario
        .run_scripted(provider, [text_reply()], text_expect())
        .await;
    env.assert_no_violations();
}

async fn chat_stream_tool_call(provider: Provider) {
    let scenario = python!("chat_stream_tool_call");
    let call = tool_call(provider);
    let replies = [FakeReply::ToolCalls(vec![call.clone()]).into()];
    let env = scenario
        .run_scripted(provider, replies, tool_expect(&call))
        .await;
    let requests = env.requests(provider);
    assert_eq!(requests.len(), 1);
    assert!(requests[0].is_stream());
    // The tool reached the upstream in its own format.
    let tools = requests[0].body["tools"].to_string();
    assert!(tools.contains("get_weather"), "{tools}");
    env.assert_no_violations();
}

async fn chat_tool_call_plain(provider: Provider) {
    let scenario = python!("chat_tool_call_plain");
    let call = tool_call(provider);
    let replies = [
        FakeReply::ToolCalls(vec![call.clone()]).into(),
        FakeReply::text(TEXT).into(),
    ];
    let env = scenario
        .run_scripted(provider, replies, tool_expect(&call))
        .await;
    let requests = env.requests(provider);
    assert_eq!(requests.len(), 2);
    // The second request carries the tool result for the call.
    let second = requests[1].body["messages"].to_string();
    assert!(second.contains(&call.id), "{second}");
    assert!(second.contains("18 C, sunny"), "{second}");
    env.assert_no_violations();
}

async fn chat_stream_error(provider: Provider) {
    let scenario = python!("chat_stream_error");
    let reply = FakeReply::StreamThenError {
        text: TEXT.to_owned(),
        after_chunks: 2,
    };
    let expect = json!({"text_before_error": "Hearth relays"});
    let env = scenario
        .run_scripted(provider, [reply.into()], expect)
        .await;
    env.assert_no_violations();
}

async fn completion_plain(provider: Provider) {
    let scenario = python!("completion_plain");
    let env = scenario
        .run_scripted(provider, [text_reply()], text_expect())
        .await;
    let requests = env.requests(provider);
    assert_eq!(requests.len(), 1);
    match provider {
        // Passed through to the legacy endpoint.
        Provider::OpenAi => assert_eq!(requests[0].path, "/v1/completions"),
        // Translated to a chat (the Messages API).
        Provider::Anthropic => assert_eq!(requests[0].path, "/v1/messages"),
    }
    env.assert_no_violations();
}

async fn completion_stream(provider: Provider) {
    let scenario = python!("completion_stream");
    let env = scenario
        .run_scripted(provider, [text_reply()], text_expect())
        .await;
    assert!(env.requests(provider)[0].is_stream());
    env.assert_no_violations();
}

async fn chat_parse_structured(provider: Provider) {
    let scenario = python!("chat_parse_structured");
    let object = json!({"city": "Paris", "temp_c": 18});
    let replies = times(2, FakeReply::text(object.to_string()));
    let env = scenario
        .run_scripted(provider, replies, json!({ "object": object }))
        .await;
    let requests = env.requests(provider);
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let body = &request.body;
        match provider {
            // Passed through.
            Provider::OpenAi => assert_eq!(body["response_format"]["type"], "json_schema"),
            // Stands in as a system instruction that carries the schema.
            Provider::Anthropic => assert!(body["system"].to_string().contains("temp_c"), "{body}"),
        }
    }
    env.assert_no_violations();
}

/// An upstream 429 (Hearth retries 0) reaches the SDK as RateLimitError
/// with the upstream's Retry-After, for a plain and a streamed call.
async fn error_upstream_429(provider: Provider) {
    let scenario = python!("error_upstream");
    let expect = json!({"class": "RateLimitError", "status": 429, "retry_after": 7});
    let env = scenario
        .run_scripted(provider, times(2, rate_limited(7)), expect)
        .await;
    assert_eq!(env.requests(provider).len(), 2, "max_retries=0 retried");
}

/// The SDK's own retry honours Hearth's Retry-After and then succeeds.
async fn retry_after_429(provider: Provider) {
    let scenario = python!("retry_after_429");
    let replies = [rate_limited(1).into(), FakeReply::text(TEXT).into()];
    let env = scenario
        .run_scripted(provider, replies, json!({"text": TEXT}))
        .await;
    assert_eq!(env.requests(provider).len(), 2, "the SDK did not retry");
}

per_provider!(
    chat_plain,
    chat_stream,
    chat_stream_usage,
    chat_stream_helper_text,
    chat_stream_tool_call,
    chat_tool_call_plain,
    chat_parse_structured,
    chat_stream_error,
    completion_plain,
    completion_stream,
    error_upstream_429,
    retry_after_429,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_raw_response() {
    let scenario = python!("chat_raw_response");
    let replies = [FakeReply::text(TEXT).into()];
    scenario
        .run_scripted(Provider::OpenAi, replies, text_expect())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_stream_async() {
    let scenario = python!("chat_stream_async");
    scenario
        .run_scripted(Provider::Anthropic, [text_reply()], text_expect())
        .await;
}

/// A member's key: what its organisation may use, aliases resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models() {
    let scenario = python!("models");
    let env = Env::start().await;
    let member = env.server.user("member", None).await;
    scenario
        .key(&member.key)
        .expect(json!({
            "ids": [gateway::OPENAI_MODEL, gateway::ANTHROPIC_MODEL],
            "alias": gateway::OPENAI_ALIAS,
            "alias_of": gateway::OPENAI_MODEL,
        }))
        .run(&env)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_bad_key() {
    let env = python!("error_bad_key").run_unscripted().await;
    assert!(env.openai.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_unknown_model() {
    let env = python!("error_unknown_model").run_unscripted().await;
    assert!(env.openai.requests().is_empty());
    assert!(env.anthropic.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_bad_request() {
    let env = python!("error_bad_request").run_unscripted().await;
    assert!(env.openai.requests().is_empty());
}

/// Hearth's own per-organisation request limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_rate_limited() {
    let scenario = python!("error_rate_limited");
    let env = Env::start_with(|c| c.limits.requests_per_minute = 2).await;
    env.enqueue(Provider::OpenAi, FakeReply::text(TEXT));
    env.enqueue(Provider::OpenAi, FakeReply::text(TEXT));
    scenario
        .expect(json!({
            "allowed": 2,
            "text": TEXT,
            "limit_header": "x-ratelimit-limit-requests",
            "limit": 2,
        }))
        .run(&env)
        .await;
    assert_eq!(env.openai.requests().len(), 2);
}

/// An upstream 5xx (no fallback, no retry): InternalServerError, with
/// nothing of the upstream's address or key in the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_upstream_500() {
    let scenario = python!("error_upstream");
    let replies = times(2, FakeReply::error(500, "upstream exploded"));
    let expect = json!({"class": "InternalServerError", "status": 502});
    let env = scenario
        .run_scripted(Provider::OpenAi, replies, expect)
        .await;
    assert_eq!(env.openai.requests().len(), 2);
}
