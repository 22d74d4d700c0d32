//! Any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, LM
//! Studio, Groq, Together, Mistral…): `POST {base_url}/chat/completions`
//! and `/completions`.
//!
//! Bodies are passed through: Hearth sets `model`, `stream` and
//! `stream_options` and leaves every other field, known or not, as the
//! client sent it. Answers come back as upstream wrote them, streamed
//! chunks byte for byte. Legacy completions are translated to chat when
//! the server has no `/completions` (`legacy_completions = false`).

mod stream;

use std::borrow::Cow;
use std::sync::Arc;

use http::Uri;
use http::header::AUTHORIZATION;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::http::Upstream;
use crate::relay::{relay, started};
use crate::{
    ChatRequest, Completion, EventStream, LlmProvider, ProviderError, ProviderSettings, legacy,
};
use stream::{ChatToText, OpenAiUsage, Passthrough};

/// What the passthrough reads of a whole answer; everything else is
/// validated and skipped without being copied.
#[derive(Debug, Deserialize)]
struct CompletionProbe {
    #[serde(default)]
    choices: Option<IgnoredAny>,
    /// `null` reads as absent.
    #[serde(default)]
    error: Option<Value>,
    /// A malformed usage object is no usage rather than a failed call.
    #[serde(default, deserialize_with = "lenient_usage")]
    usage: Option<OpenAiUsage>,
}

fn lenient_usage<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<OpenAiUsage>, D::Error> {
    // Only an object: a derived `Deserialize` would also read an array.
    Ok(Option::<Value>::deserialize(deserializer)?
        .filter(Value::is_object)
        .and_then(|usage| OpenAiUsage::deserialize(usage).ok()))
}

/// The body sent upstream: the client's, with `model`, `stream` and
/// `stream_options` as Hearth sets them, written straight from the shared
/// request body without copying it.
struct UpstreamBody<'a> {
    client: &'a Map<String, Value>,
    model: &'a str,
    stream: bool,
    stream_options: Option<Cow<'a, Value>>,
}

impl Serialize for UpstreamBody<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.client {
            if !matches!(key.as_str(), "model" | "stream" | "stream_options") {
                map.serialize_entry(key, value)?;
            }
        }
        map.serialize_entry("model", self.model)?;
        if self.stream {
            map.serialize_entry("stream", &true)?;
        }
        if let Some(options) = &self.stream_options {
            map.serialize_entry("stream_options", options)?;
        }
        map.end()
    }
}

/// A client of one OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct OpenAi {
    upstream: Arc<Upstream>,
    chat_url: Result<Uri, String>,
    completions_url: Result<Uri, String>,
}

/// Which endpoint a call goes to.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Chat,
    Completions,
}

impl OpenAi {
    /// A client for `settings`, sharing the pooled `client`.
    pub fn new(settings: ProviderSettings, client: crate::HttpClient) -> Self {
        let upstream = Upstream::new(settings, client, AUTHORIZATION, true);
        OpenAi {
            chat_url: upstream.url("/chat/completions"),
            completions_url: upstream.url("/completions"),
            upstream: Arc::new(upstream),
        }
    }

    /// The provider's settings.
    pub fn settings(&self) -> &ProviderSettings {
        &self.upstream.settings
    }

    fn url(&self, endpoint: Endpoint) -> &Result<Uri, String> {
        match endpoint {
            Endpoint::Chat => &self.chat_url,
            Endpoint::Completions => &self.completions_url,
        }
    }

