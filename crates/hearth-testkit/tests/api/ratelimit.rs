//! Rate limits per organisation and per key: 429 with `Retry-After` and
//! the `x-ratelimit-*` headers, audited, and contained to the organisation
//! or key that exceeded them.

use crate::{audit_records, me, new_key, org_with};
use futures_util::future::join_all;
use hearth_testkit::{Reply, TestServer};
use reqwest::Method;
use serde_json::json;

hearth_testkit::backend_tests! {
    org_limit_refuses_the_call_past_it,
    key_limit_applies_to_that_key_only,
    a_storm_in_one_org_does_not_reach_another,
}

fn header_u64(reply: &Reply, name: &str) -> u64 {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("no {name} on a {} response", reply.status))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not an integer: {:?}", reply.header(name)))
}

async fn set_org_limit(server: &TestServer, org: &str, rpm: u64) {
    let reply = server
        .send(
            server
                .admin(Method::PATCH, &format!("/v1/admin/orgs/{org}"))
                .json(&json!({"requests_per_minute": rpm})),
        )
        .await;
    assert_eq!(reply.expect_status(200)["requests_per_minute"], rpm);
}

async fn org_limit_refuses_the_call_past_it(server: TestServer) {
    let (org, member) = org_with(&server, "member").await;
    set_org_limit(&server, &org, 3).await;
    let (_, second_key) = new_key(&server, &member.id).await;
    for expected_remaining in [2, 1, 0] {
        let reply = me(&server, &member.key).await;
        reply.expect_status(200);
        assert_eq!(header_u64(&reply, "x-ratelimit-limit-requests"), 3);
        assert_eq!(
            header_u64(&reply, "x-ratelimit-remaining-requests"),
            expected_remaining
        );
        assert!(
            reply
                .header("x-ratelimit-reset-requests")
                .is_some_and(|v| !v.is_empty())
        );
    }

    let rid = "over-the-limit-1";
    let reply = server
        .send(
            server
                .request(Method::GET, "/v1/me", &member.key)
                .header("x-request-id", rid),
        )
        .await;
    let error = reply.expect_error(429, "rate_limit_error");
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert_eq!(reply.request_id(), rid);
    let retry_after = header_u64(&reply, "retry-after");
    // 3 per minute: one more is allowed every 20 s.
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(header_u64(&reply, "x-ratelimit-limit-requests"), 3);
    assert_eq!(header_u64(&reply, "x-ratelimit-remaining-requests"), 0);
    let reset = reply.header("x-ratelimit-reset-requests").unwrap();
    assert!(reset.ends_with('s'), "reset {reset:?}");

    // The limit is the organisation's: another key of it is refused too,
    // whatever header carries it; other organisations are untouched.
    me(&server, &second_key)
        .await
        .expect_error(429, "rate_limit_error");
    server
        .send(
            server
                .client()
                .get(server.url("/v1/me"))
                .header("api-key", &second_key),
        )
        .await
        .expect_error(429, "rate_limit_error");
    let reply = me(&server, &server.admin_key).await;
    reply.expect_status(200);
    assert_eq!(header_u64(&reply, "x-ratelimit-limit-requests"), 600);

    // The refusal is audited, with the caller known.
    let refused = audit_records(&server, &format!("org_id={org}&status=429")).await;
    assert_eq!(refused.len(), 3, "{refused:?}");
    let r = refused
        .iter()
        .find(|r| r["request_id"] == rid)
        .expect("the 429 is audited");
    assert_eq!(r["user_id"], member.id.as_str());
    assert_eq!(r["path"], "/v1/me");
    assert!(member.key.starts_with(r["key_prefix"].as_str().unwrap()));

    // A new limit applies to the next call. (The minute's use so far still
    // counts against it: raised to 1000, the next call is let through
    // within one 60 ms interval.)
    set_org_limit(&server, &org, 1000).await;
    let reply = me(&server, &member.key).await;
    assert_eq!(header_u64(&reply, "x-ratelimit-limit-requests"), 1000);
    if reply.status != 200 {
        reply.expect_error(429, "rate_limit_error");
        assert_eq!(header_u64(&reply, "retry-after"), 1);
    }
}

async fn key_limit_applies_to_that_key_only(server: TestServer) {
    let member = server.user("member", None).await;
    let (_, other_key) = new_key(&server, &member.id).await;
    let path = format!("/v1/admin/api-keys/{}", member.key_id);
    let reply = server
        .send(
            server
                .admin(Method::PATCH, &path)
                .json(&json!({"requests_per_minute": 2})),
        )
        .await;
    assert_eq!(reply.expect_status(200)["requests_per_minute"], 2);

    for expected_remaining in [1, 0] {
        let reply = me(&server, &member.key).await;
        reply.expect_status(200);
        assert_eq!(header_u64(&reply, "x-ratelimit-limit-requests"), 2);
        assert_eq!(
            header_u64(&reply, "x-ratelimit-remaining-requests"),
            expected_remaining
        );
    }
    let reply = me(&server, &member.key).await;
    reply.expect_error(429, "rate_limit_error");
    assert!(header_u64(&reply, "retry-after") >= 1);
    assert_eq!(header_u64(&reply, "x-ratelimit-limit-requests"), 2);

    // The same user's other key, and the organisation, carry on.
    for _ in 0..5 {
        me(&server, &other_key).await.expect_status(200);
    }
    me(&server, &server.admin_key).await.expect_status(200);

    // Removing the key's own limit lifts it at once.
    let reply = server
        .send(
            server
                .admin(Method::PATCH, &path)
                .json(&json!({"requests_per_minute": null})),
        )
        .await;
    assert!(reply.expect_status(200)["requests_per_minute"].is_null());
    me(&server, &member.key).await.expect_status(200);

    let refused = audit_records(&server, &format!("user_id={}&status=429", member.id)).await;
    assert_eq!(refused.len(), 1, "{refused:?}");
}

async fn a_storm_in_one_org_does_not_reach_another(server: TestServer) {
    let (org_a, storm) = org_with(&server, "member").await;
    let (_, calm) = org_with(&server, "member").await;
    set_org_limit(&server, &org_a, 5).await;

    let storm_calls = (0..50).map(|_| me(&server, &storm.key));
    let calm_calls = (0..20).map(|_| me(&server, &calm.key));
    let (storm_replies, calm_replies) = tokio::join!(join_all(storm_calls), join_all(calm_calls));

    let passed = storm_replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(passed, 5, "exactly the burst of 5 passes");
    for reply in &storm_replies {
        if reply.status != 200 {
            reply.expect_error(429, "rate_limit_error");
        }
    }
    for reply in &calm_replies {
        reply.expect_status(200);
    }
    me(&server, &calm.key).await.expect_status(200);
    let refused = audit_records(&server, &format!("org_id={org_a}&status=429&limit=100")).await;
    assert_eq!(refused.len(), 45);
}
