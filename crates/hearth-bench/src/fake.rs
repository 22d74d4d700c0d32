//! A minimal OpenAI-compatible upstream living in the bench process.
//!
//! It answers `POST /v1/chat/completions` with a fixed `chat.completion`
//! JSON, or, when the body asks for `"stream":true`, with a fixed sequence
//! of server-sent events written back to back. It records nothing and
//! checks nothing, so it adds no more than its own small cost to both the
//! direct and the proxied measurements.

use bytes::Bytes;
use http::{Method, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The canned answers, built once.
#[derive(Debug)]
struct Canned {
    json: Bytes,
    events: Vec<Bytes>,
}

impl Canned {
    fn new(content_chunks: usize) -> Canned {
        let created = 1_700_000_000_u64;
        let words: Vec<String> = (0..content_chunks.max(1))
            .map(|i| {
                if i == 0 {
                    "Hello".to_owned()
                } else {
                    format!(" word{i}")
                }
            })
            .collect();
        let text: String = words.concat();
        let json = serde_json::json!({
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": created,
            "model": "fake-model",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 12, "completion_tokens": words.len(), "total_tokens": 12 + words.len()},
            "system_fingerprint": "fp_bench"
        });
        let mut events = Vec::with_capacity(words.len() + 2);
        let last = words.len() - 1;
        for (i, word) in words.iter().enumerate() {
            let delta = if i == 0 {
                serde_json::json!({"role": "assistant", "content": word})
            } else {
                serde_json::json!({"content": word})
            };
            let finish = if i == last {
                serde_json::json!("stop")
            } else {
                serde_json::Value::Null
            };
            let chunk = serde_json::json!({
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": created,
                "model": "fake-model",
                "system_fingerprint": "fp_bench",
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
            });
            events.push(Bytes::from(format!("data: {chunk}\n\n")));
        }
        let usage = serde_json::json!({
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": created,
            "model": "fake-model",
            "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": words.len(), "total_tokens": 12 + words.len()}
        });
        events.push(Bytes::from(format!("data: {usage}\n\n")));
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        Canned {
            json: Bytes::from(json.to_string()),
            events,
        }
    }
}

/// A body made of ready frames. With `exact` it announces its length
/// (`Content-Length`); without, hyper writes it chunked, as SSE servers do.
pub struct Frames {
    frames: VecDeque<Bytes>,
    exact: Option<u64>,
}

impl Frames {
    fn whole(data: Bytes) -> Frames {
        Frames {
            exact: Some(data.len() as u64),
            frames: VecDeque::from([data]),
        }
    }

    fn chunked(frames: &[Bytes]) -> Frames {
        Frames {
            frames: frames.iter().cloned().collect(),
            exact: None,
        }
    }
}

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.get_mut()
                .frames
                .pop_front()
                .map(|b| Ok(Frame::data(b))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// Starts the fake on its own thread (a single-threaded runtime) and
/// returns the address it listens on.
pub fn start(content_chunks: usize) -> anyhow::Result<SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel::<std::io::Result<SocketAddr>>();
    let canned = Arc::new(Canned::new(content_chunks));
    std::thread::Builder::new()
        .name("fake-upstream".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(serve(canned, tx));
        })?;
    let addr = rx.recv()??;
    Ok(addr)
}

async fn serve(canned: Arc<Canned>, ready: std::sync::mpsc::Sender<std::io::Result<SocketAddr>>) {
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(listener.local_addr());
    // Runs until the process exits.
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                // e.g. out of descriptors: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let canned = Arc::clone(&canned);
        tokio::spawn(async move {
            let service = service_fn(move |req| respond(req, Arc::clone(&canned)));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

async fn respond(
    req: http::Request<Incoming>,
    canned: Arc<Canned>,
) -> Result<Response<Frames>, Infallible> {
    let route_ok = req.method() == Method::POST && req.uri().path() == "/v1/chat/completions";
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let mut response = if !route_ok {
        let mut r = Response::new(Frames::whole(Bytes::from_static(
            br#"{"error":{"message":"not found","type":"invalid_request_error"}}"#,
        )));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r
    } else if wants_stream(&body) {
        let mut r = Response::new(Frames::chunked(&canned.events));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/event-stream"),
        );
        r
    } else {
        Response::new(Frames::whole(canned.json.clone()))
    };
    if !response.headers().contains_key(header::CONTENT_TYPE) {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
    }
    Ok(response)
}

/// Whether the (compact) JSON body has `"stream":true`, found without
/// parsing: both Hearth and the bench write compact JSON.
fn wants_stream(body: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"\"stream\":true";
    body.windows(NEEDLE.len()).any(|w| w == NEEDLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_stream_has_content_usage_and_done() {
        let c = Canned::new(8);
        assert_eq!(c.events.len(), 10);
        assert!(c.events[0].starts_with(b"data: {"));
        assert!(String::from_utf8_lossy(&c.events[8]).contains("\"usage\""));
        assert_eq!(&c.events[9][..], b"data: [DONE]\n\n");
        let v: serde_json::Value = serde_json::from_slice(&c.json).unwrap();
        assert_eq!(v["object"], "chat.completion");
    }

    #[test]
    fn stream_flag_is_found_in_compact_json() {
        assert!(wants_stream(br#"{"model":"m","stream":true}"#));
        assert!(!wants_stream(br#"{"model":"m","stream":false}"#));
        assert!(!wants_stream(br#"{"model":"m"}"#));
    }
}
