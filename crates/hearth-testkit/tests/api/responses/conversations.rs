//! Conversations, on both backends: the first call makes one, passing it
//! (or a `previous_response_id`) continues with the stored history, the
//! OpenAI conversation calls, and cursor pagination of items.

use super::{
    ANTHROPIC_MODEL, OPENAI_MODEL, Rs, ask, conversation_of, dir_entries, expect_bad_request,
    id_of, item_text, transcript,
};
use hearth_testkit::FakeReply;
use serde_json::{Value, json};

responses_backend_tests! {
    a_conversation_continues_with_its_stored_history,
    previous_response_id_continues_a_chain,
    conversation_calls_create_read_update_and_delete,
    conversation_items_are_paginated_by_cursor,
}

async fn a_conversation_continues_with_its_stored_history(rs: Rs) {
    rs.openai.enqueue(FakeReply::text("Hi Ann."));
    let first = rs.respond(&ask(OPENAI_MODEL, "I am Ann.")).await;
    let conv = conversation_of(&first);
    // The id as a string, then as {id}; the model may change between turns.
    rs.anthropic.enqueue(FakeReply::text("You are Ann."));
    let second = rs
        .respond(&json!({"model": ANTHROPIC_MODEL, "input": "Who am I?", "conversation": conv}))
        .await;
    assert_eq!(conversation_of(&second), conv);
    assert_eq!(second["output_text"], "You are Ann.");
    assert_eq!(
        transcript(ANTHROPIC_MODEL, &rs.anthropic.requests()[0]),
        ["user: I am Ann.", "assistant: Hi Ann.", "user: Who am I?"]
    );
    rs.openai.enqueue(FakeReply::text("Still Ann."));
    let third = rs
        .respond(&json!({
            "model": OPENAI_MODEL,
            "conversation": {"id": conv},
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "And now?"}]}]
        }))
        .await;
    assert_eq!(conversation_of(&third), conv);
    assert!(third["previous_response_id"].is_null());
    assert_eq!(
        transcript(OPENAI_MODEL, &rs.openai.requests()[1]),
        [
            "user: I am Ann.",
            "assistant: Hi Ann.",
            "user: Who am I?",
            "assistant: You are Ann.",
            "user: And now?"
        ]
    );

    // The conversation holds the six items, each with an id.
    let items = rs.items(&conv).await;
    let texts: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            assert!(i["id"].is_string(), "{i}");
            assert_eq!(i["type"], "message", "{i}");
            (i["role"].as_str().unwrap().to_owned(), item_text(i))
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("user", "I am Ann."),
        ("assistant", "Hi Ann."),
        ("user", "Who am I?"),
        ("assistant", "You are Ann."),
        ("user", "And now?"),
        ("assistant", "Still Ann."),
    ]
    .iter()
    .map(|(r, t)| ((*r).to_owned(), (*t).to_owned()))
    .collect();
    assert_eq!(texts, expected);
    // Output items keep the ids the response gave them.
    assert_eq!(items[5]["id"], third["output"][0]["id"]);

    // A separate first call starts a separate conversation.
    let other = rs.respond(&ask(OPENAI_MODEL, "Hello?")).await;
    assert_ne!(conversation_of(&other), conv);
    assert_eq!(
        transcript(OPENAI_MODEL, &rs.openai.requests()[2]),
        ["user: Hello?"]
    );
    rs.assert_no_violations();
}

