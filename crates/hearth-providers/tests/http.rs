//! The providers against tiny real HTTP servers on `127.0.0.1:0`: what goes
//! over the wire, streaming timing, timeouts, broken upstreams, and that
//! dropping a stream closes the upstream connection.
//!
//! These servers are deliberately minimal; the project's full fake
//! upstreams live in `hearth-testkit`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use futures_util::stream;
use hearth_providers::{
    ChatRequest, EventStream, LlmProvider, Provider, ProviderError, ProviderKind, ProviderSettings,
    Secret, StreamEvent, Usage, http_client,
};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

const KEY: &str = "sk-test-upstream-key-0123456789";

/// Requests a fake upstream received: headers and JSON body.
type Seen = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// Serves `path`, recording each request's headers and JSON body in the
/// returned [`Seen`] before answering it with `answer()`.
async fn recording<R: IntoResponse>(
    path: &str,
    answer: impl Fn() -> R + Clone + Send + Sync + 'static,
) -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let router = Router::new()
        .route(
            path,
            post(
                |State(seen): State<Seen>,
                 headers: HeaderMap,
                 axum::Json(body): axum::Json<Value>| async move {
                    seen.lock().unwrap().push((headers, body));
                    answer()
                },
            ),
        )
        .with_state(Arc::clone(&seen));
    (serve(router).await, seen)
}

fn provider(kind: ProviderKind, addr: SocketAddr, timeout: Duration) -> Provider {
    let mut settings = ProviderSettings::new("test-upstream", kind);
    settings.base_url = match kind {
        ProviderKind::OpenAi => format!("http://{addr}/v1"),
        ProviderKind::Anthropic => format!("http://{addr}"),
    };
    settings.api_key = Some(Secret::new(KEY.to_owned()));
    settings.timeout = timeout;
    Provider::new(settings, http_client(Duration::from_secs(2)).unwrap())
}

/// The error of a chat that must fail, through a `kind` provider at `addr`
/// (5 s timeout).
async fn chat_error(kind: ProviderKind, addr: SocketAddr) -> ProviderError {
    provider(kind, addr, Duration::from_secs(5))
        .chat(hello())
        .await
        .unwrap_err()
}

fn request(body: Value, include_usage: bool) -> ChatRequest {
    let Value::Object(body) = body else {
        unreachable!()
    };
    ChatRequest {
        body: body.into(),
        upstream_model: "upstream-model".into(),
        client_model: "client-model".into(),
        default_max_tokens: 256,
        include_usage,
    }
}

fn hello() -> ChatRequest {
    request(
        json!({"model": "client-model", "messages": [{"role": "user", "content": "Hi"}], "stream": true}),
        false,
    )
}

