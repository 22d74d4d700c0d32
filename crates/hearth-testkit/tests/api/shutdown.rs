//! Graceful shutdown drains the audit buffer: the records of the last
//! calls are in the database once the server has stopped, and a restarted
//! server carries on with the same keys and an intact chain.
//!
//! The writer here commits one record per transaction, so a burst of
//! calls leaves it well behind when the stop begins.

use crate::{audit_records, me};
use futures_util::future::join_all;
use hearth_server::Config;
use hearth_testkit::TestServer;
use reqwest::Method;
use sqlx::Row;
use std::collections::BTreeSet;

fn slow_audit_writer(config: &mut Config) {
    config.audit.max_batch = 1;
}

hearth_testkit::backend_tests! {
    config = slow_audit_writer;
    records_of_the_last_calls_survive_a_graceful_stop,
    a_restarted_server_keeps_keys_revocations_and_the_chain,
}

/// Request ids of every audit record, read from the database directly.
async fn stored_request_ids(url: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("database opens");
    let rows = sqlx::query("SELECT request_id FROM audit_log")
        .fetch_all(&pool)
        .await
        .expect("audit_log readable");
    pool.close().await;
    rows.iter()
        .map(|r| r.try_get::<String, _>("request_id").unwrap())
        .collect()
}

async fn records_of_the_last_calls_survive_a_graceful_stop(mut server: TestServer) {
    let member = server.user("member", None).await;
    let sent: BTreeSet<String> = (0..150).map(|i| format!("last-call-{i}")).collect();
    let calls = sent.iter().map(|rid| {
        server.send(
            server
                .request(Method::GET, "/v1/me", &member.key)
                .header("x-request-id", rid),
        )
    });
    for reply in join_all(calls).await {
        reply.expect_status(200);
    }
    server.shutdown().await;

    // The server is gone...
    assert!(
        server
            .client()
            .get(server.url("/healthz"))
            .send()
            .await
            .is_err()
    );
    // ...and every call it answered is on disk.
    let stored: BTreeSet<String> = stored_request_ids(server.database_url())
        .await
        .into_iter()
        .filter(|id| id.starts_with("last-call-"))
        .collect();
    assert_eq!(stored.len(), sent.len(), "records lost on shutdown");
    assert_eq!(stored, sent);
}

async fn a_restarted_server_keeps_keys_revocations_and_the_chain(mut server: TestServer) {
    let kept = server.user("member", None).await;
    let revoked = server.user("member", None).await;
    server
        .send(server.admin(
            Method::DELETE,
            &format!("/v1/admin/api-keys/{}", revoked.key_id),
        ))
        .await
        .expect_status(200);
    me(&server, &kept.key).await.expect_status(200);
    let before_stop = server
        .send(
            server
                .request(Method::GET, "/v1/me", &kept.key)
                .header("x-request-id", "just-before-stop"),
        )
        .await;
    before_stop.expect_status(200);

    server.restart().await;

    me(&server, &kept.key).await.expect_status(200);
    me(&server, &revoked.key).await.expect_unauthorized();
    me(&server, &server.admin_key).await.expect_status(200);
    let records = audit_records(&server, &format!("user_id={}", kept.id)).await;
    assert!(
        records
            .iter()
            .any(|r| r["request_id"] == "just-before-stop"),
        "{records:?}"
    );
    let report = server
        .send(server.admin(Method::GET, "/v1/admin/audit-logs/verify"))
        .await;
    assert_eq!(report.expect_status(200)["valid"], true, "{}", report.body);
}