async fn previous_response_id_continues_a_chain(rs: Rs) {
    rs.openai.enqueue(FakeReply::text("one"));
    rs.openai.enqueue(FakeReply::text("two"));
    rs.openai.enqueue(FakeReply::text("three"));
    rs.openai.enqueue(FakeReply::text("branch"));
    let r1 = rs.respond(&ask(OPENAI_MODEL, "Count: 1")).await;
    let r2 = rs
        .respond(&json!({"model": OPENAI_MODEL, "input": "2", "previous_response_id": id_of(&r1)}))
        .await;
    assert_eq!(r2["previous_response_id"], r1["id"]);
    // A chain stays in the conversation of its first response.
    assert_eq!(conversation_of(&r2), conversation_of(&r1));
    let r3 = rs
        .respond(&json!({"model": OPENAI_MODEL, "input": "3", "previous_response_id": id_of(&r2)}))
        .await;
    assert_eq!(r3["output_text"], "three");
    let requests = rs.openai.requests();
    assert_eq!(
        transcript(OPENAI_MODEL, &requests[2]),
        [
            "user: Count: 1",
            "assistant: one",
            "user: 2",
            "assistant: two",
            "user: 3"
        ]
    );
    // A branch from the first response sees only that one.
    rs.respond(
        &json!({"model": ANTHROPIC_MODEL, "input": "2b", "previous_response_id": id_of(&r1)}),
    )
    .await;
    assert_eq!(
        transcript(ANTHROPIC_MODEL, &rs.anthropic.requests()[0]),
        ["user: Count: 1", "assistant: one", "user: 2b"]
    );
    rs.assert_no_violations();
}

async fn conversation_calls_create_read_update_and_delete(rs: Rs) {
    let key = rs.key().to_owned();
    let reply = rs
        .post(
            "/v1/conversations",
            &key,
            &json!({
                "metadata": {"topic": "demo"},
                "items": [
                    {"type": "message", "role": "user", "content": "My name is Bo."},
                    {"type": "message", "role": "assistant", "content": "Noted, Bo."}
                ]
            }),
        )
        .await;
    let conv = reply.expect_status(200).clone();
    assert_eq!(conv["object"], "conversation", "{conv}");
    let id = id_of(&conv);
    assert!(id.starts_with("conv_"), "{conv}");
    assert_eq!(conv["metadata"], json!({"topic": "demo"}));
    assert!(
        (crate::now_secs() - conv["created_at"].as_i64().unwrap()).abs() < 600,
        "{conv}"
    );
    let path = format!("/v1/conversations/{id}");
    assert_eq!(rs.get(&path, &key).await.expect_status(200), &conv);

    // The seeded items are history for the first response.
    let r = rs
        .respond(&json!({"model": OPENAI_MODEL, "input": "What is my name?", "conversation": id}))
        .await;
    assert_eq!(conversation_of(&r), id);
    assert_eq!(
        transcript(OPENAI_MODEL, &rs.openai.requests()[0]),
        [
            "user: My name is Bo.",
            "assistant: Noted, Bo.",
            "user: What is my name?"
        ]
    );
    assert_eq!(rs.items(&id).await.len(), 4);

    // Metadata is replaced, and bounded like a response's.
    let updated = rs
        .post(
            &path,
            &key,
            &json!({"metadata": {"topic": "names", "n": "2"}}),
        )
        .await;
    assert_eq!(
        updated.expect_status(200)["metadata"],
        json!({"topic": "names", "n": "2"})
    );
    assert_eq!(updated.body["id"], id.as_str());
    let reply = rs
        .post(&path, &key, &json!({"metadata": {"k": "v".repeat(513)}}))
        .await;
    expect_bad_request(&reply, "metadata.k", None);
    let reply = rs.post(&path, &key, &json!({"title": "x"})).await;
    expect_bad_request(&reply, "title", None);
    assert_eq!(
        rs.get(&path, &key).await.expect_status(200)["metadata"],
        json!({"topic": "names", "n": "2"})
    );

    // A tool wrote into its workspace; deleting the conversation removes it.
    let workspace = rs.server.workspace_dir().join(&id);
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(workspace.join("notes.txt"), "x").unwrap();
    let deleted = rs.delete(&path, &key).await;
    assert_eq!(
        deleted.expect_status(200),
        &json!({"id": id, "object": "conversation.deleted", "deleted": true})
    );
    assert!(!workspace.exists(), "{:?}", dir_entries(&workspace));
    rs.get(&path, &key)
        .await
        .expect_error(404, "not_found_error");
    rs.get(&format!("{path}/items"), &key)
        .await
        .expect_error(404, "not_found_error");
    rs.delete(&path, &key)
        .await
        .expect_error(404, "not_found_error");
    rs.post(&path, &key, &json!({"metadata": {}}))
        .await
        .expect_error(404, "not_found_error");
    let reply = rs
        .create(&json!({"model": OPENAI_MODEL, "input": "hi", "conversation": id}))
        .await;
    reply.expect_error(404, "not_found_error");
    assert_eq!(rs.openai.requests().len(), 1, "refused before the upstream");
}

