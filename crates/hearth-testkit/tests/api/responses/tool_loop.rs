//! The server-side tool loop with the built-in file tools: the model's
//! calls run in the conversation's workspace and are recorded as
//! `file_operation_call` items; failures are failed calls the model sees;
//! the loop is bounded.

use super::{
    ANTHROPIC_MODEL, MODELS, OPENAI_MODEL, Rs, ask, conversation_of, dir_entries, id_of, items_of,
    result_lines, transcript,
};
use hearth_testkit::{FakeReply, ToolCall};
use serde_json::{Value, json};
use std::time::Duration;

/// A call id in the style of `model`'s provider.
fn cid(model: &str, n: &str) -> String {
    if model == ANTHROPIC_MODEL {
        format!("toolu_{n}")
    } else {
        format!("call_{n}")
    }
}

fn call(model: &str, n: &str, tool: &str, args: Value) -> FakeReply {
    FakeReply::ToolCalls(vec![ToolCall::new(cid(model, n), tool, args)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_tool_loop_runs_end_to_end() {
    let rs = Rs::sqlite().await;
    for model in MODELS {
        let content = format!("shopping list for {model}\n- eggs\n");
        rs.enqueue(
            model,
            call(
                model,
                "write",
                "write_file",
                json!({"path": "notes/list.txt", "content": content}),
            ),
        );
        rs.enqueue(
            model,
            call(
                model,
                "read",
                "read_file",
                json!({"path": "notes/list.txt"}),
            ),
        );
        rs.enqueue(model, FakeReply::text("Saved your list."));
        let r = rs.respond(&ask(model, "Save my shopping list.")).await;
        assert_eq!(r["status"], "completed", "{model}: {r}");
        assert_eq!(r["output_text"], "Saved your list.");

        // The file is in the conversation's workspace.
        let conv = conversation_of(&r);
        let path = rs.server.workspace_dir().join(&conv).join("notes/list.txt");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), content);

        // Two completed tool calls, then the message.
        let output = r["output"].as_array().unwrap();
        let kinds: Vec<&str> = output.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["file_operation_call", "file_operation_call", "message"],
            "{r}"
        );
        for (item, (n, name)) in output
            .iter()
            .zip([("write", "write_file"), ("read", "read_file")])
        {
            assert_eq!(item["call_id"], cid(model, n).as_str(), "{item}");
            assert_eq!(item["name"], name);
            assert_eq!(item["status"], "completed", "{item}");
            assert!(item.get("error").is_none_or(Value::is_null), "{item}");
            assert!(id_of(item).starts_with("tc_"), "{item}");
        }
        let write_args: Value =
            serde_json::from_str(output[0]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(
            write_args,
            json!({"path": "notes/list.txt", "content": content})
        );
        assert_eq!(output[1]["output"], content.as_str(), "read_file output");

        // Each model call carried the results so far.
        let requests = rs.requests(model);
        assert_eq!(requests.len(), 3, "{model}");
        let second = transcript(model, &requests[1]);
        assert_eq!(
            result_lines(&second),
            [format!(
                "result {}: {}",
                cid(model, "write"),
                output[0]["output"].as_str().unwrap()
            )],
            "{model}: {second:?}"
        );
        let third = transcript(model, &requests[2]);
        assert_eq!(third[0], "user: Save my shopping list.");
        assert_eq!(
            result_lines(&third)[1],
            format!("result {}: {content}", cid(model, "read")),
            "{model}: {third:?}"
        );
        for request in &requests {
            assert_eq!(request.body["tools"].as_array().unwrap().len(), 5);
        }

        // The calls are part of the conversation and the next turn's
        // history; a later turn still finds the file.
        let items = rs.items(&conv).await;
        assert_eq!(items.len(), 4);
        assert_eq!(items[1], output[0]);
        rs.enqueue(
            model,
            call(model, "list", "list_files", json!({"recursive": true})),
        );
        let next = rs
            .respond(
                &json!({"model": model, "input": "What files are there?", "conversation": conv}),
            )
            .await;
        let listing = items_of(&next, "file_operation_call")[0]["output"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(listing.contains("notes/list.txt"), "{listing}");
        let lines = transcript(model, &rs.requests(model)[3]);
        assert_eq!(lines.len(), 7, "history and the new question: {lines:?}");
        assert_eq!(lines[6], "user: What files are there?");

        // Another conversation has its own, empty workspace.
        rs.enqueue(
            model,
            call(model, "list2", "list_files", json!({"recursive": true})),
        );
        let other = rs.respond(&ask(model, "Any files?")).await;
        let listing = items_of(&other, "file_operation_call")[0]["output"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!listing.contains("list.txt"), "{listing}");
    }
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_tools_are_failed_calls_the_model_sees() {
    let rs = Rs::sqlite().await;
    for model in MODELS {
        let failures = [
            (
                "missing",
                "read_file",
                json!({"path": "nope.txt"}),
                "not found",
            ),
            (
                "escape",
                "write_file",
                json!({"path": "../escaped.txt", "content": "x"}),
                "not allowed",
            ),
            (
                "absolute",
                "read_file",
                json!({"path": "/etc/passwd"}),
                "not allowed",
            ),
            (
                "args",
                "write_file",
                json!({"path": 3}),
                "invalid arguments",
            ),
            ("ghost", "run_shell", json!({"cmd": "ls"}), "run_shell"),
        ];
        // All in one turn, then the model answers.
        rs.enqueue(
            model,
            FakeReply::ToolCalls(
                failures
                    .iter()
                    .map(|(n, tool, args, _)| ToolCall::new(cid(model, n), *tool, args.clone()))
                    .collect(),
            ),
        );
        rs.enqueue(model, FakeReply::text("Sorry, that failed."));
        let reply = rs.create(&ask(model, "Do risky things.")).await;
        let r = reply.expect_status(200).clone();
        super::assert_response_object(&r);
        assert_eq!(r["status"], "completed", "{model}: {r}");
        let calls = items_of(&r, "file_operation_call");
        assert_eq!(calls.len(), failures.len(), "{r}");
        let lines = transcript(model, &rs.requests(model)[1]);
        let results = result_lines(&lines);
        assert_eq!(results.len(), failures.len(), "{lines:?}");
        for ((n, _, _, words), item) in failures.iter().zip(&calls) {
            assert_eq!(item["call_id"], cid(model, n).as_str());
            assert_eq!(item["status"], "failed", "{item}");
            let error = item["error"].as_str().unwrap();
            assert!(error.contains(words), "{n}: {error}");
            assert!(
                !error.contains(rs.server.workspace_dir().to_str().unwrap()),
                "host paths stay hidden: {error}"
            );
            // The model saw the error as the tool's result.
            let seen = results
                .iter()
                .find(|l| l.starts_with(&format!("result {}:", cid(model, n))))
                .unwrap_or_else(|| panic!("{n}: no result in {lines:?}"));
            assert!(seen.contains("error") && seen.contains(words), "{seen}");
        }
        // Nothing escaped the workspace.
        let base = rs.server.workspace_dir();
        assert!(!base.join("escaped.txt").exists());
        assert!(
            dir_entries(base).values().all(|is_dir| *is_dir),
            "{:?}",
            dir_entries(base)
        );
    }
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_that_times_out_is_a_failed_call() {
    let rs = Rs::sqlite_with(|c| c.responses.limits.tools.timeout = Duration::from_nanos(1)).await;
    let first = rs.respond(&ask(OPENAI_MODEL, "hi")).await;
    let conv = conversation_of(&first);
    let ws = rs.server.workspace_dir().join(&conv);
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("a.txt"), "a").unwrap();
    rs.openai.enqueue(call(
        OPENAI_MODEL,
        "slow",
        "list_files",
        json!({"recursive": true}),
    ));
    let r = rs
        .respond(&json!({"model": OPENAI_MODEL, "input": "list", "conversation": conv}))
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    let calls = items_of(&r, "file_operation_call");
    assert_eq!(calls[0]["status"], "failed", "{r}");
    assert!(
        calls[0]["error"].as_str().unwrap().contains("time limit"),
        "{r}"
    );
    let lines = transcript(OPENAI_MODEL, rs.openai.requests().last().unwrap());
    assert!(result_lines(&lines)[0].contains("time limit"), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_stops_after_max_iterations() {
    let rs = Rs::sqlite_with(|c| c.responses.limits.max_iterations = 3).await;
    for model in MODELS {
        for n in 0..4 {
            rs.enqueue(
                model,
                call(
                    model,
                    &format!("w{n}"),
                    "write_file",
                    json!({"path": format!("f{n}.txt"), "content": "x"}),
                ),
            );
        }
        let r = rs.respond(&ask(model, "Write files forever.")).await;
        assert_eq!(r["status"], "incomplete", "{model}: {r}");
        assert_eq!(
            r["incomplete_details"],
            json!({"reason": "max_tool_iterations"})
        );
        assert_eq!(rs.requests(model).len(), 3, "{model}: three model calls");
        let calls = items_of(&r, "file_operation_call");
        assert_eq!(calls.len(), 3, "{r}");
        assert!(calls.iter().all(|c| c["status"] == "completed"));
        assert_eq!(r["usage"]["input_tokens"], 30, "summed over the calls");
        let ws = rs.server.workspace_dir().join(conversation_of(&r));
        assert_eq!(dir_entries(&ws).len(), 3);
        // The stopped loop is history; a new turn carries on from it.
        let next = rs
            .respond(
                &json!({"model": model, "input": "Stop now.", "conversation": conversation_of(&r)}),
            )
            .await;
        assert_eq!(next["status"], "completed", "{next}");
        // The fourth queued call ran in that turn, then the model answered.
        assert_eq!(items_of(&next, "file_operation_call").len(), 1, "{next}");
        assert_eq!(rs.requests(model).len(), 5, "{model}");
    }
    rs.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_stops_when_its_time_is_spent() {
    let rs =
        Rs::sqlite_with(|c| c.responses.limits.max_duration = Duration::from_millis(300)).await;
    // The first model call alone takes longer than the loop may.
    rs.openai.enqueue(
        call(OPENAI_MODEL, "slow", "list_files", json!({}))
            .first_byte_delay(Duration::from_millis(400)),
    );
    rs.openai
        .enqueue(call(OPENAI_MODEL, "never", "list_files", json!({})));
    let r = rs.respond(&ask(OPENAI_MODEL, "take your time")).await;
    assert_eq!(r["status"], "incomplete", "{r}");
    assert_eq!(
        r["incomplete_details"],
        json!({"reason": "max_tool_iterations"})
    );
    assert_eq!(
        rs.openai.requests().len(),
        1,
        "no model call after the time ran out"
    );
    assert_eq!(items_of(&r, "file_operation_call").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_tool_runs_in_the_loop() {
    let rs = Rs::sqlite().await;
    let m = OPENAI_MODEL;
    let steps = [
        (
            "write_file",
            json!({"path": "src/app.txt", "content": "colour = red\nsize = 2\n"}),
        ),
        (
            "edit_file",
            json!({"path": "src/app.txt", "old_string": "red", "new_string": "blue"}),
        ),
        ("search_files", json!({"query": "colour"})),
        ("list_files", json!({"path": "src"})),
        ("read_file", json!({"path": "src/app.txt"})),
        (
            "edit_file",
            json!({"path": "src/app.txt", "old_string": "green", "new_string": "x"}),
        ),
    ];
    for (n, (tool, args)) in steps.iter().enumerate() {
        rs.openai
            .enqueue(call(m, &n.to_string(), tool, args.clone()));
    }
    rs.openai.enqueue(FakeReply::text("Edited."));
    let r = rs
        .respond(&json!({
            "model": m, "input": "Make it blue.",
            "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "file_operations"}]}
        }))
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    let calls = items_of(&r, "file_operation_call");
    let names: Vec<&str> = calls.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, steps.iter().map(|(t, _)| *t).collect::<Vec<_>>());
    let out = |i: usize| calls[i]["output"].as_str().unwrap_or_default().to_owned();
    for (i, call) in calls.iter().enumerate().take(5) {
        assert_eq!(call["status"], "completed", "{i}: {call}");
    }
    assert!(
        out(2).contains("src/app.txt") && out(2).contains("colour = blue"),
        "{}",
        out(2)
    );
    assert!(out(3).contains("app.txt"), "{}", out(3));
    assert_eq!(out(4), "colour = blue\nsize = 2\n");
    assert_eq!(calls[5]["status"], "failed");
    assert!(
        calls[5]["error"].as_str().unwrap().contains("conflict"),
        "{}",
        calls[5]
    );
    let file = rs
        .server
        .workspace_dir()
        .join(conversation_of(&r))
        .join("src/app.txt");
    assert_eq!(
        std::fs::read_to_string(file).unwrap(),
        "colour = blue\nsize = 2\n"
    );
    rs.assert_no_violations();
}
