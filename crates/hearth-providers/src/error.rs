//! What can go wrong talking to an upstream, whether it is worth retrying,
//! and what the client is told about it.
//!
//! Upstream credentials never appear here: every message that comes from an
//! upstream passes through [`redact`] when the error is built, and the text
//! an upstream sends with a 401 or 403 (which often echoes part of the key)
//! is replaced by a fixed sentence.

use std::time::Duration;

use crate::Secret;

/// An upstream call failed. Each variant says when it happens and whether a
/// retry or a fallback to another deployment may help ([`Self::is_retryable`]).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Could not connect, or the connection broke before a complete
    /// response arrived. Retryable.
    #[error("{0}")]
    Connect(String),
    /// The upstream did not answer (or finish) within the configured
    /// timeout. Retryable before the first byte reached the client.
    #[error("the upstream provider did not answer within the timeout")]
    Timeout,
    /// The upstream answered with an error status. `message` is the
    /// upstream's error message with the configured key redacted, except for
    /// 401 and 403, where it is a fixed sentence naming the provider; `kind`
    /// is the upstream's error type if it gave one.
    #[error("upstream answered {status}: {message}")]
    Upstream {
        status: u16,
        message: String,
        kind: Option<String>,
        retry_after: Option<Duration>,
    },
    /// The upstream answered 2xx with something that is not the expected
    /// JSON or event stream (an HTML page, garbage, an empty body).
    /// Retryable: such answers come from a failing intermediary or a
    /// half-started server, and nothing has reached the client yet.
    #[error("{0}")]
    InvalidResponse(String),
    /// The stream broke after it started: an upstream error event, a reset,
    /// an event that does not parse. Not retryable: the client has output.
    #[error("{0}")]
    Stream(String),
    /// The request cannot be expressed for this provider (e.g. `n > 1` on
    /// anthropic, a tool call whose arguments are not JSON). A 400 for the
    /// client; `param` names the top-level field, `message` the exact place.
    #[error("{message}")]
    Unsupported {
        param: &'static str,
        message: String,
    },
}

/// What the client sees for a [`ProviderError`]: the fields of Hearth's
/// error envelope, plus the `Retry-After` to send, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// HTTP status for the response.
    pub status: u16,
    /// The envelope's `error.type`.
    pub kind: &'static str,
    /// The envelope's `error.code`.
    pub code: &'static str,
    /// The envelope's `error.message`; never contains a credential.
    pub message: String,
    /// The envelope's `error.param`.
    pub param: Option<&'static str>,
    /// How long the upstream asked callers to wait.
    pub retry_after: Option<Duration>,
}

/// Marks an [`ProviderError::InvalidResponse`] built for an empty body, so
/// the client view can say `upstream_empty_body`.
const EMPTY_BODY: &str = "returned an empty body";

impl ProviderError {
    /// Builds [`ProviderError::Upstream`] from what an upstream answered:
    /// redacts the key, and replaces 401/403 texts by a fixed sentence.
    pub(crate) fn upstream(
        provider: &str,
        status: u16,
        message: &str,
        kind: Option<String>,
        retry_after: Option<Duration>,
        key: Option<&Secret>,
    ) -> Self {
        let message = if status == 401 || status == 403 {
            format!("upstream provider rejected Hearth's credentials for provider {provider}")
        } else {
            redact(message, key)
        };
        ProviderError::Upstream {
            status,
            message,
            kind: kind.map(|k| redact(&k, key)),
            retry_after,
        }
    }

    /// The upstream answered 2xx with no body at all.
    pub(crate) fn empty_body(provider: &str) -> Self {
        ProviderError::InvalidResponse(format!("provider {provider} {EMPTY_BODY}"))
    }

    /// Shorthand for [`ProviderError::Unsupported`].
    pub(crate) fn unsupported(param: &'static str, message: impl Into<String>) -> Self {
        ProviderError::Unsupported {
            param,
            message: message.into(),
        }
    }

