//! Stored responses (the Responses API): round trip, their items, and
//! what deleting a conversation or a response leaves behind. Fixtures are
//! in `responses.rs`.

use crate::responses::{
    append, conversations, ids, input, insert_responses, output, response, responses,
    two_conversations_one_exchange,
};
use hearth_store::testing::TestDatabase;
use hearth_store::{Store, StoreError};
use hearth_types::conversation::{ItemKind, Order};
use serde_json::json;

pub async fn responses_round_trip_and_update(store: Store, _db: TestDatabase) {
    conversations(&store, "org_a", &["conv_1"]).await;
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
    conversations(&store, "org_a", &["conv_1"]).await;
    // Two responses share the conversation; resp_2's items interleave with
    // an item added without a response.
    append(
        &store,
        "org_a",
        Some("conv_1"),
        &[
            input("in_1a", Some("resp_1")),
            output("out_1a", Some("resp_1")),
            input("in_2a", Some("resp_2")),
            input("loose", None),
            input("in_2b", Some("resp_2")),
            output("out_2a", Some("resp_2")),
            // An output recorded before the last input (a tool loop may
            // record in any order); the listing still puts inputs first.
            input("in_2c", Some("resp_2")),
            output("out_2b", Some("resp_2")),
        ],
    )
    .await;
    responses(
        &store,
        "org_a",
        &[("resp_1", Some("conv_1")), ("resp_2", Some("conv_1"))],
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
    two_conversations_one_exchange(&store).await;
    let kept = append(
        &store,
        "org_a",
        Some("conv_2"),
        &[input("msg_3", Some("resp_2"))],
    )
    .await;
    responses(
        &store,
        "org_a",
        &[("resp_1", Some("conv_1")), ("resp_2", Some("conv_2"))],
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
        .append_items("org_a", Some("conv_1"), &[input("msg_9", None)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound("conversation")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

pub async fn deleting_a_response_keeps_the_conversations_items(store: Store, _db: TestDatabase) {
    conversations(&store, "org_a", &["conv_1"]).await;
    let history = append(
        &store,
        "org_a",
        Some("conv_1"),
        &[
            input("msg_1", Some("resp_1")),
            output("msg_2", Some("resp_1")),
        ],
    )
    .await;
    append(
        &store,
        "org_a",
        None,
        &[
            input("msg_3", Some("resp_2")),
            output("msg_4", Some("resp_2")),
        ],
    )
    .await;
    let other = append(&store, "org_a", None, &[input("msg_5", Some("resp_3"))]).await;
    responses(
        &store,
        "org_a",
        &[
            ("resp_1", Some("conv_1")),
            ("resp_2", None),
            ("resp_3", None),
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