/// An event-stream response whose body is `parts`, each sent after its delay.
fn sse(parts: Vec<(Duration, &'static str)>) -> Response {
    let body = stream::unfold(parts.into_iter(), |mut parts| async move {
        let (delay, text) = parts.next()?;
        tokio::time::sleep(delay).await;
        Some((
            Ok::<_, Infallible>(Bytes::from_static(text.as_bytes())),
            parts,
        ))
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}

fn data_of(event: &StreamEvent) -> Value {
    match event {
        StreamEvent::Data(bytes) => serde_json::from_slice(bytes).unwrap(),
        StreamEvent::Usage(_) => panic!("expected data, got {event:?}"),
    }
}

/// The error of a stream that should not have opened.
fn stream_err(result: Result<EventStream, ProviderError>) -> ProviderError {
    match result {
        Ok(_) => panic!("the stream opened"),
        Err(e) => e,
    }
}

/// The events of collected items, each of which must be `Ok`.
fn unwrap_events(items: Vec<(Duration, Result<StreamEvent, ProviderError>)>) -> Vec<StreamEvent> {
    items.into_iter().map(|(_, item)| item.unwrap()).collect()
}

/// The JSON of the data events, usage events left out.
fn data_chunks(events: &[StreamEvent]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Data(_)))
        .map(data_of)
        .collect()
}

/// Collects a stream, noting when each item arrived.
async fn collect(
    mut events: EventStream,
    start: Instant,
) -> Vec<(Duration, Result<StreamEvent, ProviderError>)> {
    let mut items = Vec::new();
    while let Some(item) = events.next().await {
        items.push((start.elapsed(), item));
    }
    items
}

const OPENAI_FIRST: &str = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"upstream-model\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\r\n\r\n: keep-alive\n\ndata: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"upstream-model\",\"choi";
const OPENAI_REST: &str = "ces\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\ndata: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"upstream-model\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"upstream-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\ndata: [DONE]\n\n";

/// The OpenAI stream above: [`OPENAI_FIRST`] at once, [`OPENAI_REST`]
/// after `rest_after`.
fn openai_sse(rest_after: Duration) -> Response {
    sse(vec![
        (Duration::ZERO, OPENAI_FIRST),
        (rest_after, OPENAI_REST),
    ])
}

#[tokio::test]
async fn openai_stream_relays_the_first_chunk_before_upstream_finishes() {
    let (addr, seen) = recording("/v1/chat/completions", || {
        openai_sse(Duration::from_millis(500))
    })
    .await;
    let provider = provider(ProviderKind::OpenAi, addr, Duration::from_secs(10));

    let start = Instant::now();
    let events = provider.chat_stream(hello()).await.unwrap();
    let items = collect(events, start).await;

    let (first_at, first) = &items[0];
    assert!(
        *first_at < Duration::from_millis(300),
        "first event after {first_at:?}"
    );
    assert_eq!(
        data_of(first.as_ref().unwrap())["choices"][0]["delta"]["role"],
        "assistant"
    );
    let (last_at, _) = items.last().unwrap();
    assert!(
        *last_at >= Duration::from_millis(500),
        "stream ended after {last_at:?}"
    );

    // The content chunk that was split across network writes arrives whole;
    // the usage chunk the client did not ask for is withheld but reported.
    let events = unwrap_events(items);
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(
        data_of(&events[1])["choices"][0]["delta"]["content"],
        "Hello"
    );
    assert_eq!(data_of(&events[2])["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        events[3],
        StreamEvent::Usage(Usage {
            prompt_tokens: 5,
            completion_tokens: 1
        })
    );

    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(
        headers[header::AUTHORIZATION],
        format!("Bearer {KEY}").as_str()
    );
    assert_eq!(body["model"], "upstream-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn openai_passes_unknown_fields_through_and_reads_usage() {
    let (addr, seen) = recording("/v1/chat/completions", || {
        axum::Json(json!({
            "id": "chatcmpl-7", "object": "chat.completion", "created": 1, "model": "upstream-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
        }))
    })
    .await;
    let provider = provider(ProviderKind::OpenAi, addr, Duration::from_secs(10));
    let body = json!({
        "model": "client-model", "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "auto",
        "parallel_tool_calls": false, "response_format": {"type": "json_object"}, "n": 2,
        "seed": 1, "user": "u", "metadata": {"k": "v"}, "logprobs": true, "brand_new_field": [1, 2]
    });
    let completion = provider.chat(request(body.clone(), false)).await.unwrap();
    assert_eq!(
        completion.json().unwrap()["choices"][0]["message"]["content"],
        "Hi"
    );
    assert_eq!(
        completion.usage,
        Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 1
        })
    );
    let mut expected = body;
    expected["model"] = json!("upstream-model");
    assert_eq!(seen.lock().unwrap()[0].1, expected);
}

const ANTHROPIC_FIRST: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"upstream-model\",\"stop_reason\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n";
const ANTHROPIC_REST: &str = "event: ping\ndata: {\"type\":\"ping\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

#[tokio::test]
async fn anthropic_stream_is_translated_and_relayed_as_it_arrives() {
    let (addr, seen) = recording("/v1/messages", || {
        sse(vec![
            (Duration::ZERO, ANTHROPIC_FIRST),
            (Duration::from_millis(500), ANTHROPIC_REST),
        ])
    })
    .await;
    let provider = provider(ProviderKind::Anthropic, addr, Duration::from_secs(10));

    let start = Instant::now();
    let mut req = hello();
    req.include_usage = true;
    let events = provider.chat_stream(req).await.unwrap();
    let items = collect(events, start).await;
    assert!(
        items[0].0 < Duration::from_millis(300),
        "first event after {:?}",
        items[0].0
    );
    assert!(items.last().unwrap().0 >= Duration::from_millis(500));

    let events = unwrap_events(items);
    let chunks = data_chunks(&events);
    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| &c["delta"])
        .collect();
    assert_eq!(
        deltas,
        [
            &json!({"role": "assistant", "content": ""}),
            &json!({"content": "Hel"}),
            &json!({"content": "lo"}),
            &json!({}),
        ]
    );
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[4]["usage"]["total_tokens"], 14);
    assert!(
        chunks
            .iter()
            .all(|c| c["model"] == "client-model" && c["id"] == "chatcmpl-msg_1")
    );
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Usage(Usage {
            prompt_tokens: 12,
            completion_tokens: 2
        }))
    );

    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(headers["x-api-key"], KEY);
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert!(headers.get(header::AUTHORIZATION).is_none());
    assert_eq!(
        body,
        &json!({"model": "upstream-model", "max_tokens": 256, "stream": true,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]})
    );
}

