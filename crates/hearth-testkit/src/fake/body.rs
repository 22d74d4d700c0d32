//! [`FakeBody`]: a response body made of chunks sent with a pause between
//! them.
//!
//! The body owns its chunks and timer instead of being fed by a task, so
//! when the client goes away and hyper drops the connection, the stream
//! stops with it: nothing is left writing into a closed socket.

use hyper::body::{Body, Bytes, Frame, SizeHint};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::Sleep;

pub(crate) struct FakeBody {
    chunks: VecDeque<Bytes>,
    /// Pause before each chunk after the first.
    delay: Duration,
    /// Running while a pause is in progress.
    timer: Option<Pin<Box<Sleep>>>,
    /// Streams go out chunked; whole bodies carry a `content-length`.
    streaming: bool,
}

impl FakeBody {
    /// A whole body, sent at once with a `content-length`.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> FakeBody {
        let bytes = bytes.into();
        FakeBody {
            chunks: if bytes.is_empty() {
                VecDeque::new()
            } else {
                VecDeque::from([bytes])
            },
            delay: Duration::ZERO,
            timer: None,
            streaming: false,
        }
    }

    /// A chunked body that sends each chunk `delay` after the previous one.
    pub(crate) fn stream(chunks: Vec<Bytes>, delay: Duration) -> FakeBody {
        FakeBody {
            chunks: chunks.into(),
            delay,
            timer: None,
            streaming: true,
        }
    }
}

impl Body for FakeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(timer) = this.timer.as_mut() {
            ready!(timer.as_mut().poll(cx));
            this.timer = None;
        }
        let Some(chunk) = this.chunks.pop_front() else {
            return Poll::Ready(None);
        };
        if !this.delay.is_zero() && !this.chunks.is_empty() {
            this.timer = Some(Box::pin(tokio::time::sleep(this.delay)));
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        if self.streaming {
            return SizeHint::default();
        }
        let len: usize = self.chunks.iter().map(Bytes::len).sum();
        SizeHint::with_exact(len as u64)
    }
}
