//! Usage of a response, on both backends: summed over every model call of
//! the tool loop, shown in `usage`, and recorded by the accounting (usage
//! records and the audit record of the call), streamed or not.

use super::{ANTHROPIC_MODEL, OPENAI_MODEL, Rs, check_events, id_of};
use crate::{audit_records, org_with, uuid_like};
use hearth_testkit::{FakeReply, ToolCall};
use reqwest::Method;
use serde_json::{Value, json};

responses_backend_tests! {
    usage_is_summed_over_the_loop_and_recorded,
}

/// Queues a loop of three model calls on `model`'s fake: two tool calls,
/// then text, using (11,7), (13,3), (5,2) tokens.
fn queue_loop(rs: &Rs, model: &str) {
    rs.enqueue(
        model,
        FakeReply::ToolCalls(vec![ToolCall::new(
            "call_a",
            "write_file",
            json!({"path": "a.txt", "content": "a"}),
        )])
        .usage(11, 7),
    );
    rs.enqueue(
        model,
        FakeReply::ToolCalls(vec![ToolCall::new("call_b", "list_files", json!({}))]).usage(13, 3),
    );
    rs.enqueue(model, FakeReply::text("Done.").usage(5, 2));
}

fn assert_usage(r: &Value, input: u64, output: u64) {
    assert_eq!(r["usage"]["input_tokens"], input, "{}", r["usage"]);
    assert_eq!(r["usage"]["output_tokens"], output, "{}", r["usage"]);
    assert_eq!(r["usage"]["total_tokens"], input + output);
}

async fn usage_is_summed_over_the_loop_and_recorded(rs: Rs) {
    let (org, member) = org_with(&rs.server, "member").await;

    // Not streamed, through OpenAI.
    queue_loop(&rs, OPENAI_MODEL);
    let plain = format!("plain-{}", uuid_like());
    let reply = rs
        .server
        .send(
            rs.server
                .request(Method::POST, "/v1/responses", &member.key)
                .header("x-request-id", &plain)
                .json(&super::ask(OPENAI_MODEL, "go")),
        )
        .await;
    let r = reply.expect_status(200).clone();
    assert_eq!(r["status"], "completed", "{r}");
    assert_usage(&r, 29, 12);
    assert_eq!(rs.openai.requests().len(), 3);

    // Streamed, through Anthropic.
    queue_loop(&rs, ANTHROPIC_MODEL);
    let streamed = format!("streamed-{}", uuid_like());
    let resp = rs
        .server
        .request(Method::POST, "/v1/responses", &member.key)
        .header("x-request-id", &streamed)
        .json(&json!({"model": ANTHROPIC_MODEL, "input": "go", "stream": true}))
        .send()
        .await
        .unwrap();
    let mut reader = hearth_testkit::sse::EventReader::new(resp);
    let events = reader.rest().await;
    let s = check_events(&events);
    assert_usage(&s, 29, 12);
    assert_eq!(rs.anthropic.requests().len(), 3);

    // Usage records: one request per response, with the summed tokens.
    let reply = rs
        .get(
            &format!("/v1/admin/usage?org_id={org}&group_by=model"),
            rs.key(),
        )
        .await;
    let mut groups: Vec<(String, i64, i64, i64)> = reply.expect_status(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["group"].as_str().unwrap().to_owned(),
                g["requests"].as_i64().unwrap(),
                g["input_tokens"].as_i64().unwrap(),
                g["output_tokens"].as_i64().unwrap(),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            (ANTHROPIC_MODEL.to_owned(), 1, 29, 12),
            (OPENAI_MODEL.to_owned(), 1, 29, 12)
        ]
    );

    // The audit records of the two calls name the model and the tokens;
    // the stored responses have their own record.
    let records = audit_records(&rs.server, &format!("org_id={org}&user_id={}", member.id)).await;
    for (rid, model, response) in [(&plain, OPENAI_MODEL, &r), (&streamed, ANTHROPIC_MODEL, &s)] {
        let call = records
            .iter()
            .find(|rec| rec["request_id"] == rid.as_str() && rec["action"].is_null())
            .unwrap_or_else(|| panic!("{rid} not audited: {records:?}"));
        assert_eq!(call["path"], "/v1/responses");
        assert_eq!(call["status"], 200);
        assert_eq!(call["model"], model, "{call}");
        assert_eq!(call["input_tokens"], 29, "{call}");
        assert_eq!(call["output_tokens"], 12, "{call}");
        let action = records
            .iter()
            .find(|rec| rec["request_id"] == rid.as_str() && rec["action"] == "response.create")
            .unwrap_or_else(|| panic!("{rid}: no response.create record: {records:?}"));
        assert_eq!(action["resource_id"], id_of(response).as_str());
    }
}
