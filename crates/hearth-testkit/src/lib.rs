//! Test kit: a real Hearth server on `127.0.0.1:0` with a fresh database
//! per test, on SQLite or PostgreSQL, and helpers to drive it over HTTP.
//!
//! Suites that must hold on both backends write each test once as
//! `async fn name(server: TestServer)` and list it in [`backend_tests!`].

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support code: a failed set-up should fail the test loudly"
)]

pub mod fake;
pub mod gateway;
mod reply;
mod server;
pub mod sse;

pub use hearth_store::Backend;
pub use reply::Reply;
pub use server::{TestServer, TestUser};
// `Reply` at the root is the response reader; the fakes' reply is
// `fake::Reply`, also exported as `FakeReply`.
pub use fake::{FakeAnthropic, FakeOpenAi, Recorded, Reply as FakeReply, Script, ToolCall};

use std::time::{Duration, Instant};

/// Polls `check` every 25 ms until it gives `Some`, failing after
/// `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Generates `sqlite::name` and `postgres::name` tests from
/// `async fn name(server: TestServer)`. The PostgreSQL variant passes
/// without running (and says so once on stderr) when PostgreSQL is not
/// reachable and `HEARTH_REQUIRE_POSTGRES` is not `1`.
///
/// `backend_tests!(config = adjust; a, b)` starts each server after
/// `fn adjust(&mut Config)` (a function of the calling module) has changed
/// its config. Since the generated modules are always named `sqlite` and
/// `postgres`, use one invocation per module.
#[macro_export]
macro_rules! backend_tests {
    (config = $adjust:ident; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = $crate::TestServer::start_with($crate::Backend::Sqlite, super::$adjust)
                        .await
                        .expect("SQLite test server");
                    super::$name(server).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(server) = $crate::TestServer::start_with($crate::Backend::Postgres, super::$adjust).await {
                        super::$name(server).await;
                    }
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = $crate::TestServer::start($crate::Backend::Sqlite)
                        .await
                        .expect("SQLite test server");
                    super::$name(server).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(server) = $crate::TestServer::start($crate::Backend::Postgres).await {
                        super::$name(server).await;
                    }
                }
            )*
        }
    };
}