/// The ids of a page and its cursor fields.
fn page_ids(page: &Value) -> Vec<String> {
    let ids: Vec<String> = page["data"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(page["object"], "list", "{page}");
    assert_eq!(
        page["first_id"],
        ids.first().map_or(Value::Null, |i| json!(i))
    );
    assert_eq!(
        page["last_id"],
        ids.last().map_or(Value::Null, |i| json!(i))
    );
    ids
}

async fn conversation_items_are_paginated_by_cursor(rs: Rs) {
    let key = rs.key().to_owned();
    let first = rs.respond(&ask(OPENAI_MODEL, "one")).await;
    let conv = conversation_of(&first);
    for text in ["two", "three"] {
        rs.respond(&json!({"model": OPENAI_MODEL, "input": text, "conversation": conv}))
            .await;
    }
    let base = format!("/v1/conversations/{conv}/items");
    let all = rs.items(&conv).await;
    assert_eq!(all.len(), 6);
    let asc: Vec<String> = all.iter().map(id_of).collect();
    let desc: Vec<String> = asc.iter().rev().cloned().collect();

    // Default order is newest first.
    let page = rs.get(&base, &key).await;
    assert_eq!(page_ids(page.expect_status(200)), desc);
    assert_eq!(page.body["has_more"], false);

    for (order, expected) in [("asc", &asc), ("desc", &desc)] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut query = format!("{base}?order={order}&limit=4");
            if let Some(a) = &after {
                query.push_str(&format!("&after={a}"));
            }
            let reply = rs.get(&query, &key).await;
            let page = reply.expect_status(200);
            let ids = page_ids(page);
            pages += 1;
            seen.extend(ids.clone());
            if page["has_more"] == false {
                break;
            }
            assert_eq!(ids.len(), 4, "{page}");
            after = page["last_id"].as_str().map(str::to_owned);
        }
        assert_eq!(&seen, expected, "{order}");
        assert_eq!(pages, 2, "{order}");
    }
    // A page that ends exactly at the last item says so.
    let reply = rs
        .get(&format!("{base}?order=asc&after={}&limit=2", asc[3]), &key)
        .await;
    let page = reply.expect_status(200);
    assert_eq!(page_ids(page), asc[4..]);
    assert_eq!(page["has_more"], false);

    // Each item by id.
    for item in &all {
        let reply = rs.get(&format!("{base}/{}", id_of(item)), &key).await;
        assert_eq!(reply.expect_status(200), item);
    }
    rs.get(&format!("{base}/msg_nope"), &key)
        .await
        .expect_error(404, "not_found_error");

    // Cursors must be items of this list.
    let other = rs.respond(&ask(OPENAI_MODEL, "elsewhere")).await;
    let foreign = id_of(&other["output"][0]);
    for bad in ["msg_nope", foreign.as_str()] {
        let reply = rs.get(&format!("{base}?after={bad}"), &key).await;
        expect_bad_request(&reply, "after", Some("invalid_cursor"));
    }
    // An item of another conversation is not found through this one.
    rs.get(&format!("{base}/{foreign}"), &key)
        .await
        .expect_error(404, "not_found_error");
    for query in ["order=sideways", "limit=0", "limit=abc", "colour=red"] {
        let reply = rs.get(&format!("{base}?{query}"), &key).await;
        reply.expect_error(400, "invalid_request_error");
    }
    rs.get("/v1/conversations/conv_nope/items", &key)
        .await
        .expect_error(404, "not_found_error");
}
