//! One turn through both providers: the Response object the SDKs read,
//! and what reaches the upstream for each request option (instructions,
//! `text.format`, `max_output_tokens`, `tool_choice`, `allowed_tools`).

use super::{
    ANTHROPIC_MODEL, FILE_TOOLS, MODELS, OPENAI_MODEL, Rs, ask, assert_response_object,
    conversation_of, dir_entries, id_of, items_of, offered_tools, time_tool, transcript,
    weather_tool,
};
use hearth_testkit::{FakeReply, ToolCall};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_text_response_has_the_fields_the_sdks_need() {
    let rs = Rs::sqlite().await;
    for model in MODELS {
        rs.enqueue(model, FakeReply::text("Hello there, friend.").usage(12, 4));
        let r = rs.respond(&ask(model, "Say hello.")).await;
        assert_eq!(r["status"], "completed", "{model}: {r}");
        assert_eq!(r["model"], model);
        assert_eq!(r["output_text"], "Hello there, friend.");
        assert_eq!(r["store"], true, "store defaults to true");
        assert!(r["incomplete_details"].is_null() && r["error"].is_null());
        let output = r["output"].as_array().unwrap();
        assert_eq!(output.len(), 1, "{r}");
        let message = &output[0];
        assert_eq!(message["type"], "message");
        assert_eq!(message["role"], "assistant");
        assert_eq!(message["status"], "completed");
        assert_eq!(
            message["content"],
            json!([{"type": "output_text", "text": "Hello there, friend.", "annotations": []}])
        );
        assert_eq!(
            r["usage"]["input_tokens"], 12,
            "{model}: upstream usage: {r}"
        );
        assert_eq!(r["usage"]["output_tokens"], 4);
        assert_eq!(r["usage"]["total_tokens"], 16);
        // A conversation was made for it, and the built-in tools are on.
        assert!(conversation_of(&r).starts_with("conv_"), "{r}");
        assert_eq!(r["tools"], json!([{"type": "file_operations"}]));
        assert_eq!(r["tool_choice"], "auto");
        assert_eq!(r["text"]["format"]["type"], "text");
        assert!(r["previous_response_id"].is_null());

        let requests = rs.requests(model);
        assert_eq!(requests.len(), 1, "{model}");
        let sent = &requests[0];
        assert!(sent.is_stream(), "Hearth streams from the upstream");
        assert_eq!(transcript(model, sent), ["user: Say hello."]);
        assert_eq!(offered_tools(sent), FILE_TOOLS, "{model}");
        // Retrieval gives back the same object.
        let stored = rs
            .get(&format!("/v1/responses/{}", id_of(&r)), rs.key())
            .await;
        assert_eq!(stored.expect_status(200), &r);
    }
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instructions_reach_the_upstream_as_system_and_are_not_history() {
    let rs = Rs::sqlite().await;
    for model in MODELS {
        let mut body = ask(model, "Hi");
        body["instructions"] = json!("Answer in French.");
        let first = rs.respond(&body).await;
        assert_eq!(first["instructions"], "Answer in French.");
        let sent = rs.requests(model).pop().unwrap();
        assert_eq!(
            transcript(model, &sent),
            ["system: Answer in French.", "user: Hi"],
            "{model}"
        );
        if model == OPENAI_MODEL {
            assert_eq!(
                sent.body["messages"][0],
                json!({"role": "system", "content": "Answer in French."})
            );
        } else {
            assert!(
                sent.body["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|m| m["role"] != "system"),
                "Anthropic takes system apart: {}",
                sent.body
            );
        }
        // The next turn has its own instructions (here none).
        let next = rs
            .respond(
                &json!({"model": model, "input": "Again", "conversation": conversation_of(&first)}),
            )
            .await;
        assert!(next["instructions"].is_null());
        let sent = rs.requests(model).pop().unwrap();
        let lines = transcript(model, &sent);
        assert!(
            lines.iter().all(|l| !l.starts_with("system")),
            "{model}: {lines:?}"
        );
        assert_eq!(lines.len(), 3, "{model}: {lines:?}");
    }
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_options_reach_the_upstream() {
    let rs = Rs::sqlite().await;
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
        "required": ["city", "temp"],
        "additionalProperties": false
    });
    rs.openai
        .enqueue(FakeReply::text(r#"{"city":"Paris","temp":21}"#));
    let r = rs
        .respond(&json!({
            "model": OPENAI_MODEL,
            "input": "Weather in Paris as JSON",
            "text": {"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": true}},
            "max_output_tokens": 77,
            "temperature": 0.25,
            "top_p": 0.5,
            "parallel_tool_calls": false,
            "user": "end-user-7",
        }))
        .await;
    assert_eq!(r["output_text"], r#"{"city":"Paris","temp":21}"#);
    assert_eq!(r["text"]["format"]["type"], "json_schema");
    assert_eq!(r["text"]["format"]["schema"], schema);
    assert_eq!(r["max_output_tokens"], 77);
    assert_eq!(r["temperature"], 0.25);
    assert_eq!(r["top_p"], 0.5);
    assert_eq!(r["parallel_tool_calls"], false);
    let sent = rs.openai.requests().pop().unwrap();
    assert_eq!(
        sent.body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "weather", "schema": schema, "strict": true}})
    );
    assert_eq!(sent.body["max_tokens"], 77);
    assert_eq!(sent.body["temperature"], 0.25);
    assert_eq!(sent.body["top_p"], 0.5);
    assert_eq!(sent.body["parallel_tool_calls"], false);

    // Anthropic: max_output_tokens is its max_tokens.
    rs.respond(&json!({"model": ANTHROPIC_MODEL, "input": "x", "max_output_tokens": 33, "temperature": 0.5}))
        .await;
    let sent = rs.anthropic.requests().pop().unwrap();
    assert_eq!(sent.body["max_tokens"], 33);
    assert_eq!(sent.body["temperature"], 0.5);
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_choice_none_disables_every_tool() {
    let rs = Rs::sqlite().await;
    // A model that calls a tool even so: Hearth must not run it.
    rs.openai.enqueue(FakeReply::ToolCalls(vec![ToolCall::new(
        "call_w",
        "write_file",
        json!({"path": "sneaky.txt", "content": "x"}),
    )]));
    let reply = rs
        .create(&json!({
            "model": OPENAI_MODEL, "input": "Just talk.", "tool_choice": "none",
            "tools": [weather_tool()]
        }))
        .await;
    let r = reply.expect_status(200);
    assert_response_object(r);
    assert_eq!(r["tool_choice"], "none");
    assert!(
        !r["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["type"] == "file_operations"),
        "built-in tools are not listed when disabled: {r}"
    );
    let first = &rs.openai.requests()[0];
    assert_eq!(first.body["tool_choice"], "none", "{}", first.body);
    // Nothing was written, and no call is recorded as done.
    let conv = conversation_of(r);
    assert!(
        dir_entries(&rs.server.workspace_dir().join(&conv)).is_empty(),
        "a tool ran despite tool_choice none"
    );
    assert!(
        items_of(r, "file_operation_call")
            .iter()
            .all(|i| i["status"] == "failed"),
        "{r}"
    );
    for request in rs.openai.requests() {
        assert_eq!(request.body["tool_choice"], "none", "{}", request.body);
    }
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_tools_restrict_what_the_upstream_is_offered() {
    let rs = Rs::sqlite().await;
    let tools = json!([weather_tool(), time_tool()]);
    let cases: Vec<(Value, Vec<&str>, Value)> = vec![
        // One function: the file tools and the other function are hidden.
        (
            json!({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]}),
            vec!["get_weather"],
            json!("auto"),
        ),
        // The file family only.
        (
            json!({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "file_operations"}]}),
            FILE_TOOLS.to_vec(),
            json!("auto"),
        ),
        // One built-in tool by name and one function, which must be called.
        (
            json!({"type": "allowed_tools", "mode": "required", "tools": [
                {"type": "function", "name": "read_file"}, {"type": "function", "name": "get_time"}
            ]}),
            vec!["read_file", "get_time"],
            json!("required"),
        ),
        // Defaults: everything.
        (
            json!("auto"),
            FILE_TOOLS
                .iter()
                .copied()
                .chain(["get_weather", "get_time"])
                .collect(),
            json!("auto"),
        ),
        // A named function is forced.
        (
            json!({"type": "function", "name": "get_time"}),
            FILE_TOOLS
                .iter()
                .copied()
                .chain(["get_weather", "get_time"])
                .collect(),
            json!({"type": "function", "function": {"name": "get_time"}}),
        ),
    ];
    for (choice, offered, upstream_choice) in cases {
        let r = rs
            .respond(&json!({"model": OPENAI_MODEL, "input": "hi", "tools": tools, "tool_choice": choice}))
            .await;
        assert_eq!(r["tool_choice"], choice);
        let sent = rs.openai.requests().pop().unwrap();
        assert_eq!(offered_tools(&sent), offered, "{choice}");
        assert_eq!(sent.body["tool_choice"], upstream_choice, "{choice}");
        let listed: Vec<&Value> = r["tools"].as_array().unwrap().iter().collect();
        let lists_files = listed.iter().any(|t| t["type"] == "file_operations");
        assert_eq!(
            lists_files,
            offered.iter().any(|t| FILE_TOOLS.contains(t)),
            "{choice}: {r}"
        );
    }

    // A model that calls a hidden tool anyway gets a failed call, and
    // nothing runs.
    rs.openai.enqueue(FakeReply::ToolCalls(vec![ToolCall::new(
        "call_h",
        "write_file",
        json!({"path": "hidden.txt", "content": "x"}),
    )]));
    let r = rs
        .respond(&json!({
            "model": OPENAI_MODEL, "input": "hi", "tools": tools,
            "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]}
        }))
        .await;
    let calls = items_of(&r, "file_operation_call");
    assert_eq!(calls.len(), 1, "{r}");
    assert_eq!(calls[0]["status"], "failed");
    assert!(
        dir_entries(&rs.server.workspace_dir().join(conversation_of(&r))).is_empty(),
        "a hidden tool ran"
    );
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_input_item_reaches_the_upstream() {
    let rs = Rs::sqlite().await;
    let image = "data:image/png;base64,iVBORw0KGgo=";
    let seed = rs.respond(&ask(OPENAI_MODEL, "Remember: blue.")).await;
    let seed_item = {
        let reply = rs
            .get(
                &format!(
                    "/v1/conversations/{}/items?order=asc",
                    conversation_of(&seed)
                ),
                rs.key(),
            )
            .await;
        id_of(&reply.expect_status(200)["data"][0])
    };
    for model in MODELS {
        let r = rs
            .respond(&json!({
                "model": model,
                "tools": [{"type": "file_operations"}, weather_tool()],
                "input": [
                    {"role": "developer", "content": "Be brief."},
                    {"type": "item_reference", "id": seed_item},
                    {"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "What is in this picture?"},
                        {"type": "input_image", "image_url": image, "detail": "low"}
                    ]},
                    {"type": "function_call", "call_id": "call_prev", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"},
                    {"type": "function_call_output", "call_id": "call_prev", "output": "snow"},
                    {"role": "assistant", "content": "It snows in Oslo."},
                    {"role": "user", "content": "Thanks."}
                ]
            }))
            .await;
        // The file family is listed once, however it was asked for.
        assert_eq!(
            r["tools"].as_array().unwrap()[0],
            json!({"type": "file_operations"})
        );
        assert_eq!(r["tools"].as_array().unwrap().len(), 2, "{r}");
        let sent = rs.requests(model).pop().unwrap();
        let lines = transcript(model, &sent);
        assert_eq!(lines[0], "system: Be brief.", "{model}: {lines:?}");
        // (Anthropic's image block is a line of its own; checked below.)
        let rest: Vec<&str> = lines[1..]
            .iter()
            .map(String::as_str)
            .filter(|l| !l.ends_with("<image>"))
            .collect();
        assert_eq!(
            rest,
            [
                "user: Remember: blue.",
                "user: What is in this picture?",
                r#"call get_weather {"city":"Oslo"}"#,
                "result call_prev: snow",
                "assistant: It snows in Oslo.",
                "user: Thanks."
            ],
            "{model}"
        );
        // The image went along as the provider's image part.
        let body = sent.body.to_string();
        if model == OPENAI_MODEL {
            assert!(
                body.contains(&format!(
                    r#""image_url":{{"detail":"low","url":"{image}"}}"#
                )),
                "{body}"
            );
        } else {
            assert!(
                body.contains(
                    r#""source":{"data":"iVBORw0KGgo=","media_type":"image/png","type":"base64"}"#
                ),
                "{body}"
            );
        }
        // The stored input items keep what was sent, each with an id.
        let reply = rs
            .get(
                &format!("/v1/responses/{}/input_items?order=asc", id_of(&r)),
                rs.key(),
            )
            .await;
        let items = reply.expect_status(200)["data"].as_array().unwrap().clone();
        assert_eq!(items.len(), 7);
        assert!(items.iter().all(|i| i["id"].is_string()));
        assert_eq!(items[0]["role"], "developer");
        assert_eq!(super::item_text(&items[1]), "Remember: blue.");
        assert_ne!(items[1]["id"], json!(seed_item), "a reference is a copy");
        assert_eq!(items[2]["content"][1]["image_url"], image);
    }
    rs.assert_no_violations();
}
