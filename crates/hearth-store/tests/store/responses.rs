//! Conversations and their items (the Responses API), and the fixtures
//! that `stored_responses.rs` shares.

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

pub(crate) fn item(id: &str, response_id: Option<&str>, kind: ItemKind) -> NewItem {
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

/// An input item (a message from the user).
pub(crate) fn input(id: &str, response_id: Option<&str>) -> NewItem {
    item(id, response_id, ItemKind::Input)
}

/// An output item (a message from the model).
pub(crate) fn output(id: &str, response_id: Option<&str>) -> NewItem {
    item(id, response_id, ItemKind::Output)
}

pub(crate) fn response(id: &str, org_id: &str, conversation_id: Option<&str>) -> StoredResponse {
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

pub(crate) fn ids(items: &[StoredItem]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

pub(crate) fn seqs(items: &[StoredItem]) -> Vec<i64> {
    items.iter().map(|i| i.seq).collect()
}

pub(crate) async fn insert_conversations(store: &Store, conversations: &[Conversation]) {
    let mut tx = store.begin().await.unwrap();
    for c in conversations {
        tx.insert_conversation(c).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// Inserts conversations `ids` of `org_id`.
pub(crate) async fn conversations(store: &Store, org_id: &str, ids: &[&str]) {
    let all: Vec<Conversation> = ids.iter().map(|id| conversation(id, org_id)).collect();
    insert_conversations(store, &all).await;
}

/// Conversations `conv_1` and `conv_2` of `org_a`, and in `conv_1` the
/// exchange of `resp_1`: input `msg_1`, output `msg_2` (seq 1 and 2).
pub(crate) async fn two_conversations_one_exchange(store: &Store) -> Vec<StoredItem> {
    conversations(store, "org_a", &["conv_1", "conv_2"]).await;
    append(
        store,
        "org_a",
        Some("conv_1"),
        &[
            input("msg_1", Some("resp_1")),
            output("msg_2", Some("resp_1")),
        ],
    )
    .await
}

pub(crate) async fn append(
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

pub(crate) async fn insert_responses(store: &Store, responses: &[StoredResponse]) {
    let mut tx = store.begin().await.unwrap();
    for r in responses {
        tx.insert_response(r).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// Inserts [`response`]s of `org_id`, each `(id, conversation_id)`.
pub(crate) async fn responses(store: &Store, org_id: &str, responses: &[(&str, Option<&str>)]) {
    let all: Vec<StoredResponse> = responses
        .iter()
        .map(|&(id, conversation_id)| response(id, org_id, conversation_id))
        .collect();
    insert_responses(store, &all).await;
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
    conversations(&store, "org_b", &["conv_b"]).await;
    let stored = append(
        &store,
        "org_b",
        Some("conv_b"),
        &[input("msg_b1", Some("resp_b"))],
    )
    .await;
    append(&store, "org_b", None, &[input("msg_b2", Some("resp_b2"))]).await;
    responses(
        &store,
        "org_b",
        &[("resp_b", Some("conv_b")), ("resp_b2", None)],
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
        .append_items(a, Some("conv_b"), &[input("msg_a1", None)])
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
    let first = two_conversations_one_exchange(&store).await;
    assert_eq!(seqs(&first), [1, 2]);
    assert_eq!(first[0].org_id, "org_a");
    assert_eq!(first[0].conversation_id.as_deref(), Some("conv_1"));
    assert_eq!(first[1].response_id.as_deref(), Some("resp_1"));
    assert_eq!(first[1].kind, ItemKind::Output);

    // Another conversation counts on its own.
    let other = append(&store, "org_a", Some("conv_2"), &[input("msg_x", None)]).await;
    assert_eq!(seqs(&other), [1]);

    // Items of several responses interleaved in one append, then an item
    // added without a response, all continue the one conversation sequence.
    let second = append(
        &store,
        "org_a",
        Some("conv_1"),
        &[
            input("msg_3", Some("resp_2")),
            input("msg_4", Some("resp_3")),
            output("msg_5", Some("resp_2")),
        ],
    )
    .await;
    assert_eq!(seqs(&second), [3, 4, 5]);
    let third = append(&store, "org_a", Some("conv_1"), &[input("msg_6", None)]).await;
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
            input("msg_1", Some("resp_1")),
            input("msg_2", Some("resp_2")),
            output("msg_3", Some("resp_1")),
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
            output("msg_4", Some("resp_2")),
            output("msg_5", Some("resp_1")),
        ],
    )
    .await;
    assert_eq!(seqs(&more), [2, 3]);

    // Items of the same response inside a conversation number with the
    // conversation, not with the conversation-less ones.
    conversations(&store, "org_a", &["conv_1"]).await;
    let in_conversation = append(
        &store,
        "org_a",
        Some("conv_1"),
        &[input("msg_6", Some("resp_1"))],
    )
    .await;
    assert_eq!(seqs(&in_conversation), [1]);
    let next = append(&store, "org_a", None, &[output("msg_7", Some("resp_1"))]).await;
    assert_eq!(seqs(&next), [4]);

    // Another org's items of a response with the same id count apart.
    let b = append(&store, "org_b", None, &[input("msg_b", Some("resp_1"))]).await;
    assert_eq!(seqs(&b), [1]);

    let resp_2 = store.response_items("org_a", "resp_2").await.unwrap();
    assert_eq!(ids(&resp_2), ["msg_2", "msg_4"]);
}

pub async fn conversation_items_paginate_both_ways(store: Store, _db: TestDatabase) {
    conversations(&store, "org_a", &["conv_1", "conv_2"]).await;
    let items: Vec<NewItem> = (1..=7)
        .map(|i| input(&format!("msg_{i}"), Some("resp_1")))
        .collect();
    append(&store, "org_a", Some("conv_1"), &items[..3]).await;
    append(&store, "org_a", Some("conv_2"), &[input("msg_other", None)]).await;
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
    let in_1 = two_conversations_one_exchange(&store).await;
    append(
        &store,
        "org_a",
        Some("conv_2"),
        &[input("msg_3", Some("resp_2"))],
    )
    .await;
    let loose = append(&store, "org_a", None, &[input("msg_4", Some("resp_3"))]).await;

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

/// Tasks appending to one conversation (and to one conversation-less
/// response) at once each get a contiguous block, and together 1..=N.
pub async fn concurrent_appends_get_unique_contiguous_seq(store: Store, _db: TestDatabase) {
    const TASKS: usize = 8;
    const ROUNDS: usize = 5;
    const PER_APPEND: usize = 3;
    conversations(&store, "org_a", &["conv_1"]).await;

    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut blocks = Vec::new();
            for r in 0..ROUNDS {
                // Odd tasks write conversation-less items of one response.
                let conversation = (t % 2 == 0).then_some("conv_1");
                let items: Vec<NewItem> = (0..PER_APPEND)
                    .map(|i| input(&format!("msg_{t}_{r}_{i}"), Some("resp_1")))
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
            input("msg_1", Some("resp_1")),
            input("msg_2", Some("resp_1")),
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
