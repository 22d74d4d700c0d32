//! Relaying an upstream event stream to the client as OpenAI-style
//! server-sent events: `data: <chunk>` per event, then `data: [DONE]`.
//!
//! Each event is written as soon as the upstream yields it. An error after
//! the stream started cannot change the status any more (200 is sent), so
//! it ends the stream with an `event: error` frame carrying the error
//! envelope (code `stream_error`), then `data: [DONE]`. If the client goes
//! away, the body is dropped, which drops the upstream stream and so
//! closes the upstream request.

use crate::meter::Meter;
use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{FutureExt as _, StreamExt as _};
use hearth_providers::{EventStream, ProviderError, StreamEvent};
use serde_json::json;

const DONE: &[u8] = b"data: [DONE]\n\n";

/// The streamed response for `events`.
pub fn relay(events: EventStream, meter: Meter) -> Response {
    let state = Relay {
        events: Some(events),
        meter,
        first_sent: false,
    };
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        let frame = state.next_frame().await?;
        Some((Ok::<Bytes, std::convert::Infallible>(frame), state))
    });
    event_stream(Body::from_stream(stream))
}

/// A `text/event-stream` response around `body`.
fn event_stream(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells buffering reverse proxies (nginx) to pass events through.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

struct Relay {
    /// `None` once the terminating frame has been written.
    events: Option<EventStream>,
    meter: Meter,
    /// Whether the first frame went out: it is written without waiting for
    /// a burst to be handed on, so the first event is not held back.
    first_sent: bool,
}

/// Most bytes gathered into one write when several events are ready.
const COALESCE_LIMIT: usize = 64 * 1024;

/// How often [`Relay::ready_event`] lets other tasks run before it writes
/// what it has: enough for the upstream connection's task to hand on a
/// piece it has already read (measured on a burst of ten events read in
/// one piece: one write with four, two with two, ten with one).
const YIELDS_FOR_READY: usize = 4;

impl Relay {
    /// The next bytes to write, or `None` when the stream is over. Events
    /// that are already waiting go out in the same write: a burst from the
    /// upstream costs one syscall, not one per event, and nothing waits.
    async fn next_frame(&mut self) -> Option<Bytes> {
        let mut out = BytesMut::new();
        loop {
            let event = self.events.as_mut()?.next().await;
            if !self.take(event, &mut out) || !out.is_empty() {
                break;
            }
        }
        let wait = std::mem::replace(&mut self.first_sent, true);
        while out.len() < COALESCE_LIMIT {
            let Some(event) = self.ready_event(wait).await else {
                break;
            };
            if !self.take(event, &mut out) {
                break;
            }
        }
        Some(out.freeze())
    }

    /// The next event if it is already here. The upstream connection's task
    /// hands the body on one piece at a time, so a piece it has read but not
    /// yet handed on is waited for by letting the other ready tasks run a
    /// few times (microseconds); an event still on the network is not
    /// waited for.
    /// Without `wait`, only an event already handed on is taken.
    async fn ready_event(
        &mut self,
        wait: bool,
    ) -> Option<Option<Result<StreamEvent, ProviderError>>> {
        if let Some(event) = self.events.as_mut()?.next().now_or_never() {
            return Some(event);
        }
        if !wait {
            return None;
        }
        for _ in 0..YIELDS_FOR_READY {
            tokio::task::yield_now().await;
            if let Some(event) = self.events.as_mut()?.next().now_or_never() {
                return Some(event);
            }
        }
        None
    }

    /// Adds one event's bytes to `out`; false once the stream is over.
    fn take(
        &mut self,
        event: Option<Result<StreamEvent, ProviderError>>,
        out: &mut BytesMut,
    ) -> bool {
        match event {
            Some(Ok(StreamEvent::Data(data))) => {
                self.meter.count_chunk();
                out.put_slice(b"data: ");
                out.put_slice(&data);
                out.put_slice(b"\n\n");
                true
            }
            Some(Ok(StreamEvent::Usage(usage))) => {
                self.meter.report(usage);
                true
            }
            Some(Err(error)) => {
                self.events = None;
                out.put_slice(&error_frames(&error));
                false
            }
            None => {
                self.events = None;
                out.put_slice(DONE);
                false
            }
        }
    }
}

/// `event: error` with the envelope, then `[DONE]`.
fn error_frames(error: &ProviderError) -> Bytes {
    tracing::warn!(%error, "upstream stream failed after it started");
    let view = error.client_view();
    let body = json!({
        "error": {
            "message": view.message,
            "type": "server_error",
            "param": null,
            "code": "stream_error",
        },
        "message": view.message,
    });
    let mut out = BytesMut::new();
    out.put_slice(b"event: error\ndata: ");
    out.put_slice(body.to_string().as_bytes());
    out.put_slice(b"\n\n");
    out.put_slice(DONE);
    out.freeze()
}

/// The streamed response of a Chat Actions run: each event as
/// `event: <type>` and `data: <json>`, ending after the terminal event.
pub fn relay_response(handle: hearth_engine::responses::ResponseHandle, meter: Meter) -> Response {
    let stream = futures_util::stream::unfold(Some((handle, meter)), |state| async move {
        let (mut handle, meter) = state?;
        match handle.events.recv().await {
            Some(event) => {
                // The usage of the model calls finished so far, so that a
                // client that leaves mid-run is still accounted for them.
                let so_far = *handle.usage.lock().unwrap_or_else(|e| e.into_inner());
                if so_far.prompt_tokens + so_far.completion_tokens > 0 {
                    meter.report(so_far);
                }
                let kind = event
                    .get("type")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("message")
                    .to_owned();
                let mut out = BytesMut::new();
                out.put_slice(b"event: ");
                out.put_slice(kind.as_bytes());
                out.put_slice(b"\ndata: ");
                out.put_slice(event.to_string().as_bytes());
                out.put_slice(b"\n\n");
                Some((
                    Ok::<Bytes, std::convert::Infallible>(out.freeze()),
                    Some((handle, meter)),
                ))
            }
            None => {
                // The run is over: account for every model call it made.
                meter.report(*handle.usage.lock().unwrap_or_else(|e| e.into_inner()));
                None
            }
        }
    });
    event_stream(Body::from_stream(stream))
}
