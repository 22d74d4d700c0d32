//! End-to-end tests of the LLM gateway: `/v1/chat/completions`,
//! `/v1/completions` and `/v1/models` served by a real Hearth in front of
//! the fake OpenAI-compatible and Anthropic upstreams of the test kit.
//!
//! Each test starts its own fakes and server ([`Gw`]). Most run on SQLite
//! only: the gateway path does not touch the database. The accounting
//! tests, which read back what was stored, run on both backends
//! ([`gateway_backend_tests!`]).

pub use hearth_testkit::eventually;
use hearth_testkit::gateway::{Routed, Upstreams};
use hearth_testkit::{Backend, FakeAnthropic, FakeOpenAi, Reply, TestServer};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// `sqlite::name` and `postgres::name` tests from `async fn name(gw: Gw)`
/// (see [`fixture_backend_tests!`] in `main.rs`).
macro_rules! gateway_backend_tests {
    ($($name:ident),* $(,)?) => {
        fixture_backend_tests!($crate::gateway::Gw; $($name),*);
    };
}

mod accounting;
mod chat;
mod completions;
mod errors;
mod models;
mod resilience;
mod streaming;

pub use hearth_testkit::gateway::{
    ANTHROPIC_MODEL, ANTHROPIC_UPSTREAM, OPENAI_ALIAS, OPENAI_MODEL, OPENAI_UPSTREAM,
};

/// A server routing [`OPENAI_MODEL`] to `openai` and [`ANTHROPIC_MODEL`]
/// to `anthropic`.
pub struct Gw {
    pub server: TestServer,
    pub openai: FakeOpenAi,
    pub anthropic: FakeAnthropic,
}

impl Gw {
    /// Starts both fakes and a server on `backend`, after `adjust` has set
    /// the gateway options (timeouts, retries, fallbacks…). `None` when
    /// the backend is PostgreSQL and it is not available.
    pub async fn start(backend: Backend, adjust: impl FnOnce(&mut Upstreams<'_>)) -> Option<Gw> {
        let Routed {
            server,
            openai,
            anthropic,
        } = Routed::start(backend, adjust, |_| {}).await?;
        Some(Gw {
            server,
            openai,
            anthropic,
        })
    }

    /// [`Self::start`] on SQLite with the default options.
    pub async fn sqlite() -> Gw {
        Self::sqlite_with(|_| {}).await
    }

    /// [`Self::start`] on SQLite.
    pub async fn sqlite_with(adjust: impl FnOnce(&mut Upstreams<'_>)) -> Gw {
        Self::start(Backend::Sqlite, adjust)
            .await
            .expect("SQLite test server")
    }

    /// The instance owner's key.
    pub fn admin_key(&self) -> &str {
        &self.server.admin_key
    }

    /// `POST path` with `body` as JSON and `key`, read whole.
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.server
            .send(self.server.request(Method::POST, path, key).json(body))
            .await
    }

    /// `POST /v1/chat/completions` as the instance owner.
    pub async fn chat(&self, body: &Value) -> Reply {
        self.post("/v1/chat/completions", self.admin_key(), body)
            .await
    }

    /// `GET path` with `key`, read whole.
    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.server
            .send(self.server.request(Method::GET, path, key))
            .await
    }

    /// `POST path` with `body` and `key`, read as a whole event stream.
    pub async fn stream(&self, path: &str, key: &str, body: &Value) -> Sse {
        let resp = self
            .server
            .request(Method::POST, path, key)
            .json(body)
            .send()
            .await
            .expect("request sent");
        Sse::read(resp).await
    }

    /// Streams a chat completion as the instance owner.
    pub async fn chat_stream(&self, body: &Value) -> Sse {
        self.stream("/v1/chat/completions", self.admin_key(), body)
            .await
    }

    /// `GET /v1/admin/usage?{query}` as the instance owner: the groups.
    pub async fn usage(&self, query: &str) -> Vec<Value> {
        let reply = self
            .get(&format!("/v1/admin/usage?{query}"), self.admin_key())
            .await;
        let body = reply.expect_status(200);
        assert_eq!(body["object"], "usage", "{body}");
        body["data"].as_array().expect("usage data").clone()
    }

    /// Sets organisation fields (`PATCH /v1/admin/orgs/{id}`) as the
    /// instance owner.
    pub async fn patch_org(&self, org_id: &str, fields: Value) -> Value {
        let reply = self
            .server
            .send(
                self.server
                    .admin(Method::PATCH, &format!("/v1/admin/orgs/{org_id}"))
                    .json(&fields),
            )
            .await;
        reply.expect_status(200).clone()
    }
}

/// A minimal chat body for `model`.
pub fn chat_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hello."}]})
}

/// A streamed chat body for `model`, asking for the usage chunk when
/// `include_usage`.
pub fn stream_body(model: &str, include_usage: bool) -> Value {
    let mut body = chat_body(model);
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// One server-sent event as the client received it.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// A streamed response, read to the end.
#[derive(Debug)]
pub struct Sse {
    pub status: u16,
    pub headers: HeaderMap,
    /// The raw body, for messages.
    pub raw: String,
    pub frames: Vec<Frame>,
}

impl Sse {
    pub async fn read(resp: reqwest::Response) -> Sse {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let raw = resp.text().await.expect("stream read");
        let is_stream = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        let frames = if is_stream {
            parse_frames(&raw)
        } else {
            Vec::new()
        };
        Sse {
            status,
            headers,
            raw,
            frames,
        }
    }

    /// Asserts a 200 event stream that ends with exactly one
    /// `data: [DONE]`, every frame before it a `data:` JSON object with
    /// this `object`, and returns those objects.
    pub fn expect_chunks(&self, object: &str) -> Vec<Value> {
        assert_eq!(self.status, 200, "stream status; body: {}", self.raw);
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(ct.starts_with("text/event-stream"), "content-type {ct:?}");
        assert!(self.headers.contains_key("x-request-id"));
        assert!(self.raw.ends_with("data: [DONE]\n\n"), "{}", self.raw);
        let (last, chunks) = self.frames.split_last().expect("at least one frame");
        assert_eq!(last.data, "[DONE]");
        assert_eq!(last.event, None);
        chunks
            .iter()
            .map(|f| {
                assert_eq!(f.event, None, "unexpected named event in {}", self.raw);
                let chunk: Value = serde_json::from_str(&f.data)
                    .unwrap_or_else(|e| panic!("frame is not JSON ({e}): {:?}", f.data));
                assert_eq!(chunk["object"], object, "{chunk}");
                chunk
            })
            .collect()
    }
}

/// Splits an event stream into its events (blank-line separated).
pub fn parse_frames(raw: &str) -> Vec<Frame> {
    raw.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = Some(name.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d));
                } else {
                    panic!("unexpected SSE line {line:?} in {raw:?}");
                }
            }
            Frame {
                event,
                data: data.join("\n"),
            }
        })
        .collect()
}

/// The text of chat chunks: every `choices[0].delta.content`, joined.
pub fn chat_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .collect()
}

/// The chunks that carry a `usage` object.
pub fn usage_chunks(chunks: &[Value]) -> Vec<&Value> {
    chunks.iter().filter(|c| c["usage"].is_object()).collect()
}

/// Asserts the `usage` object of a chat or text completion.
pub fn assert_usage(usage: &Value, prompt: u64, completion: u64) {
    assert_eq!(usage["prompt_tokens"], prompt, "{usage}");
    assert_eq!(usage["completion_tokens"], completion, "{usage}");
    assert_eq!(usage["total_tokens"], prompt + completion, "{usage}");
}