    /// Worth retrying on the same provider or falling back to another:
    /// `Connect`, `Timeout`, `InvalidResponse` (see its doc), and `Upstream`
    /// with 408, 409, 429 or any 5xx (Anthropic's 529 "overloaded" included).
    /// Never `Stream` (output already reached the client) nor `Unsupported`.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Connect(_)
            | ProviderError::Timeout
            | ProviderError::InvalidResponse(_) => true,
            ProviderError::Upstream { status, .. } => {
                matches!(status, 408 | 409 | 429) || (500..=599).contains(status)
            }
            ProviderError::Stream(_) | ProviderError::Unsupported { .. } => false,
        }
    }

    /// What the client should see. Upstream 400/404/413/422 keep their
    /// status; upstream credential and server failures become 502; a timeout
    /// 504; see the match arms for the exact codes.
    pub fn client_view(&self) -> ClientError {
        let view = |status, kind, code, message: String| ClientError {
            status,
            kind,
            code,
            message,
            param: None,
            retry_after: None,
        };
        match self {
            ProviderError::Connect(detail) => view(
                502,
                "server_error",
                "upstream_unreachable",
                format!("could not reach the upstream provider: {detail}"),
            ),
            ProviderError::Timeout => view(
                504,
                "server_error",
                "upstream_timeout",
                "the upstream provider did not answer within the configured timeout".to_owned(),
            ),
            ProviderError::InvalidResponse(detail) => {
                let code = if detail.ends_with(EMPTY_BODY) {
                    "upstream_empty_body"
                } else {
                    "upstream_invalid_response"
                };
                view(502, "server_error", code, detail.clone())
            }
            ProviderError::Stream(detail) => view(
                502,
                "server_error",
                "stream_error",
                format!("the upstream stream failed: {detail}"),
            ),
            ProviderError::Unsupported { param, message } => ClientError {
                param: Some(param),
                ..view(
                    400,
                    "invalid_request_error",
                    "unsupported_parameter",
                    message.clone(),
                )
            },
            ProviderError::Upstream {
                status,
                message,
                kind,
                retry_after,
            } => {
                let mut client = upstream_view(*status, message, kind.as_deref());
                client.retry_after = *retry_after;
                client
            }
        }
    }
}

/// The client view of an upstream error status.
fn upstream_view(status: u16, message: &str, kind: Option<&str>) -> ClientError {
    let (status, kind, code, message) = match status {
        400 | 413 | 422 => (
            status,
            "invalid_request_error",
            "upstream_error",
            message.to_owned(),
        ),
        404 => {
            let code = if says_model_missing(message, kind) {
                "model_not_found"
            } else {
                "upstream_error"
            };
            (404, "invalid_request_error", code, message.to_owned())
        }
        429 => (
            429,
            "rate_limit_error",
            "upstream_rate_limited",
            format!("the upstream provider is rate limiting Hearth: {message}"),
        ),
        // The message was replaced by a fixed sentence when the error was built.
        401 | 403 => (
            502,
            "server_error",
            "upstream_authentication_failed",
            message.to_owned(),
        ),
        408 => (
            504,
            "server_error",
            "upstream_timeout",
            format!("the upstream provider timed out: {message}"),
        ),
        _ => (
            502,
            "server_error",
            "upstream_error",
            format!("the upstream provider failed ({status}): {message}"),
        ),
    };
    ClientError {
        status,
        kind,
        code,
        message,
        param: None,
        retry_after: None,
    }
}

/// Whether a 404 is about the model rather than, say, a wrong base URL.
/// Upstreams word it differently: OpenAI "The model `x` does not exist",
/// Anthropic `not_found_error` "model: x", Ollama "model 'x' not found".
fn says_model_missing(message: &str, kind: Option<&str>) -> bool {
    let message = message.to_ascii_lowercase();
    if kind == Some("model_not_found") {
        return true;
    }
    message.contains("model")
        && (message.contains("not found")
            || message.contains("not_found")
            || message.contains("does not exist")
            || kind == Some("not_found_error"))
}

/// The longest upstream message passed on; longer ones are cut.
const MAX_MESSAGE_CHARS: usize = 2000;