    /// One non-streamed call; the body is returned as upstream wrote it.
    async fn call(
        &self,
        endpoint: Endpoint,
        body: &Map<String, Value>,
        upstream_model: &str,
    ) -> Result<Completion, ProviderError> {
        let body = UpstreamBody {
            client: body,
            model: upstream_model,
            stream: false,
            stream_options: None,
        };
        let request = self.upstream.post(self.url(endpoint), &body)?;
        let response = self.upstream.send(request).await?;
        let (body, probe) = self
            .upstream
            .object_with::<CompletionProbe>(response)
            .await?;
        // Some servers answer 200 with an error object.
        if let (Some(error), None) = (probe.error, probe.choices) {
            let (message, kind) =
                crate::http::error_fields_of(&serde_json::json!({ "error": error }))
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
        Ok(Completion {
            body,
            usage: probe.usage.map(Into::into),
        })
    }

    /// Opens a stream: `stream: true`, and usage requested when Hearth's
    /// settings or the client want it.
    async fn open_stream(
        &self,
        endpoint: Endpoint,
        body: &Map<String, Value>,
        upstream_model: &str,
        include_usage: bool,
    ) -> Result<crate::http::Response, ProviderError> {
        let client_options = body.get("stream_options");
        let stream_options = if self.upstream.settings.stream_usage || include_usage {
            let mut options = match client_options {
                Some(Value::Object(options)) => options.clone(),
                _ => Map::new(),
            };
            options.insert("include_usage".to_owned(), Value::Bool(true));
            Some(Cow::Owned(Value::Object(options)))
        } else {
            client_options.map(Cow::Borrowed)
        };
        let body = UpstreamBody {
            client: body,
            model: upstream_model,
            stream: true,
            stream_options,
        };
        let request = self.upstream.post(self.url(endpoint), &body)?;
        let response = self.upstream.send(request).await?;
        self.upstream.expect_event_stream(response).await
    }

    async fn passthrough_stream(
        &self,
        endpoint: Endpoint,
        req: ChatRequest,
    ) -> Result<EventStream, ProviderError> {
        let response = self
            .open_stream(endpoint, &req.body, &req.upstream_model, req.include_usage)
            .await?;
        let translate = Passthrough::new(Arc::clone(&self.upstream), req.include_usage);
        started(&self.upstream, relay(&self.upstream, response, translate)).await
    }
}

impl LlmProvider for OpenAi {
    async fn chat(&self, req: ChatRequest) -> Result<Completion, ProviderError> {
        self.call(Endpoint::Chat, &req.body, &req.upstream_model)
            .await
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<EventStream, ProviderError> {
        self.passthrough_stream(Endpoint::Chat, req).await
    }

    async fn completion(&self, req: ChatRequest) -> Result<Completion, ProviderError> {
        if self.upstream.settings.legacy_completions {
            return self
                .call(Endpoint::Completions, &req.body, &req.upstream_model)
                .await;
        }
        let body = legacy::chat_body(Arc::unwrap_or_clone(req.body))?;
        let chat = self
            .call(Endpoint::Chat, &body, &req.upstream_model)
            .await?;
        let value = chat.json().map_err(|e| {
            ProviderError::InvalidResponse(format!(
                "provider {} sent a chat completion that is not JSON: {e}",
                self.upstream.name()
            ))
        })?;
        Ok(Completion::from_value(
            &legacy::text_completion(&value),
            chat.usage,
        ))
    }

    async fn completion_stream(&self, req: ChatRequest) -> Result<EventStream, ProviderError> {
        if self.upstream.settings.legacy_completions {
            return self.passthrough_stream(Endpoint::Completions, req).await;
        }
        let body = legacy::chat_body(Arc::unwrap_or_clone(req.body))?;
        let response = self
            .open_stream(
                Endpoint::Chat,
                &body,
                &req.upstream_model,
                req.include_usage,
            )
            .await?;
        let translate = ChatToText::new(
            Arc::clone(&self.upstream),
            req.client_model,
            req.include_usage,
        );
        started(&self.upstream, relay(&self.upstream, response, translate)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Usage;

    fn usage_of(json: &str) -> Option<(u64, u64)> {
        let read: CompletionProbe = serde_json::from_str(json).expect("the document is still read");
        read.usage
            .map(Usage::from)
            .map(|u| (u.prompt_tokens, u.completion_tokens))
    }

    #[test]
    fn usage_is_read_leniently() {
        let full = r#"{"usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
            "prompt_tokens_details": {"cached_tokens": 2, "audio": [1, {"x": null}]}}}"#;
        assert_eq!(usage_of(full), Some((12, 9)));
        assert_eq!(
            usage_of(r#"{"usage": {"completion_tokens": 4}}"#),
            Some((0, 4))
        );
        assert_eq!(usage_of(r#"{"usage": {}}"#), Some((0, 0)));
        // The last of a repeated field counts.
        assert_eq!(
            usage_of(r#"{"usage": {"prompt_tokens": 1, "prompt_tokens": 3}}"#),
            Some((3, 0))
        );
        // Malformed: no usage, and the rest of the document still reads.
        for bad in [
            r#"{"usage": null}"#,
            r#"{"usage": "lots"}"#,
            r#"{"usage": 7}"#,
            r#"{"usage": [1, 2]}"#,
            r#"{"usage": true}"#,
            r#"{"usage": {"prompt_tokens": "12"}}"#,
            r#"{"usage": {"prompt_tokens": -1, "completion_tokens": 2}}"#,
            r#"{"usage": {"prompt_tokens": 1.5}}"#,
            r#"{"usage": {"completion_tokens": null}}"#,
            r#"{"usage": {"completion_tokens": {"n": 1}}}"#,
            r#"{"usage": {"prompt_tokens": [1]}}"#,
            r#"{}"#,
        ] {
            assert_eq!(usage_of(bad), None, "{bad}");
        }
        // Broken JSON is still an error.
        assert!(
            serde_json::from_str::<CompletionProbe>(r#"{"usage": {"prompt_tokens": }"#).is_err()
        );
    }
}
