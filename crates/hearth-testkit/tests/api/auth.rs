//! Authentication: the three key headers and their precedence, malformed
//! and unknown credentials, and changes (revocation, expiry, disabling,
//! demotion) that must apply to the very next call.

use crate::{me, new_key, now_secs};
use futures_util::future::join_all;
use hearth_testkit::TestServer;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

hearth_testkit::backend_tests! {
    each_key_header_is_accepted,
    bearer_wins_over_x_api_key_wins_over_api_key,
    malformed_authorization_is_refused_without_fallback,
    missing_and_unknown_keys_are_refused,
    revoked_key_fails_on_the_very_next_call,
    expired_keys_are_refused,
    disabling_a_user_locks_out_all_their_keys_at_once,
    demotion_applies_to_the_next_call,
    storm_of_garbage_keys_is_refused_and_harmless,
}

async fn each_key_header_is_accepted(server: TestServer) {
    let user = server.user("member", None).await;
    let get = || server.client().get(server.url("/v1/me"));
    for (name, req) in [
        ("bearer", get().bearer_auth(&user.key)),
        ("x-api-key", get().header("x-api-key", &user.key)),
        ("api-key", get().header("api-key", &user.key)),
    ] {
        let reply = server.send(req).await;
        let body = reply.expect_status(200);
        assert_eq!(body["user_id"], user.id.as_str(), "{name}");
        assert_eq!(body["role"], "member", "{name}");
        reply.request_id();
    }
}

async fn bearer_wins_over_x_api_key_wins_over_api_key(server: TestServer) {
    let user = server.user("member", None).await;
    let bogus = "hk-this-key-does-not-exist-0000000000000000000";
    let get = || server.client().get(server.url("/v1/me"));

    let reply = server
        .send(get().bearer_auth(&user.key).header("x-api-key", bogus))
        .await;
    assert_eq!(reply.expect_status(200)["user_id"], user.id.as_str());

    // The bogus Bearer is the credential; the valid x-api-key is ignored.
    server
        .send(get().bearer_auth(bogus).header("x-api-key", &user.key))
        .await
        .expect_unauthorized();

    let reply = server
        .send(
            get()
                .header("x-api-key", &user.key)
                .header("api-key", bogus),
        )
        .await;
    reply.expect_status(200);
    server
        .send(
            get()
                .header("x-api-key", bogus)
                .header("api-key", &user.key),
        )
        .await
        .expect_unauthorized();
}

async fn malformed_authorization_is_refused_without_fallback(server: TestServer) {
    let user = server.user("member", None).await;
    let basic = format!("Basic {}", user.key);
    let two_tokens = format!("Bearer {} extra", user.key);
    for bad in [
        basic.as_str(),
        "Bearer",
        "Bearer   ",
        two_tokens.as_str(),
        user.key.as_str(),
    ] {
        let reply = server
            .send(
                server
                    .client()
                    .get(server.url("/v1/me"))
                    .header("authorization", bad)
                    .header("x-api-key", &user.key)
                    .header("api-key", &user.key),
            )
            .await;
        let error = reply.expect_unauthorized();
        assert!(
            error["message"].as_str().unwrap().contains("Authorization"),
            "{bad:?}: {error}"
        );
    }
}

async fn missing_and_unknown_keys_are_refused(server: TestServer) {
    let reply = server.send(server.client().get(server.url("/v1/me"))).await;
    assert_eq!(reply.expect_unauthorized()["code"], "missing_api_key");

    let reply = server
        .send(server.request(
            Method::GET,
            "/v1/me",
            "hk-unknownunknownunknownunknownunknown0000000",
        ))
        .await;
    assert_eq!(reply.expect_unauthorized()["code"], "invalid_api_key");

    // An unknown key on an admin route and on an unknown route: 401, not
    // 403 or 404, so nothing is revealed to an unauthenticated caller.
    server
        .send(server.request(Method::GET, "/v1/admin/users", "hk-nope-nope-nope-nope"))
        .await
        .expect_unauthorized();
    server
        .send(server.client().get(server.url("/v1/no-such-route")))
        .await
        .expect_unauthorized();

    let reply = server
        .send(
            server
                .client()
                .get(server.url("/v1/me"))
                .header("x-api-key", ""),
        )
        .await;
    reply.expect_unauthorized();
}