#[tokio::test]
async fn timeout_fires_on_a_hanging_upstream() {
    let router = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "never"
        }),
    );
    let addr = serve(router).await;
    let provider = provider(ProviderKind::OpenAi, addr, Duration::from_millis(300));
    let start = Instant::now();
    let err = provider.chat(hello()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(err.is_retryable());
    let view = err.client_view();
    assert_eq!((view.status, view.code), (504, "upstream_timeout"));

    let start = Instant::now();
    let err = stream_err(provider.chat_stream(hello()).await);
    assert!(matches!(err, ProviderError::Timeout), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn timeout_bounds_a_stream_that_stalls() {
    let router = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            sse(vec![
                (
                    Duration::ZERO,
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
                ),
                (Duration::from_secs(60), "data: [DONE]\n\n"),
            ])
        }),
    );
    let addr = serve(router).await;
    let provider = provider(ProviderKind::OpenAi, addr, Duration::from_millis(400));
    let start = Instant::now();
    let events = provider.chat_stream(hello()).await.unwrap();
    let items = collect(events, start).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items[0].1.is_ok());
    assert!(
        matches!(items[1].1, Err(ProviderError::Timeout)),
        "{items:?}"
    );
    assert!(items[1].0 < Duration::from_secs(3));
}

#[tokio::test]
async fn html_and_empty_answers_are_clean_errors() {
    let page = "<!DOCTYPE html><html><body><h1>Welcome to nginx</h1></body></html>";
    let router = Router::new()
        .route(
            "/html/v1/chat/completions",
            post(move || async move { ([(header::CONTENT_TYPE, "text/html")], page) }),
        )
        .route(
            "/down/v1/chat/completions",
            post(move || async move {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "text/html")],
                    page,
                )
            }),
        )
        .route(
            "/empty/v1/chat/completions",
            post(|| async { (StatusCode::OK, "") }),
        );
    let addr = serve(router).await;
    let at = |prefix: &str| {
        let mut settings = ProviderSettings::new("test-upstream", ProviderKind::OpenAi);
        settings.base_url = format!("http://{addr}/{prefix}/v1");
        settings.timeout = Duration::from_secs(5);
        Provider::new(settings, http_client(Duration::from_secs(2)).unwrap())
    };

    let err = at("html").chat(hello()).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidResponse(_)), "{err:?}");
    let view = err.client_view();
    assert_eq!((view.status, view.code), (502, "upstream_invalid_response"));
    let err = stream_err(at("html").chat_stream(hello()).await);
    assert!(matches!(err, ProviderError::InvalidResponse(_)), "{err:?}");

    let err = at("down").chat(hello()).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Upstream { status: 503, message, .. } if message == "Service Unavailable"),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(err.client_view().status, 502);

    let err = at("empty").chat(hello()).await.unwrap_err();
    assert_eq!(err.client_view().code, "upstream_empty_body", "{err:?}");
    let err = stream_err(at("empty").chat_stream(hello()).await);
    assert_eq!(err.client_view().code, "upstream_empty_body", "{err:?}");
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    for kind in [ProviderKind::OpenAi, ProviderKind::Anthropic] {
        let err = chat_error(kind, addr).await;
        assert!(matches!(err, ProviderError::Connect(_)), "{err:?}");
        assert!(err.is_retryable());
        let view = err.client_view();
        assert_eq!((view.status, view.code), (502, "upstream_unreachable"));
        assert!(!view.message.contains(KEY));
    }
}

