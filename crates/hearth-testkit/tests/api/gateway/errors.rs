//! Bad input to the model endpoints: unknown models, missing fields,
//! wrong types and bodies that are not JSON. Each is answered in the error
//! envelope naming the field, and none reaches an upstream.

use super::{ANTHROPIC_MODEL, Gw, OPENAI_MODEL, chat_body};
use reqwest::Method;
use serde_json::{Value, json};

fn assert_no_upstream_call(gw: &Gw) {
    assert!(
        gw.openai.requests().is_empty(),
        "{:?}",
        gw.openai.requests()
    );
    assert!(
        gw.anthropic.requests().is_empty(),
        "{:?}",
        gw.anthropic.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_model_is_a_404_naming_the_model() {
    let gw = Gw::sqlite().await;
    let mut streamed = chat_body("gpt-unknown");
    streamed["stream"] = json!(true);
    for (path, body) in [
        ("/v1/chat/completions", chat_body("gpt-unknown")),
        ("/v1/chat/completions", streamed),
        // The upstream's name of a model is not a Hearth model id.
        ("/v1/chat/completions", chat_body(super::OPENAI_UPSTREAM)),
        (
            "/v1/completions",
            json!({"model": "gpt-unknown", "prompt": "hi"}),
        ),
    ] {
        let reply = gw.post(path, gw.admin_key(), &body).await;
        let error = reply.expect_error(404, "invalid_request_error");
        assert_eq!(error["code"], "model_not_found", "{path} {body}");
        assert_eq!(error["param"], "model");
        let model = body["model"].as_str().unwrap();
        assert!(
            error["message"].as_str().unwrap().contains(model),
            "{error}"
        );
    }
    assert_no_upstream_call(&gw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_fields_are_400s_naming_the_field() {
    let gw = Gw::sqlite().await;
    let user = json!({"role": "user", "content": "hi"});
    let with = |model: &str, field: &str, value: Value| {
        let mut body = chat_body(model);
        body[field] = value;
        body
    };
    let chat_cases: Vec<(Value, &str)> = vec![
        (json!({"messages": [user]}), "model"),
        (json!({"model": 5, "messages": [user]}), "model"),
        (json!({"model": "", "messages": [user]}), "model"),
        (json!({"model": OPENAI_MODEL}), "messages"),
        (json!({"model": OPENAI_MODEL, "messages": null}), "messages"),
        (json!({"model": OPENAI_MODEL, "messages": "hi"}), "messages"),
        (
            json!({"model": OPENAI_MODEL, "messages": {"role": "user"}}),
            "messages",
        ),
        (
            json!({"model": ANTHROPIC_MODEL, "messages": []}),
            "messages",
        ),
        (
            json!({"model": OPENAI_MODEL, "messages": [user, {"role": "user", "content": 5}]}),
            "messages[1].content",
        ),
        (
            json!({"model": OPENAI_MODEL, "messages": [{"role": "wizard", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": OPENAI_MODEL, "messages": [user, "hi"]}),
            "messages[1]",
        ),
        (
            json!({"model": OPENAI_MODEL, "messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].tool_call_id",
        ),
        (
            with(OPENAI_MODEL, "temperature", json!("hot")),
            "temperature",
        ),
        (
            with(ANTHROPIC_MODEL, "temperature", json!(7)),
            "temperature",
        ),
        (with(OPENAI_MODEL, "top_p", json!(1.5)), "top_p"),
        (with(OPENAI_MODEL, "max_tokens", json!(0)), "max_tokens"),
        (
            with(OPENAI_MODEL, "max_tokens", json!("lots")),
            "max_tokens",
        ),
        (with(OPENAI_MODEL, "n", json!(-1)), "n"),
        (with(OPENAI_MODEL, "seed", json!("x")), "seed"),
        (with(OPENAI_MODEL, "stop", json!(5)), "stop"),
        (with(OPENAI_MODEL, "user", json!(5)), "user"),
        (with(OPENAI_MODEL, "metadata", json!({"a": 1})), "metadata"),
        (with(OPENAI_MODEL, "stream", json!("yes")), "stream"),
        (
            with(
                OPENAI_MODEL,
                "stream_options",
                json!({"include_usage": true}),
            ),
            "stream_options",
        ),
        (
            with(OPENAI_MODEL, "tools", json!({"type": "function"})),
            "tools",
        ),
        (
            with(OPENAI_MODEL, "tools", json!([{"type": "retrieval"}])),
            "tools[0]",
        ),
        (
            with(OPENAI_MODEL, "tool_choice", json!("sometimes")),
            "tool_choice",
        ),
        (
            with(OPENAI_MODEL, "parallel_tool_calls", json!("yes")),
            "parallel_tool_calls",
        ),
        (
            with(OPENAI_MODEL, "response_format", json!({"type": "xml"})),
            "response_format.type",
        ),
        // Anthropic returns one choice per request: refused, not ignored.
        (with(ANTHROPIC_MODEL, "n", json!(2)), "n"),
    ];
    for (body, param) in chat_cases {
        let reply = gw.chat(&body).await;
        let error = reply.expect_error(400, "invalid_request_error");
        assert_eq!(error["param"], param, "{body} → {error}");
    }
    let completion_cases: Vec<(Value, &str)> = vec![
        (json!({"model": OPENAI_MODEL}), "prompt"),
        (json!({"model": OPENAI_MODEL, "prompt": 5}), "prompt"),
        (json!({"model": OPENAI_MODEL, "prompt": []}), "prompt"),
        (json!({"prompt": "hi"}), "model"),
        (
            json!({"model": OPENAI_MODEL, "prompt": "hi", "temperature": "hot"}),
            "temperature",
        ),
    ];
    for (body, param) in completion_cases {
        let reply = gw.post("/v1/completions", gw.admin_key(), &body).await;
        let error = reply.expect_error(400, "invalid_request_error");
        assert_eq!(error["param"], param, "{body} → {error}");
    }
    assert_no_upstream_call(&gw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_a_json_object_are_refused() {
    let gw = Gw::sqlite().await;
    for path in ["/v1/chat/completions", "/v1/completions"] {
        for (raw, what) in [
            (
                "{\"model\": \"gpt-test\", \"messages\": [",
                "truncated JSON",
            ),
            ("model=gpt-test", "not JSON"),
            ("[1, 2]", "an array"),
            ("\"text\"", "a string"),
            ("", "empty"),
            ("{\"model\": \"gpt-test\"} trailing", "trailing characters"),
        ] {
            let reply = gw
                .server
                .send(
                    gw.server
                        .admin(Method::POST, path)
                        .header("content-type", "application/json")
                        .body(raw),
                )
                .await;
            reply.expect_error(400, "invalid_request_error");
            assert!(
                !reply.body["message"].as_str().unwrap().is_empty(),
                "{path} {what}"
            );
        }
        // A form post is not JSON either.
        let reply = gw
            .server
            .send(
                gw.server
                    .admin(Method::POST, path)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("model=gpt-test"),
            )
            .await;
        reply.expect_error(415, "invalid_request_error");
    }
    assert_no_upstream_call(&gw);
}
