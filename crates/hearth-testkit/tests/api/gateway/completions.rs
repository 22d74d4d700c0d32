//! Legacy `/v1/completions`: passed through to OpenAI-compatible servers
//! that have it, translated to chat for those that do not (and for
//! Anthropic), streamed too.

use super::{ANTHROPIC_MODEL, ANTHROPIC_UPSTREAM, Gw, OPENAI_MODEL, OPENAI_UPSTREAM, assert_usage};
use hearth_testkit::FakeReply;
use hearth_testkit::fake::DEFAULT_TEXT;
use serde_json::{Value, json};

fn completion_body(model: &str, stream: bool) -> Value {
    let mut body =
        json!({"model": model, "prompt": "Say hi", "max_tokens": 16, "temperature": 0.0});
    if stream {
        body["stream"] = json!(true);
    }
    body
}

/// The text of legacy completion chunks: every `choices[0].text`, joined.
fn text_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/text").and_then(Value::as_str))
        .collect()
}

fn assert_text_completion(answer: &Value, text: &str) {
    assert_eq!(answer["object"], "text_completion", "{answer}");
    assert!(
        answer["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("cmpl")),
        "{answer}"
    );
    assert_eq!(answer["choices"][0]["text"], text, "{answer}");
    assert_eq!(answer["choices"][0]["index"], 0);
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passed_through_to_an_upstream_that_has_the_endpoint() {
    let gw = Gw::sqlite().await;
    gw.openai.enqueue(FakeReply::text("Hi!").usage(3, 2));
    let body = json!({
        "model": OPENAI_MODEL, "prompt": ["Say hi"], "max_tokens": 16, "echo": false,
        "best_of": 1, "suffix": "", "logit_bias": {"50256": -100}, "x_vendor": true
    });
    let reply = gw.post("/v1/completions", gw.admin_key(), &body).await;
    let answer = reply.expect_status(200);
    assert_text_completion(answer, "Hi!");
    assert_usage(&answer["usage"], 3, 2);

    let sent = gw.openai.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/completions");
    let mut expected = body.clone();
    expected["model"] = json!(OPENAI_UPSTREAM);
    assert_eq!(sent.body, expected, "passed through untouched");

    let sse = gw
        .stream(
            "/v1/completions",
            gw.admin_key(),
            &completion_body(OPENAI_MODEL, true),
        )
        .await;
    let chunks = sse.expect_chunks("text_completion");
    assert_eq!(text_of(&chunks), DEFAULT_TEXT);
    let sent = gw.openai.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/completions");
    assert!(sent.is_stream());
    assert!(
        gw.openai.violations().is_empty(),
        "{:?}",
        gw.openai.violations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translated_to_chat_for_an_upstream_without_the_endpoint() {
    let gw = Gw::sqlite_with(|up| up.openai_chat_only = true).await;
    // Were Hearth to call /v1/completions anyway, it would get a 404.
    gw.openai.disable_completions();
    gw.openai.enqueue(FakeReply::text("Hi!").usage(4, 2));
    let reply = gw
        .post(
            "/v1/completions",
            gw.admin_key(),
            &completion_body(OPENAI_MODEL, false),
        )
        .await;
    let answer = reply.expect_status(200);
    assert_text_completion(answer, "Hi!");
    assert_usage(&answer["usage"], 4, 2);
    let sent = gw.openai.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.body["model"], OPENAI_UPSTREAM);
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "user", "content": "Say hi"}])
    );
    assert!(sent.body.get("prompt").is_none(), "{}", sent.body);
    assert_eq!(sent.body["max_tokens"], 16);

    let sse = gw
        .stream(
            "/v1/completions",
            gw.admin_key(),
            &completion_body(OPENAI_MODEL, true),
        )
        .await;
    let chunks = sse.expect_chunks("text_completion");
    assert_eq!(text_of(&chunks), DEFAULT_TEXT, "{}", sse.raw);
    assert!(
        chunks.iter().all(|c| c["model"] == OPENAI_MODEL),
        "{}",
        sse.raw
    );
    let sent = gw.openai.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert!(sent.is_stream());
    assert_eq!(gw.openai.requests().len(), 2);
    assert!(
        gw.openai.violations().is_empty(),
        "{:?}",
        gw.openai.violations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translated_to_messages_for_anthropic() {
    let gw = Gw::sqlite().await;
    gw.anthropic.enqueue(FakeReply::text("Hi!").usage(6, 2));
    let reply = gw
        .post(
            "/v1/completions",
            gw.admin_key(),
            &completion_body(ANTHROPIC_MODEL, false),
        )
        .await;
    let answer = reply.expect_status(200);
    assert_text_completion(answer, "Hi!");
    assert_eq!(answer["model"], ANTHROPIC_MODEL);
    assert_usage(&answer["usage"], 6, 2);
    let sent = gw.anthropic.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.body["model"], ANTHROPIC_UPSTREAM);
    assert_eq!(sent.body["max_tokens"], 16);
    let content = &sent.body["messages"][0];
    assert_eq!(content["role"], "user");
    assert!(content.to_string().contains("Say hi"), "{}", sent.body);

    let mut body = completion_body(ANTHROPIC_MODEL, true);
    body["stream_options"] = json!({"include_usage": true});
    let sse = gw.stream("/v1/completions", gw.admin_key(), &body).await;
    let chunks = sse.expect_chunks("text_completion");
    assert_eq!(text_of(&chunks), DEFAULT_TEXT, "{}", sse.raw);
    let usage = super::usage_chunks(&chunks);
    assert_eq!(usage.len(), 1, "{}", sse.raw);
    assert_usage(&usage[0]["usage"], 10, 5);
    assert!(gw.anthropic.requests().pop().unwrap().is_stream());
    assert!(
        gw.anthropic.violations().is_empty(),
        "{:?}",
        gw.anthropic.violations()
    );

    // What chat cannot express is refused by name, not dropped.
    let body = json!({"model": ANTHROPIC_MODEL, "prompt": ["one", "two"]});
    let reply = gw.post("/v1/completions", gw.admin_key(), &body).await;
    let error = reply.expect_error(400, "invalid_request_error");
    assert_eq!(error["param"], "prompt", "{error}");
    assert_eq!(gw.anthropic.requests().len(), 2, "refused before any call");
}
