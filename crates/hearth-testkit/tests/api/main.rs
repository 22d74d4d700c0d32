//! End-to-end tests of the HTTP surface of the platform foundation: a real
//! server on `127.0.0.1:0`, driven over HTTP, on SQLite and PostgreSQL.
//!
//! One module per concern; each lists its tests in `backend_tests!` so
//! every test runs once per backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Generates `sqlite::name` and `postgres::name` tests from
/// `async fn name(fixture: F)`, where `F::start(backend, adjust)` starts a
/// server with its fakes. The PostgreSQL variant passes without running
/// when PostgreSQL is not reachable (see `hearth_testkit::backend_tests!`).
macro_rules! fixture_backend_tests {
    ($fixture:ty; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fixture = <$fixture>::start(hearth_testkit::Backend::Sqlite, |_| {})
                        .await
                        .expect("SQLite test server");
                    super::$name(fixture).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(fixture) =
                        <$fixture>::start(hearth_testkit::Backend::Postgres, |_| {}).await
                    {
                        super::$name(fixture).await;
                    }
                }
            )*
        }
    };
}

mod admin;
mod audit;
mod auth;
mod body_limit;
mod default_limits;
mod errors;
mod gateway;
mod ops;
mod ratelimit;
mod responses;
mod shutdown;

use hearth_testkit::{Reply, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds now.
pub fn now_secs() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// `GET /v1/me` with `key` as a Bearer token.
pub async fn me(server: &TestServer, key: &str) -> Reply {
    server
        .send(server.request(Method::GET, "/v1/me", key))
        .await
}

/// `GET /v1/admin/audit-logs?{query}` as the instance owner; the page's
/// records.
pub async fn audit_page(server: &TestServer, query: &str) -> Value {
    let reply = server
        .send(server.admin(Method::GET, &format!("/v1/admin/audit-logs?{query}")))
        .await;
    reply.expect_status(200).clone()
}

/// The records of `audit_page`.
pub async fn audit_records(server: &TestServer, query: &str) -> Vec<Value> {
    audit_page(server, query).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// A fresh organisation with a user of `role` in it.
pub async fn org_with(server: &TestServer, role: &str) -> (String, hearth_testkit::TestUser) {
    let name = format!("org-{}", uuid_like());
    let org = server.org(&name).await;
    let user = server.user(role, Some(&org)).await;
    (org, user)
}

/// A unique suffix for names and request ids.
pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{nanos:x}{:x}", N.fetch_add(1, Ordering::Relaxed))
}

/// Creates another key for `user_id` as the instance owner; returns
/// `(id, secret)`.
pub async fn new_key(server: &TestServer, user_id: &str) -> (String, String) {
    let reply = server
        .send(
            server
                .admin(Method::POST, "/v1/admin/api-keys")
                .json(&json!({"user_id": user_id})),
        )
        .await;
    let body = reply.expect_status(201);
    (
        body["id"].as_str().unwrap().to_owned(),
        body["key"].as_str().unwrap().to_owned(),
    )
}
