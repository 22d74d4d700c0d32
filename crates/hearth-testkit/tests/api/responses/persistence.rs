//! Stored responses, on both backends: retrieval, input items, deletion,
//! `store: false`, and isolation between organisations.

use super::{
    OPENAI_MODEL, Rs, ask, conversation_of, dir_entries, expect_bad_request, id_of, weather_tool,
};
use crate::org_with;
use hearth_testkit::{FakeReply, ToolCall};
use serde_json::{Value, json};

responses_backend_tests! {
    stored_responses_are_retrieved_listed_and_deleted,
    store_false_keeps_nothing,
    other_organisations_get_404_for_every_id,
}

async fn stored_responses_are_retrieved_listed_and_deleted(rs: Rs) {
    let key = rs.key().to_owned();
    let first = rs.respond(&ask(OPENAI_MODEL, "first")).await;
    let conv = conversation_of(&first);
    let r = rs
        .respond(&json!({
            "model": OPENAI_MODEL, "conversation": conv,
            "metadata": {"ticket": "T-1"},
            "input": [
                {"role": "developer", "content": "Be terse."},
                {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
                {"type": "message", "role": "user", "content": "c"}
            ]
        }))
        .await;
    let id = id_of(&r);
    assert_eq!(r["metadata"], json!({"ticket": "T-1"}));
    let path = format!("/v1/responses/{id}");
    assert_eq!(rs.get(&path, &key).await.expect_status(200), &r);

    // Input items: this response's three, newest first by default.
    let reply = rs.get(&format!("{path}/input_items"), &key).await;
    let page = reply.expect_status(200).clone();
    assert_eq!(page["object"], "list");
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "{page}");
    assert_eq!(data[0]["content"][0]["text"], "c");
    assert_eq!(data[2]["role"], "developer");
    assert_eq!(page["first_id"], data[0]["id"]);
    assert_eq!(page["last_id"], data[2]["id"]);
    assert_eq!(page["has_more"], false);
    // Pages of one, oldest first, follow the cursor.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let q = if after.is_empty() {
            format!("{path}/input_items?order=asc&limit=1")
        } else {
            format!("{path}/input_items?order=asc&limit=1&after={after}")
        };
        let reply = rs.get(&q, &key).await;
        let page = reply.expect_status(200);
        let items = page["data"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        seen.push(items[0].clone());
        if page["has_more"] == false {
            break;
        }
        after = page["last_id"].as_str().unwrap().to_owned();
    }
    let reversed: Vec<Value> = data.iter().rev().cloned().collect();
    assert_eq!(seen, reversed);
    // A cursor from another response is refused.
    let reply = rs
        .get(
            &format!("{path}/input_items?after={}", id_of(&first["output"][0])),
            &key,
        )
        .await;
    expect_bad_request(&reply, "after", Some("invalid_cursor"));

    // Deleting.
    let reply = rs.delete(&path, &key).await;
    assert_eq!(
        reply.expect_status(200),
        &json!({"id": id, "object": "response", "deleted": true})
    );
    rs.get(&path, &key)
        .await
        .expect_error(404, "not_found_error");
    rs.get(&format!("{path}/input_items"), &key)
        .await
        .expect_error(404, "not_found_error");
    rs.delete(&path, &key)
        .await
        .expect_error(404, "not_found_error");
    let reply = rs
        .create(&json!({"model": OPENAI_MODEL, "input": "x", "previous_response_id": id}))
        .await;
    let error = reply.expect_error(404, "invalid_request_error");
    assert_eq!(error["code"], "previous_response_not_found");
    // The conversation keeps its history; the first response is untouched.
    assert_eq!(rs.items(&conv).await.len(), 6);
    rs.get(&format!("/v1/responses/{}", id_of(&first)), &key)
        .await
        .expect_status(200);
    rs.get("/v1/responses/resp_nope", &key)
        .await
        .expect_error(404, "not_found_error");
}

async fn store_false_keeps_nothing(rs: Rs) {
    let key = rs.key().to_owned();
    rs.openai.enqueue(FakeReply::ToolCalls(vec![ToolCall::new(
        "call_w",
        "write_file",
        json!({"path": "tmp.txt", "content": "t"}),
    )]));
    rs.openai.enqueue(FakeReply::ToolCalls(vec![ToolCall::new(
        "call_r",
        "read_file",
        json!({"path": "tmp.txt"}),
    )]));
    let r = rs
        .respond(&json!({"model": OPENAI_MODEL, "input": "scratch", "store": false}))
        .await;
    assert_eq!(r["store"], false);
    assert!(r["conversation"].is_null(), "{r}");
    assert_eq!(r["status"], "completed");
    // The tools worked within the response…
    let calls = super::items_of(&r, "file_operation_call");
    assert_eq!(calls[1]["output"], "t", "{r}");
    // …and left nothing behind.
    assert!(
        dir_entries(rs.server.workspace_dir()).is_empty(),
        "{:?}",
        dir_entries(rs.server.workspace_dir())
    );
    let id = id_of(&r);
    rs.get(&format!("/v1/responses/{id}"), &key)
        .await
        .expect_error(404, "not_found_error");
    rs.get(&format!("/v1/responses/{id}/input_items"), &key)
        .await
        .expect_error(404, "not_found_error");
    rs.delete(&format!("/v1/responses/{id}"), &key)
        .await
        .expect_error(404, "not_found_error");
    let reply = rs
        .create(&json!({"model": OPENAI_MODEL, "input": "x", "previous_response_id": id}))
        .await;
    assert_eq!(
        reply.expect_error(404, "invalid_request_error")["code"],
        "previous_response_not_found"
    );

    // store:false on a stored conversation reads its history but adds
    // nothing to it.
    let stored = rs.respond(&ask(OPENAI_MODEL, "keep me")).await;
    let conv = conversation_of(&stored);
    let r = rs
        .respond(&json!({"model": OPENAI_MODEL, "input": "forget me", "conversation": conv, "store": false}))
        .await;
    assert_eq!(
        super::transcript(OPENAI_MODEL, rs.openai.requests().last().unwrap()).len(),
        3
    );
    assert_eq!(rs.items(&conv).await.len(), 2);
    rs.get(&format!("/v1/responses/{}", id_of(&r)), &key)
        .await
        .expect_error(404, "not_found_error");
}

