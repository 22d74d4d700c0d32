//! Bad requests: each is an error in the envelope that names the field,
//! and none reaches an upstream.

use super::{OPENAI_MODEL, Rs, ask, expect_bad_request, weather_tool};
use serde_json::{Map, Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_the_field_and_reach_no_upstream() {
    let rs = Rs::sqlite().await;
    let m = OPENAI_MODEL;
    let bad_schema = json!({"type": "function", "name": "f", "parameters": {"type": "string"}});
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        // Missing, empty and wrong-typed fields.
        (json!({"input": "hi"}), "model", None),
        (json!({"model": 7, "input": "hi"}), "model", None),
        (json!({"model": m}), "input", None),
        (json!({"model": m, "input": []}), "input", None),
        (json!({"model": m, "input": ""}), "input", None),
        (json!({"model": m, "input": 5}), "input", None),
        (json!({"model": m, "input": [7]}), "input[0]", None),
        (
            json!({"model": m, "input": [{"role": "user", "content": 3}]}),
            "input[0].content",
            None,
        ),
        (
            json!({"model": m, "input": [{"role": "wizard", "content": "x"}]}),
            "input[0].role",
            None,
        ),
        (
            json!({"model": m, "input": [{"type": "telepathy"}]}),
            "input[0].type",
            None,
        ),
        (
            json!({"model": m, "input": [{"role": "user", "content": [{"type": "input_image"}]}]}),
            "input[0].content[0].image_url",
            None,
        ),
        (
            json!({"model": m, "input": [{"type": "function_call_output", "output": "x"}]}),
            "input[0].call_id",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "stream": "yes"}),
            "stream",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "store": 1}),
            "store",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "temperature": "hot"}),
            "temperature",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "temperature": 3}),
            "temperature",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "top_p": 1.5}),
            "top_p",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "max_output_tokens": 0}),
            "max_output_tokens",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "max_output_tokens": "many"}),
            "max_output_tokens",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "instructions": ["x"]}),
            "instructions",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "conversation": 5}),
            "conversation",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "conversation": {"name": "x"}}),
            "conversation.id",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "previous_response_id": 5}),
            "previous_response_id",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "metadata": "x"}),
            "metadata",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "text": "json"}),
            "text",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "text": {"format": {"type": "json_schema", "name": "x"}}}),
            "text.format.schema",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "text": {"format": {"type": "xml"}}}),
            "text.format.type",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "frobnicate": true}),
            "frobnicate",
            None,
        ),
        // Mutually exclusive ways to continue.
        (
            json!({"model": m, "input": "hi", "conversation": "conv_x", "previous_response_id": "resp_x"}),
            "previous_response_id",
            Some("mutually_exclusive_parameters"),
        ),
        // Tools.
        (
            json!({"model": m, "input": "hi", "tools": {}}),
            "tools",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tools": [{"type": "retrieval"}]}),
            "tools[0].type",
            Some("unsupported_tool_type"),
        ),
        (
            json!({"model": m, "input": "hi", "tools": [weather_tool(), {"name": "f"}]}),
            "tools[1].type",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tools": [bad_schema]}),
            "tools[0].parameters.type",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": "object"}]}),
            "tools[0].parameters",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": []}}]}),
            "tools[0].parameters.properties",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "required": "x"}}]}),
            "tools[0].parameters.required",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tools": [{"type": "function", "name": "bad name"}]}),
            "tools[0].name",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tools": [weather_tool(), weather_tool()]}),
            "tools[1].name",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tools": [{"type": "function", "name": "read_file"}]}),
            "tools[0].name",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tool_choice": "sometimes"}),
            "tool_choice",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tool_choice": {"type": "function", "name": "nope"}}),
            "tool_choice.name",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "nope"}]}}),
            "tool_choice.tools[0].name",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tool_choice": {"type": "allowed_tools", "mode": "always", "tools": []}}),
            "tool_choice.mode",
            None,
        ),
        (
            json!({"model": m, "input": "hi", "tool_choice": {"type": "allowed_tools", "tools": [{"type": "web_search"}]}}),
            "tool_choice.tools[0].type",
            None,
        ),
    ];
    for (body, param, code) in cases {
        let reply = rs.create(&body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        expect_bad_request(&reply, param, code);
    }
    // Not even JSON objects.
    for raw in ["[1, 2]", "\"hi\"", "{not json"] {
        let reply = rs
            .server
            .send(
                rs.server
                    .request(reqwest::Method::POST, "/v1/responses", rs.key())
                    .header("content-type", "application/json")
                    .body(raw),
            )
            .await;
        reply.expect_error(400, "invalid_request_error");
    }
    assert!(rs.openai.requests().is_empty());
    assert!(rs.anthropic.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_models_and_ids_are_404() {
    let rs = Rs::sqlite().await;
    let reply = rs.create(&ask("no-such-model", "hi")).await;
    let error = reply.expect_error(404, "invalid_request_error");
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(error["param"], "model");

    let reply = rs
        .create(&json!({"model": OPENAI_MODEL, "input": "hi", "previous_response_id": "resp_nope"}))
        .await;
    let error = reply.expect_error(404, "invalid_request_error");
    assert_eq!(error["code"], "previous_response_not_found");
    assert_eq!(error["param"], "previous_response_id");

    for conversation in [json!("conv_nope"), json!({"id": "conv_nope"})] {
        let reply = rs
            .create(&json!({"model": OPENAI_MODEL, "input": "hi", "conversation": conversation}))
            .await;
        let error = reply.expect_error(404, "not_found_error");
        assert!(
            error["message"].as_str().unwrap().contains("conv_nope"),
            "{error}"
        );
    }
    let reply = rs
        .create(&json!({"model": OPENAI_MODEL, "input": [{"type": "item_reference", "id": "msg_nope"}]}))
        .await;
    expect_bad_request(&reply, "input[0].id", None);
    for path in [
        "/v1/responses/resp_nope",
        "/v1/responses/resp_nope/input_items",
        "/v1/conversations/conv_nope",
        "/v1/conversations/conv_nope/items",
        "/v1/conversations/conv_nope/items/msg_nope",
    ] {
        rs.get(path, rs.key())
            .await
            .expect_error(404, "not_found_error");
    }
    assert!(rs.openai.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_bounded() {
    let rs = Rs::sqlite().await;
    let pairs = |n: usize| -> Value {
        Value::Object(
            (0..n)
                .map(|i| (format!("k{i}"), json!("v")))
                .collect::<Map<String, Value>>(),
        )
    };
    let key64 = "k".repeat(64);
    let key65 = "k".repeat(65);
    let ok = [
        pairs(16),
        json!({key64.clone(): "v"}),
        json!({"k": "é".repeat(512)}),
        json!({}),
    ];
    let bad = [
        (pairs(17), "metadata".to_owned()),
        (json!({key65.clone(): "v"}), format!("metadata.{key65}")),
        (json!({"k": "v".repeat(513)}), "metadata.k".to_owned()),
        (json!({"k": 1}), "metadata.k".to_owned()),
        (json!({"k": null}), "metadata.k".to_owned()),
    ];
    for metadata in &ok {
        let r = rs
            .respond(&json!({"model": OPENAI_MODEL, "input": "hi", "metadata": metadata}))
            .await;
        assert_eq!(&r["metadata"], metadata);
        let reply = rs
            .post(
                "/v1/conversations",
                rs.key(),
                &json!({"metadata": metadata}),
            )
            .await;
        assert_eq!(&reply.expect_status(200)["metadata"], metadata);
    }
    for (metadata, param) in &bad {
        let reply = rs
            .create(&json!({"model": OPENAI_MODEL, "input": "hi", "metadata": metadata}))
            .await;
        expect_bad_request(&reply, param, None);
        let reply = rs
            .post(
                "/v1/conversations",
                rs.key(),
                &json!({"metadata": metadata}),
            )
            .await;
        expect_bad_request(&reply, param, None);
    }
    assert_eq!(rs.openai.requests().len(), ok.len());
}
