//! Fake upstream LLM servers: [`FakeOpenAi`] (an OpenAI-compatible server)
//! and [`FakeAnthropic`] (the Messages API), each on `127.0.0.1:0`.
//!
//! A test queues [`Reply`]s (text, tool calls, errors, broken transports),
//! points Hearth at the fake, and afterwards reads what the fake received
//! ([`Recorded`]) and which protocol rules those requests broke
//! (`violations()`, checked on every request, e.g. alternating roles for
//! Anthropic or `tool_call_id`s that answer a call for OpenAI). Answers
//! follow each provider's wire format, streamed ones included.
//!
//! Everything is bounded: a hang lasts at most [`MAX_HOLD`], request bodies
//! are capped, and no connection outlives ten minutes.
//!
//! ```no_run
//! # async fn demo() {
//! use hearth_testkit::fake::{FakeOpenAi, Reply};
//! use std::time::Duration;
//!
//! let upstream = FakeOpenAi::start().await;
//! upstream.enqueue(Reply::text("Hi there").chunk_delay(Duration::from_millis(5)));
//! // … drive Hearth with `upstream.base_url()` as the provider URL …
//! assert!(upstream.violations().is_empty(), "{:#?}", upstream.violations());
//! # }
//! ```

mod anthropic;
mod anthropic_checks;
mod anthropic_wire;
mod body;
mod openai;
mod openai_checks;
mod openai_wire;
mod script;
mod server;
mod wire;

#[cfg(test)]
mod tests;

pub use anthropic::FakeAnthropic;
pub use openai::FakeOpenAi;
pub use script::{DEFAULT_TEXT, Recorded, Reply, Script, ToolCall};

use std::time::Duration;

/// The longest a fake holds a request: [`Reply::Hang`], and the cap on
/// [`Script::first_byte_delay`].
pub const MAX_HOLD: Duration = Duration::from_secs(120);
