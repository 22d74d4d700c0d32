//! The HTTP exchange shared by every provider: sending a request within the
//! timeout, turning error statuses and odd bodies into [`ProviderError`]s,
//! reading bounded JSON bodies, and parsing `Retry-After`.
//!
//! Headers are never logged or put into errors; credential header values
//! are marked sensitive so even their `Debug` output hides them.

use std::error::Error as StdError;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use serde_json::Value;
use std::pin::Pin;
use tokio::time::Sleep;

use crate::error::redact;
use crate::{ProviderError, ProviderSettings};

/// The largest non-streamed upstream body read (a long completion with
/// many choices stays far below).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// The largest error body read; the rest is ignored.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// One provider's connection: its settings, the shared client, and what is
/// prepared once instead of on every call.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    pub settings: ProviderSettings,
    client: crate::HttpClient,
    /// The credential header, marked sensitive; `None` when no key is set.
    auth: Option<(HeaderName, HeaderValue)>,
    /// Why the settings cannot work (a key that is not a valid header
    /// value); reported on every call rather than at construction, which
    /// cannot fail.
    broken: Option<String>,
}

impl Upstream {
    /// Prepares the credential header: `Authorization: Bearer <key>` for
    /// `bearer`, otherwise the key as is under `header`.
    pub(crate) fn new(
        settings: ProviderSettings,
        client: crate::HttpClient,
        header: HeaderName,
        bearer: bool,
    ) -> Self {
        let mut broken = None;
        let auth = settings.api_key.as_ref().and_then(|key| {
            let value = if bearer {
                HeaderValue::try_from(format!("Bearer {}", key.expose()))
            } else {
                HeaderValue::try_from(key.expose())
            };
            match value {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    Some((header, value))
                }
                Err(_) => {
                    broken = Some(format!(
                        "the API key of provider {} contains characters not allowed in an HTTP header",
                        settings.name
                    ));
                    None
                }
            }
        });
        Upstream {
            settings,
            client,
            auth,
            broken,
        }
    }

    /// The provider's name, for messages.
    pub(crate) fn name(&self) -> &str {
        &self.settings.name
    }

    /// `base_url` joined with `path` (which starts with `/`): an absolute
    /// `http` or `https` URL.
    pub(crate) fn url(&self, path: &str) -> Result<Uri, String> {
        let base = self.settings.base_url.trim_end_matches('/');
        let invalid = |why: &dyn std::fmt::Display| {
            format!(
                "the base_url of provider {} is not a valid URL: {why}",
                self.settings.name
            )
        };
        let uri = format!("{base}{path}")
            .parse::<Uri>()
            .map_err(|e| invalid(&e))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some_and(|h| !h.is_empty()) => Ok(uri),
            _ => Err(invalid(
                &"it must start with http:// or https:// and name a host",
            )),
        }
    }

    /// A POST of `body` as JSON to `url`, with the credential header.
    pub(crate) fn post(
        &self,
        url: &Result<Uri, String>,
        body: &impl serde::Serialize,
    ) -> Result<Post, ProviderError> {
        if let Some(broken) = &self.broken {
            return Err(ProviderError::Connect(broken.clone()));
        }
        let url = url.clone().map_err(ProviderError::Connect)?;
        let body = serde_json::to_vec(body).map_err(|e| {
            ProviderError::Connect(format!("could not encode the request body: {e}"))
        })?;
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = url;
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        if let Some((name, value)) = &self.auth {
            headers.insert(name.clone(), value.clone());
        }
        Ok(Post { request })
    }

    /// Sends the request with the provider's timeout (which also bounds
    /// reading the body) and returns the response if it is 2xx.
    pub(crate) async fn send(&self, post: Post) -> Result<Response, ProviderError> {
        let mut deadline = Box::pin(tokio::time::sleep(self.settings.timeout));
        let sent = tokio::select! {
            sent = self.client.get().request(post.request) => sent,
            () = &mut deadline => return Err(ProviderError::Timeout),
        };
        let (head, body) = sent
            .map_err(|e| self.transport_error(&e, "could not reach"))?
            .into_parts();
        let response = Response {
            status: head.status,
            headers: head.headers,
            body,
            deadline,
        };
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(self.error_response(response).await)
        }
    }

    /// Reads a whole 2xx body as a JSON object.
    pub(crate) async fn json(&self, response: Response) -> Result<Value, ProviderError> {
        let (_, object) = self
            .object_with::<serde_json::Map<String, Value>>(response)
            .await?;
        Ok(Value::Object(object))
    }

    /// Reads a whole 2xx body and checks that it is a JSON object, decoding
    /// into `T` only what `T` names: the rest is validated and skipped, not
    /// built into a tree. Returns the bytes as they came, with `T`.
    pub(crate) async fn object_with<T: serde::de::DeserializeOwned>(
        &self,
        response: Response,
    ) -> Result<(Bytes, T), ProviderError> {
        let status = response.status().as_u16();
        let (body, complete) = self.read_bounded(response, MAX_BODY_BYTES).await?;
        if !complete {
            return Err(ProviderError::InvalidResponse(format!(
                "provider {} sent a response larger than {MAX_BODY_BYTES} bytes",
                self.name()
            )));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ProviderError::empty_body(self.name()));
        }
        // A derived `Deserialize` would also take an array; only an object
        // is an answer.
        let is_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        match serde_json::from_slice::<T>(&body) {
            Ok(probe) if is_object => Ok((body, probe)),
            _ => Err(self.not_json(status, &body)),
        }
    }

    /// Checks that a 2xx answer to a streaming request looks like an event
    /// stream. An HTML page or a JSON body here is a proxy's error page or a
    /// server that ignored `stream`, and is reported before anything is relayed.
    pub(crate) async fn expect_event_stream(
        &self,
        response: Response,
    ) -> Result<Response, ProviderError> {
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !content_type.starts_with("text/html") && !content_type.starts_with("application/json") {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let (body, _) = self.read_bounded(response, MAX_ERROR_BODY_BYTES).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ProviderError::empty_body(self.name()));
        }
        if let Some((message, kind)) = error_fields(&body) {
            return Err(ProviderError::upstream(
                self.name(),
                502,
                &message,
                kind,
                None,
                self.settings.api_key.as_ref(),
            ));
        }
        Err(ProviderError::InvalidResponse(format!(
            "provider {} answered {status} with {content_type} where an event stream was expected: {}",
            self.name(),
            self.snippet(&body)
        )))
    }

    /// Maps a transport failure: a timeout, or a connection that could not
    /// be made or broke (`doing` says when).
    pub(crate) fn transport_error(
        &self,
        error: &(dyn StdError + 'static),
        doing: &str,
    ) -> ProviderError {
        if timed_out(error) {
            return ProviderError::Timeout;
        }
        let chain = error_chain(error);
        ProviderError::Connect(format!(
            "{doing} provider {}: {}",
            self.name(),
            redact(&chain, self.settings.api_key.as_ref())
        ))
    }

    /// A failure while reading a stream that has started.
    pub(crate) fn stream_error(&self, error: BodyError) -> ProviderError {
        let error = match error {
            BodyError::Timeout => return ProviderError::Timeout,
            BodyError::Broken(error) => error,
        };
        if timed_out(&error) {
            return ProviderError::Timeout;
        }
        let chain = error_chain(&error);
        ProviderError::Stream(format!(
            "the connection to provider {} broke: {}",
            self.name(),
            redact(&chain, self.settings.api_key.as_ref())
        ))
    }

    /// Builds the error for a non-2xx answer from its status, headers and body.
    async fn error_response(&self, response: Response) -> ProviderError {
        let status = response.status();
        let retry_after = retry_after(response.headers(), SystemTime::now());
        let body = match self.read_bounded(response, MAX_ERROR_BODY_BYTES).await {
            Ok((body, _)) => body,
            Err(ProviderError::Timeout) => return ProviderError::Timeout,
            Err(_) => Bytes::new(),
        };
        let (message, kind) = error_fields(&body).unwrap_or_else(|| {
            let reason = status.canonical_reason().unwrap_or("unknown status");
            match short_text(&body) {
                Some(text) => (format!("{reason}: {text}"), None),
                None => (reason.to_owned(), None),
            }
        });
        ProviderError::upstream(
            self.name(),
            status.as_u16(),
            &message,
            kind,
            retry_after,
            self.settings.api_key.as_ref(),
        )
    }

    /// Reads at most `limit` bytes of the body; `false` when it was longer.
    async fn read_bounded(
        &self,
        mut response: Response,
        limit: usize,
    ) -> Result<(Bytes, bool), ProviderError> {
        let mut body = BytesMut::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        let room = limit - body.len();
                        body.extend_from_slice(&chunk[..room]);
                        return Ok((body.freeze(), false));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok((body.freeze(), true)),
                Err(BodyError::Timeout) => return Err(ProviderError::Timeout),
                Err(BodyError::Broken(e)) => {
                    return Err(self.transport_error(&e, "lost the response of"));
                }
            }
        }
    }

    /// The error for a 2xx body that is not a JSON object.
    fn not_json(&self, status: u16, body: &[u8]) -> ProviderError {
        ProviderError::InvalidResponse(format!(
            "provider {} answered {status} with a body that is not a JSON object: {}",
            self.name(),
            self.snippet(body)
        ))
    }

    /// The start of a body, on one line, redacted, for an error message.
    fn snippet(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(&body[..body.len().min(120)]);
        let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        redact(&line, self.settings.api_key.as_ref())
    }
}

