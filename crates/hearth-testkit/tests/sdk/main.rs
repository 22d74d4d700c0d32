//! OpenAI SDK compatibility suite: the official `openai` Python package and
//! npm package, used unchanged with `base_url` pointed at Hearth, against
//! the fake upstreams.
//!
//! Each test starts the fakes and a Hearth server (SQLite), scripts the
//! fakes, and runs ONE scenario of `sdk-tests/python/scenarios.py` or
//! `sdk-tests/node/scenarios.mjs` as a subprocess (bounded in time), which
//! must exit 0. What the fakes are scripted to answer is passed to the
//! scenario as `HEARTH_EXPECT`, so each scenario checks concrete values.
//!
//! The SDKs are installed by `scripts/sdk-setup` (Python venv in
//! `target/sdk-venv`, or `HEARTH_SDK_PYTHON`; npm modules in
//! `sdk-tests/node/node_modules`). Without them the tests pass without
//! running and say so once on stderr; with `HEARTH_REQUIRE_SDK=1` (CI)
//! their absence is an error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// `Sdk::Python`'s scenario `$name`, or return (SDK not installed).
macro_rules! python {
    ($name:expr) => {
        match $crate::harness::Sdk::Python.installed() {
            Some(sdk) => sdk.scenario($name),
            None => return,
        }
    };
}

/// `Sdk::Node`'s scenario `$name`, or return (SDK not installed).
macro_rules! node {
    ($name:expr) => {
        match $crate::harness::Sdk::Node.installed() {
            Some(sdk) => sdk.scenario($name),
            None => return,
        }
    };
}

mod harness;
mod node;
mod python;
mod responses;

/// Generates `mod name { openai, anthropic }` tests from
/// `async fn name(provider: Provider)` of the calling module.
macro_rules! per_provider {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn openai() {
                    super::$name($crate::harness::Provider::OpenAi).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn anthropic() {
                    super::$name($crate::harness::Provider::Anthropic).await;
                }
            }
        )*
    };
}
pub(crate) use per_provider;
