//! Smoke test of the Chat Actions path (to be folded into the responses suite).

use hearth_testkit::gateway::{self, Upstreams};
use hearth_testkit::{Backend, FakeAnthropic, FakeOpenAi, FakeReply, TestServer, ToolCall};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_smoke() {
    let openai = FakeOpenAi::start().await;
    let anthropic = FakeAnthropic::start().await;
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        gateway::route_to(
            c,
            &Upstreams {
                openai: Some(&openai),
                anthropic: Some(&anthropic),
                ..Upstreams::default()
            },
        );
    })
    .await
    .unwrap();
    let key = server.admin_key.clone();
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/responses",
            &key,
            Some(json!({"model": gateway::ANTHROPIC_MODEL, "input": "hi"})),
        )
        .await;
    println!("plain: {status} {body}");
    let conv = body["conversation"]["id"].as_str().unwrap().to_owned();

    anthropic.enqueue(FakeReply::ToolCalls(vec![ToolCall::new(
        "toolu_1",
        "write_file",
        json!({"path": "notes.txt", "content": "hello"}),
    )]));
    anthropic.enqueue(FakeReply::ToolCalls(vec![ToolCall::new(
        "toolu_2",
        "get_weather",
        json!({"city": "SF"}),
    )]));
    let (status, body) = server.call(Method::POST, "/v1/responses", &key, Some(json!({
        "model": gateway::ANTHROPIC_MODEL, "conversation": conv, "input": "write a file then get weather",
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    }))).await;
    println!("tool loop: {status} {body}");
    let resp_id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = server.call(Method::POST, "/v1/responses", &key, Some(json!({
        "model": gateway::ANTHROPIC_MODEL, "previous_response_id": resp_id,
        "input": [{"type": "function_call_output", "call_id": "toolu_2", "output": "68F"}],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    }))).await;
    println!("continue: {status} {body}");
    let resp = server.admin(Method::POST, "/v1/responses").json(&json!({"model": gateway::OPENAI_MODEL, "input": "stream it", "stream": true, "store": false})).send().await.unwrap();
    println!("stream: {}", resp.text().await.unwrap());
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/v1/conversations/{conv}/items?order=asc"),
            &key,
            None,
        )
        .await;
    println!("items: {status} {body}");
    println!(
        "violations {:?} {:?}",
        openai.violations(),
        anthropic.violations()
    );
    println!(
        "ws: {:?}",
        std::fs::read_to_string(server.workspace_dir().join(&conv).join("notes.txt"))
    );
    let (status, body) = server
        .call(Method::GET, "/v1/admin/usage", &key, None)
        .await;
    println!("usage {status} {body}");
}
