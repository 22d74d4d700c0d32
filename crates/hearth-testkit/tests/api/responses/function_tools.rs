//! Client function tools, on both backends: a call ends the response
//! `incomplete` with reason `tool_use`; the follow-up carrying
//! `function_call_output` items (through the conversation or through
//! `previous_response_id`) continues the turn; outputs for calls that are
//! not waiting, and pending calls left unanswered, are 400s.

use super::{
    MODELS, Rs, conversation_of, expect_bad_request, id_of, items_of, result_lines, time_tool,
    transcript, weather_tool,
};
use hearth_testkit::{FakeReply, ToolCall};
use serde_json::{Value, json};

responses_backend_tests! {
    a_function_round_trip_through_the_conversation,
    a_function_round_trip_through_previous_response_id,
    function_outputs_must_answer_a_waiting_call,
    built_in_and_client_calls_in_one_turn,
}

/// The call ids each provider uses.
fn call_ids(model: &str) -> (String, String) {
    if model == super::ANTHROPIC_MODEL {
        ("toolu_w1".into(), "toolu_t1".into())
    } else {
        ("call_w1".into(), "call_t1".into())
    }
}

/// Queues a turn in which the model calls `get_weather` and `get_time`,
/// then a text answer; sends the first request; checks the incomplete
/// response and returns it.
async fn two_calls(rs: &Rs, model: &str) -> Value {
    let (w, t) = call_ids(model);
    let before = rs.requests(model).len();
    rs.enqueue(
        model,
        FakeReply::ToolCalls(vec![
            ToolCall::new(&w, "get_weather", json!({"city": "Paris"})),
            ToolCall::new(&t, "get_time", json!({"zone": "CET"})),
        ])
        .usage(20, 8),
    );
    rs.enqueue(model, FakeReply::text("Sunny at noon.").usage(40, 5));
    let r = rs
        .respond(&json!({
            "model": model, "input": "Weather and time in Paris?",
            "tools": [weather_tool(), time_tool()]
        }))
        .await;
    assert_eq!(r["status"], "incomplete", "{model}: {r}");
    assert_eq!(r["incomplete_details"], json!({"reason": "tool_use"}));
    assert_eq!(r["output_text"], "");
    let calls = items_of(&r, "function_call");
    assert_eq!(calls.len(), 2, "{r}");
    assert_eq!(r["output"].as_array().unwrap().len(), 2, "{r}");
    for (call, (id, name, args)) in calls.iter().zip([
        (&w, "get_weather", json!({"city": "Paris"})),
        (&t, "get_time", json!({"zone": "CET"})),
    ]) {
        assert_eq!(call["call_id"], id.as_str(), "{call}");
        assert_eq!(call["name"], name);
        assert_eq!(call["status"], "completed");
        let sent: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(sent, args);
    }
    assert_eq!(r["usage"]["input_tokens"], 20);
    assert_eq!(
        rs.requests(model).len(),
        before + 1,
        "Hearth stops at a client call"
    );
    r
}

fn outputs(model: &str, which: &[usize]) -> Value {
    let (w, t) = call_ids(model);
    let all = [
        json!({"type": "function_call_output", "call_id": w, "output": "18C, sunny"}),
        json!({"type": "function_call_output", "call_id": t, "output": "12:00"}),
    ];
    Value::Array(which.iter().map(|i| all[*i].clone()).collect())
}

/// Checks the upstream request that continued the turn.
fn check_continuation(rs: &Rs, model: &str) {
    let (w, t) = call_ids(model);
    let requests = rs.requests(model);
    assert_eq!(requests.len(), 2, "{model}");
    let lines = transcript(model, &requests[1]);
    assert_eq!(
        lines,
        [
            "user: Weather and time in Paris?".to_owned(),
            r#"call get_weather {"city":"Paris"}"#.to_owned(),
            r#"call get_time {"zone":"CET"}"#.to_owned(),
            format!("result {w}: 18C, sunny"),
            format!("result {t}: 12:00"),
        ],
        "{model}"
    );
}

