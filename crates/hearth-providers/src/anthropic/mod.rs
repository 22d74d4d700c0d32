//! Anthropic's native Messages API (`POST {base_url}/v1/messages`),
//! translated both ways: OpenAI chat bodies in (`request`), OpenAI
//! `chat.completion` objects (`response`) and chunks (`stream`) out.
//! Legacy completions go through chat first (`crate::legacy`).

mod request;
mod response;
mod stream;
mod tools;

use std::sync::Arc;

use http::Uri;
use http::header::{HeaderName, HeaderValue};

use crate::chunk::Shape;
use crate::http::Upstream;
use crate::relay::{relay, started};
use crate::{
    ChatRequest, Completion, EventStream, LlmProvider, ProviderError, ProviderSettings, legacy,
};

/// The API version Hearth's translation is written against.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// A client of one Anthropic deployment.
#[derive(Debug, Clone)]
pub struct Anthropic {
    upstream: Arc<Upstream>,
    messages_url: Result<Uri, String>,
}

impl Anthropic {
    /// A client for `settings`, sharing the pooled `client`.
    pub fn new(settings: ProviderSettings, client: crate::HttpClient) -> Self {
        let upstream = Upstream::new(
            settings,
            client,
            HeaderName::from_static("x-api-key"),
            false,
        );
        Anthropic {
            messages_url: upstream.url("/v1/messages"),
            upstream: Arc::new(upstream),
        }
    }

    /// The provider's settings.
    pub fn settings(&self) -> &ProviderSettings {
        &self.upstream.settings
    }

    async fn call(
        &self,
        req: ChatRequest,
        body: ChatBody,
        shape: Shape,
    ) -> Result<Completion, ProviderError> {
        let request =
            request::messages_request(body.0, &req.upstream_model, req.default_max_tokens, false)?;
        let response = self.upstream.send(self.post(&request)?).await?;
        let value = self.upstream.json(response).await?;
        // A proxy in front of Anthropic may answer 200 with an error body.
        if value.get("type").and_then(|t| t.as_str()) == Some("error") {
            let (message, kind) = crate::http::error_fields_of(&value)
                .unwrap_or_else(|| ("unknown error".to_owned(), None));
            return Err(ProviderError::upstream(
                self.upstream.name(),
                502,
                &message,
                kind,
                None,
                self.upstream.settings.api_key.as_ref(),
            ));
        }
        response::completion(value, &req.client_model, shape, self.upstream.name())
    }

    async fn call_stream(
        &self,
        req: ChatRequest,
        body: ChatBody,
        shape: Shape,
    ) -> Result<EventStream, ProviderError> {
        let request =
            request::messages_request(body.0, &req.upstream_model, req.default_max_tokens, true)?;
        let response = self.upstream.send(self.post(&request)?).await?;
        let response = self.upstream.expect_event_stream(response).await?;
        let translate = stream::AnthropicStream::new(
            Arc::clone(&self.upstream),
            shape,
            req.client_model,
            req.include_usage,
        );
        started(&self.upstream, relay(&self.upstream, response, translate)).await
    }

    fn post(&self, request: &request::MessagesRequest) -> Result<crate::http::Post, ProviderError> {
        Ok(self.upstream.post(&self.messages_url, request)?.header(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(ANTHROPIC_VERSION),
        ))
    }
}

/// An OpenAI chat body, taken out of the request it came in.
struct ChatBody(serde_json::Map<String, serde_json::Value>);

impl ChatBody {
    fn chat(req: &mut ChatRequest) -> Self {
        ChatBody(Arc::unwrap_or_clone(std::mem::take(&mut req.body)))
    }

    fn from_legacy(req: &mut ChatRequest) -> Result<Self, ProviderError> {
        legacy::chat_body(Arc::unwrap_or_clone(std::mem::take(&mut req.body))).map(ChatBody)
    }
}

impl LlmProvider for Anthropic {
    async fn chat(&self, mut req: ChatRequest) -> Result<Completion, ProviderError> {
        let body = ChatBody::chat(&mut req);
        self.call(req, body, Shape::Chat).await
    }

    async fn chat_stream(&self, mut req: ChatRequest) -> Result<EventStream, ProviderError> {
        let body = ChatBody::chat(&mut req);
        self.call_stream(req, body, Shape::Chat).await
    }

    async fn completion(&self, mut req: ChatRequest) -> Result<Completion, ProviderError> {
        let body = ChatBody::from_legacy(&mut req)?;
        self.call(req, body, Shape::Text).await
    }

    async fn completion_stream(&self, mut req: ChatRequest) -> Result<EventStream, ProviderError> {
        let body = ChatBody::from_legacy(&mut req)?;
        self.call_stream(req, body, Shape::Text).await
    }
}
