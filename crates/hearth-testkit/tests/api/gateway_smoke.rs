//! Smoke test of the gateway path (to be folded into the gateway suite).

use hearth_testkit::gateway::{self, Upstreams};
use hearth_testkit::{Backend, FakeAnthropic, FakeOpenAi, TestServer};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_through_both_providers() {
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
    for model in [gateway::OPENAI_MODEL, gateway::ANTHROPIC_MODEL] {
        let (status, body) = server
            .call(
                Method::POST,
                "/v1/chat/completions",
                &server.admin_key,
                Some(json!({"model": model, "messages": [{"role":"user","content":"hi"}]})),
            )
            .await;
        println!("{model}: {status} {body}");
        assert_eq!(status, 200, "{body}");
        let resp = server.admin(Method::POST, "/v1/chat/completions").json(&json!({"model": model, "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role":"user","content":"hi"}]})).send().await.unwrap();
        println!("{:?}", resp.headers());
        println!("{}", resp.text().await.unwrap());
    }
    let (status, body) = server
        .call(Method::GET, "/v1/admin/usage", &server.admin_key, None)
        .await;
    println!("usage {status} {body}");
    let (status, body) = server
        .call(
            Method::GET,
            "/v1/admin/audit-logs?limit=3",
            &server.admin_key,
            None,
        )
        .await;
    println!("audit {status} {body}");
    let (status, body) = server
        .call(Method::GET, "/v1/models", &server.admin_key, None)
        .await;
    println!("models {status} {body}");
    println!(
        "violations {:?} {:?}",
        openai.violations(),
        anthropic.violations()
    );
}