async fn a_function_round_trip_through_the_conversation(rs: Rs) {
    for model in MODELS {
        let first = two_calls(&rs, model).await;
        let conv = conversation_of(&first);
        // One answer is not enough: both calls are waiting.
        let reply = rs
            .create(&json!({"model": model, "conversation": conv, "input": outputs(model, &[0]), "tools": [weather_tool(), time_tool()]}))
            .await;
        let error = expect_bad_request(&reply, "input", Some("missing_function_call_output"));
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains(&call_ids(model).1),
            "{error}"
        );
        let r = rs
            .respond(&json!({"model": model, "conversation": conv, "input": outputs(model, &[0, 1]), "tools": [weather_tool(), time_tool()]}))
            .await;
        assert_eq!(r["status"], "completed", "{r}");
        assert_eq!(r["output_text"], "Sunny at noon.");
        assert_eq!(conversation_of(&r), conv);
        check_continuation(&rs, model);
        // The conversation: question, two calls, two outputs, answer.
        let kinds: Vec<Value> = rs
            .items(&conv)
            .await
            .iter()
            .map(|i| i["type"].clone())
            .collect();
        assert_eq!(
            kinds,
            [
                "message",
                "function_call",
                "function_call",
                "function_call_output",
                "function_call_output",
                "message"
            ]
        );
        // Answered calls cannot be answered again.
        let reply = rs
            .create(&json!({"model": model, "conversation": conv, "input": outputs(model, &[1])}))
            .await;
        expect_bad_request(
            &reply,
            "input[0].call_id",
            Some("invalid_function_call_output"),
        );
        assert_eq!(rs.requests(model).len(), 2);
    }
    rs.assert_no_violations();
}

async fn a_function_round_trip_through_previous_response_id(rs: Rs) {
    for model in MODELS {
        let first = two_calls(&rs, model).await;
        let id = id_of(&first);
        let reply = rs
            .create(
                &json!({"model": model, "previous_response_id": id, "input": outputs(model, &[1])}),
            )
            .await;
        expect_bad_request(&reply, "input", Some("missing_function_call_output"));
        // The outputs in the other order, and a note after them.
        let mut input = outputs(model, &[1, 0]);
        input
            .as_array_mut()
            .unwrap()
            .push(json!({"role": "user", "content": "Be brief."}));
        let r = rs
            .respond(&json!({"model": model, "previous_response_id": id, "input": input, "tools": [weather_tool(), time_tool()]}))
            .await;
        assert_eq!(r["status"], "completed", "{r}");
        assert_eq!(r["previous_response_id"], id.as_str());
        let requests = rs.requests(model);
        assert_eq!(requests.len(), 2);
        let lines = transcript(model, &requests[1]);
        let (w, t) = call_ids(model);
        let mut results = result_lines(&lines);
        results.sort_unstable();
        let mut expected = vec![
            format!("result {w}: 18C, sunny"),
            format!("result {t}: 12:00"),
        ];
        expected.sort_unstable();
        assert_eq!(results, expected, "{model}: {lines:?}");
        assert_eq!(lines.last().unwrap(), "user: Be brief.", "{lines:?}");
        // The answered chain cannot be answered again.
        let reply = rs
            .create(&json!({"model": model, "previous_response_id": id_of(&r), "input": outputs(model, &[0])}))
            .await;
        expect_bad_request(
            &reply,
            "input[0].call_id",
            Some("invalid_function_call_output"),
        );
    }
    rs.assert_no_violations();
}