async fn other_organisations_get_404_for_every_id(rs: Rs) {
    let (org, alice) = org_with(&rs.server, "member").await;
    let colleague = rs.server.user("member", Some(&org)).await;
    let (_, mallory) = org_with(&rs.server, "admin").await;

    rs.openai.enqueue(FakeReply::ToolCalls(vec![ToolCall::new(
        "call_1",
        "get_weather",
        json!({"city": "Rome"}),
    )]));
    let reply = rs
        .create_as(
            &alice.key,
            &json!({"model": OPENAI_MODEL, "input": "Weather in Rome?", "tools": [weather_tool()]}),
        )
        .await;
    let r = reply.expect_status(200).clone();
    let id = id_of(&r);
    let conv = conversation_of(&r);
    let reply = rs
        .get(
            &format!("/v1/conversations/{conv}/items?order=asc"),
            &alice.key,
        )
        .await;
    let item = id_of(&reply.expect_status(200)["data"][0]);
    let made = rs.post("/v1/conversations", &alice.key, &json!({})).await;
    let empty_conv = id_of(made.expect_status(200));

    let reads = [
        format!("/v1/responses/{id}"),
        format!("/v1/responses/{id}/input_items"),
        format!("/v1/conversations/{conv}"),
        format!("/v1/conversations/{conv}/items"),
        format!("/v1/conversations/{conv}/items/{item}"),
        format!("/v1/conversations/{empty_conv}"),
    ];
    for path in &reads {
        rs.get(path, &mallory.key)
            .await
            .expect_error(404, "not_found_error");
    }
    for path in [
        format!("/v1/responses/{id}"),
        format!("/v1/conversations/{conv}"),
    ] {
        rs.delete(&path, &mallory.key)
            .await
            .expect_error(404, "not_found_error");
    }
    rs.post(
        &format!("/v1/conversations/{conv}"),
        &mallory.key,
        &json!({"metadata": {"owned": "yes"}}),
    )
    .await
    .expect_error(404, "not_found_error");
    // Their ids cannot be continued, answered or referenced either.
    let answer = json!([{"type": "function_call_output", "call_id": "call_1", "output": "hot"}]);
    let reply = rs
        .create_as(
            &mallory.key,
            &json!({"model": OPENAI_MODEL, "previous_response_id": id, "input": answer}),
        )
        .await;
    assert_eq!(
        reply.expect_error(404, "invalid_request_error")["code"],
        "previous_response_not_found"
    );
    let reply = rs
        .create_as(
            &mallory.key,
            &json!({"model": OPENAI_MODEL, "conversation": conv, "input": answer}),
        )
        .await;
    reply.expect_error(404, "not_found_error");
    let reply = rs
        .create_as(
            &mallory.key,
            &json!({"model": OPENAI_MODEL, "input": [{"type": "item_reference", "id": item}]}),
        )
        .await;
    expect_bad_request(&reply, "input[0].id", None);
    assert_eq!(
        rs.openai.requests().len(),
        1,
        "nothing reached the upstream"
    );

    // The owner's organisation sees everything, untouched.
    for key in [&alice.key, &colleague.key] {
        for path in &reads {
            rs.get(path, key).await.expect_status(200);
        }
    }
    let reply = rs
        .get(&format!("/v1/conversations/{conv}"), &alice.key)
        .await;
    assert_eq!(reply.expect_status(200)["metadata"], json!({}));
    // An item of the organisation can be referenced, and the colleague
    // can answer the call.
    let reply = rs
        .create_as(
            &colleague.key,
            &json!({"model": OPENAI_MODEL, "previous_response_id": id, "input": answer, "tools": [weather_tool()]}),
        )
        .await;
    assert_eq!(reply.expect_status(200)["status"], "completed");
    let reply = rs
        .create_as(
            &alice.key,
            &json!({"model": OPENAI_MODEL, "input": [{"type": "item_reference", "id": item}]}),
        )
        .await;
    reply.expect_status(200);
    assert_eq!(
        super::transcript(OPENAI_MODEL, rs.openai.requests().last().unwrap()),
        ["user: Weather in Rome?"]
    );
    // The instance's own organisation does not see the other's either.
    rs.get(&format!("/v1/responses/{id}"), rs.key())
        .await
        .expect_error(404, "not_found_error");
    // Viewers read but do not create.
    let viewer = rs.server.user("viewer", Some(&org)).await;
    rs.get(&format!("/v1/responses/{id}"), &viewer.key)
        .await
        .expect_status(200);
    rs.create_as(&viewer.key, &ask(OPENAI_MODEL, "hi"))
        .await
        .expect_error(403, "permission_error");
}
