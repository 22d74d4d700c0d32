//! The listener every fake runs on: a raw tokio accept loop with one hyper
//! HTTP/1 connection per task, so a fake can count open connections and drop
//! a socket without answering ([`Reply::Reset`](super::Reply::Reset)).
//!
//! Each fake provides a [`Protocol`], a synchronous function from a recorded
//! request to an [`Answer`]; timing (first-byte delay, hangs) and transport
//! (resets) are handled here.

use super::MAX_HOLD;
use super::body::FakeBody;
use super::script::{Recorded, Script};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// Largest request body a fake reads; larger ones get a 413.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// How long a client may take to send a request body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// No connection outlives this, whatever the client does.
const MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(600);

/// What a fake does with one request.
pub(crate) enum Answer {
    /// Sends this response after the delay (capped at [`MAX_HOLD`]).
    Respond {
        response: Response<FakeBody>,
        first_byte_delay: Duration,
    },
    /// Holds the request until the client leaves or [`MAX_HOLD`] passes.
    Hang,
    /// Drops the connection with a TCP reset.
    Reset,
}

impl Answer {
    pub(crate) fn now(response: Response<FakeBody>) -> Answer {
        Answer::Respond {
            response,
            first_byte_delay: Duration::ZERO,
        }
    }
}

/// One provider's wire protocol.
pub(crate) trait Protocol: Send + Sync + 'static {
    /// Answers a request that has already been recorded. Breaches of the
    /// protocol go to [`Core::violate`]; the answer is given regardless.
    fn answer(&self, core: &Core, request: &Recorded) -> Answer;
}

/// State shared by a fake's handle and its connections.
#[derive(Default)]
pub(crate) struct Core {
    /// Replies to give, oldest first; empty means the default text.
    queue: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<Recorded>>,
    violations: Mutex<Vec<String>>,
    /// Connections accepted and not yet closed.
    open: AtomicUsize,
    /// Source of unique ids in responses.
    ids: AtomicU64,
}

impl Core {
    pub(crate) fn enqueue(&self, script: Script) {
        self.queue.lock().unwrap().push_back(script);
    }

    /// The next queued script, or the default one.
    pub(crate) fn next_script(&self) -> Script {
        self.queue.lock().unwrap().pop_front().unwrap_or_default()
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub(crate) fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }

    pub(crate) fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Records a protocol breach by the client in `request`.
    pub(crate) fn violate(&self, request: &Recorded, message: impl std::fmt::Display) {
        let line = format!("{} {}: {message}", request.method, request.path);
        self.violations.lock().unwrap().push(line);
    }

    /// A fresh suffix for response ids.
    pub(crate) fn next_id(&self) -> String {
        format!("fake{:06}", self.ids.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, request: Recorded) {
        self.requests.lock().unwrap().push(request);
    }
}

/// A listening fake. Dropping it stops the accept loop and closes every
/// connection.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) core: Arc<Core>,
    accept: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Binds `127.0.0.1:0` and serves `protocol` until the result is dropped.
pub(crate) async fn start(protocol: Arc<dyn Protocol>) -> Running {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("fake upstream binds 127.0.0.1:0");
    let addr = listener.local_addr().expect("fake upstream address");
    let core = Arc::new(Core::default());
    let accept = tokio::spawn(accept_loop(listener, core.clone(), protocol));
    Running { addr, core, accept }
}

/// Accepts connections; they live in a `JoinSet` so that aborting this task
/// aborts them all.
async fn accept_loop(listener: TcpListener, core: Arc<Core>, protocol: Arc<dyn Protocol>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // Counted here, not in the task, so a test that has just
                // connected never sees zero.
                let guard = OpenGuard::new(core.clone());
                connections.spawn(serve_connection(stream, guard, protocol.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Decrements the open-connection count when the connection task ends,
/// however it ends.
struct OpenGuard(Arc<Core>);

impl OpenGuard {
    fn new(core: Arc<Core>) -> OpenGuard {
        core.open.fetch_add(1, Ordering::SeqCst);
        OpenGuard(core)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve_connection(stream: TcpStream, guard: OpenGuard, protocol: Arc<dyn Protocol>) {
    // A second handle on the socket, so it can be reset after hyper's
    // connection (which owns the first) is dropped.
    let Some((stream, twin)) = split_twin(stream) else {
        return;
    };
    let reset = Arc::new(Notify::new());
    let core = guard.0.clone();
    let service = {
        let reset = reset.clone();
        service_fn(move |request| {
            let core = core.clone();
            let protocol = protocol.clone();
            let reset = reset.clone();
            async move { Ok::<_, Infallible>(handle(request, &core, &*protocol, &reset).await) }
        })
    };
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    let was_reset = tokio::select! {
        _ = connection => false,
        () = reset.notified() => true,
        () = tokio::time::sleep(MAX_CONNECTION_LIFETIME) => false,
    };
    // hyper's half is closed by now; closing the last handle with a zero
    // linger sends RST instead of FIN.
    let twin = TcpStream::from_std(twin).ok();
    if was_reset && let Some(twin) = &twin {
        let _ = twin.set_zero_linger();
    }
    // The socket is closed before the count goes down, so a test that sees
    // zero open connections can rely on it.
    drop(twin);
    drop(guard);
}

fn split_twin(stream: TcpStream) -> Option<(TcpStream, std::net::TcpStream)> {
    let stream = stream.into_std().ok()?;
    let twin = stream.try_clone().ok()?;
    Some((TcpStream::from_std(stream).ok()?, twin))
}

/// Records the request, asks the protocol, and carries out the answer.
async fn handle(
    request: Request<Incoming>,
    core: &Core,
    protocol: &dyn Protocol,
    reset: &Notify,
) -> Response<FakeBody> {
    let (parts, body) = request.into_parts();
    let read =
        tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(_)) | Err(_) => return too_large(),
    };
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: parse_body(&bytes),
    };
    core.record(recorded.clone());
    match protocol.answer(core, &recorded) {
        Answer::Respond {
            response,
            first_byte_delay,
        } => {
            tokio::time::sleep(first_byte_delay.min(MAX_HOLD)).await;
            response
        }
        Answer::Hang => {
            tokio::time::sleep(MAX_HOLD).await;
            hang_up(reset).await
        }
        Answer::Reset => hang_up(reset).await,
    }
}

/// Asks the connection task to reset the socket, and waits to be dropped.
async fn hang_up(reset: &Notify) -> Response<FakeBody> {
    reset.notify_one();
    std::future::pending().await
}

fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn too_large() -> Response<FakeBody> {
    Response::builder()
        .status(413)
        .header("content-type", "text/plain")
        .body(FakeBody::full("request body too large or too slow"))
        .expect("static response")
}