/// Removes credentials from a text that came from an upstream: the
/// configured key wherever it appears, and anything shaped like an OpenAI or
/// Anthropic secret key (`sk-…`). Long texts are cut.
pub(crate) fn redact(text: &str, key: Option<&Secret>) -> String {
    let mut out = match key.map(Secret::expose) {
        Some(key) if key.len() >= 4 => text.replace(key, "***"),
        _ => text.to_owned(),
    };
    if out.contains("sk-") {
        out = redact_sk_tokens(&out);
    }
    if out.len() > MAX_MESSAGE_CHARS {
        let mut cut = MAX_MESSAGE_CHARS;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// Replaces every `sk-` token of 12 or more key characters by `sk-***`.
fn redact_sk_tokens(text: &str) -> String {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("sk-") {
        let starts_word = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_key_char(c));
        let tail = &rest[at..];
        let len = tail.find(|c| !is_key_char(c)).unwrap_or(tail.len());
        out.push_str(&rest[..at]);
        if starts_word && len >= 15 {
            out.push_str("sk-***");
        } else {
            out.push_str(&tail[..len]);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(status: u16, message: &str, kind: Option<&str>) -> ProviderError {
        ProviderError::upstream("main", status, message, kind.map(str::to_owned), None, None)
    }

    #[test]
    fn retryable_errors() {
        assert!(ProviderError::Connect("refused".into()).is_retryable());
        assert!(ProviderError::Timeout.is_retryable());
        assert!(ProviderError::InvalidResponse("html".into()).is_retryable());
        for status in [408, 409, 429, 500, 502, 503, 529] {
            assert!(upstream(status, "x", None).is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 413, 422] {
            assert!(!upstream(status, "x", None).is_retryable(), "{status}");
        }
        assert!(!ProviderError::Stream("reset".into()).is_retryable());
        assert!(!ProviderError::unsupported("n", "n > 1").is_retryable());
    }

    #[test]
    fn client_view_of_upstream_statuses() {
        let bad = upstream(
            400,
            "max_tokens is too large",
            Some("invalid_request_error"),
        );
        let view = bad.client_view();
        assert_eq!(
            (view.status, view.kind, view.code),
            (400, "invalid_request_error", "upstream_error")
        );
        assert_eq!(view.message, "max_tokens is too large");

        let missing = upstream(
            404,
            "The model `gpt-9` does not exist or you do not have access to it.",
            Some("invalid_request_error"),
        );
        assert_eq!(missing.client_view().code, "model_not_found");
        let anthropic_missing = upstream(404, "model: claude-9", Some("not_found_error"));
        assert_eq!(anthropic_missing.client_view().code, "model_not_found");
        let wrong_path = upstream(404, "Not Found", None);
        assert_eq!(wrong_path.client_view().code, "upstream_error");
        assert_eq!(wrong_path.client_view().status, 404);

        let limited = ProviderError::Upstream {
            status: 429,
            message: "slow down".into(),
            kind: None,
            retry_after: Some(Duration::from_secs(3)),
        };
        let view = limited.client_view();
        assert_eq!((view.status, view.kind), (429, "rate_limit_error"));
        assert_eq!(view.retry_after, Some(Duration::from_secs(3)));

        for status in [500, 503, 529] {
            let view = upstream(status, "boom", None).client_view();
            assert_eq!((view.status, view.code), (502, "upstream_error"));
        }
        assert_eq!(upstream(413, "too big", None).client_view().status, 413);
        assert_eq!(upstream(422, "bad", None).client_view().status, 422);
    }

    #[test]
    fn rejected_credentials_never_show_upstream_text() {
        for status in [401, 403] {
            let err = upstream(
                status,
                "Incorrect API key provided: sk-proj-abc****wxyz",
                None,
            );
            let view = err.client_view();
            assert_eq!(view.status, 502);
            assert_eq!(
                view.message,
                "upstream provider rejected Hearth's credentials for provider main"
            );
            assert!(!format!("{err} {err:?}").contains("abc"));
        }
    }

    #[test]
    fn client_view_of_local_failures() {
        let view = ProviderError::Timeout.client_view();
        assert_eq!((view.status, view.code), (504, "upstream_timeout"));
        let view = ProviderError::Connect("connection refused".into()).client_view();
        assert_eq!((view.status, view.code), (502, "upstream_unreachable"));
        let view = ProviderError::empty_body("main").client_view();
        assert_eq!((view.status, view.code), (502, "upstream_empty_body"));
        let view = ProviderError::InvalidResponse("not JSON".into()).client_view();
        assert_eq!((view.status, view.code), (502, "upstream_invalid_response"));
        let view = ProviderError::Stream("reset".into()).client_view();
        assert_eq!(view.code, "stream_error");
        let view = ProviderError::unsupported("n", "n must be 1").client_view();
        assert_eq!(
            (view.status, view.kind, view.param),
            (400, "invalid_request_error", Some("n"))
        );
    }

    #[test]
    fn redacts_the_configured_key_and_key_shapes() {
        let key = Secret::new("my-upstream-key-42".to_owned());
        let text = "bad key my-upstream-key-42 and sk-ant-api03-AbCdEf123456789 here";
        let clean = redact(text, Some(&key));
        assert_eq!(clean, "bad key *** and sk-*** here");
        // Short words that merely start with "sk-" are left alone.
        assert_eq!(redact("ask sk-1 or task-sk-", None), "ask sk-1 or task-sk-");

        let err = ProviderError::upstream(
            "main",
            500,
            "upstream echoed my-upstream-key-42",
            None,
            None,
            Some(&key),
        );
        assert!(!err.to_string().contains("my-upstream-key-42"));
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let text = "é".repeat(MAX_MESSAGE_CHARS);
        let clean = redact(&text, None);
        assert!(clean.len() <= MAX_MESSAGE_CHARS + '…'.len_utf8());
        assert!(clean.ends_with('…'));
    }
}
