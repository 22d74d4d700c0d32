//! Accounting of model calls, on both backends: usage per organisation,
//! user, key and model (streamed calls included), tokens-per-minute limits,
//! audit records with model and token counts, and who may call models.

use super::{ANTHROPIC_MODEL, Gw, OPENAI_ALIAS, OPENAI_MODEL, chat_body, stream_body};
use crate::{audit_records, new_key, now_secs, org_with, uuid_like};
use hearth_testkit::{FakeReply, Reply};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

gateway_backend_tests! {
    usage_is_recorded_per_org_user_key_and_model,
    tokens_per_minute_are_limited_per_organisation,
    model_calls_are_audited_with_model_and_tokens,
    members_call_models_and_viewers_only_list_them,
}

/// Usage groups as `group → (requests, input, output)`, checking that
/// `total_tokens` adds up.
fn totals(groups: &[Value]) -> BTreeMap<String, (i64, i64, i64)> {
    groups
        .iter()
        .map(|g| {
            let n = |field: &str| {
                g[field]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{field} in {g}"))
            };
            assert_eq!(
                n("total_tokens"),
                n("input_tokens") + n("output_tokens"),
                "{g}"
            );
            (
                g["group"].as_str().unwrap().to_owned(),
                (n("requests"), n("input_tokens"), n("output_tokens")),
            )
        })
        .collect()
}

fn expect<const N: usize>(
    pairs: [(&str, (i64, i64, i64)); N],
) -> BTreeMap<String, (i64, i64, i64)> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

async fn send_as(gw: &Gw, key: &str, path: &str, body: &Value, rid: &str) -> Reply {
    gw.server
        .send(
            gw.server
                .request(Method::POST, path, key)
                .header("x-request-id", rid)
                .json(body),
        )
        .await
}

async fn usage_is_recorded_per_org_user_key_and_model(gw: Gw) {
    let (org, member) = org_with(&gw.server, "member").await;
    let (second_key_id, second_key) = new_key(&gw.server, &member.id).await;
    let colleague = gw.server.user("member", Some(&org)).await;

    // Plain and streamed calls, with and without the usage chunk.
    gw.openai.enqueue(FakeReply::text("a").usage(11, 7));
    gw.post(
        "/v1/chat/completions",
        &member.key,
        &chat_body(OPENAI_MODEL),
    )
    .await
    .expect_status(200);
    gw.anthropic.enqueue(FakeReply::text("b c").usage(13, 3));
    let sse = gw
        .stream(
            "/v1/chat/completions",
            &second_key,
            &stream_body(ANTHROPIC_MODEL, true),
        )
        .await;
    sse.expect_chunks("chat.completion.chunk");
    gw.openai.enqueue(FakeReply::text("d e f").usage(5, 2));
    let sse = gw
        .stream(
            "/v1/chat/completions",
            &member.key,
            &stream_body(OPENAI_ALIAS, false),
        )
        .await;
    sse.expect_chunks("chat.completion.chunk");
    gw.anthropic.enqueue(FakeReply::text("g").usage(20, 1));
    gw.post(
        "/v1/chat/completions",
        &colleague.key,
        &chat_body(ANTHROPIC_MODEL),
    )
    .await
    .expect_status(200);
    // Another organisation's call.
    gw.openai.enqueue(FakeReply::text("h").usage(100, 100));
    gw.chat(&chat_body(OPENAI_MODEL)).await.expect_status(200);

    let q = |group: &str| format!("org_id={org}&group_by={group}");
    assert_eq!(
        totals(&gw.usage(&q("model")).await),
        expect([(OPENAI_MODEL, (2, 16, 9)), (ANTHROPIC_MODEL, (2, 33, 4))])
    );
    assert_eq!(
        totals(&gw.usage(&q("user")).await),
        expect([
            (member.id.as_str(), (3, 29, 12)),
            (colleague.id.as_str(), (1, 20, 1))
        ])
    );
    assert_eq!(
        totals(&gw.usage(&q("key")).await),
        expect([
            (member.key_id.as_str(), (2, 16, 9)),
            (second_key_id.as_str(), (1, 13, 3)),
            (colleague.key_id.as_str(), (1, 20, 1)),
        ])
    );
    let today = now_secs() - now_secs().rem_euclid(86_400);
    assert_eq!(
        totals(&gw.usage(&q("day")).await),
        expect([(today.to_string().as_str(), (4, 49, 13))])
    );
    // Filters narrow the sums.
    assert_eq!(
        totals(
            &gw.usage(&format!(
                "org_id={org}&group_by=model&user_id={}",
                member.id
            ))
            .await
        ),
        expect([(OPENAI_MODEL, (2, 16, 9)), (ANTHROPIC_MODEL, (1, 13, 3))])
    );
    // The caller's own organisation by default: only its call.
    assert_eq!(
        totals(&gw.usage("group_by=model").await),
        expect([(OPENAI_MODEL, (1, 100, 100))])
    );

    // An organisation's admin reads its usage, and no other's.
    let org_admin = gw.server.user("admin", Some(&org)).await;
    let reply = gw
        .get("/v1/admin/usage?group_by=model", &org_admin.key)
        .await;
    assert_eq!(
        totals(reply.expect_status(200)["data"].as_array().unwrap()).len(),
        2
    );
    let (other_org, _) = org_with(&gw.server, "member").await;
    let reply = gw
        .get(
            &format!("/v1/admin/usage?org_id={other_org}"),
            &org_admin.key,
        )
        .await;
    reply.expect_error(404, "not_found_error");
    let reply = gw.get("/v1/admin/usage", &member.key).await;
    reply.expect_error(403, "permission_error");
}