/// The message and type of an upstream error body, in any of the shapes
/// OpenAI-compatible servers and Anthropic use:
/// `{"error":{"message","type","code"}}`, `{"type":"error","error":{…}}`,
/// `{"error":"text"}` (Ollama), `{"message","type"}` (vLLM), `{"detail"}`.
pub(crate) fn error_fields(body: &[u8]) -> Option<(String, Option<String>)> {
    error_fields_of(&serde_json::from_slice(body).ok()?)
}

/// [`error_fields`] of a parsed body.
pub(crate) fn error_fields_of(value: &Value) -> Option<(String, Option<String>)> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    match value.get("error") {
        Some(Value::Object(error)) => {
            let message = text(error.get("message"))
                .or_else(|| text(error.get("detail")))
                .unwrap_or_else(|| Value::Object(error.clone()).to_string());
            let kind = text(error.get("type")).or_else(|| text(error.get("code")));
            Some((message, kind))
        }
        Some(Value::String(message)) => Some((message.clone(), None)),
        _ => {
            let message = text(value.get("message")).or_else(|| text(value.get("detail")))?;
            Some((message, text(value.get("type"))))
        }
    }
}

/// A short plain-text error body worth showing (e.g. a proxy's one-line
/// reason), or `None` for HTML pages and long or binary bodies.
fn short_text(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.is_empty() || text.len() > 200 || text.starts_with('<') {
        return None;
    }
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// How long the upstream asks callers to wait: `retry-after-ms`
/// (OpenAI), else `Retry-After` in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `User-Agent` Hearth sends upstream.
const USER_AGENT_VALUE: &str = concat!("hearth/", env!("CARGO_PKG_VERSION"));

/// A request ready to send (see [`Upstream::post`]). Its credential
/// header is marked sensitive, so `Debug` does not show it.
#[derive(Debug)]
pub(crate) struct Post {
    request: Request<Full<Bytes>>,
}

impl Post {
    /// Adds a header.
    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.request.headers_mut().insert(name, value);
        self
    }
}