#[tokio::test]
async fn upstream_errors_keep_status_retry_after_and_hide_the_key() {
    let router = Router::new()
        .route(
            "/v1/chat/completions",
            post(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "7")],
                    axum::Json(json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})),
                )
            }),
        )
        .route(
            "/v1/messages",
            post(|headers: HeaderMap| async move {
                let key = headers["x-api-key"].to_str().unwrap().to_owned();
                (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"type": "error", "error": {"type": "authentication_error", "message": format!("invalid x-api-key {key}")}})),
                )
            }),
        );
    let addr = serve(router).await;

    let err = chat_error(ProviderKind::OpenAi, addr).await;
    match &err {
        ProviderError::Upstream {
            status,
            message,
            retry_after,
            ..
        } => {
            assert_eq!(*status, 429);
            assert_eq!(message, "Rate limit reached");
            assert_eq!(*retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
    let view = err.client_view();
    assert_eq!((view.status, view.kind), (429, "rate_limit_error"));
    assert_eq!(view.retry_after, Some(Duration::from_secs(7)));

    let err = chat_error(ProviderKind::Anthropic, addr).await;
    assert!(
        matches!(err, ProviderError::Upstream { status: 401, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let view = err.client_view();
    assert_eq!(view.status, 502);
    assert_eq!(
        view.message,
        "upstream provider rejected Hearth's credentials for provider test-upstream"
    );
    assert!(!format!("{err:?} {err}").contains(KEY));
}

#[tokio::test]
async fn anthropic_overload_is_retryable_and_server_errors_are_redacted() {
    let router = Router::new().route(
        "/v1/messages",
        post(|headers: HeaderMap| async move {
            let key = headers["x-api-key"].to_str().unwrap().to_owned();
            (
                StatusCode::from_u16(529).unwrap(),
                axum::Json(json!({"type": "error", "error": {"type": "overloaded_error", "message": format!("Overloaded (key {key})")}})),
            )
        }),
    );
    let addr = serve(router).await;
    let err = chat_error(ProviderKind::Anthropic, addr).await;
    match &err {
        ProviderError::Upstream {
            status,
            message,
            kind,
            ..
        } => {
            assert_eq!(*status, 529);
            assert_eq!(message, "Overloaded (key ***)");
            assert_eq!(kind.as_deref(), Some("overloaded_error"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
    assert!(!err.client_view().message.contains(KEY));
}

/// Sends on drop: tells the test that the server dropped the response body.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_connection() {
    let (tx, rx) = oneshot::channel();
    let signal = Arc::new(Mutex::new(Some(tx)));
    let router = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let signal = DropSignal(signal.lock().unwrap().take());
            async move {
                let chunk =
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tick\"}}]}\n\n";
                let body = stream::unfold(signal, move |signal| async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Some((
                        Ok::<_, Infallible>(Bytes::from_static(chunk.as_bytes())),
                        signal,
                    ))
                });
                (
                    [(header::CONTENT_TYPE, "text/event-stream")],
                    Body::from_stream(body),
                )
            }
        }),
    );
    let addr = serve(router).await;
    let provider = provider(ProviderKind::OpenAi, addr, Duration::from_secs(30));
    let mut events = provider.chat_stream(hello()).await.unwrap();
    assert!(events.next().await.unwrap().is_ok());
    assert!(events.next().await.unwrap().is_ok());
    drop(events);
    tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .expect("the upstream never saw the client go away")
        .unwrap();
}

#[tokio::test]
async fn anthropic_completion_and_legacy_completion_round_trip() {
    let (addr, seen) = recording("/v1/messages", || {
        axum::Json(json!({
            "id": "msg_5", "type": "message", "role": "assistant", "model": "upstream-model",
            "content": [{"type": "text", "text": "4"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 8, "output_tokens": 1}
        }))
    })
    .await;
    let provider = provider(ProviderKind::Anthropic, addr, Duration::from_secs(5));

    let chat = provider.chat(hello()).await.unwrap();
    assert_eq!(chat.json().unwrap()["object"], "chat.completion");
    assert_eq!(chat.json().unwrap()["model"], "client-model");
    assert_eq!(
        chat.json().unwrap()["choices"][0]["message"]["content"],
        "4"
    );
    assert_eq!(
        chat.usage,
        Some(Usage {
            prompt_tokens: 8,
            completion_tokens: 1
        })
    );

    let legacy = provider
        .completion(request(
            json!({"model": "client-model", "prompt": "2+2=", "max_tokens": 3}),
            false,
        ))
        .await
        .unwrap();
    assert_eq!(legacy.json().unwrap()["object"], "text_completion");
    assert_eq!(legacy.json().unwrap()["id"], "cmpl-msg_5");
    assert_eq!(legacy.json().unwrap()["choices"][0]["text"], "4");
    let sent = seen.lock().unwrap()[1].1.clone();
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "2+2="}]}])
    );
    assert_eq!(sent["max_tokens"], 3);

    let err = provider
        .chat(request(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 3}),
            false,
        ))
        .await
        .unwrap_err();
    let view = err.client_view();
    assert_eq!((view.status, view.param), (400, Some("n")));
}

