//! Relays an upstream event stream to the caller as it arrives: network
//! chunks → SSE events → a provider's [`Translate`] → [`StreamEvent`]s.
//!
//! Nothing is buffered beyond the event being decoded. The stream ends after
//! the upstream's end marker (`[DONE]`, `message_stop`) or an error, and
//! dropping it drops the response body, which closes the connection.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use crate::http::{Response, Upstream};
use crate::sse::{MAX_EVENT_BYTES, SseDecoder, SseEvent};
use crate::{EventStream, ProviderError, StreamEvent};

/// What a stream translator produces for the relay to yield.
pub(crate) type Out = VecDeque<Result<StreamEvent, ProviderError>>;

/// Turns one provider's SSE events into [`StreamEvent`]s.
pub(crate) trait Translate: Send + 'static {
    /// Handles one event, pushing what it produces onto `out`. Returns
    /// `Ok(true)` when the upstream marked the end of the stream. An `Err`
    /// ends the stream after what is already in `out`.
    fn event(&mut self, event: SseEvent, out: &mut Out) -> Result<bool, ProviderError>;

    /// Called once when the stream ends: `clean` after the end marker,
    /// otherwise the body ended early or broke. Pushes final events (usage);
    /// an `Err` reports a stream that ended without its end marker.
    fn finish(&mut self, clean: bool, out: &mut Out) -> Result<(), ProviderError>;
}

/// How long to wait for the body's end after the end marker, so the
/// connection goes back to the pool instead of being closed.
const DRAIN_GRACE: Duration = Duration::from_millis(100);

/// The relay's state between items.
struct Relay<T> {
    upstream: Arc<Upstream>,
    body: Response,
    decoder: SseDecoder,
    translate: T,
    out: Out,
    /// No more reading: only `out` is left to yield.
    closed: bool,
    /// Whether the body carried any bytes, and any event was decoded from
    /// them: a body of bytes without a single event is not an event stream.
    received_bytes: bool,
    decoded_event: bool,
}

/// The [`EventStream`] of a 2xx streaming response, translated by `translate`.
pub(crate) fn relay<T: Translate>(
    upstream: &Arc<Upstream>,
    response: Response,
    translate: T,
) -> EventStream {
    let relay = Relay {
        upstream: Arc::clone(upstream),
        body: response,
        decoder: SseDecoder::default(),
        translate,
        out: Out::new(),
        closed: false,
        received_bytes: false,
        decoded_event: false,
    };
    Box::pin(stream::unfold(relay, |mut relay| async move {
        let item = relay.next().await?;
        Some((item, relay))
    }))
}

impl<T: Translate> Relay<T> {
    async fn next(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        loop {
            if let Some(item) = self.out.pop_front() {
                return Some(item);
            }
            if self.closed {
                return None;
            }
            match self.decoder.next_event() {
                Ok(Some(event)) => {
                    self.decoded_event = true;
                    match self.translate.event(event, &mut self.out) {
                        Ok(false) => {}
                        Ok(true) => {
                            self.drain().await;
                            self.close(true);
                        }
                        Err(e) => self.fail(e),
                    }
                }
                Ok(None) => self.read().await,
                Err(_) => self.fail(ProviderError::Stream(format!(
                    "provider {} sent an event larger than {MAX_EVENT_BYTES} bytes",
                    self.upstream.name()
                ))),
            }
        }
    }

    /// Reads the next network chunk, or handles the body's end.
    async fn read(&mut self) {
        match self.body.chunk().await.transpose() {
            Some(Ok(chunk)) => {
                self.received_bytes |= !chunk.iter().all(u8::is_ascii_whitespace);
                self.decoder.feed(&chunk);
            }
            Some(Err(e)) => {
                let error = self.upstream.stream_error(e);
                self.fail(error);
            }
            None => {
                let ended = match self.decoder.finish() {
                    Some(event) => {
                        self.decoded_event = true;
                        self.translate.event(event, &mut self.out)
                    }
                    None if self.received_bytes && !self.decoded_event => {
                        // Not "an empty body": say what the upstream did.
                        Err(ProviderError::InvalidResponse(format!(
                            "provider {} answered with a body that is not an event stream",
                            self.upstream.name()
                        )))
                    }
                    None => Ok(false),
                };
                match ended {
                    Ok(clean) => self.close(clean),
                    Err(e) => self.fail(e),
                }
            }
        }
    }

    /// Ends the stream after `out`, with the translator's final events.
    fn close(&mut self, clean: bool) {
        self.closed = true;
        if let Err(e) = self.translate.finish(clean, &mut self.out) {
            self.out.push_back(Err(e));
        }
    }

    /// Ends the stream with an error, after the translator's final events
    /// (usage known so far is still reported, for accounting).
    fn fail(&mut self, error: ProviderError) {
        self.closed = true;
        // The translator's own complaint about the early end is superseded.
        let _ = self.translate.finish(false, &mut self.out);
        self.out.push_back(Err(error));
    }

    /// Reads what is left of the body after the end marker, briefly.
    async fn drain(&mut self) {
        let body = &mut self.body;
        let _ = tokio::time::timeout(DRAIN_GRACE, async {
            let mut left = 64 * 1024usize;
            while let Ok(Some(chunk)) = body.chunk().await {
                left = left.saturating_sub(chunk.len());
                if left == 0 {
                    break;
                }
            }
        })
        .await;
    }
}

/// Waits for the first event of a freshly opened stream, so that a stream
/// that fails or ends before producing anything is reported as an error of
/// the call (which the caller may still retry or fall back from) rather
/// than after the client got a 200.
pub(crate) async fn started(
    upstream: &Upstream,
    mut events: EventStream,
) -> Result<EventStream, ProviderError> {
    match events.next().await {
        Some(Ok(first)) => Ok(Box::pin(stream::iter([Ok(first)]).chain(events))),
        Some(Err(ProviderError::Stream(message))) => Err(ProviderError::Upstream {
            status: 502,
            message,
            kind: None,
            retry_after: None,
        }),
        Some(Err(e)) => Err(e),
        None => Err(ProviderError::empty_body(upstream.name())),
    }
}

/// The current time in Unix seconds, for `created`.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
