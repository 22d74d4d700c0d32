//! [`FakeAnthropic`]: a scriptable Anthropic Messages API serving
//! `POST /v1/messages`.

use super::anthropic_wire::{self as aw, Turn};
use super::body::FakeBody;
use super::script::{Recorded, Reply, Script};
use super::server::{self, Answer, Core, Protocol, Running};
use super::{anthropic_checks, wire};
use hyper::Response;
use hyper::header::HeaderValue;
use std::net::SocketAddr;
use std::sync::Arc;

/// A fake Anthropic upstream on `127.0.0.1:0`. Clones share the server; it
/// stops when the last one is dropped.
#[derive(Clone)]
pub struct FakeAnthropic {
    running: Arc<Running>,
}

impl FakeAnthropic {
    /// A server that takes any (or no) `x-api-key`.
    pub async fn start() -> FakeAnthropic {
        Self::start_inner(None).await
    }

    /// A server that answers 401 unless `x-api-key: {key}`.
    pub async fn start_with_key(key: &str) -> FakeAnthropic {
        Self::start_inner(Some(key.to_owned())).await
    }

    async fn start_inner(key: Option<String>) -> FakeAnthropic {
        let running = Arc::new(server::start(Arc::new(Anthropic { key })).await);
        FakeAnthropic { running }
    }

    /// `http://127.0.0.1:PORT` (no `/v1`), as the Anthropic SDKs take it.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// Queues the answer to a later message request (first in, first out).
    pub fn enqueue(&self, script: impl Into<Script>) {
        self.running.core.enqueue(script.into());
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.running.core.requests()
    }

    /// Protocol breaches seen in requests; empty when all were well-formed.
    pub fn violations(&self) -> Vec<String> {
        self.running.core.violations()
    }

    /// Client connections open right now.
    pub fn open_connections(&self) -> usize {
        self.running.core.open_connections()
    }

    /// Anthropic has no legacy completions endpoint; this does nothing and
    /// exists so both fakes can be driven by the same test code.
    pub fn disable_completions(&self) {}
}

struct Anthropic {
    /// When set, requests must carry `x-api-key: {key}`.
    key: Option<String>,
}

impl Protocol for Anthropic {
    fn answer(&self, core: &Core, request: &Recorded) -> Answer {
        let request_id = format!("req_{}", core.next_id());
        if let Some(key) = &self.key
            && request.header("x-api-key") != Some(key.as_str())
        {
            return Answer::now(error(401, "invalid x-api-key", None, &request_id));
        }
        if (request.method.as_str(), request.path.as_str()) != ("POST", "/v1/messages") {
            let message = format!("{} {} not found", request.method, request.path);
            return Answer::now(error(404, &message, None, &request_id));
        }
        let breaches = anthropic_checks::headers(request.header("anthropic-version"))
            .into_iter()
            .chain(anthropic_checks::messages(&request.body));
        for breach in breaches {
            core.violate(request, breach);
        }
        let script = core.next_script();
        let mut response = respond(core, request, &script, &request_id);
        match &mut response {
            Answer::Respond { response, .. } => {
                if let Ok(value) = HeaderValue::from_str(&request_id) {
                    response.headers_mut().insert("request-id", value);
                }
            }
            Answer::Hang | Answer::Reset => {}
        }
        response
    }
}

fn respond(core: &Core, request: &Recorded, script: &Script, request_id: &str) -> Answer {
    let stream = request.is_stream();
    let turn = Turn {
        id: format!("msg_{}", core.next_id()),
        model: request.model(),
        usage: script.usage,
    };
    let response = match &script.reply {
        Reply::Hang => return Answer::Hang,
        Reply::Reset => return Answer::Reset,
        Reply::Html { status } => wire::html(*status),
        Reply::Garbage => wire::garbage(stream),
        Reply::Empty => wire::empty(stream),
        Reply::Error {
            status,
            message,
            retry_after,
        } => error(*status, message, *retry_after, request_id),
        Reply::Text { text } if stream => wire::sse(aw::text_events(&turn, text, None), script),
        Reply::Text { text } => wire::json(200, &aw::text_message(&turn, text)),
        Reply::ToolCalls(calls) if stream => wire::sse(aw::tool_events(&turn, calls), script),
        Reply::ToolCalls(calls) => wire::json(200, &aw::tool_message(&turn, calls)),
        Reply::StreamThenError { text, after_chunks } if stream => {
            wire::sse(aw::text_events(&turn, text, Some(*after_chunks)), script)
        }
        Reply::StreamThenError { .. } => error(500, "Internal server error", None, request_id),
    };
    Answer::Respond {
        response,
        first_byte_delay: script.first_byte_delay,
    }
}

/// Anthropic's error body, with `retry-after` when given.
fn error(
    status: u16,
    message: &str,
    retry_after: Option<u64>,
    request_id: &str,
) -> Response<FakeBody> {
    let body = aw::error_body(aw::error_kind(status), message, Some(request_id));
    let mut response = wire::json(status, &body);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
    }
    response
}