#[tokio::test]
async fn openai_legacy_completions_translated_to_chat_when_the_server_has_none() {
    let (addr, seen) = recording("/v1/chat/completions", || openai_sse(Duration::ZERO)).await;
    let mut settings = ProviderSettings::new("local", ProviderKind::OpenAi);
    settings.base_url = format!("http://{addr}/v1/");
    settings.legacy_completions = false;
    settings.stream_usage = false;
    let provider = Provider::new(settings, http_client(Duration::from_secs(2)).unwrap());

    let events = provider
        .completion_stream(request(
            json!({"model": "client-model", "prompt": "Say hi", "stream": true}),
            true,
        ))
        .await
        .unwrap();
    let events = unwrap_events(collect(events, Instant::now()).await);
    let texts = data_chunks(&events);
    assert_eq!(texts[0]["object"], "text_completion");
    assert_eq!(texts[0]["choices"][0]["text"], "Hello");
    assert_eq!(texts[1]["choices"][0]["finish_reason"], "stop");
    assert_eq!(texts[2]["usage"]["total_tokens"], 6);
    let sent = &seen.lock().unwrap()[0].1;
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "Say hi"}])
    );
    // The client asked for usage, so it is requested even with stream_usage off.
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    assert!(sent.get("prompt").is_none());
    let _: &Map<String, Value> = sent.as_object().unwrap();
}

#[tokio::test]
async fn a_finished_stream_returns_its_connection_to_the_pool() {
    let peers: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
    let router = Router::new()
        .route(
            "/v1/chat/completions",
            post(
                |State(peers): State<Arc<Mutex<Vec<SocketAddr>>>>,
                 ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    peers.lock().unwrap().push(peer);
                    openai_sse(Duration::ZERO)
                },
            ),
        )
        .with_state(Arc::clone(&peers));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    let provider = provider(ProviderKind::OpenAi, addr, Duration::from_secs(5));
    for _ in 0..3 {
        let events = provider.chat_stream(hello()).await.unwrap();
        let items = collect(events, Instant::now()).await;
        assert!(items.iter().all(|(_, item)| item.is_ok()));
    }
    let peers = peers.lock().unwrap();
    assert_eq!(peers.len(), 3);
    assert!(
        peers.iter().all(|peer| *peer == peers[0]),
        "each stream used a new connection: {peers:?}"
    );
}
