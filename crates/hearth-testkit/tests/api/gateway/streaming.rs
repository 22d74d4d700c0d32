//! Streamed chat completions: SSE framing, relaying chunk by chunk,
//! `include_usage`, streamed tool calls, errors after the stream started,
//! and clients that leave mid-stream.

use super::{
    ANTHROPIC_MODEL, Gw, OPENAI_MODEL, chat_text, eventually, parse_frames, stream_body,
    usage_chunks,
};
use crate::audit_records;
use hearth_testkit::fake::DEFAULT_TEXT;
use hearth_testkit::{FakeReply, ToolCall};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_chunks_then_done_with_usage_only_when_asked() {
    let gw = Gw::sqlite().await;
    for model in [OPENAI_MODEL, ANTHROPIC_MODEL] {
        for include_usage in [false, true] {
            let script = FakeReply::text(DEFAULT_TEXT).usage(12, 4);
            gw.openai.enqueue(script.clone());
            gw.anthropic.enqueue(script);
            let sse = gw.chat_stream(&stream_body(model, include_usage)).await;
            let what = format!("{model} include_usage={include_usage}");
            let chunks = sse.expect_chunks("chat.completion.chunk");
            assert!(chunks.len() >= 3, "{what}: {}", sse.raw);
            assert_eq!(chat_text(&chunks), DEFAULT_TEXT, "{what}");
            let id = &chunks[0]["id"];
            assert!(id.as_str().is_some_and(|id| !id.is_empty()), "{what}");
            assert!(chunks.iter().all(|c| &c["id"] == id), "{what}: one id");
            let finishes: Vec<&Value> = chunks
                .iter()
                .filter_map(|c| c.pointer("/choices/0/finish_reason"))
                .filter(|f| !f.is_null())
                .collect();
            assert_eq!(finishes, [&json!("stop")], "{what}: {}", sse.raw);

            let usage = usage_chunks(&chunks);
            if include_usage {
                assert_eq!(usage.len(), 1, "{what}: {}", sse.raw);
                let last = chunks.last().unwrap();
                assert_eq!(usage[0], last, "{what}: usage comes last");
                assert_eq!(last["choices"], json!([]), "{what}");
                super::assert_usage(&last["usage"], 12, 4);
            } else {
                assert!(usage.is_empty(), "{what}: unasked usage: {}", sse.raw);
            }
        }
    }
    // Hearth always asks the OpenAI upstream for usage (to account the
    // call), and withholds it from clients that did not ask.
    for request in gw.openai.requests() {
        assert!(request.is_stream());
        assert_eq!(
            request.body.pointer("/stream_options/include_usage"),
            Some(&json!(true))
        );
    }
    assert_eq!(gw.anthropic.requests().len(), 2);
    assert!(gw.anthropic.requests().iter().all(|r| r.is_stream()));
    assert!(
        gw.openai.violations().is_empty(),
        "{:?}",
        gw.openai.violations()
    );
    assert!(
        gw.anthropic.violations().is_empty(),
        "{:?}",
        gw.anthropic.violations()
    );
}

