//! Streamed responses: the OpenAI event sequence (checked whole by
//! [`check_events`]), text relayed as the upstream produces it, streamed
//! function and built-in calls, upstream failures, and clients that leave.

use super::{
    MODELS, OPENAI_MODEL, Rs, ask, check_events, conversation_of, dir_entries, eventually, id_of,
    items_of, kinds,
};
use hearth_testkit::{FakeReply, ToolCall};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_text_response_is_the_full_event_sequence() {
    let rs = Rs::sqlite().await;
    for model in MODELS {
        rs.enqueue(model, FakeReply::text("Hello big world").usage(9, 3));
        let events = rs.stream(&ask(model, "hi")).await;
        let r = check_events(&events);
        assert_eq!(
            kinds(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ],
            "{model}"
        );
        let sequence: Vec<u64> = events
            .iter()
            .map(|(e, _)| e.json()["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(sequence, (0..11).collect::<Vec<u64>>());
        assert_eq!(r["status"], "completed");
        assert_eq!(r["output_text"], "Hello big world");
        assert_eq!(r["usage"]["input_tokens"], 9);
        assert_eq!(r["usage"]["output_tokens"], 3);
        // The first events already name the response and its conversation.
        let created = events[0].0.json();
        assert_eq!(created["response"]["id"], r["id"]);
        assert_eq!(created["response"]["conversation"], r["conversation"]);
        assert_eq!(created["response"]["output"], json!([]));
        // The stream ends once the response is stored.
        let stored = rs
            .get(&format!("/v1/responses/{}", id_of(&r)), rs.key())
            .await;
        assert_eq!(stored.expect_status(200), &r);
    }
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_is_relayed_as_the_upstream_produces_it() {
    let rs = Rs::sqlite().await;
    for model in MODELS {
        // Four words, 150 ms apart, and the stream around them.
        rs.enqueue(
            model,
            FakeReply::text("one two three four").chunk_delay(Duration::from_millis(150)),
        );
        let events = rs.stream(&ask(model, "count")).await;
        check_events(&events);
        let deltas: Vec<Instant> = events
            .iter()
            .filter(|(e, _)| e.event.as_deref() == Some("response.output_text.delta"))
            .map(|(_, at)| *at)
            .collect();
        assert_eq!(deltas.len(), 4, "{model}");
        let end = events.last().unwrap().1;
        let lead = end - deltas[0];
        assert!(
            lead >= Duration::from_millis(400),
            "{model}: the first delta came only {lead:?} before the end"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_function_call_ends_incomplete() {
    let rs = Rs::sqlite().await;
    for model in MODELS {
        let args = json!({"city": "Zürich", "units": "metric"});
        rs.enqueue(
            model,
            FakeReply::ToolCalls(vec![
                ToolCall::new("call_1", "get_weather", args.clone()),
                ToolCall::new("call_2", "get_weather", json!({"city": "Bern"})),
            ]),
        );
        let events = rs
            .stream(&json!({"model": model, "input": "Weather?", "tools": [super::weather_tool()]}))
            .await;
        let r = check_events(&events);
        let names = kinds(&events);
        assert_eq!(names.last().unwrap(), "response.incomplete", "{model}");
        assert_eq!(r["status"], "incomplete");
        assert_eq!(r["incomplete_details"], json!({"reason": "tool_use"}));
        let deltas = names
            .iter()
            .filter(|k| *k == "response.function_call_arguments.delta")
            .count();
        assert!(deltas >= 4, "arguments arrive in fragments: {names:?}");
        let calls = items_of(&r, "function_call");
        assert_eq!(calls.len(), 2);
        let first: Value = serde_json::from_str(calls[0]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(first, args);
        let done: Vec<Value> = events
            .iter()
            .map(|(e, _)| e.json())
            .filter(|e| e["type"] == "response.function_call_arguments.done")
            .collect();
        assert_eq!(done.len(), 2);
        assert_eq!(done[0]["name"], "get_weather");
        // Answering it continues, streamed too.
        let events = rs
            .stream(&json!({"model": model, "conversation": conversation_of(&r), "tools": [super::weather_tool()],
                "input": [
                    {"type": "function_call_output", "call_id": "call_1", "output": "cold"},
                    {"type": "function_call_output", "call_id": "call_2", "output": "warm"}
                ]}))
            .await;
        let r = check_events(&events);
        assert_eq!(r["status"], "completed");
    }
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_built_in_call_reports_its_progress() {
    let rs = Rs::sqlite().await;
    for model in MODELS {
        rs.enqueue(
            model,
            FakeReply::ToolCalls(vec![ToolCall::new(
                "call_w",
                "write_file",
                json!({"path": "a.txt", "content": "A"}),
            )]),
        );
        rs.enqueue(
            model,
            FakeReply::ToolCalls(vec![ToolCall::new(
                "call_r",
                "read_file",
                json!({"path": "missing.txt"}),
            )]),
        );
        rs.enqueue(model, FakeReply::text("All done."));
        let events = rs.stream(&ask(model, "work")).await;
        let r = check_events(&events);
        assert_eq!(r["status"], "completed", "{model}");
        // Each call is an item added in progress and done with its
        // outcome, before the next model call's text.
        let items: Vec<(String, String, String)> = events
            .iter()
            .map(|(e, _)| e.json())
            .filter(|e| {
                e["type"] == "response.output_item.added"
                    || e["type"] == "response.output_item.done"
            })
            .map(|e| {
                (
                    e["type"]
                        .as_str()
                        .unwrap()
                        .rsplit('.')
                        .next()
                        .unwrap()
                        .to_owned(),
                    e["item"]["type"].as_str().unwrap().to_owned(),
                    e["item"]["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String, String)> = [
            ("added", "file_operation_call", "in_progress"),
            ("done", "file_operation_call", "completed"),
            ("added", "file_operation_call", "in_progress"),
            ("done", "file_operation_call", "failed"),
            ("added", "message", "in_progress"),
            ("done", "message", "completed"),
        ]
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect();
        assert_eq!(items, expected, "{model}");
        let failed = events
            .iter()
            .map(|(e, _)| e.json())
            .find(|e| e["type"] == "response.output_item.done" && e["item"]["status"] == "failed")
            .unwrap();
        assert!(
            failed["item"]["error"]
                .as_str()
                .unwrap()
                .contains("missing.txt"),
            "{failed}"
        );
        let calls = items_of(&r, "file_operation_call");
        assert_eq!(calls[0]["status"], "completed");
        assert_eq!(calls[1]["status"], "failed");
        assert_eq!(r["output_text"], "All done.");
        let file = rs
            .server
            .workspace_dir()
            .join(conversation_of(&r))
            .join("a.txt");
        assert_eq!(std::fs::read_to_string(file).unwrap(), "A");
    }
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_error_fails_the_response() {
    let rs = Rs::sqlite().await;
    for model in MODELS {
        // Not streamed: the error envelope with the upstream's status.
        rs.enqueue(model, FakeReply::error(500, "upstream exploded"));
        let reply = rs.create(&ask(model, "hi")).await;
        assert!(
            reply.status >= 500 && reply.status < 600,
            "{model}: {} {}",
            reply.status,
            reply.body
        );
        reply.expect_error(reply.status, "server_error");
        rs.enqueue(
            model,
            FakeReply::Error {
                status: 429,
                message: "slow down".into(),
                retry_after: Some(2),
            },
        );
        let reply = rs.create(&ask(model, "hi")).await;
        let error = reply.expect_error(429, "rate_limit_error");
        assert!(error["code"].is_string(), "{error}");

        // Streamed: `error`, then `response.failed`.
        rs.enqueue(model, FakeReply::error(500, "upstream exploded"));
        let events = rs.stream(&ask(model, "hi")).await;
        let r = check_events(&events);
        let names = kinds(&events);
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "error",
                "response.failed"
            ],
            "{model}"
        );
        assert_eq!(r["status"], "failed");
        assert!(r["error"]["message"].is_string(), "{r}");

        // Failing mid-stream, after some text.
        rs.enqueue(
            model,
            FakeReply::StreamThenError {
                text: "one two three".into(),
                after_chunks: 2,
            },
        );
        let events = rs.stream(&ask(model, "hi")).await;
        let r = check_events(&events);
        let names = kinds(&events);
        assert!(
            names.contains(&"response.output_text.delta".to_owned()),
            "{names:?}"
        );
        assert_eq!(&names[names.len() - 2..], ["error", "response.failed"]);
        assert_eq!(r["status"], "failed");
        // Nothing was retried: one upstream request per response.
        assert_eq!(rs.requests(model).len(), 4, "{model}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_stream_stores_nothing() {
    let rs = Rs::sqlite().await;
    let (org, member) = crate::org_with(&rs.server, "member").await;
    for model in MODELS {
        // A file is written first, then the answer crawls: 8 s if nobody
        // stops it.
        rs.enqueue(
            model,
            FakeReply::ToolCalls(vec![ToolCall::new(
                "call_w",
                "write_file",
                json!({"path": "half.txt", "content": "x"}),
            )])
            .usage(21, 4),
        );
        rs.enqueue(
            model,
            FakeReply::text("a b c d e f g h i j k l m n o p")
                .chunk_delay(Duration::from_millis(500))
                .usage(1000, 1000),
        );
        let mut reader = rs.open_stream(&member.key, &ask(model, "slowly")).await;
        assert_eq!(reader.status, 200);
        let (created, _) = reader.next().await.expect("created");
        let created = created.json();
        assert_eq!(created["type"], "response.created");
        let id = id_of(&created["response"]);
        let conv = conversation_of(&created["response"]);
        loop {
            let (event, _) = reader.next().await.expect("stream open");
            if event.event.as_deref() == Some("response.output_text.delta") {
                break;
            }
        }
        // The streaming upstream request is open (and, rarely, an idle
        // pooled connection of the first model call, which stays).
        let open = rs.open_connections(model);
        assert!((1..=2).contains(&open), "{model}: {open} open");
        let left = Instant::now();
        reader.disconnect();
        eventually(
            Duration::from_secs(2),
            "the upstream connection to close",
            || async { (rs.open_connections(model) == open - 1).then_some(()) },
        )
        .await;
        assert!(left.elapsed() < Duration::from_secs(2));
        // Nothing was stored: no response, no conversation, no workspace.
        tokio::time::sleep(Duration::from_millis(300)).await;
        rs.get(&format!("/v1/responses/{id}"), &member.key)
            .await
            .expect_error(404, "not_found_error");
        rs.get(&format!("/v1/conversations/{conv}"), &member.key)
            .await
            .expect_error(404, "not_found_error");
        let reply = rs
            .create_as(
                &member.key,
                &json!({"model": model, "input": "again", "previous_response_id": id}),
            )
            .await;
        reply.expect_error(404, "invalid_request_error");
        let ws = rs.server.workspace_dir().join(&conv);
        eventually(
            Duration::from_secs(2),
            "the abandoned workspace to go",
            || async { (!ws.exists()).then_some(()) },
        )
        .await;
        assert_eq!(rs.requests(model).len(), 2, "{model}: the loop stopped");
        // The model call that finished before the client left is accounted.
        let usage = eventually(Duration::from_secs(2), "the usage record", || async {
            let reply = rs
                .get(
                    &format!("/v1/admin/usage?org_id={org}&group_by=model&model={model}"),
                    rs.key(),
                )
                .await;
            let data = reply.expect_status(200)["data"].as_array().unwrap().clone();
            (!data.is_empty()).then_some(data)
        })
        .await;
        assert_eq!(usage.len(), 1, "{usage:?}");
        assert_eq!(usage[0]["requests"], 1);
        assert_eq!(usage[0]["input_tokens"], 21, "{model}: {usage:?}");
        assert_eq!(usage[0]["output_tokens"], 4, "{model}: {usage:?}");
    }
    // The server is fine afterwards.
    let r = rs.respond(&ask(OPENAI_MODEL, "still there?")).await;
    assert_eq!(r["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_while_the_upstream_is_silent_stops_the_run() {
    let rs = Rs::sqlite().await;
    let received = |n: usize| {
        let rs = &rs;
        async move { (rs.openai.requests().len() == n).then_some(()) }
    };

    // Streamed: the client leaves before the upstream has said anything,
    // so no event is pending to notice it by.
    rs.openai.enqueue(FakeReply::Hang);
    let mut reader = rs.open_stream(rs.key(), &ask(OPENAI_MODEL, "hello?")).await;
    let (created, _) = reader.next().await.expect("created");
    let id = id_of(&created.json()["response"]);
    eventually(Duration::from_secs(2), "the upstream request", || {
        received(1)
    })
    .await;
    assert_eq!(rs.openai.open_connections(), 1);
    reader.disconnect();
    eventually(
        Duration::from_secs(2),
        "the upstream request to be dropped",
        || async { (rs.openai.open_connections() == 0).then_some(()) },
    )
    .await;
    rs.get(&format!("/v1/responses/{id}"), rs.key())
        .await
        .expect_error(404, "not_found_error");

    // Not streamed: the client gives up waiting.
    rs.openai.enqueue(FakeReply::Hang);
    let sent = rs
        .server
        .request(reqwest::Method::POST, "/v1/responses", rs.key())
        .timeout(Duration::from_millis(500))
        .json(&ask(OPENAI_MODEL, "hello?"))
        .send()
        .await;
    assert!(sent.is_err(), "the client timed out: {sent:?}");
    eventually(
        Duration::from_secs(2),
        "the upstream request to be dropped",
        || async { (rs.openai.open_connections() == 0).then_some(()) },
    )
    .await;
    assert_eq!(rs.openai.requests().len(), 2);
    // No conversation was made: its workspace is gone too.
    eventually(Duration::from_secs(2), "no workspace left", || async {
        dir_entries(rs.server.workspace_dir())
            .is_empty()
            .then_some(())
    })
    .await;
}
