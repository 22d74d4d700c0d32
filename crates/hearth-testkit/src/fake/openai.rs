//! [`FakeOpenAi`]: a scriptable OpenAI-compatible server serving
//! `POST /v1/chat/completions`, `POST /v1/completions` and
//! `GET /v1/models[/{id}]`.

use super::body::FakeBody;
use super::openai_wire::{self as ow, Turn};
use super::script::{Recorded, Reply, Script};
use super::server::{self, Answer, Core, Protocol, Running};
use super::{openai_checks, wire};
use hyper::Response;
use hyper::header::HeaderValue;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Models `GET /v1/models` lists until [`FakeOpenAi::set_models`] changes
/// them.
const DEFAULT_MODELS: [&str; 3] = ["gpt-4o-mini", "gpt-4o", "gpt-3.5-turbo-instruct"];

/// A fake OpenAI-compatible upstream on `127.0.0.1:0`. Clones share the
/// server; it stops when the last one is dropped.
#[derive(Clone)]
pub struct FakeOpenAi {
    running: Arc<Running>,
    protocol: Arc<OpenAi>,
}

impl FakeOpenAi {
    /// A server that takes any (or no) API key.
    pub async fn start() -> FakeOpenAi {
        Self::start_inner(None).await
    }

    /// A server that answers 401 unless `Authorization: Bearer {key}`.
    pub async fn start_with_key(key: &str) -> FakeOpenAi {
        Self::start_inner(Some(key.to_owned())).await
    }

    async fn start_inner(key: Option<String>) -> FakeOpenAi {
        let protocol = Arc::new(OpenAi {
            key,
            completions_disabled: AtomicBool::new(false),
            models: Mutex::new(DEFAULT_MODELS.iter().map(|m| (*m).to_owned()).collect()),
        });
        let running = Arc::new(server::start(protocol.clone()).await);
        FakeOpenAi { running, protocol }
    }

    /// `http://127.0.0.1:PORT/v1`, as the OpenAI SDKs take it.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.running.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// Queues the answer to a later model request (first in, first out).
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

    /// Makes `/v1/completions` answer 404, like a server without the legacy
    /// endpoint.
    pub fn disable_completions(&self) {
        self.protocol
            .completions_disabled
            .store(true, Ordering::SeqCst);
    }

    /// Replaces the model ids `GET /v1/models` lists.
    pub fn set_models(&self, ids: &[&str]) {
        *self.protocol.models.lock().unwrap() = ids.iter().map(|m| (*m).to_owned()).collect();
    }
}

/// Which model endpoint a request is for.
#[derive(Clone, Copy, PartialEq)]
enum Endpoint {
    Chat,
    Completions,
}

struct OpenAi {
    /// When set, requests must carry `Authorization: Bearer {key}`.
    key: Option<String>,
    completions_disabled: AtomicBool,
    models: Mutex<Vec<String>>,
}

impl Protocol for OpenAi {
    fn answer(&self, core: &Core, request: &Recorded) -> Answer {
        if let Some(key) = &self.key
            && request.header("authorization") != Some(format!("Bearer {key}").as_str())
        {
            let body = ow::error_body(
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                Some("invalid_api_key"),
            );
            return Answer::now(wire::json(401, &body));
        }
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/v1/chat/completions") => {
                report(core, request, openai_checks::chat(&request.body));
                model_answer(core, request, Endpoint::Chat)
            }
            ("POST", "/v1/completions") if !self.completions_disabled.load(Ordering::SeqCst) => {
                report(core, request, openai_checks::completion(&request.body));
                model_answer(core, request, Endpoint::Completions)
            }
            ("GET", "/v1/models") => Answer::now(wire::json(
                200,
                &ow::model_list(&self.models.lock().unwrap()),
            )),
            ("GET", path) if path.starts_with("/v1/models/") => {
                let id = &path["/v1/models/".len()..];
                if self.models.lock().unwrap().iter().any(|m| m == id) {
                    Answer::now(wire::json(200, &ow::model_object(id)))
                } else {
                    let message =
                        format!("The model `{id}` does not exist or you do not have access to it.");
                    let body =
                        ow::error_body(&message, "invalid_request_error", Some("model_not_found"));
                    Answer::now(wire::json(404, &body))
                }
            }
            (method, path) => {
                let message = format!("Invalid URL ({method} {path})");
                Answer::now(wire::json(
                    404,
                    &ow::error_body(&message, "invalid_request_error", None),
                ))
            }
        }
    }
}