/// Chunks with their per-call fields (`id`, `created`) checked for
/// consistency and blanked, so a whole sequence can be compared.
fn normalised(chunks: &[Value]) -> Vec<Value> {
    let id = chunks[0]["id"].clone();
    let created = chunks[0]["created"].clone();
    assert!(
        id.as_str().is_some_and(|id| id.starts_with("chatcmpl-")),
        "{id}"
    );
    assert!(created.is_u64(), "{created}");
    chunks
        .iter()
        .map(|c| {
            assert_eq!(c["id"], id);
            assert_eq!(c["created"], created);
            let mut c = c.clone();
            c["id"] = json!("ID");
            c["created"] = json!(0);
            c
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_streams_translate_to_this_chunk_sequence() {
    let gw = Gw::sqlite().await;
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "ID", "object": "chat.completion.chunk", "created": 0,
               "model": ANTHROPIC_MODEL,
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    let usage = json!({"id": "ID", "object": "chat.completion.chunk", "created": 0,
        "model": ANTHROPIC_MODEL, "choices": [],
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}});

    gw.anthropic
        .enqueue(FakeReply::text("Hi there").usage(7, 2));
    let sse = gw.chat_stream(&stream_body(ANTHROPIC_MODEL, true)).await;
    assert_eq!(
        normalised(&sse.expect_chunks("chat.completion.chunk")),
        [
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": "Hi"}), Value::Null),
            chunk(json!({"content": " there"}), Value::Null),
            chunk(json!({}), json!("stop")),
            usage.clone(),
        ],
        "{}",
        sse.raw
    );

    gw.anthropic.enqueue(
        FakeReply::ToolCalls(vec![ToolCall::new("toolu_1", "f", json!({"a": 1}))]).usage(7, 2),
    );
    let sse = gw.chat_stream(&stream_body(ANTHROPIC_MODEL, true)).await;
    let call = |fields: Value| json!({"tool_calls": [fields]});
    assert_eq!(
        normalised(&sse.expect_chunks("chat.completion.chunk")),
        [
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(
                call(json!({"index": 0, "id": "toolu_1", "type": "function",
                            "function": {"name": "f", "arguments": ""}})),
                Value::Null
            ),
            // The fake cuts `{"a":1}` into four fragments.
            chunk(
                call(json!({"index": 0, "function": {"arguments": "{\""}})),
                Value::Null
            ),
            chunk(
                call(json!({"index": 0, "function": {"arguments": "a\""}})),
                Value::Null
            ),
            chunk(
                call(json!({"index": 0, "function": {"arguments": ":1"}})),
                Value::Null
            ),
            chunk(
                call(json!({"index": 0, "function": {"arguments": "}"}})),
                Value::Null
            ),
            chunk(json!({}), json!("tool_calls")),
            usage,
        ],
        "{}",
        sse.raw
    );
}

/// When each frame of a stream arrived, counted from the request.
async fn timed_frames(gw: &Gw, model: &str) -> (Vec<(Duration, super::Frame)>, Duration) {
    let started = Instant::now();
    let mut resp = gw
        .server
        .admin(Method::POST, "/v1/chat/completions")
        .json(&stream_body(model, false))
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status(), 200);
    let mut buffer = String::new();
    let mut frames = Vec::new();
    while let Some(bytes) = resp.chunk().await.expect("stream chunk") {
        buffer.push_str(std::str::from_utf8(&bytes).expect("UTF-8"));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            for frame in parse_frames(&block) {
                frames.push((started.elapsed(), frame));
            }
        }
    }
    (frames, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_are_relayed_as_the_upstream_sends_them() {
    let gw = Gw::sqlite().await;
    let delay = Duration::from_millis(300);
    gw.openai
        .enqueue(FakeReply::text("one two three").chunk_delay(delay));
    gw.anthropic
        .enqueue(FakeReply::text("one two three").chunk_delay(delay));
    let (openai, anthropic) = tokio::join!(
        timed_frames(&gw, OPENAI_MODEL),
        timed_frames(&gw, ANTHROPIC_MODEL)
    );
    for (model, (frames, total)) in [(OPENAI_MODEL, openai), (ANTHROPIC_MODEL, anthropic)] {
        // The upstreams take at least five pauses to finish.
        assert!(total >= delay * 5, "{model}: whole stream in {total:?}");
        let (first, _) = &frames[0];
        assert!(
            *first < delay * 2 && *first * 4 < total,
            "{model}: first frame after {first:?} of {total:?}"
        );
        // Each word arrives on its own, a pause after the one before.
        let words: Vec<Duration> = frames
            .iter()
            .filter(|(_, f)| f.data != "[DONE]")
            .filter(|(_, f)| {
                serde_json::from_str::<Value>(&f.data)
                    .ok()
                    .and_then(|c| c.pointer("/choices/0/delta/content").cloned())
                    .is_some_and(|t| t.as_str().is_some_and(|t| !t.is_empty()))
            })
            .map(|(at, _)| *at)
            .collect();
        assert_eq!(words.len(), 3, "{model}: {frames:?}");
        for pair in words.windows(2) {
            assert!(
                pair[1] - pair[0] >= delay * 2 / 3,
                "{model}: words arrived together: {words:?}"
            );
        }
        assert!(
            *words.last().unwrap() + delay <= total + delay / 2,
            "{model}: {words:?} of {total:?}"
        );
    }
}

/// Per tool-call index: `(id, name, arguments, argument fragments)`.
fn streamed_calls(chunks: &[Value]) -> BTreeMap<u64, (String, String, String, usize)> {
    let mut calls: BTreeMap<u64, (String, String, String, usize)> = BTreeMap::new();
    for chunk in chunks {
        let Some(deltas) = chunk
            .pointer("/choices/0/delta/tool_calls")
            .and_then(Value::as_array)
        else {
            continue;
        };
        for delta in deltas {
            let index = delta["index"].as_u64().expect("tool call delta index");
            let entry = calls.entry(index).or_default();
            if let Some(id) = delta["id"].as_str() {
                entry.0.push_str(id);
            }
            if let Some(name) = delta.pointer("/function/name").and_then(Value::as_str) {
                entry.1.push_str(name);
            }
            if let Some(args) = delta
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                entry.2.push_str(args);
                entry.3 += 1;
            }
        }
    }
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_tool_call_arguments_reassemble() {
    let gw = Gw::sqlite().await;
    let first = json!({"city": "Zürich", "units": "metric", "days": [1, 2, 3]});
    let second = json!({"city": "Rome"});
    let calls = |prefix: &str| {
        FakeReply::ToolCalls(vec![
            ToolCall::new(format!("{prefix}_1"), "get_weather", first.clone()),
            ToolCall::new(format!("{prefix}_2"), "get_time", second.clone()),
        ])
    };
    gw.openai.enqueue(calls("call"));
    gw.anthropic.enqueue(calls("toolu"));
    for (model, prefix) in [(OPENAI_MODEL, "call"), (ANTHROPIC_MODEL, "toolu")] {
        let mut body = stream_body(model, false);
        body["tools"] = json!([
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
        ]);
        let sse = gw.chat_stream(&body).await;
        let chunks = sse.expect_chunks("chat.completion.chunk");
        let calls = streamed_calls(&chunks);
        assert_eq!(calls.len(), 2, "{model}: {}", sse.raw);
        let (id, name, args, fragments) = &calls[&0];
        assert_eq!(id, &format!("{prefix}_1"), "{model}");
        assert_eq!(name, "get_weather");
        assert!(*fragments > 1, "{model}: arguments came whole: {}", sse.raw);
        assert_eq!(
            serde_json::from_str::<Value>(args).unwrap(),
            first,
            "{model}"
        );
        let (id, name, args, _) = &calls[&1];
        assert_eq!(id, &format!("{prefix}_2"), "{model}");
        assert_eq!(name, "get_time");
        assert_eq!(
            serde_json::from_str::<Value>(args).unwrap(),
            second,
            "{model}"
        );
        let finish = chunks
            .iter()
            .filter_map(|c| c.pointer("/choices/0/finish_reason"))
            .find(|f| !f.is_null());
        assert_eq!(finish, Some(&json!("tool_calls")), "{model}: {}", sse.raw);
    }
    assert!(gw.anthropic.violations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_error_mid_stream_ends_it_with_an_error_event_and_done() {
    let gw = Gw::sqlite().await;
    let failing = FakeReply::StreamThenError {
        text: "one two three four".to_owned(),
        after_chunks: 2,
    };
    gw.openai.enqueue(failing.clone());
    gw.anthropic.enqueue(failing);
    for model in [OPENAI_MODEL, ANTHROPIC_MODEL] {
        let rid = format!("midstream-{}", crate::uuid_like());
        let resp = gw
            .server
            .admin(Method::POST, "/v1/chat/completions")
            .header("x-request-id", &rid)
            .json(&stream_body(model, false))
            .send()
            .await
            .unwrap();
        let sse = super::Sse::read(resp).await;
        // The status was sent with the first chunk: it stays 200.
        assert_eq!(sse.status, 200, "{model}: {}", sse.raw);
        let n = sse.frames.len();
        assert!(n >= 3, "{model}: {}", sse.raw);
        assert_eq!(sse.frames[n - 1].data, "[DONE]", "{model}: {}", sse.raw);
        let error = &sse.frames[n - 2];
        assert_eq!(
            error.event.as_deref(),
            Some("error"),
            "{model}: {}",
            sse.raw
        );
        let envelope: Value = serde_json::from_str(&error.data).unwrap();
        assert_eq!(envelope["error"]["code"], "stream_error", "{envelope}");
        assert_eq!(envelope["error"]["type"], "server_error");
        assert!(envelope["error"]["param"].is_null());
        let message = envelope["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty());
        assert_eq!(envelope["message"], message);
        assert!(!sse.raw.contains("upstream-key-"), "{}", sse.raw);
        // What came before the error was relayed.
        let chunks: Vec<Value> = sse.frames[..n - 2]
            .iter()
            .map(|f| {
                assert_eq!(f.event, None, "{model}: {}", sse.raw);
                serde_json::from_str(&f.data).unwrap()
            })
            .collect();
        assert_eq!(chat_text(&chunks), "one two", "{model}");

        let records = audit_records(&gw.server, "path_prefix=/v1/chat").await;
        let record = records
            .iter()
            .find(|r| r["request_id"] == rid.as_str())
            .unwrap_or_else(|| panic!("{model}: call not audited: {records:?}"));
        assert_eq!(record["status"], 200);
        assert_eq!(record["model"], model);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_stream_cancels_the_upstream_and_is_metered() {
    let gw = Gw::sqlite().await;
    // A hundred words, 50 ms apart: five seconds if nobody stops it.
    let words = vec!["word"; 100].join(" ");
    let script = FakeReply::text(words)
        .chunk_delay(Duration::from_millis(50))
        .usage(1000, 2000);
    gw.openai.enqueue(script.clone());
    gw.anthropic.enqueue(script);
    for model in [OPENAI_MODEL, ANTHROPIC_MODEL] {
        let open = || match model {
            OPENAI_MODEL => gw.openai.open_connections(),
            _ => gw.anthropic.open_connections(),
        };
        let rid = format!("leave-{}", crate::uuid_like());
        let body = serde_json::to_vec(&stream_body(model, true)).unwrap();
        let body_len = body.len() as u64;
        let mut resp = gw
            .server
            .admin(Method::POST, "/v1/chat/completions")
            .header("x-request-id", &rid)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut seen = String::new();
        while !seen.contains("word") {
            let bytes = resp.chunk().await.unwrap().expect("stream still open");
            seen.push_str(std::str::from_utf8(&bytes).unwrap());
        }
        assert_eq!(open(), 1, "{model}: the upstream request is open");
        let left = Instant::now();
        drop(resp);
        eventually(
            Duration::from_secs(2),
            "the upstream connection to close",
            || async { (open() == 0).then_some(()) },
        )
        .await;
        assert!(left.elapsed() < Duration::from_secs(2), "{model}");

        // Audited, with Hearth's estimate: the prompt bytes / 4 charged up
        // front, and a token per chunk relayed; not the upstream's counts,
        // which never came.
        let record = eventually(Duration::from_secs(2), "the audit record", || {
            let gw = &gw;
            let rid = rid.clone();
            async move {
                audit_records(&gw.server, "path_prefix=/v1/chat")
                    .await
                    .into_iter()
                    .find(|r| r["request_id"] == rid.as_str())
            }
        })
        .await;
        assert_eq!(record["status"], 200);
        assert_eq!(record["model"], model);
        assert_eq!(record["input_tokens"], body_len / 4, "{model}: {record}");
        let output = record["output_tokens"].as_u64().unwrap();
        assert!((1..100).contains(&output), "{model}: {record}");

        let usage = gw.usage(&format!("group_by=model&model={model}")).await;
        assert_eq!(usage.len(), 1, "{usage:?}");
        assert_eq!(usage[0]["requests"], 1);
        assert_eq!(usage[0]["input_tokens"], body_len / 4);
        assert_eq!(usage[0]["output_tokens"], output);
    }
    assert_eq!(gw.openai.requests().len(), 1);
    assert_eq!(gw.anthropic.requests().len(), 1);
}
