//! `FakeOpenAi`: answers in OpenAI's wire format and checks requests.

use super::{client, parse_sse};
use crate::fake::{DEFAULT_TEXT, FakeOpenAi, Reply, ToolCall};
use serde_json::{Value, json};

fn chat_body(stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "Hi"}]})
}

async fn post(fake: &FakeOpenAi, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", fake.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The data events of an OpenAI stream, checking it ends with `[DONE]`.
async fn chunks(resp: reqwest::Response) -> Vec<Value> {
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let events = parse_sse(&resp.text().await.unwrap());
    let (done, rest) = events.split_last().unwrap();
    assert_eq!(done.data, "[DONE]");
    assert!(
        rest.iter().all(|e| e.name.is_none()),
        "OpenAI events are unnamed"
    );
    rest.iter().map(super::Event::json).collect()
}

#[tokio::test]
async fn default_reply_is_a_chat_completion_with_usage() {
    let fake = FakeOpenAi::start().await;
    assert!(fake.base_url().ends_with("/v1"));
    let resp = post(&fake, "/chat/completions", &chat_body(false)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["choices"][0]["message"],
        json!({"role": "assistant", "content": DEFAULT_TEXT, "refusal": null, "annotations": []})
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 10);
    assert_eq!(body["usage"]["completion_tokens"], 5);
    assert_eq!(body["usage"]["total_tokens"], 15);

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(requests[0].body, chat_body(false));
    assert!(requests[0].header("Content-Type").unwrap().contains("json"));
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn text_streams_as_deltas_without_usage_unless_asked() {
    let fake = FakeOpenAi::start().await;
    fake.enqueue(Reply::text("one two three four"));
    let chunks = chunks(post(&fake, "/chat/completions", &chat_body(true)).await).await;
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c.get("usage").is_none())
    );
    assert!(
        chunks.windows(2).all(|w| w[0]["id"] == w[1]["id"]),
        "one id per stream"
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let contents: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(contents, ["one", " two", " three", " four"]);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"], json!({}));
}

#[tokio::test]
async fn include_usage_adds_a_final_chunk_with_no_choices() {
    let fake = FakeOpenAi::start().await;
    fake.enqueue(Reply::text("a b").usage(7, 3));
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let chunks = chunks(post(&fake, "/chat/completions", &body).await).await;
    let (usage, rest) = chunks.split_last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 7);
    assert_eq!(usage["usage"]["completion_tokens"], 3);
    assert_eq!(usage["usage"]["total_tokens"], 10);
    assert!(
        rest.iter()
            .all(|c| c["usage"].is_null() && c.get("usage").is_some()),
        "other chunks carry usage: null"
    );
    assert_eq!(rest.last().unwrap()["choices"][0]["finish_reason"], "stop");
    assert_eq!(fake.violations(), Vec::<String>::new());
}

fn two_calls() -> Vec<ToolCall> {
    vec![
        ToolCall::new(
            "call_1",
            "get_weather",
            json!({"city": "Zürich", "units": "metric"}),
        ),
        ToolCall::new("call_2", "get_time", json!({"zone": "Europe/Zurich"})),
    ]
}