/// An upstream answer whose body is read within what is left of the
/// provider's timeout. Dropping it closes the connection if the body was
/// not read to the end.
pub(crate) struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Incoming,
    deadline: Pin<Box<Sleep>>,
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The provider's timeout ran out.
    Timeout,
    /// The connection broke or the body was malformed.
    Broken(hyper::Error),
}

impl Response {
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The next piece of the body; `None` at its end.
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            let frame = tokio::select! {
                frame = self.body.frame() => frame,
                () = &mut self.deadline => return Err(BodyError::Timeout),
            };
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(BodyError::Broken(e)),
                // Trailers carry nothing a provider answer needs.
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// Whether a timeout (of the connect step) is somewhere in `error`'s chain.
fn timed_out(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// An error and its sources on one line.
fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "1.5")]), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "2"), ("retry-after-ms", "250")]),
                now
            ),
            Some(Duration::from_millis(250))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn error_body_shapes() {
        let openai = br#"{"error":{"message":"bad model","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
        assert_eq!(
            error_fields(openai),
            Some(("bad model".into(), Some("invalid_request_error".into())))
        );
        let anthropic =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(
            error_fields(anthropic),
            Some(("Overloaded".into(), Some("overloaded_error".into())))
        );
        let ollama = br#"{"error":"model \"llama9\" not found, try pulling it first"}"#;
        assert_eq!(
            error_fields(ollama).map(|(m, _)| m),
            Some("model \"llama9\" not found, try pulling it first".into())
        );
        let vllm = br#"{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","code":404}"#;
        assert_eq!(
            error_fields(vllm),
            Some((
                "The model `x` does not exist.".into(),
                Some("NotFoundError".into())
            ))
        );
        let code_only = br#"{"error":{"message":"m","code":"rate_limit_exceeded"}}"#;
        assert_eq!(
            error_fields(code_only).and_then(|(_, k)| k),
            Some("rate_limit_exceeded".into())
        );
        assert_eq!(error_fields(b"<html>502 Bad Gateway</html>"), None);
        assert_eq!(error_fields(br#"{"ok":true}"#), None);
    }

    #[test]
    fn a_key_unfit_for_a_header_fails_every_call_without_showing_it() {
        let mut settings = crate::ProviderSettings::new("broken", crate::ProviderKind::OpenAi);
        settings.api_key = Some(crate::Secret::new("line\nbreak-secret".to_owned()));
        let upstream = Upstream::new(
            settings,
            crate::http_client(Duration::from_secs(1)).expect("client"),
            http::header::AUTHORIZATION,
            true,
        );
        let url = upstream.url("/chat/completions");
        match upstream.post(&url, &serde_json::json!({})) {
            Err(ProviderError::Connect(message)) => {
                assert!(message.contains("broken"), "{message}");
                assert!(!message.contains("break-secret"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls_join_without_double_slashes() {
        let mut settings = crate::ProviderSettings::new("p", crate::ProviderKind::OpenAi);
        settings.base_url = "http://127.0.0.1:9/v1/".to_owned();
        let upstream = Upstream::new(
            settings,
            crate::http_client(Duration::from_secs(1)).expect("client"),
            http::header::AUTHORIZATION,
            true,
        );
        assert_eq!(
            upstream.url("/chat/completions").unwrap().to_string(),
            "http://127.0.0.1:9/v1/chat/completions"
        );
    }

    #[test]
    fn short_text_skips_html() {
        assert_eq!(
            short_text(b"upstream connect error\n"),
            Some("upstream connect error".into())
        );
        assert_eq!(short_text(b"<html><body>Bad</body></html>"), None);
        assert_eq!(short_text(b""), None);
    }
}
