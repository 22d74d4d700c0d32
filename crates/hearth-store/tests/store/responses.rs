//! Conversations, stored responses and their items (the Responses API).

use crate::raw_pool;
use hearth_store::testing::TestDatabase;
use hearth_store::{Store, StoreError};
use hearth_types::conversation::{
    Conversation, ItemKind, NewItem, Order, StoredItem, StoredResponse,
};
use serde_json::{Map, json};

const T0: i64 = 1_700_000_000_000;

fn conversation(id: &str, org_id: &str) -> Conversation {
    let mut metadata = Map::new();
    metadata.insert("topic".into(), json!("billing"));
    metadata.insert("ticket".into(), json!("T-42 \"quoted\" ünïcode"));
    Conversation {
        id: id.into(),
        org_id: org_id.into(),
        user_id: format!("user_of_{org_id}"),
        created_at: T0,
        metadata,
    }
}

fn item(id: &str, response_id: Option<&str>, kind: ItemKind) -> NewItem {
    NewItem {
        id: id.into(),
        response_id: response_id.map(Into::into),
        kind,
        created_at: T0 + 1,
        body: json!({
            "id": id,
            "type": "message",
            "role": if kind == ItemKind::Input { "user" } else { "assistant" },
            "content": [{"type": "input_text", "text": format!("text of {id}")}],
        }),
    }
}

fn response(id: &str, org_id: &str, conversation_id: Option<&str>) -> StoredResponse {
    StoredResponse {
        id: id.into(),
        org_id: org_id.into(),
        user_id: format!("user_of_{org_id}"),
        conversation_id: conversation_id.map(Into::into),
        previous_response_id: None,
        created_at: T0 + 2,
        body: json!({"id": id, "object": "response", "status": "completed", "output": []}),
    }
}