async fn function_outputs_must_answer_a_waiting_call(rs: Rs) {
    let model = super::OPENAI_MODEL;
    // No history at all.
    let reply = rs
        .create(&json!({"model": model, "input": [
            {"role": "user", "content": "hi"},
            {"type": "function_call_output", "call_id": "call_ghost", "output": "x"}
        ]}))
        .await;
    let error = expect_bad_request(
        &reply,
        "input[1].call_id",
        Some("invalid_function_call_output"),
    );
    assert!(
        error["message"].as_str().unwrap().contains("call_ghost"),
        "{error}"
    );
    // A call and its output in the same input are fine.
    let r = rs
        .respond(&json!({"model": model, "input": [
            {"role": "user", "content": "hi"},
            {"type": "function_call", "call_id": "call_own", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_own", "output": "fine"}
        ], "tools": [weather_tool()]}))
        .await;
    assert_eq!(r["status"], "completed");
    // A call in the input without its output is not.
    let reply = rs
        .create(&json!({"model": model, "input": [
            {"type": "function_call", "call_id": "call_open", "name": "get_weather", "arguments": "{}"}
        ], "tools": [weather_tool()]}))
        .await;
    expect_bad_request(&reply, "input", Some("missing_function_call_output"));

    // Waiting calls: outputs for other ids, and moving on without answering.
    let first = two_calls(&rs, model).await;
    let conv = conversation_of(&first);
    let reply = rs
        .create(&json!({"model": model, "conversation": conv, "input": [
            {"type": "function_call_output", "call_id": "call_w1", "output": "a"},
            {"type": "function_call_output", "call_id": "call_other", "output": "b"}
        ]}))
        .await;
    expect_bad_request(
        &reply,
        "input[1].call_id",
        Some("invalid_function_call_output"),
    );
    let reply = rs
        .create(&json!({"model": model, "conversation": conv, "input": "never mind"}))
        .await;
    expect_bad_request(&reply, "input", Some("missing_function_call_output"));
    // None of these reached the upstream; the conversation is unchanged.
    assert_eq!(rs.openai.requests().len(), 2);
    assert_eq!(rs.items(&conv).await.len(), 3);
    rs.assert_no_violations();
}

async fn built_in_and_client_calls_in_one_turn(rs: Rs) {
    for model in MODELS {
        let (w, _) = call_ids(model);
        let file_call = format!("{w}_file");
        rs.enqueue(
            model,
            FakeReply::ToolCalls(vec![
                ToolCall::new(
                    &file_call,
                    "write_file",
                    json!({"path": "plan.txt", "content": "go"}),
                ),
                ToolCall::new(&w, "get_weather", json!({"city": "Oslo"})),
            ]),
        );
        rs.enqueue(model, FakeReply::text("Done."));
        let r = rs
            .respond(&json!({"model": model, "input": "Plan and check weather.", "tools": [weather_tool()]}))
            .await;
        // The built-in call ran; the client's call waits for the client.
        assert_eq!(r["status"], "incomplete", "{r}");
        assert_eq!(r["incomplete_details"]["reason"], "tool_use");
        let files = items_of(&r, "file_operation_call");
        assert_eq!(files.len(), 1, "{r}");
        assert_eq!(files[0]["status"], "completed", "{r}");
        assert_eq!(items_of(&r, "function_call").len(), 1, "{r}");
        let conv = conversation_of(&r);
        assert_eq!(
            std::fs::read_to_string(rs.server.workspace_dir().join(&conv).join("plan.txt"))
                .unwrap(),
            "go"
        );
        let done = rs
            .respond(
                &json!({"model": model, "conversation": conv, "tools": [weather_tool()],
                "input": [{"type": "function_call_output", "call_id": w, "output": "cold"}]}),
            )
            .await;
        assert_eq!(done["status"], "completed", "{done}");
        let lines = transcript(model, rs.requests(model).last().unwrap());
        let mut results = result_lines(&lines);
        results.sort_unstable();
        let mut expected = vec![
            format!("result {w}: cold"),
            format!(
                "result {file_call}: {}",
                files[0]["output"].as_str().unwrap()
            ),
        ];
        expected.sort_unstable();
        assert_eq!(results, expected, "{model}: {lines:?}");
    }
    rs.assert_no_violations();
}