#[tokio::test]
async fn streamed_tool_calls_reassemble_to_the_full_arguments() {
    let fake = FakeOpenAi::start().await;
    fake.enqueue(Reply::ToolCalls(two_calls()));
    let chunks = chunks(post(&fake, "/chat/completions", &chat_body(true)).await).await;
    // index -> (id, name, fragments)
    let mut calls: Vec<(String, String, Vec<String>)> = Vec::new();
    for chunk in &chunks {
        for delta in chunk["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = delta["index"].as_u64().unwrap() as usize;
            if let Some(id) = delta["id"].as_str() {
                assert_eq!(
                    index,
                    calls.len(),
                    "a call's first delta opens the next index"
                );
                assert_eq!(delta["type"], "function");
                assert_eq!(
                    delta["function"]["arguments"], "",
                    "first delta has empty arguments"
                );
                calls.push((
                    id.to_owned(),
                    delta["function"]["name"].as_str().unwrap().to_owned(),
                    Vec::new(),
                ));
            } else {
                assert!(delta.get("type").is_none() && delta["function"].get("name").is_none());
                calls[index]
                    .2
                    .push(delta["function"]["arguments"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    assert_eq!(calls.len(), 2);
    for ((id, name, fragments), expected) in calls.iter().zip(two_calls()) {
        assert_eq!(
            (id.as_str(), name.as_str()),
            (expected.id.as_str(), expected.name.as_str())
        );
        assert!(
            fragments.len() >= 2,
            "arguments split across deltas: {fragments:?}"
        );
        let args: Value = serde_json::from_str(&fragments.concat()).unwrap();
        assert_eq!(args, expected.arguments);
    }

    fake.enqueue(Reply::ToolCalls(two_calls()));
    let body: Value = post(&fake, "/chat/completions", &chat_body(false))
        .await
        .json()
        .await
        .unwrap();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let arguments = choice["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(arguments).unwrap(),
        two_calls()[0].arguments
    );
}

#[tokio::test]
async fn legacy_completions_answer_text_completions_until_disabled() {
    let fake = FakeOpenAi::start().await;
    let body = json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi"});
    let resp: Value = post(&fake, "/completions", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resp["object"], "text_completion");
    assert_eq!(resp["choices"][0]["text"], DEFAULT_TEXT);
    assert_eq!(resp["choices"][0]["finish_reason"], "stop");
    assert_eq!(resp["usage"]["total_tokens"], 15);

    let stream_body = json!({"model": "m", "prompt": "Say hi", "stream": true, "stream_options": {"include_usage": true}});
    let chunks = chunks(post(&fake, "/completions", &stream_body).await).await;
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, DEFAULT_TEXT);
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "stop"
    );

    fake.disable_completions();
    let resp = post(&fake, "/completions", &body).await;
    assert_eq!(resp.status(), 404);
    let error: Value = resp.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(fake.requests().len(), 3, "the 404 was recorded too");
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn errors_use_the_openai_envelope_and_carry_retry_after() {
    let fake = FakeOpenAi::start().await;
    fake.enqueue(Reply::Error {
        status: 429,
        message: "Rate limit reached".into(),
        retry_after: Some(7),
    });
    fake.enqueue(Reply::error(503, "down"));
    let resp = post(&fake, "/chat/completions", &chat_body(true)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
    );

    let resp = post(&fake, "/chat/completions", &chat_body(false)).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().get("retry-after").is_none());
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "server_error"
    );
}

#[tokio::test]
async fn a_key_is_required_when_configured() {
    let fake = FakeOpenAi::start_with_key("sk-upstream").await;
    let resp = post(&fake, "/chat/completions", &chat_body(false)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_api_key"
    );
    let resp = client()
        .get(format!("{}/models", fake.base_url()))
        .bearer_auth("sk-upstream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let models: Value = resp.json().await.unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["object"], "model");
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(
        fake.requests()[1].header("authorization"),
        Some("Bearer sk-upstream")
    );
    assert_eq!(
        fake.violations(),
        Vec::<String>::new(),
        "a missing key is answered, not a violation"
    );
}

#[tokio::test]
async fn malformed_chat_requests_are_violations_but_still_answered() {
    let fake = FakeOpenAi::start().await;
    let bad = json!({
        "model": "gpt-4o-mini",
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Hi"}, {"role": "tool", "tool_call_id": "call_x", "content": "42"}]
    });
    assert_eq!(post(&fake, "/chat/completions", &bad).await.status(), 200);
    let violations = fake.violations();
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(violations[0].starts_with("POST /v1/chat/completions: "));
    assert!(violations.iter().any(|v| v.contains("stream_options")));
    assert!(violations.iter().any(|v| v.contains("call_x")));

    let resp = client()
        .post(format!("{}/chat/completions", fake.base_url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(fake.requests()[1].body, json!("not json"));
    assert!(fake.violations()[2].contains("not a JSON object"));
}

#[tokio::test]
async fn a_stream_can_fail_midway() {
    let fake = FakeOpenAi::start().await;
    fake.enqueue(Reply::StreamThenError {
        text: "one two three".into(),
        after_chunks: 2,
    });
    let resp = post(&fake, "/chat/completions", &chat_body(true)).await;
    assert_eq!(resp.status(), 200);
    let events = parse_sse(&resp.text().await.unwrap());
    assert!(
        events.iter().all(|e| e.data != "[DONE]"),
        "the stream ends without [DONE]"
    );
    let chunks: Vec<Value> = events.iter().map(super::Event::json).collect();
    let (error, rest) = chunks.split_last().unwrap();
    assert_eq!(error["error"]["type"], "server_error");
    let text: String = rest
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two");
    assert!(
        rest.iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
}

#[tokio::test]
async fn broken_bodies_look_broken() {
    let fake = FakeOpenAi::start().await;
    fake.enqueue(Reply::Html { status: 502 });
    fake.enqueue(Reply::Garbage);
    fake.enqueue(Reply::Garbage);
    fake.enqueue(Reply::Empty);

    let resp = post(&fake, "/chat/completions", &chat_body(false)).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["content-type"], "text/html");
    assert!(resp.text().await.unwrap().contains("<html>"));

    let resp = post(&fake, "/chat/completions", &chat_body(false)).await;
    assert_eq!(resp.status(), 200);
    assert!(serde_json::from_str::<Value>(&resp.text().await.unwrap()).is_err());

    let resp = post(&fake, "/chat/completions", &chat_body(true)).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    assert!(!text.contains("data:"), "no SSE events in {text:?}");

    let resp = post(&fake, "/chat/completions", &chat_body(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "");
}
