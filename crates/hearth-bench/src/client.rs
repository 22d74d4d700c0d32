//! The load generator's HTTP/1.1 client: one keep-alive connection per
//! worker, TCP_NODELAY, hyper 1 directly (no pool, no extra layers).

use anyhow::{Context as _, anyhow, bail};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Where requests go: the fake upstream directly, or Hearth.
#[derive(Debug)]
pub struct Target {
    pub addr: SocketAddr,
    host: HeaderValue,
    auth: HeaderValue,
}

impl Target {
    pub fn new(addr: SocketAddr, key: &str) -> anyhow::Result<Arc<Target>> {
        Ok(Arc::new(Target {
            addr,
            host: HeaderValue::from_str(&addr.to_string())?,
            auth: HeaderValue::from_str(&format!("Bearer {key}"))?,
        }))
    }
}

/// When the first body byte and the end of the body arrived.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub first_byte: Instant,
    pub end: Instant,
}

/// One keep-alive connection to a target, reopened after an error.
pub struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(target: Arc<Target>) -> Conn {
        Conn {
            target,
            sender: None,
        }
    }

    /// Opens the connection now, so the first measured request does not
    /// pay for it.
    pub async fn open(&mut self) -> anyhow::Result<()> {
        self.sender().await.map(|_| ())
    }

    async fn sender(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            let tcp = tokio::net::TcpStream::connect(self.target.addr)
                .await
                .with_context(|| format!("connecting to {}", self.target.addr))?;
            tcp.set_nodelay(true)?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .context("HTTP/1.1 handshake")?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| anyhow!("no connection"))
    }

    /// Sends one chat request and reads the whole answer. Fails on any
    /// status but 200 and on a stream that does not end with `[DONE]`.
    pub async fn call(&mut self, body: &Bytes, stream: bool) -> anyhow::Result<Timing> {
        let result = self.call_inner(body, stream).await;
        if result.is_err() {
            // Start afresh: the connection may be in any state.
            self.sender = None;
        }
        result
    }

    async fn call_inner(&mut self, body: &Bytes, stream: bool) -> anyhow::Result<Timing> {
        let target = Arc::clone(&self.target);
        let request = Request::builder()
            .method(Method::POST)
            .uri("/v1/chat/completions")
            .header(header::HOST, target.host.clone())
            .header(header::AUTHORIZATION, target.auth.clone())
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )
            .body(Full::new(body.clone()))?;
        let sender = self.sender().await?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let mut body = response.into_body();
        let mut first_byte = None;
        // The last bytes of the body, to check a stream's end.
        let mut tail: Vec<u8> = Vec::with_capacity(64);
        let mut collected = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            if let Ok(data) = frame.into_data()
                && !data.is_empty()
            {
                first_byte.get_or_insert_with(Instant::now);
                if status != StatusCode::OK {
                    collected.extend_from_slice(&data);
                }
                tail.extend_from_slice(&data[data.len().saturating_sub(32)..]);
                if tail.len() > 32 {
                    tail.drain(..tail.len() - 32);
                }
            }
        }
        let end = Instant::now();
        if status != StatusCode::OK {
            bail!(
                "{} answered {status}: {}",
                target.addr,
                String::from_utf8_lossy(&collected)
            );
        }
        if stream && !tail.ends_with(b"data: [DONE]\n\n") {
            bail!("{}: the stream did not end with data: [DONE]", target.addr);
        }
        let first_byte = first_byte.ok_or_else(|| anyhow!("{}: empty body", target.addr))?;
        Ok(Timing { first_byte, end })
    }
}

/// `GET /healthz` on a fresh connection; true on 200.
pub async fn healthy(addr: SocketAddr) -> bool {
    matches!(get(addr, "/healthz").await, Ok((StatusCode::OK, _)))
}

/// A `GET` on a fresh connection: status and body.
pub async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::builder()
        .uri(path)
        .header(header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}
