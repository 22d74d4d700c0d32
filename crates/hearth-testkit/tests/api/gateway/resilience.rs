//! Routing and resilience: aliases, fallbacks to the next model, retries
//! that honour `Retry-After`, timeouts, and upstream failures turned into
//! clean errors that never carry the upstream credential.

use super::{
    ANTHROPIC_MODEL, ANTHROPIC_UPSTREAM, Gw, OPENAI_ALIAS, OPENAI_MODEL, OPENAI_UPSTREAM,
    chat_body, chat_text, eventually, stream_body,
};
use crate::audit_records;
use hearth_testkit::fake::{DEFAULT_TEXT, Script};
use hearth_testkit::gateway::{self, ANTHROPIC_PROVIDER, OPENAI_PROVIDER, Upstreams, upstream_key};
use hearth_testkit::{Backend, FakeAnthropic, FakeOpenAi, FakeReply, Reply, TestServer};
use reqwest::Method;
use std::time::{Duration, Instant};

/// The provider timeout of the tests that need one: short, so a hang costs
/// about a second.
const TIMEOUT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_routes_to_its_model() {
    let gw = Gw::sqlite().await;
    let rid = format!("alias-{}", crate::uuid_like());
    let reply = gw
        .server
        .send(
            gw.server
                .admin(Method::POST, "/v1/chat/completions")
                .header("x-request-id", &rid)
                .json(&chat_body(OPENAI_ALIAS)),
        )
        .await;
    reply.expect_status(200);
    let sse = gw.chat_stream(&stream_body(OPENAI_ALIAS, false)).await;
    assert_eq!(
        chat_text(&sse.expect_chunks("chat.completion.chunk")),
        DEFAULT_TEXT
    );

    let requests = gw.openai.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.model() == OPENAI_UPSTREAM));
    assert!(gw.anthropic.requests().is_empty());
    // Accounted under the model, not the alias.
    let records = audit_records(&gw.server, "path_prefix=/v1/chat").await;
    let record = records
        .iter()
        .find(|r| r["request_id"] == rid.as_str())
        .unwrap();
    assert_eq!(record["model"], OPENAI_MODEL);
    let usage = gw.usage("group_by=model").await;
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(usage[0]["group"], OPENAI_MODEL);
    assert_eq!(usage[0]["requests"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_before_the_first_byte_fall_back_to_the_next_model() {
    let gw = Gw::sqlite_with(|up| {
        up.timeout = Some(TIMEOUT);
        up.openai_fallbacks = vec![ANTHROPIC_MODEL.to_owned()];
        up.anthropic_fallbacks = vec![OPENAI_ALIAS.to_owned()];
    })
    .await;
    let failures: Vec<(&str, Script)> = vec![
        (
            "503",
            FakeReply::error(503, "The server is overloaded").into(),
        ),
        ("429", FakeReply::error(429, "Rate limit reached").into()),
        ("reset", FakeReply::Reset.into()),
        ("hang", FakeReply::Hang.into()),
        ("html", FakeReply::Html { status: 502 }.into()),
        ("garbage", FakeReply::Garbage.into()),
    ];
    for (i, (what, failure)) in failures.into_iter().enumerate() {
        gw.openai.enqueue(failure);
        let started = Instant::now();
        let reply = gw.chat(&chat_body(OPENAI_MODEL)).await;
        let answer = reply.expect_status(200);
        assert_eq!(
            answer["choices"][0]["message"]["content"], DEFAULT_TEXT,
            "{what}: {answer}"
        );
        // The caller asked for the model; the fallback answered.
        assert_eq!(answer["model"], OPENAI_MODEL, "{what}");
        assert_eq!(gw.openai.requests().len(), i + 1, "{what}: tried once");
        let fallback = gw.anthropic.requests();
        assert_eq!(fallback.len(), i + 1, "{what}: then the fallback");
        assert_eq!(fallback[i].model(), ANTHROPIC_UPSTREAM);
        assert!(
            started.elapsed() < TIMEOUT * 3,
            "{what}: {:?}",
            started.elapsed()
        );
    }

    // A stream falls back too, as long as nothing was relayed.
    gw.openai.enqueue(FakeReply::error(500, "boom"));
    let sse = gw.chat_stream(&stream_body(OPENAI_MODEL, false)).await;
    assert_eq!(
        chat_text(&sse.expect_chunks("chat.completion.chunk")),
        DEFAULT_TEXT
    );
    assert_eq!(gw.anthropic.requests().len(), 7);

    // The other way round, through an alias.
    gw.anthropic.enqueue(FakeReply::error(529, "Overloaded"));
    let answer = gw.chat(&chat_body(ANTHROPIC_MODEL)).await;
    assert_eq!(
        answer.expect_status(200)["choices"][0]["message"]["content"],
        DEFAULT_TEXT
    );
    assert_eq!(
        gw.openai.requests().last().unwrap().model(),
        OPENAI_UPSTREAM
    );

    // When every deployment fails, the client gets the last failure.
    gw.openai.enqueue(FakeReply::error(503, "down"));
    gw.anthropic.enqueue(FakeReply::error(503, "down too"));
    let reply = gw.chat(&chat_body(OPENAI_MODEL)).await;
    let error = reply.expect_error(502, "server_error");
    assert_eq!(error["code"], "upstream_error");
    assert!(
        error["message"].as_str().unwrap().contains("down too"),
        "{error}"
    );

    // A request the upstream refuses is not sent to the fallback.
    let before = gw.anthropic.requests().len();
    gw.openai
        .enqueue(FakeReply::error(400, "Invalid 'messages': too long"));
    let reply = gw.chat(&chat_body(OPENAI_MODEL)).await;
    reply.expect_error(400, "invalid_request_error");
    assert_eq!(gw.anthropic.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_wait_as_long_as_the_upstream_asks() {
    let gw = Gw::sqlite_with(|up| up.retries = 2).await;
    gw.openai.enqueue(FakeReply::Error {
        status: 429,
        message: "Rate limit reached for requests".to_owned(),
        retry_after: Some(1),
    });
    let started = Instant::now();
    let reply = gw.chat(&chat_body(OPENAI_MODEL)).await;
    let elapsed = started.elapsed();
    reply.expect_status(200);
    assert_eq!(gw.openai.requests().len(), 2);
    assert!(
        elapsed >= Duration::from_secs(1),
        "retried after {elapsed:?}, before the upstream's Retry-After"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    // Without Retry-After: backoff, and at most `retries` more attempts.
    gw.anthropic.enqueue(FakeReply::error(503, "busy"));
    gw.anthropic.enqueue(FakeReply::error(500, "busy"));
    gw.chat(&chat_body(ANTHROPIC_MODEL))
        .await
        .expect_status(200);
    assert_eq!(gw.anthropic.requests().len(), 3);
    for _ in 0..3 {
        gw.anthropic.enqueue(FakeReply::error(503, "busy"));
    }
    let reply = gw.chat(&chat_body(ANTHROPIC_MODEL)).await;
    reply.expect_error(502, "server_error");
    assert_eq!(gw.anthropic.requests().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retries_an_upstream_429_reaches_the_client_with_retry_after() {
    let gw = Gw::sqlite().await;
    let limited = |after| FakeReply::Error {
        status: 429,
        message: "Rate limit reached".to_owned(),
        retry_after: Some(after),
    };
    gw.openai.enqueue(limited(7));
    gw.anthropic.enqueue(limited(3));
    for (model, after) in [(OPENAI_MODEL, "7"), (ANTHROPIC_MODEL, "3")] {
        let reply = gw.chat(&chat_body(model)).await;
        let error = reply.expect_error(429, "rate_limit_error");
        assert_eq!(error["code"], "upstream_rate_limited", "{model}");
        assert_eq!(reply.header("retry-after"), Some(after), "{model}");
    }
    assert_eq!(gw.openai.requests().len(), 1);
    assert_eq!(gw.anthropic.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_400_is_not_retried_and_keeps_its_status() {
    let gw = Gw::sqlite_with(|up| up.retries = 2).await;
    let refusal = "max_tokens is too large: 999999. This model supports at most 16384";
    gw.openai.enqueue(FakeReply::error(400, refusal));
    gw.anthropic.enqueue(FakeReply::error(400, refusal));
    for model in [OPENAI_MODEL, ANTHROPIC_MODEL] {
        let reply = gw.chat(&chat_body(model)).await;
        let error = reply.expect_error(400, "invalid_request_error");
        assert_eq!(error["code"], "upstream_error", "{model}");
        assert_eq!(error["message"], refusal, "{model}");
    }
    assert_eq!(gw.openai.requests().len(), 1);
    assert_eq!(gw.anthropic.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_upstream_times_out_with_504() {
    let gw = Gw::sqlite_with(|up| up.timeout = Some(TIMEOUT)).await;
    gw.openai.enqueue(FakeReply::Hang);
    gw.anthropic.enqueue(FakeReply::Hang);
    let timed = |body: serde_json::Value| {
        let gw = &gw;
        async move {
            let started = Instant::now();
            (gw.chat(&body).await, started.elapsed())
        }
    };
    let (openai, anthropic) = tokio::join!(
        timed(chat_body(OPENAI_MODEL)),
        timed(stream_body(ANTHROPIC_MODEL, false))
    );
    for (model, (reply, elapsed)) in [(OPENAI_MODEL, openai), (ANTHROPIC_MODEL, anthropic)] {
        let error = reply.expect_error(504, "server_error");
        assert_eq!(error["code"], "upstream_timeout", "{model}");
        assert!(
            elapsed >= TIMEOUT && elapsed < TIMEOUT * 2,
            "{model}: answered after {elapsed:?}"
        );
    }
    // Hearth gave up on the upstream requests; it did not leave them open.
    eventually(
        Duration::from_secs(2),
        "the hung connections to close",
        || async {
            (gw.openai.open_connections() == 0 && gw.anthropic.open_connections() == 0)
                .then_some(())
        },
    )
    .await;

    // A stream that stalls after it started ends at the timeout too, with
    // an error event.
    gw.openai.enqueue(
        FakeReply::text("one two three four five six").chunk_delay(Duration::from_millis(600)),
    );
    let started = Instant::now();
    let sse = gw.chat_stream(&stream_body(OPENAI_MODEL, false)).await;
    let elapsed = started.elapsed();
    assert_eq!(sse.status, 200);
    assert!(elapsed < TIMEOUT * 2, "{elapsed:?}: {}", sse.raw);
    let n = sse.frames.len();
    assert_eq!(sse.frames[n - 1].data, "[DONE]", "{}", sse.raw);
    assert_eq!(
        sse.frames[n - 2].event.as_deref(),
        Some("error"),
        "{}",
        sse.raw
    );
    assert!(sse.frames[n - 2].data.contains("stream_error"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_upstream_answers_become_clean_502s() {
    let gw = Gw::sqlite().await;
    let cases: [(&str, FakeReply, &str); 6] = [
        (
            "html error page",
            FakeReply::Html { status: 502 },
            "upstream_error",
        ),
        (
            "html with 200",
            FakeReply::Html { status: 200 },
            "upstream_invalid_response",
        ),
        ("garbage", FakeReply::Garbage, "upstream_invalid_response"),
        ("empty body", FakeReply::Empty, "upstream_empty_body"),
        ("reset", FakeReply::Reset, "upstream_unreachable"),
        ("500", FakeReply::error(500, "internal"), "upstream_error"),
    ];
    for (what, failure, code) in cases {
        for model in [OPENAI_MODEL, ANTHROPIC_MODEL] {
            for stream in [false, true] {
                if model == OPENAI_MODEL {
                    gw.openai.enqueue(failure.clone());
                } else {
                    gw.anthropic.enqueue(failure.clone());
                }
                let body = if stream {
                    stream_body(model, false)
                } else {
                    chat_body(model)
                };
                let reply = gw.chat(&body).await;
                let case = format!("{what} from {model}, stream={stream}");
                let error = reply.expect_error(502, "server_error");
                assert_eq!(error["code"], code, "{case}: {}", reply.body);
                let message = error["message"].as_str().unwrap();
                if what == "html error page" {
                    assert!(!message.contains('<'), "{case}: {message:?}");
                }
            }
        }
    }
    assert_eq!(gw.openai.requests().len(), 12);
    assert_eq!(gw.anthropic.requests().len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_upstream_credentials_are_a_502_that_never_shows_them() {
    // Upstreams that expect another key than the one Hearth is configured
    // with.
    let openai = FakeOpenAi::start_with_key("sk-the-right-key-0123456789").await;
    let anthropic = FakeAnthropic::start_with_key("sk-ant-the-right-key-0123456789").await;
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        gateway::route_to(
            c,
            &Upstreams {
                openai: Some(&openai),
                anthropic: Some(&anthropic),
                ..Upstreams::default()
            },
        );
    })
    .await
    .unwrap();
    let chat = |body: serde_json::Value| {
        let server = &server;
        async move {
            server
                .send(
                    server
                        .admin(Method::POST, "/v1/chat/completions")
                        .json(&body),
                )
                .await
        }
    };
    let mut replies: Vec<Reply> = Vec::new();
    for model in [OPENAI_MODEL, ANTHROPIC_MODEL] {
        for body in [chat_body(model), stream_body(model, false)] {
            let reply = chat(body).await;
            let error = reply.expect_error(502, "server_error");
            assert_eq!(
                error["code"], "upstream_authentication_failed",
                "{}",
                reply.body
            );
            replies.push(reply);
        }
    }
    // The key was sent (the fakes saw it) and refused.
    let sent = openai.requests();
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {}", upstream_key(OPENAI_PROVIDER)).as_str())
    );
    assert_eq!(
        anthropic.requests()[0].header("x-api-key"),
        Some(upstream_key(ANTHROPIC_PROVIDER).as_str())
    );

    // Upstreams that echo the key in their error text: 401/403 texts are
    // replaced, other errors redacted.
    let gw = Gw::sqlite().await;
    let echo = |provider: &str| {
        format!(
            "Incorrect API key provided: {}. You can find your key in the dashboard.",
            upstream_key(provider)
        )
    };
    for status in [401, 403, 500, 400] {
        gw.openai
            .enqueue(FakeReply::error(status, echo(OPENAI_PROVIDER)));
        gw.anthropic
            .enqueue(FakeReply::error(status, echo(ANTHROPIC_PROVIDER)));
        for model in [OPENAI_MODEL, ANTHROPIC_MODEL] {
            let reply = gw.chat(&chat_body(model)).await;
            let expected = if status == 400 { 400 } else { 502 };
            reply.expect_status(expected);
            replies.push(reply);
        }
    }
    for reply in &replies {
        let text = format!("{} {:?}", reply.body, reply.headers);
        assert!(!text.contains("upstream-key-"), "credential leaked: {text}");
        assert!(!text.contains("sk-the-right"), "{text}");
    }
    for server in [&server, &gw.server] {
        let audit = crate::audit_page(server, "limit=100").await.to_string();
        assert!(audit.contains("/v1/chat/completions"), "calls are audited");
        assert!(
            !audit.contains("upstream-key-"),
            "credential in the audit log"
        );
        let usage = server
            .send(server.admin(Method::GET, "/v1/admin/usage?group_by=key"))
            .await;
        assert!(!usage.body.to_string().contains("upstream-key-"));
    }
}
