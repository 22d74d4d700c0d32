//! `FakeAnthropic`: answers in the Messages wire format and checks requests.

use super::{client, parse_sse};
use crate::fake::{DEFAULT_TEXT, FakeAnthropic, Reply, ToolCall};
use serde_json::{Value, json};

fn good_body(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "stream": stream,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Weather in Bern?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Bern"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "12°C"}]}
        ]
    })
}

async fn post(fake: &FakeAnthropic, body: &Value) -> reqwest::Response {
    post_with_key(fake, body, "sk-ant-test").await
}

async fn post_with_key(fake: &FakeAnthropic, body: &Value, key: &str) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", fake.base_url()))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `(event name, data)` of a stream, checking that each event's data
/// `type` repeats its name.
async fn events(resp: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    parse_sse(&resp.text().await.unwrap())
        .iter()
        .map(|e| {
            let name = e.name.clone().expect("Anthropic events are named");
            let data = e.json();
            assert_eq!(data["type"], name.as_str());
            (name, data)
        })
        .collect()
}

#[tokio::test]
async fn default_reply_is_a_text_message_with_usage() {
    let fake = FakeAnthropic::start().await;
    assert!(!fake.base_url().ends_with("/v1"));
    let resp = post(&fake, &good_body(false)).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": DEFAULT_TEXT}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert!(body["stop_sequence"].is_null());
    assert_eq!(
        (
            body["usage"]["input_tokens"].as_u64(),
            body["usage"]["output_tokens"].as_u64()
        ),
        (Some(10), Some(5))
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
    assert_eq!(
        fake.requests()[0].header("anthropic-version"),
        Some("2023-06-01")
    );
}

#[tokio::test]
async fn text_streams_as_the_messages_event_sequence() {
    let fake = FakeAnthropic::start().await;
    fake.enqueue(Reply::text("one two three").usage(20, 9));
    let events = events(post(&fake, &good_body(true)).await).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &events[0].1["message"];
    assert_eq!(start["content"], json!([]));
    assert!(start["stop_reason"].is_null());
    assert_eq!(start["usage"]["input_tokens"], 20);
    assert_eq!(
        events[1].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "one two three");
    assert_eq!(events[7].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(events[7].1["usage"]["output_tokens"], 9);
}

#[tokio::test]
async fn streamed_tool_use_reassembles_to_the_full_input() {
    let fake = FakeAnthropic::start().await;
    let calls = vec![
        ToolCall::new(
            "toolu_a",
            "weather",
            json!({"city": "Zürich", "days": [1, 2]}),
        ),
        ToolCall::new("toolu_b", "time", json!({"zone": "CET"})),
    ];
    fake.enqueue(Reply::ToolCalls(calls.clone()));
    let events = events(post(&fake, &good_body(true)).await).await;
    for (index, call) in calls.iter().enumerate() {
        let start = events
            .iter()
            .find(|(n, d)| n == "content_block_start" && d["index"] == index)
            .unwrap();
        assert_eq!(
            start.1["content_block"],
            json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}})
        );
        let fragments: Vec<&str> = events
            .iter()
            .filter(|(n, d)| n == "content_block_delta" && d["index"] == index)
            .map(|(_, d)| {
                assert_eq!(d["delta"]["type"], "input_json_delta");
                d["delta"]["partial_json"].as_str().unwrap()
            })
            .collect();
        assert!(
            fragments.len() >= 2,
            "input split across deltas: {fragments:?}"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&fragments.concat()).unwrap(),
            call.arguments
        );
        assert!(
            events
                .iter()
                .any(|(n, d)| n == "content_block_stop" && d["index"] == index)
        );
    }
    let delta = &events.iter().find(|(n, _)| n == "message_delta").unwrap().1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(events.last().unwrap().0, "message_stop");

    fake.enqueue(Reply::ToolCalls(calls.clone()));
    let body: Value = post(&fake, &good_body(false)).await.json().await.unwrap();
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(
        body["content"][0],
        json!({"type": "tool_use", "id": "toolu_a", "name": "weather", "input": calls[0].arguments})
    );
}

#[tokio::test]
async fn errors_use_the_anthropic_body_and_carry_retry_after() {
    let fake = FakeAnthropic::start().await;
    fake.enqueue(Reply::Error {
        status: 529,
        message: "Overloaded".into(),
        retry_after: Some(3),
    });
    fake.enqueue(Reply::error(
        429,
        "Number of request tokens has exceeded your rate limit",
    ));
    let resp = post(&fake, &good_body(true)).await;
    assert_eq!(resp.status(), 529);
    assert_eq!(resp.headers()["retry-after"], "3");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(
        body["error"],
        json!({"type": "overloaded_error", "message": "Overloaded"})
    );
    assert!(body["request_id"].as_str().unwrap().starts_with("req_"));

    let resp = post(&fake, &good_body(false)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "rate_limit_error"
    );
}

#[tokio::test]
async fn a_stream_can_fail_midway_with_an_error_event() {
    let fake = FakeAnthropic::start().await;
    fake.enqueue(Reply::StreamThenError {
        text: "one two three".into(),
        after_chunks: 1,
    });
    let events = events(post(&fake, &good_body(true)).await).await;
    let (last, rest) = events.split_last().unwrap();
    assert_eq!(last.0, "error");
    assert_eq!(last.1["error"]["type"], "overloaded_error");
    assert_eq!(
        rest.iter()
            .filter(|(n, _)| n == "content_block_delta")
            .count(),
        1
    );
    assert!(
        rest.iter()
            .all(|(n, _)| n != "message_stop" && n != "message_delta")
    );
}

#[tokio::test]
async fn a_wrong_key_gets_a_401_and_no_violation() {
    let fake = FakeAnthropic::start_with_key("sk-ant-right").await;
    let resp = post_with_key(&fake, &good_body(false), "sk-ant-wrong").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "authentication_error"
    );
    assert_eq!(
        post_with_key(&fake, &good_body(false), "sk-ant-right")
            .await
            .status(),
        200
    );
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_bad_request_is_a_violation_and_a_good_one_is_not() {
    let fake = FakeAnthropic::start().await;
    assert_eq!(post(&fake, &good_body(false)).await.status(), 200);
    assert_eq!(fake.violations(), Vec::<String>::new());

    let bad = json!({
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hello?"}]
    });
    let resp = post(&fake, &bad).await;
    assert_eq!(
        resp.status(),
        200,
        "violations are recorded, the request still answered"
    );
    let violations = fake.violations();
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations
            .iter()
            .all(|v| v.starts_with("POST /v1/messages: "))
    );
    assert!(violations.iter().any(|v| v.contains("max_tokens")));
    assert!(
        violations
            .iter()
            .any(|v| v.contains("messages[1]") && v.contains("alternate"))
    );

    let resp = client()
        .post(format!("{}/v1/messages", fake.base_url()))
        .json(&good_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(fake.violations()[2].contains("anthropic-version"));
}