fn ids(items: &[StoredItem]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

fn seqs(items: &[StoredItem]) -> Vec<i64> {
    items.iter().map(|i| i.seq).collect()
}

async fn insert_conversations(store: &Store, conversations: &[Conversation]) {
    let mut tx = store.begin().await.unwrap();
    for c in conversations {
        tx.insert_conversation(c).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn append(
    store: &Store,
    org_id: &str,
    conversation_id: Option<&str>,
    items: &[NewItem],
) -> Vec<StoredItem> {
    let mut tx = store.begin().await.unwrap();
    let stored = tx
        .append_items(org_id, conversation_id, items)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    stored
}

async fn insert_responses(store: &Store, responses: &[StoredResponse]) {
    let mut tx = store.begin().await.unwrap();
    for r in responses {
        tx.insert_response(r).await.unwrap();
    }
    tx.commit().await.unwrap();
}

pub async fn conversations_round_trip_with_metadata(store: Store, _db: TestDatabase) {
    let mut c = conversation("conv_1", "org_a");
    c.metadata
        .insert("nested".into(), json!({"a": [1, 2.5, null, true]}));
    insert_conversations(&store, &[c.clone(), conversation("conv_2", "org_a")]).await;
    assert_eq!(
        store.get_conversation("org_a", "conv_1").await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        store.get_conversation("org_a", "conv_x").await.unwrap(),
        None
    );

    let mut metadata = Map::new();
    metadata.insert("topic".into(), json!("refunds"));
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.update_conversation_metadata("org_a", "conv_1", &metadata)
            .await
            .unwrap()
    );
    assert!(
        !tx.update_conversation_metadata("org_a", "conv_x", &metadata)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let got = store
        .get_conversation("org_a", "conv_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.metadata, metadata);
    assert_eq!(got.created_at, c.created_at);
    // Only the conversation named was changed.
    assert_eq!(
        store.get_conversation("org_a", "conv_2").await.unwrap(),
        Some(conversation("conv_2", "org_a"))
    );

    let mut tx = store.begin().await.unwrap();
    let err = tx
        .insert_conversation(&conversation("conv_1", "org_a"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict("conversation")),
        "{err:?}"
    );
}

pub async fn another_orgs_ids_are_invisible(store: Store, _db: TestDatabase) {
    insert_conversations(&store, &[conversation("conv_b", "org_b")]).await;
    let stored = append(
        &store,
        "org_b",
        Some("conv_b"),
        &[item("msg_b1", Some("resp_b"), ItemKind::Input)],
    )
    .await;
    append(
        &store,
        "org_b",
        None,
        &[item("msg_b2", Some("resp_b2"), ItemKind::Input)],
    )
    .await;
    insert_responses(
        &store,
        &[
            response("resp_b", "org_b", Some("conv_b")),
            response("resp_b2", "org_b", None),
        ],
    )
    .await;

    // The owner sees everything…
    assert!(
        store
            .get_conversation("org_b", "conv_b")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.get_item("org_b", "msg_b1").await.unwrap(),
        Some(stored[0].clone())
    );
    // …another org nothing, by any route.
    let a = "org_a";
    assert_eq!(store.get_conversation(a, "conv_b").await.unwrap(), None);
    assert!(
        store
            .list_conversation_items(a, "conv_b", None, 100, Order::Asc)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .conversation_history(a, "conv_b")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .get_conversation_item(a, "conv_b", "msg_b1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_item(a, "msg_b1").await.unwrap(), None);
    assert_eq!(store.get_item(a, "msg_b2").await.unwrap(), None);
    assert_eq!(store.get_response(a, "resp_b").await.unwrap(), None);
    assert!(
        store
            .list_response_input_items(a, "resp_b", None, 100, Order::Asc)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.response_items(a, "resp_b2").await.unwrap().is_empty());
    assert_eq!(
        store
            .item_seq(a, Some("conv_b"), None, "msg_b1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.item_seq(a, None, None, "msg_b2").await.unwrap(), None);

    // Nor can it change or delete them.
    let mut tx = store.begin().await.unwrap();
    assert!(
        !tx.update_conversation_metadata(a, "conv_b", &Map::new())
            .await
            .unwrap()
    );
    assert!(
        !tx.update_response(&response("resp_b", a, None))
            .await
            .unwrap()
    );
    assert!(!tx.delete_conversation(a, "conv_b").await.unwrap());
    assert!(!tx.delete_response(a, "resp_b2").await.unwrap());
    // Appending to another org's conversation is appending to none.
    let err = tx
        .append_items(a, Some("conv_b"), &[item("msg_a1", None, ItemKind::Input)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound("conversation")),
        "{err:?}"
    );
    drop(tx);

    assert_eq!(
        store.get_conversation("org_b", "conv_b").await.unwrap(),
        Some(conversation("conv_b", "org_b"))
    );
    assert_eq!(
        store.get_response("org_b", "resp_b").await.unwrap(),
        Some(response("resp_b", "org_b", Some("conv_b")))
    );
    assert_eq!(
        store
            .response_items("org_b", "resp_b2")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ids(&store.conversation_history("org_b", "conv_b").await.unwrap()),
        ["msg_b1"]
    );
}

pub async fn appended_items_are_numbered_contiguously(store: Store, _db: TestDatabase) {
    insert_conversations(
        &store,
        &[
            conversation("conv_1", "org_a"),
            conversation("conv_2", "org_a"),
        ],
    )
    .await;
    let first = append(
        &store,
        "org_a",
        Some("conv_1"),
        &[
            item("msg_1", Some("resp_1"), ItemKind::Input),
            item("msg_2", Some("resp_1"), ItemKind::Output),
        ],
    )
    .await;
    assert_eq!(seqs(&first), [1, 2]);
    assert_eq!(first[0].org_id, "org_a");
    assert_eq!(first[0].conversation_id.as_deref(), Some("conv_1"));
    assert_eq!(first[1].response_id.as_deref(), Some("resp_1"));
    assert_eq!(first[1].kind, ItemKind::Output);

    // Another conversation counts on its own.
    let other = append(
        &store,
        "org_a",
        Some("conv_2"),
        &[item("msg_x", None, ItemKind::Input)],
    )
    .await;
    assert_eq!(seqs(&other), [1]);

    // Items of several responses interleaved in one append, then an item
    // added without a response, all continue the one conversation sequence.
    let second = append(
        &store,
        "org_a",
        Some("conv_1"),
        &[
            item("msg_3", Some("resp_2"), ItemKind::Input),
            item("msg_4", Some("resp_3"), ItemKind::Input),
            item("msg_5", Some("resp_2"), ItemKind::Output),
        ],
    )
    .await;
    assert_eq!(seqs(&second), [3, 4, 5]);
    let third = append(
        &store,
        "org_a",
        Some("conv_1"),
        &[item("msg_6", None, ItemKind::Input)],
    )
    .await;
    assert_eq!(seqs(&third), [6]);
    assert!(
        append(&store, "org_a", Some("conv_1"), &[])
            .await
            .is_empty()
    );

    let history = store.conversation_history("org_a", "conv_1").await.unwrap();
    assert_eq!(
        ids(&history),
        ["msg_1", "msg_2", "msg_3", "msg_4", "msg_5", "msg_6"]
    );
    assert_eq!(seqs(&history), [1, 2, 3, 4, 5, 6]);
    // What was returned is what is stored, body and all.
    let mut returned = first;
    returned.extend(second);
    returned.extend(third);
    assert_eq!(history, returned);
}

pub async fn items_without_conversation_are_numbered_per_response(store: Store, _db: TestDatabase) {
    let stored = append(
        &store,
        "org_a",
        None,
        &[
            item("msg_1", Some("resp_1"), ItemKind::Input),
            item("msg_2", Some("resp_2"), ItemKind::Input),
            item("msg_3", Some("resp_1"), ItemKind::Output),
        ],
    )
    .await;
    assert_eq!(seqs(&stored), [1, 1, 2]);
    assert_eq!(stored[0].conversation_id, None);
    let more = append(
        &store,
        "org_a",
        None,
        &[
            item("msg_4", Some("resp_2"), ItemKind::Output),
            item("msg_5", Some("resp_1"), ItemKind::Output),
        ],
    )
    .await;
    assert_eq!(seqs(&more), [2, 3]);

    // Items of the same response inside a conversation number with the
    // conversation, not with the conversation-less ones.
    insert_conversations(&store, &[conversation("conv_1", "org_a")]).await;
    let in_conversation = append(
        &store,
        "org_a",
        Some("conv_1"),
        &[item("msg_6", Some("resp_1"), ItemKind::Input)],
    )
    .await;
    assert_eq!(seqs(&in_conversation), [1]);
    let next = append(
        &store,
        "org_a",
        None,
        &[item("msg_7", Some("resp_1"), ItemKind::Output)],
    )
    .await;
    assert_eq!(seqs(&next), [4]);

    // Another org's items of a response with the same id count apart.
    let b = append(
        &store,
        "org_b",
        None,
        &[item("msg_b", Some("resp_1"), ItemKind::Input)],
    )
    .await;
    assert_eq!(seqs(&b), [1]);

    let resp_2 = store.response_items("org_a", "resp_2").await.unwrap();
    assert_eq!(ids(&resp_2), ["msg_2", "msg_4"]);
}

pub async fn conversation_items_paginate_both_ways(store: Store, _db: TestDatabase) {
    insert_conversations(
        &store,
        &[
            conversation("conv_1", "org_a"),
            conversation("conv_2", "org_a"),
        ],
    )
    .await;
    let items: Vec<NewItem> = (1..=7)
        .map(|i| item(&format!("msg_{i}"), Some("resp_1"), ItemKind::Input))
        .collect();
    append(&store, "org_a", Some("conv_1"), &items[..3]).await;
    append(
        &store,
        "org_a",
        Some("conv_2"),
        &[item("msg_other", None, ItemKind::Input)],
    )
    .await;
    append(&store, "org_a", Some("conv_1"), &items[3..]).await;

    // Walk each way by cursor, the way the API turns `after` into a seq.
    for (order, expected) in [
        (Order::Asc, [1, 2, 3, 4, 5, 6, 7]),
        (Order::Desc, [7, 6, 5, 4, 3, 2, 1]),
    ] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let after_seq = match &after {
                Some(id) => store
                    .item_seq("org_a", Some("conv_1"), None, id)
                    .await
                    .unwrap(),
                None => None,
            };
            let page = store
                .list_conversation_items("org_a", "conv_1", after_seq, 3, order)
                .await
                .unwrap();
            assert!(page.len() <= 3);
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            seen.extend(seqs(&page));
        }
        assert_eq!(seen, expected, "{order:?}");
    }

    let newest = store
        .list_conversation_items("org_a", "conv_1", None, 2, Order::default())
        .await
        .unwrap();
    assert_eq!(ids(&newest), ["msg_7", "msg_6"]);
    let after_5 = store
        .list_conversation_items("org_a", "conv_1", Some(5), 10, Order::Asc)
        .await
        .unwrap();
    assert_eq!(ids(&after_5), ["msg_6", "msg_7"]);
    let before_3 = store
        .list_conversation_items("org_a", "conv_1", Some(3), 10, Order::Desc)
        .await
        .unwrap();
    assert_eq!(ids(&before_3), ["msg_2", "msg_1"]);
    assert!(
        store
            .list_conversation_items("org_a", "conv_1", None, 0, Order::Asc)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_conversation_items("org_a", "conv_1", Some(7), 10, Order::Asc)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn item_lookups_respect_their_scope(store: Store, _db: TestDatabase) {
    insert_conversations(
        &store,
        &[
            conversation("conv_1", "org_a"),
            conversation("conv_2", "org_a"),
        ],
    )
    .await;
    let in_1 = append(
        &store,
        "org_a",
        Some("conv_1"),
        &[
            item("msg_1", Some("resp_1"), ItemKind::Input),
            item("msg_2", Some("resp_1"), ItemKind::Output),
        ],
    )
    .await;
    append(
        &store,
        "org_a",
        Some("conv_2"),
        &[item("msg_3", Some("resp_2"), ItemKind::Input)],
    )
    .await;
    let loose = append(
        &store,
        "org_a",
        None,
        &[item("msg_4", Some("resp_3"), ItemKind::Input)],
    )
    .await;

    assert_eq!(
        store
            .get_conversation_item("org_a", "conv_1", "msg_2")
            .await
            .unwrap(),
        Some(in_1[1].clone())
    );
    // An item of another conversation, or of none, is not this one's.
    assert_eq!(
        store
            .get_conversation_item("org_a", "conv_1", "msg_3")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get_conversation_item("org_a", "conv_1", "msg_4")
            .await
            .unwrap(),
        None
    );
    // get_item finds any item of the org, wherever it lives.
    assert_eq!(
        store.get_item("org_a", "msg_4").await.unwrap(),
        Some(loose[0].clone())
    );
    assert_eq!(
        store.get_item("org_a", "msg_2").await.unwrap(),
        Some(in_1[1].clone())
    );
    assert_eq!(store.get_item("org_a", "msg_none").await.unwrap(), None);

    // Cursors: only items of the named conversation and/or response count.
    let seq = |conversation: Option<&'static str>, response: Option<&'static str>, id| {
        let store = store.clone();
        async move {
            store
                .item_seq("org_a", conversation, response, id)
                .await
                .unwrap()
        }
    };
    assert_eq!(seq(Some("conv_1"), None, "msg_2").await, Some(2));
    assert_eq!(seq(Some("conv_1"), None, "msg_3").await, None);
    assert_eq!(seq(Some("conv_2"), None, "msg_1").await, None);
    assert_eq!(seq(Some("conv_1"), None, "msg_4").await, None);
    assert_eq!(seq(None, Some("resp_1"), "msg_2").await, Some(2));
    assert_eq!(seq(None, Some("resp_2"), "msg_2").await, None);
    assert_eq!(seq(None, Some("resp_3"), "msg_4").await, Some(1));
    assert_eq!(seq(Some("conv_1"), Some("resp_1"), "msg_1").await, Some(1));
    assert_eq!(seq(Some("conv_1"), Some("resp_2"), "msg_1").await, None);
    assert_eq!(seq(None, None, "msg_3").await, Some(1));
    assert_eq!(seq(None, None, "msg_none").await, None);
}

pub async fn responses_round_trip_and_update(store: Store, _db: TestDatabase) {
    insert_conversations(&store, &[conversation("conv_1", "org_a")]).await;
    let mut first = response("resp_1", "org_a", None);
    let mut second = response("resp_2", "org_a", None);
    second.previous_response_id = Some("resp_1".into());
    second.body = json!({
        "id": "resp_2",
        "object": "response",
        "status": "incomplete",
        "incomplete_details": {"reason": "tool_use"},
        "output": [{"type": "function_call", "call_id": "call_1", "arguments": "{\"a\":1}"}],
        "usage": {"input_tokens": 12, "output_tokens": 3},
        "metadata": {"k": "v ✓"},
    });
    insert_responses(&store, &[first.clone(), second.clone()]).await;
    assert_eq!(
        store.get_response("org_a", "resp_1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.get_response("org_a", "resp_2").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.get_response("org_a", "resp_x").await.unwrap(), None);

    // An update replaces the body and conversation, nothing else.
    first.body = json!({"id": "resp_1", "object": "response", "status": "completed"});
    first.conversation_id = Some("conv_1".into());
    let mut sent = first.clone();
    sent.user_id = "someone_else".into();
    sent.previous_response_id = Some("resp_0".into());
    sent.created_at = 1;
    let mut tx = store.begin().await.unwrap();
    assert!(tx.update_response(&sent).await.unwrap());
    assert!(
        !tx.update_response(&response("resp_x", "org_a", None))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store.get_response("org_a", "resp_1").await.unwrap(),
        Some(first)
    );
    assert_eq!(
        store.get_response("org_a", "resp_2").await.unwrap(),
        Some(second)
    );

    let mut tx = store.begin().await.unwrap();
    let err = tx
        .insert_response(&response("resp_1", "org_a", None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("response")), "{err:?}");
}

pub async fn response_items_list_inputs_then_outputs(store: Store, _db: TestDatabase) {
    insert_conversations(&store, &[conversation("conv_1", "org_a")]).await;
    // Two responses share the conversation; resp_2's items interleave with
    // an item added without a response.
    append(
        &store,
        "org_a",
        Some("conv_1"),
        &[
            item("in_1a", Some("resp_1"), ItemKind::Input),
            item("out_1a", Some("resp_1"), ItemKind::Output),
            item("in_2a", Some("resp_2"), ItemKind::Input),
            item("loose", None, ItemKind::Input),
            item("in_2b", Some("resp_2"), ItemKind::Input),
            item("out_2a", Some("resp_2"), ItemKind::Output),
            // An output recorded before the last input (a tool loop may
            // record in any order); the listing still puts inputs first.
            item("in_2c", Some("resp_2"), ItemKind::Input),
            item("out_2b", Some("resp_2"), ItemKind::Output),
        ],
    )
    .await;
    insert_responses(
        &store,
        &[
            response("resp_1", "org_a", Some("conv_1")),
            response("resp_2", "org_a", Some("conv_1")),
        ],
    )
    .await;

    let all = store.response_items("org_a", "resp_2").await.unwrap();
    assert_eq!(ids(&all), ["in_2a", "in_2b", "in_2c", "out_2a", "out_2b"]);
    assert_eq!(
        ids(&store.response_items("org_a", "resp_1").await.unwrap()),
        ["in_1a", "out_1a"]
    );

    let inputs = store
        .list_response_input_items("org_a", "resp_2", None, 10, Order::Asc)
        .await
        .unwrap();
    assert_eq!(ids(&inputs), ["in_2a", "in_2b", "in_2c"]);
    assert!(inputs.iter().all(|i| i.kind == ItemKind::Input));
    let newest_first = store
        .list_response_input_items("org_a", "resp_2", None, 2, Order::Desc)
        .await
        .unwrap();
    assert_eq!(ids(&newest_first), ["in_2c", "in_2b"]);
    let cursor = store
        .item_seq("org_a", None, Some("resp_2"), "in_2b")
        .await
        .unwrap();
    let rest = store
        .list_response_input_items("org_a", "resp_2", cursor, 10, Order::Desc)
        .await
        .unwrap();
    assert_eq!(ids(&rest), ["in_2a"]);
    let after = store
        .list_response_input_items("org_a", "resp_2", cursor, 10, Order::Asc)
        .await
        .unwrap();
    assert_eq!(ids(&after), ["in_2c"]);
    // The cursor of another response's item does not belong here.
    assert_eq!(
        store
            .item_seq("org_a", None, Some("resp_2"), "in_1a")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .list_response_input_items("org_a", "resp_x", None, 10, Order::Asc)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn deleting_a_conversation_removes_its_items_and_detaches_responses(
    store: Store,
    _db: TestDatabase,
) {
    insert_conversations(
        &store,
        &[
            conversation("conv_1", "org_a"),
            conversation("conv_2", "org_a"),
        ],
    )
    .await;
    append(
        &store,
        "org_a",
        Some("conv_1"),
        &[
            item("msg_1", Some("resp_1"), ItemKind::Input),
            item("msg_2", Some("resp_1"), ItemKind::Output),
        ],
    )
    .await;
    let kept = append(
        &store,
        "org_a",
        Some("conv_2"),
        &[item("msg_3", Some("resp_2"), ItemKind::Input)],
    )
    .await;
    insert_responses(
        &store,
        &[
            response("resp_1", "org_a", Some("conv_1")),
            response("resp_2", "org_a", Some("conv_2")),
        ],
    )
    .await;

    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_conversation("org_a", "conv_1").await.unwrap());
    assert!(!tx.delete_conversation("org_a", "conv_1").await.unwrap());
    tx.commit().await.unwrap();

    assert_eq!(
        store.get_conversation("org_a", "conv_1").await.unwrap(),
        None
    );
    assert!(
        store
            .conversation_history("org_a", "conv_1")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get_item("org_a", "msg_1").await.unwrap(), None);
    assert!(
        store
            .response_items("org_a", "resp_1")
            .await
            .unwrap()
            .is_empty()
    );
    let detached = store
        .get_response("org_a", "resp_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detached.conversation_id, None);
    assert_eq!(detached.body, response("resp_1", "org_a", None).body);

    // The other conversation and its response are untouched.
    assert_eq!(
        store.conversation_history("org_a", "conv_2").await.unwrap(),
        kept
    );
    assert_eq!(
        store.get_response("org_a", "resp_2").await.unwrap(),
        Some(response("resp_2", "org_a", Some("conv_2")))
    );

    // The deleted conversation takes no more items.
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .append_items(
            "org_a",
            Some("conv_1"),
            &[item("msg_9", None, ItemKind::Input)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound("conversation")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

pub async fn deleting_a_response_keeps_the_conversations_items(store: Store, _db: TestDatabase) {
    insert_conversations(&store, &[conversation("conv_1", "org_a")]).await;
    let history = append(
        &store,
        "org_a",
        Some("conv_1"),
        &[
            item("msg_1", Some("resp_1"), ItemKind::Input),
            item("msg_2", Some("resp_1"), ItemKind::Output),
        ],
    )
    .await;
    append(
        &store,
        "org_a",
        None,
        &[
            item("msg_3", Some("resp_2"), ItemKind::Input),
            item("msg_4", Some("resp_2"), ItemKind::Output),
        ],
    )
    .await;
    let other = append(
        &store,
        "org_a",
        None,
        &[item("msg_5", Some("resp_3"), ItemKind::Input)],
    )
    .await;
    insert_responses(
        &store,
        &[
            response("resp_1", "org_a", Some("conv_1")),
            response("resp_2", "org_a", None),
            response("resp_3", "org_a", None),
        ],
    )
    .await;

    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_response("org_a", "resp_1").await.unwrap());
    assert!(tx.delete_response("org_a", "resp_2").await.unwrap());
    assert!(!tx.delete_response("org_a", "resp_2").await.unwrap());
    tx.commit().await.unwrap();

    assert_eq!(store.get_response("org_a", "resp_1").await.unwrap(), None);
    assert_eq!(store.get_response("org_a", "resp_2").await.unwrap(), None);
    // The conversation's history stands…
    assert_eq!(
        store.conversation_history("org_a", "conv_1").await.unwrap(),
        history
    );
    // …the conversation-less items of the deleted response are gone…
    assert_eq!(store.get_item("org_a", "msg_3").await.unwrap(), None);
    assert_eq!(store.get_item("org_a", "msg_4").await.unwrap(), None);
    // …and another response's are not.
    assert_eq!(
        store.response_items("org_a", "resp_3").await.unwrap(),
        other
    );
    assert!(
        store
            .get_response("org_a", "resp_3")
            .await
            .unwrap()
            .is_some()
    );
}

/// Tasks appending to one conversation (and to one conversation-less
/// response) at once each get a contiguous block, and together 1..=N.
pub async fn concurrent_appends_get_unique_contiguous_seq(store: Store, _db: TestDatabase) {
    const TASKS: usize = 8;
    const ROUNDS: usize = 5;
    const PER_APPEND: usize = 3;
    insert_conversations(&store, &[conversation("conv_1", "org_a")]).await;

    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut blocks = Vec::new();
            for r in 0..ROUNDS {
                // Odd tasks write conversation-less items of one response.
                let conversation = (t % 2 == 0).then_some("conv_1");
                let items: Vec<NewItem> = (0..PER_APPEND)
                    .map(|i| item(&format!("msg_{t}_{r}_{i}"), Some("resp_1"), ItemKind::Input))
                    .collect();
                let mut tx = store.begin().await.unwrap();
                let stored = tx
                    .append_items("org_a", conversation, &items)
                    .await
                    .unwrap();
                // Give another appender the chance to interleave.
                tokio::task::yield_now().await;
                tx.commit().await.unwrap();
                blocks.push((conversation.is_some(), seqs(&stored)));
            }
            blocks
        }));
    }
    let mut in_conversation = Vec::new();
    let mut loose = Vec::new();
    for handle in handles {
        for (conversation, block) in handle.await.unwrap() {
            let first = block[0];
            assert_eq!(block, (first..first + 3).collect::<Vec<_>>());
            if conversation {
                in_conversation.extend(block);
            } else {
                loose.extend(block);
            }
        }
    }
    let expected: Vec<i64> =
        (1..=i64::try_from(TASKS / 2 * ROUNDS * PER_APPEND).unwrap()).collect();
    in_conversation.sort_unstable();
    loose.sort_unstable();
    assert_eq!(in_conversation, expected);
    assert_eq!(loose, expected);

    // What is stored agrees with what the appenders were told.
    let history = store.conversation_history("org_a", "conv_1").await.unwrap();
    assert_eq!(seqs(&history), expected);
    let response_items = store.response_items("org_a", "resp_1").await.unwrap();
    let loose_stored: Vec<i64> = response_items
        .iter()
        .filter(|i| i.conversation_id.is_none())
        .map(|i| i.seq)
        .collect();
    assert_eq!(loose_stored, expected);
}

pub async fn corrupt_items_are_reported(store: Store, db: TestDatabase) {
    append(
        &store,
        "org_a",
        None,
        &[
            item("msg_1", Some("resp_1"), ItemKind::Input),
            item("msg_2", Some("resp_1"), ItemKind::Input),
        ],
    )
    .await;
    let raw = raw_pool(&db).await;
    sqlx::query("UPDATE conversation_items SET kind = 'sideways' WHERE id = 'msg_1'")
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("UPDATE conversation_items SET body = '{not json' WHERE id = 'msg_2'")
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    for id in ["msg_1", "msg_2"] {
        let err = store.get_item("org_a", id).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }
    let err = store.get_item("org_a", "msg_2").await.unwrap_err();
    assert!(err.to_string().contains("conversation_items.body"), "{err}");
}
