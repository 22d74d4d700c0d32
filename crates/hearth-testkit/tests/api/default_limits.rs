//! The configured default limit (`[limits] requests_per_minute`) applies
//! to every organisation without its own, and an organisation's own limit
//! replaces it.

use crate::me;
use hearth_server::Config;
use hearth_testkit::TestServer;
use reqwest::Method;
use serde_json::json;

fn three_per_minute(config: &mut Config) {
    config.limits.requests_per_minute = 3;
}

hearth_testkit::backend_tests! {
    config = three_per_minute;
    configured_default_applies_and_org_limits_override_it,
}

async fn configured_default_applies_and_org_limits_override_it(server: TestServer) {
    // Call 1 of the default organisation's 3: an organisation with room.
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/orgs")
                .json(&json!({"name": "roomy", "requests_per_minute": 100})),
        )
        .await;
    let org = reply.expect_status(201)["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.header("x-ratelimit-limit-requests"), Some("3"));
    assert_eq!(reply.header("x-ratelimit-remaining-requests"), Some("2"));
    // Calls 2 and 3: a user there, with a key.
    let user = server.user("member", Some(&org)).await;

    let reply = me(&server, &server.admin_key).await;
    reply.expect_error(429, "rate_limit_error");
    assert_eq!(reply.header("x-ratelimit-limit-requests"), Some("3"));

    for _ in 0..10 {
        let reply = me(&server, &user.key).await;
        reply.expect_status(200);
        assert_eq!(reply.header("x-ratelimit-limit-requests"), Some("100"));
    }
}
