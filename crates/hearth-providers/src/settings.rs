//! What Hearth knows about one upstream provider, the secret type that keeps
//! its key out of logs, and the shared HTTP client every provider uses.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Deserialize;
use thread_local::ThreadLocal;

use crate::ProviderError;

/// The wire protocol a provider speaks. A closed set: adding one means a
/// new file beside `openai` and `anthropic` and a new [`crate::Provider`] arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any server that speaks OpenAI's chat completions API.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic's native Messages API.
    Anthropic,
}

impl ProviderKind {
    /// The base URL used when the configuration gives none, in the form the
    /// provider's own SDK takes it (with `/v1` for OpenAI, without for Anthropic).
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
        }
    }

    /// The name used in configuration files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }
}

/// A secret string, such as an upstream API key. `Debug` and `Display`
/// print `***`, so a secret inside any struct never reaches a log line.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: String) -> Self {
        Secret(s)
    }

    /// The secret itself; call only where it is sent to the upstream.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One configured upstream provider, as validated by the server's config.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The provider's name in Hearth's configuration; appears in error messages.
    pub name: String,
    /// Which wire protocol it speaks.
    pub kind: ProviderKind,
    /// As the provider's own SDK takes it: with `/v1` for openai
    /// (`https://api.openai.com/v1` by default), without for anthropic
    /// (`https://api.anthropic.com` by default). A trailing `/` is ignored.
    pub base_url: String,
    /// The key Hearth presents upstream; `None` sends no credential (a local
    /// server, or a proxy that adds its own).
    pub api_key: Option<Secret>,
    /// The whole upstream request, including reading a streamed body.
    pub timeout: Duration,
    /// Whether an openai-kind server has `/completions`; when false, legacy
    /// completions are translated to chat. Anthropic always translates.
    pub legacy_completions: bool,
    /// For openai kind: ask upstream for stream usage
    /// (`stream_options.include_usage=true`) even when the client did not,
    /// so every streamed call can be accounted. Turn off for old servers
    /// that reject `stream_options`.
    pub stream_usage: bool,
}

impl ProviderSettings {
    /// Settings with the defaults for `kind`: its default base URL, no key,
    /// a 600 s timeout, legacy completions passed through (openai) and
    /// stream usage requested.
    pub fn new(name: impl Into<String>, kind: ProviderKind) -> Self {
        ProviderSettings {
            name: name.into(),
            kind,
            base_url: kind.default_base_url().to_owned(),
            api_key: None,
            timeout: Duration::from_secs(600),
            legacy_completions: true,
            stream_usage: true,
        }
    }
}

/// How long an unused pooled connection is kept before it is closed.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The HTTP client every provider shares: rustls, `TCP_NODELAY`, the given
/// connect timeout, idle connections kept ~90 s.
///
/// Each thread that sends gets its own pooled client, built on first use:
/// a pooled connection's I/O runs as a task on the runtime that opened it,
/// so a per-thread pool keeps a request and its connection on one thread
/// instead of handing every request and answer across threads. Clones
/// share the per-thread clients.
///
/// Redirects are not followed: an API answering a POST with a redirect is
/// misconfigured, and following one would send the `x-api-key` header
/// (which, unlike `Authorization`, HTTP clients do not strip) to another host.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<ClientInner>,
}

/// One thread's pooled HTTP/1.1 client: TLS by rustls with the webpki
/// roots, plain HTTP too.
pub(crate) type Client =
    hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

struct ClientInner {
    connect_timeout: Duration,
    per_thread: ThreadLocal<Client>,
    /// Built (and checked) at construction; used by a thread whose own
    /// client cannot be built, which only a resource shortage could cause.
    first: Client,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("connect_timeout", &self.inner.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// This thread's client.
    pub(crate) fn get(&self) -> &Client {
        let inner = &*self.inner;
        inner
            .per_thread
            .get_or(|| build_client(inner.connect_timeout).unwrap_or_else(|_| inner.first.clone()))
    }
}

/// Builds the shared HTTP client for all providers (see [`HttpClient`]).
pub fn http_client(connect_timeout: Duration) -> Result<HttpClient, ProviderError> {
    let first = build_client(connect_timeout)
        .map_err(|e| ProviderError::Connect(format!("could not build the HTTP client: {e}")))?;
    Ok(HttpClient {
        inner: Arc::new(ClientInner {
            connect_timeout,
            per_thread: ThreadLocal::new(),
            first,
        }),
    })
}

fn build_client(connect_timeout: Duration) -> Result<Client, rustls::Error> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    // The TLS layer below decides by scheme.
    http.enforce_http(false);
    let connector = HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let secret = Secret::new("sk-live-123456".to_owned());
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(secret.expose(), "sk-live-123456");
    }

    #[test]
    fn settings_debug_hides_the_key() {
        let mut settings = ProviderSettings::new("main", ProviderKind::Anthropic);
        settings.api_key = Some(Secret::new("sk-ant-very-secret".to_owned()));
        let debug = format!("{settings:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }

    #[test]
    fn kind_parses_from_config_names() {
        let kinds: Vec<ProviderKind> =
            serde_json::from_str(r#"["openai","anthropic"]"#).unwrap_or_default();
        assert_eq!(kinds, [ProviderKind::OpenAi, ProviderKind::Anthropic]);
        assert!(serde_json::from_str::<ProviderKind>(r#""OpenAI""#).is_err());
        assert_eq!(
            ProviderKind::OpenAi.default_base_url(),
            "https://api.openai.com/v1"
        );
        assert_eq!(
            ProviderKind::Anthropic.default_base_url(),
            "https://api.anthropic.com"
        );
    }

    #[test]
    fn each_thread_gets_its_own_client() {
        let client = http_client(Duration::from_secs(5)).expect("client");
        let here: *const Client = client.get();
        assert!(std::ptr::eq(here, client.get()), "one client per thread");
        let shared = client.clone();
        let there = std::thread::spawn(move || shared.get() as *const Client as usize)
            .join()
            .expect("thread");
        assert_ne!(here as usize, there, "another thread builds its own");
    }
}