fn header_u64(reply: &Reply, name: &str) -> u64 {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("no {name} on a {} response: {}", reply.status, reply.body))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not an integer: {:?}", reply.header(name)))
}

async fn tokens_per_minute_are_limited_per_organisation(gw: Gw) {
    let (org, member) = org_with(&gw.server, "member").await;
    let view = gw.patch_org(&org, json!({"tokens_per_minute": 50})).await;
    assert_eq!(view["tokens_per_minute"], 50);

    let mut successes = 0;
    let refused = loop {
        assert!(successes < 6, "never limited after {successes} calls");
        // Each call uses 15 tokens upstream (10 in, 5 out).
        let reply = gw
            .post(
                "/v1/chat/completions",
                &member.key,
                &chat_body(OPENAI_MODEL),
            )
            .await;
        if reply.status == 429 {
            break reply;
        }
        reply.expect_status(200);
        successes += 1;
        assert_eq!(header_u64(&reply, "x-ratelimit-limit-tokens"), 50);
        assert!(header_u64(&reply, "x-ratelimit-remaining-tokens") < 50);
        assert!(reply.header("x-ratelimit-reset-tokens").is_some());
    };
    assert!(
        successes >= 2,
        "limited after {successes} calls of 15 tokens"
    );
    let error = refused.expect_error(429, "rate_limit_error");
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(
        error["message"].as_str().unwrap().contains("token"),
        "{error}"
    );
    let retry_after = header_u64(&refused, "retry-after");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(header_u64(&refused, "x-ratelimit-limit-tokens"), 50);
    assert!(header_u64(&refused, "x-ratelimit-remaining-tokens") < 50);
    let reset = refused.header("x-ratelimit-reset-tokens").unwrap();
    assert!(reset.ends_with('s'), "reset {reset:?}");
    // The refused call never reached the upstream.
    assert_eq!(gw.openai.requests().len(), successes);

    // Streams count against the same allowance.
    let sse = gw
        .stream(
            "/v1/chat/completions",
            &member.key,
            &stream_body(OPENAI_MODEL, false),
        )
        .await;
    assert_eq!(sse.status, 429, "{}", sse.raw);

    // Other organisations are not affected, and see the default limit.
    let reply = gw.chat(&chat_body(OPENAI_MODEL)).await;
    reply.expect_status(200);
    assert_eq!(header_u64(&reply, "x-ratelimit-limit-tokens"), 1_000_000);
}

