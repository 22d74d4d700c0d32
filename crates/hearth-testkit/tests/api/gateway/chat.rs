//! Non-streamed chat completions through both providers: what reaches the
//! upstream (the OpenAI body passed through, the Anthropic request
//! translated) and the `chat.completion` the client gets back.

use super::{
    ANTHROPIC_MODEL, ANTHROPIC_UPSTREAM, Gw, OPENAI_MODEL, OPENAI_UPSTREAM, assert_usage, chat_body,
};
use hearth_testkit::fake::DEFAULT_TEXT;
use hearth_testkit::gateway::{
    ANTHROPIC_DEFAULT_MAX_TOKENS, ANTHROPIC_PROVIDER, OPENAI_PROVIDER, upstream_key,
};
use hearth_testkit::{FakeReply, ToolCall};
use serde_json::{Value, json};

fn weather_tool() -> Value {
    json!({
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"]
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_receives_the_body_as_sent_with_the_upstream_model() {
    let gw = Gw::sqlite().await;
    gw.openai.enqueue(FakeReply::text("Sunny.").usage(21, 3));
    let mut body = json!({
        "model": OPENAI_MODEL,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}
        ],
        "tools": [weather_tool()],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": false,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}}
        },
        "n": 2,
        "stop": ["\n\n", "END"],
        "max_tokens": 50,
        "max_completion_tokens": 60,
        "temperature": 0.3,
        "top_p": 0.9,
        "seed": 42,
        "user": "end-user-1234",
        "metadata": {"team": "search"},
        "x_vendor_option": {"beam": 3, "list": [1, 2]}
    });
    let reply = gw.chat(&body).await;
    let answer = reply.expect_status(200);

    let requests = gw.openai.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let sent = &requests[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {}", upstream_key(OPENAI_PROVIDER)).as_str())
    );
    // Every field, known or not, arrives as sent; only the model changes.
    body["model"] = json!(OPENAI_UPSTREAM);
    assert_eq!(sent.body, body);
    assert!(
        gw.openai.violations().is_empty(),
        "{:?}",
        gw.openai.violations()
    );

    assert!(
        reply
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json"))
    );
    reply.request_id();
    assert_eq!(answer["object"], "chat.completion", "{answer}");
    assert!(answer["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(answer["created"].is_u64(), "{answer}");
    let choice = &answer["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Sunny.");
    assert_eq!(choice["finish_reason"], "stop");
    assert_usage(&answer["usage"], 21, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_receives_a_translated_messages_request() {
    let gw = Gw::sqlite().await;
    let body = json!({
        "model": ANTHROPIC_MODEL,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": "22C cloudy"},
            {"role": "user", "content": "Summarise."}
        ],
        "tools": [weather_tool()],
        "tool_choice": "required",
        "stop": "END",
        "temperature": 0.5,
        "top_p": 0.8,
        "seed": 7,
        "user": "end-user-42",
        "metadata": {"team": "search"}
    });
    let reply = gw.chat(&body).await;
    let answer = reply.expect_status(200);

    let requests = gw.anthropic.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let sent = &requests[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(
        sent.header("x-api-key"),
        Some(upstream_key(ANTHROPIC_PROVIDER).as_str())
    );
    assert!(sent.header("anthropic-version").is_some());
    assert!(sent.header("authorization").is_none());
    let m = &sent.body;
    assert_eq!(m["model"], ANTHROPIC_UPSTREAM);
    // The client gave no max_tokens: the model's configured default.
    assert_eq!(m["max_tokens"], ANTHROPIC_DEFAULT_MAX_TOKENS);
    assert_eq!(m["system"], "You are terse.");
    assert_eq!(
        m["tools"],
        json!([{
            "name": "get_weather",
            "description": "Current weather of a city",
            "input_schema": weather_tool()["function"]["parameters"]
        }])
    );
    assert_eq!(m["tool_choice"]["type"], "any", "{m}");
    assert_eq!(m["stop_sequences"], json!(["END"]));
    assert_eq!(m["temperature"], 0.5);
    assert_eq!(m["top_p"], 0.8);
    assert_eq!(m["metadata"], json!({"user_id": "end-user-42"}));
    let turns = m["messages"].as_array().expect("messages");
    let roles: Vec<&str> = turns.iter().map(|t| t["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"], "{m}");
    assert_eq!(
        turns[1]["content"],
        json!([
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}
        ])
    );
    // Tool results open the next user turn, before its text.
    let last = turns[2]["content"].as_array().expect("blocks");
    assert_eq!(last.len(), 3, "{m}");
    assert_eq!(last[0]["type"], "tool_result");
    assert_eq!(last[0]["tool_use_id"], "call_1");
    assert_eq!(last[1]["tool_use_id"], "call_2");
    assert!(last[1].to_string().contains("22C cloudy"), "{m}");
    assert_eq!(last[2], json!({"type": "text", "text": "Summarise."}));
    // No OpenAI-only field (seed, user, stop…) was left behind.
    assert!(
        gw.anthropic.violations().is_empty(),
        "{:?}",
        gw.anthropic.violations()
    );

    assert_eq!(answer["object"], "chat.completion", "{answer}");
    assert_eq!(answer["model"], ANTHROPIC_MODEL);
    assert!(answer["id"].as_str().is_some_and(|id| !id.is_empty()));
    let choice = &answer["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], DEFAULT_TEXT);
    assert_eq!(choice["finish_reason"], "stop");
    assert_usage(&answer["usage"], 10, 5);

    // A client's own limit replaces the default.
    let mut body = chat_body(ANTHROPIC_MODEL);
    body["max_completion_tokens"] = json!(77);
    gw.chat(&body).await.expect_status(200);
    let sent = gw.anthropic.requests().pop().unwrap();
    assert_eq!(sent.body["max_tokens"], 77);
    assert!(gw.anthropic.violations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_come_back_with_finish_reason_tool_calls() {
    let gw = Gw::sqlite().await;
    let args = json!({"city": "Zürich", "units": "metric"});
    gw.openai.enqueue(FakeReply::ToolCalls(vec![ToolCall::new(
        "call_abc",
        "get_weather",
        args.clone(),
    )]));
    gw.anthropic
        .enqueue(FakeReply::ToolCalls(vec![ToolCall::new(
            "toolu_abc",
            "get_weather",
            args.clone(),
        )]));
    for (model, id) in [(OPENAI_MODEL, "call_abc"), (ANTHROPIC_MODEL, "toolu_abc")] {
        let mut body = chat_body(model);
        body["tools"] = json!([weather_tool()]);
        let reply = gw.chat(&body).await;
        let answer = reply.expect_status(200);
        let choice = &answer["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls", "{model}: {answer}");
        assert_eq!(choice["message"]["role"], "assistant");
        let calls = choice["message"]["tool_calls"]
            .as_array()
            .expect("tool_calls");
        assert_eq!(calls.len(), 1, "{answer}");
        assert_eq!(calls[0]["id"], id);
        assert_eq!(calls[0]["type"], "function");
        assert_eq!(calls[0]["function"]["name"], "get_weather");
        let arguments = calls[0]["function"]["arguments"]
            .as_str()
            .expect("arguments are a JSON string");
        assert_eq!(serde_json::from_str::<Value>(arguments).unwrap(), args);
    }
    assert!(gw.openai.violations().is_empty());
    assert!(gw.anthropic.violations().is_empty());
}