fn report(core: &Core, request: &Recorded, breaches: Vec<String>) {
    for breach in breaches {
        core.violate(request, breach);
    }
}

/// Answers a chat or completion request with the next script.
fn model_answer(core: &Core, request: &Recorded, endpoint: Endpoint) -> Answer {
    let script = core.next_script();
    let stream = request.is_stream();
    let prefix = if endpoint == Endpoint::Chat {
        "chatcmpl-"
    } else {
        "cmpl-"
    };
    let turn = Turn {
        id: format!("{prefix}{}", core.next_id()),
        created: wire::unix_now(),
        model: request.model(),
        usage: script.usage,
        include_usage: request.body.pointer("/stream_options/include_usage")
            == Some(&Value::Bool(true)),
    };
    let response = match (&script.reply, endpoint) {
        (Reply::Hang, _) => return Answer::Hang,
        (Reply::Reset, _) => return Answer::Reset,
        (Reply::Html { status }, _) => wire::html(*status),
        (Reply::Garbage, _) => wire::garbage(stream),
        (Reply::Empty, _) => wire::empty(stream),
        (
            Reply::Error {
                status,
                message,
                retry_after,
            },
            _,
        ) => error(*status, message, *retry_after),
        (Reply::Text { text }, Endpoint::Chat) if stream => {
            wire::sse(ow::chat_text_events(&turn, text, None), &script)
        }
        (Reply::Text { text }, Endpoint::Chat) => wire::json(200, &ow::chat_text(&turn, text)),
        (Reply::Text { text }, Endpoint::Completions) if stream => {
            wire::sse(ow::completion_events(&turn, text, None), &script)
        }
        (Reply::Text { text }, Endpoint::Completions) => {
            wire::json(200, &ow::completion_text(&turn, text))
        }
        (Reply::ToolCalls(calls), Endpoint::Chat) if stream => {
            wire::sse(ow::chat_tool_events(&turn, calls), &script)
        }
        (Reply::ToolCalls(calls), Endpoint::Chat) => {
            wire::json(200, &ow::chat_tool_calls(&turn, calls))
        }
        (Reply::ToolCalls(_), Endpoint::Completions) => {
            // A mistake in the test, not in the client: say so loudly.
            core.violate(
                request,
                "test script: ToolCalls queued for a legacy completion",
            );
            error(
                500,
                "fake upstream: tool calls cannot answer /v1/completions",
                None,
            )
        }
        (Reply::StreamThenError { text, after_chunks }, _) if stream => {
            let events = match endpoint {
                Endpoint::Chat => ow::chat_text_events(&turn, text, Some(*after_chunks)),
                Endpoint::Completions => ow::completion_events(&turn, text, Some(*after_chunks)),
            };
            wire::sse(events, &script)
        }
        (Reply::StreamThenError { .. }, _) => error(500, ow::SERVER_ERROR_MESSAGE, None),
    };
    Answer::Respond {
        response,
        first_byte_delay: script.first_byte_delay,
    }
}

/// OpenAI's error envelope, with `retry-after` when given.
fn error(status: u16, message: &str, retry_after: Option<u64>) -> Response<FakeBody> {
    let (kind, code) = ow::error_kind(status);
    let mut response = wire::json(status, &ow::error_body(message, kind, code));
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
    }
    response
}