async fn revoked_key_fails_on_the_very_next_call(server: TestServer) {
    let user = server.user("member", None).await;
    let (_, other_key) = new_key(&server, &user.id).await;
    // Warm the authenticator's cache with the key about to be revoked.
    me(&server, &user.key).await.expect_status(200);
    me(&server, &user.key).await.expect_status(200);

    let reply = server
        .send(server.admin(
            Method::DELETE,
            &format!("/v1/admin/api-keys/{}", user.key_id),
        ))
        .await;
    let body = reply.expect_status(200);
    assert!(
        body["revoked_at"].as_i64().is_some(),
        "revoked_at set: {body}"
    );
    assert!(body.get("key").is_none(), "the secret is never shown again");

    let error = me(&server, &user.key).await.expect_unauthorized().clone();
    assert_eq!(error["code"], "invalid_api_key");
    // Through the other headers too.
    server
        .send(
            server
                .client()
                .get(server.url("/v1/me"))
                .header("x-api-key", &user.key),
        )
        .await
        .expect_unauthorized();
    // The user's other key is untouched.
    me(&server, &other_key).await.expect_status(200);
    // Revoking again is harmless and keeps the key revoked.
    let reply = server
        .send(server.admin(
            Method::DELETE,
            &format!("/v1/admin/api-keys/{}", user.key_id),
        ))
        .await;
    assert_eq!(reply.expect_status(200)["revoked_at"], body["revoked_at"]);
    me(&server, &user.key).await.expect_unauthorized();
}

async fn expired_keys_are_refused(server: TestServer) {
    let user = server.user("member", None).await;
    let create = |expires_at: i64| {
        server
            .admin(Method::POST, "/v1/admin/api-keys")
            .json(&json!({"user_id": user.id, "expires_at": expires_at}))
    };

    let reply = server.send(create(now_secs() - 60)).await;
    assert_eq!(
        reply.expect_error(400, "invalid_request_error")["param"],
        "expires_at"
    );

    let expires_at = now_secs() + 2;
    let reply = server.send(create(expires_at)).await;
    let body = reply.expect_status(201).clone();
    assert_eq!(body["expires_at"], expires_at);
    let key = body["key"].as_str().unwrap();
    me(&server, key).await.expect_status(200);

    // The one wait of the suite: until the wall clock passes the expiry.
    let expiry = UNIX_EPOCH + Duration::from_secs(u64::try_from(expires_at).unwrap());
    let wait =
        expiry.duration_since(SystemTime::now()).unwrap_or_default() + Duration::from_millis(150);
    tokio::time::sleep(wait).await;

    me(&server, key).await.expect_unauthorized();
    me(&server, &user.key).await.expect_status(200);
}

async fn disabling_a_user_locks_out_all_their_keys_at_once(server: TestServer) {
    let user = server.user("admin", None).await;
    let (_, second) = new_key(&server, &user.id).await;
    for key in [&user.key, &second] {
        me(&server, key).await.expect_status(200);
    }
    let patch = |disabled: bool| {
        server
            .admin(Method::PATCH, &format!("/v1/admin/users/{}", user.id))
            .json(&json!({"disabled": disabled}))
    };

    let reply = server.send(patch(true)).await;
    assert_eq!(reply.expect_status(200)["disabled"], true);
    for key in [&user.key, &second] {
        let error = me(&server, key).await.expect_unauthorized().clone();
        assert_eq!(error["code"], "user_disabled");
        server
            .send(server.request(Method::GET, "/v1/admin/users", key))
            .await
            .expect_unauthorized();
    }

    let reply = server.send(patch(false)).await;
    assert_eq!(reply.expect_status(200)["disabled"], false);
    for key in [&user.key, &second] {
        me(&server, key).await.expect_status(200);
        server
            .send(server.request(Method::GET, "/v1/admin/users", key))
            .await
            .expect_status(200);
    }
}

async fn demotion_applies_to_the_next_call(server: TestServer) {
    let user = server.user("admin", None).await;
    let list = || server.request(Method::GET, "/v1/admin/users", &user.key);
    server.send(list()).await.expect_status(200);

    let role = |role: &str| {
        server
            .admin(Method::PATCH, &format!("/v1/admin/users/{}", user.id))
            .json(&json!({"role": role}))
    };
    server.send(role("member")).await.expect_status(200);
    server
        .send(list())
        .await
        .expect_error(403, "permission_error");
    assert_eq!(
        me(&server, &user.key).await.expect_status(200)["role"],
        "member"
    );

    server.send(role("admin")).await.expect_status(200);
    server.send(list()).await.expect_status(200);
}

async fn storm_of_garbage_keys_is_refused_and_harmless(server: TestServer) {
    let requests = (0..200).map(|i| {
        let req = server.request(
            Method::GET,
            "/v1/admin/users",
            &format!("hk-garbage-{i:04}-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        );
        server.send(req)
    });
    let replies = join_all(requests).await;
    for reply in &replies {
        reply.expect_unauthorized();
    }

    let started = std::time::Instant::now();
    let reply = server
        .send(server.admin(Method::GET, "/v1/admin/users"))
        .await;
    reply.expect_status(200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a valid call after the storm took {:?}",
        started.elapsed()
    );
}