async fn model_calls_are_audited_with_model_and_tokens(gw: Gw) {
    let member = gw.server.user("member", None).await;
    let rid = |what: &str| format!("{what}-{}", uuid_like());
    let (plain, streamed, legacy, unknown, failed) = (
        rid("plain"),
        rid("streamed"),
        rid("legacy"),
        rid("unknown"),
        rid("failed"),
    );
    gw.openai.enqueue(FakeReply::text("a").usage(17, 9));
    send_as(
        &gw,
        &member.key,
        "/v1/chat/completions",
        &chat_body(OPENAI_ALIAS),
        &plain,
    )
    .await
    .expect_status(200);
    gw.anthropic.enqueue(FakeReply::text("b c").usage(8, 6));
    let resp = gw
        .server
        .request(Method::POST, "/v1/chat/completions", &member.key)
        .header("x-request-id", &streamed)
        .json(&stream_body(ANTHROPIC_MODEL, false))
        .send()
        .await
        .unwrap();
    super::Sse::read(resp)
        .await
        .expect_chunks("chat.completion.chunk");
    gw.openai.enqueue(FakeReply::text("d").usage(4, 3));
    send_as(
        &gw,
        &member.key,
        "/v1/completions",
        &json!({"model": OPENAI_MODEL, "prompt": "hi"}),
        &legacy,
    )
    .await
    .expect_status(200);
    send_as(
        &gw,
        &member.key,
        "/v1/chat/completions",
        &chat_body("no-such-model"),
        &unknown,
    )
    .await
    .expect_status(404);
    gw.anthropic.enqueue(FakeReply::error(500, "boom"));
    send_as(
        &gw,
        &member.key,
        "/v1/chat/completions",
        &chat_body(ANTHROPIC_MODEL),
        &failed,
    )
    .await
    .expect_status(502);

    let records = audit_records(&gw.server, &format!("user_id={}", member.id)).await;
    let find = |rid: &str| {
        records
            .iter()
            .find(|r| r["request_id"] == rid)
            .unwrap_or_else(|| panic!("{rid} not audited: {records:?}"))
            .clone()
    };
    for (rid, path, model, input, output) in [
        (&plain, "/v1/chat/completions", OPENAI_MODEL, 17, 9),
        (&streamed, "/v1/chat/completions", ANTHROPIC_MODEL, 8, 6),
        (&legacy, "/v1/completions", OPENAI_MODEL, 4, 3),
    ] {
        let r = find(rid);
        assert_eq!(r["status"], 200, "{r}");
        assert_eq!(r["method"], "POST");
        assert_eq!(r["path"], path);
        assert_eq!(r["model"], model, "{r}");
        assert_eq!(r["input_tokens"], input, "{r}");
        assert_eq!(r["output_tokens"], output, "{r}");
        assert_eq!(r["user_id"], member.id.as_str());
        assert!(member.key.starts_with(r["key_prefix"].as_str().unwrap()));
    }
    // Calls that reached no model are audited without token counts, and
    // are not usage.
    for (rid, status) in [(&unknown, 404), (&failed, 502)] {
        let r = find(rid);
        assert_eq!(r["status"], status, "{r}");
        assert!(r["input_tokens"].is_null() || r["input_tokens"] == 0, "{r}");
        assert!(
            r["output_tokens"].is_null() || r["output_tokens"] == 0,
            "{r}"
        );
    }
    let usage = gw
        .usage(&format!("group_by=user&user_id={}", member.id))
        .await;
    assert_eq!(totals(&usage), expect([(member.id.as_str(), (3, 29, 18))]));
}

async fn members_call_models_and_viewers_only_list_them(gw: Gw) {
    let viewer = gw.server.user("viewer", None).await;
    let member = gw.server.user("member", None).await;

    let reply = gw.get("/v1/models", &viewer.key).await;
    assert_eq!(
        reply.expect_status(200)["data"].as_array().unwrap().len(),
        2
    );
    gw.get(&format!("/v1/models/{OPENAI_MODEL}"), &viewer.key)
        .await
        .expect_status(200);
    for (path, body) in [
        ("/v1/chat/completions", chat_body(OPENAI_MODEL)),
        ("/v1/chat/completions", stream_body(ANTHROPIC_MODEL, true)),
        (
            "/v1/completions",
            json!({"model": OPENAI_MODEL, "prompt": "hi"}),
        ),
    ] {
        let reply = gw.post(path, &viewer.key, &body).await;
        let error = reply.expect_error(403, "permission_error");
        assert_eq!(error["code"], "forbidden");
    }
    assert!(gw.openai.requests().is_empty());
    assert!(gw.anthropic.requests().is_empty());

    gw.post(
        "/v1/chat/completions",
        &member.key,
        &chat_body(OPENAI_MODEL),
    )
    .await
    .expect_status(200);
    gw.post(
        "/v1/chat/completions",
        &member.key,
        &chat_body(ANTHROPIC_MODEL),
    )
    .await
    .expect_status(200);
    // No key at all: 401 before anything else.
    let reply = gw
        .server
        .send(
            gw.server
                .client()
                .post(gw.server.url("/v1/chat/completions"))
                .json(&chat_body(OPENAI_MODEL)),
        )
        .await;
    reply.expect_unauthorized();
    assert_eq!(gw.openai.requests().len(), 1);
}
