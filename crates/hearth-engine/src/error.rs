//! What can go wrong in the engine, and whose fault it is.

use hearth_security::Denied;
use hearth_store::StoreError;
use std::borrow::Cow;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The caller may not do this (403) or may not see the resource (404).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// A request field is invalid (400). `param` names the field.
    #[error("{message}")]
    Invalid {
        param: Cow<'static, str>,
        message: String,
    },
    /// The change conflicts with existing state (409), e.g. a duplicate
    /// email. Not retryable as is.
    #[error("{0}")]
    Conflict(String),
    /// A valid request for something this server does not do (400 with
    /// `code`, e.g. `unsupported_tool_type`).
    #[error("{message}")]
    Unsupported {
        param: Cow<'static, str>,
        message: String,
        code: &'static str,
    },
    /// A request that refers to state that does not allow it (400 with
    /// `code`), e.g. a function output for an unknown call.
    #[error("{message}")]
    Rejected {
        param: Cow<'static, str>,
        message: String,
        code: &'static str,
    },
    /// A resource of the caller's organisation that does not exist (404),
    /// with a message naming it.
    #[error("{0}")]
    NotFoundMessage(String),
    /// The model is unknown, or the organisation may not use it (404
    /// `model_not_found`; the two are not told apart).
    #[error("{0}")]
    ModelNotFound(String),
    /// No model is configured at all.
    #[error(
        "no models are configured: add [[providers]] and [[models]] to the config file, or set OPENAI_API_KEY or ANTHROPIC_API_KEY, and restart"
    )]
    NoModels,
    /// The organisation's tokens-per-minute allowance is spent (429).
    #[error("token rate limit reached")]
    TokensExhausted(hearth_security::ratelimit::Decision),
    /// Every deployment failed, or the upstream refused the request.
    #[error(transparent)]
    Upstream(#[from] hearth_providers::ProviderError),
    /// The store failed (500, or 503 when retryable).
    #[error("storage error")]
    Store(#[source] StoreError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => EngineError::Conflict(format!("{what} already exists")),
            StoreError::NotFound(what) => EngineError::Denied(Denied::NotFound(what)),
            other => EngineError::Store(other),
        }
    }
}

impl EngineError {
    pub(crate) fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        EngineError::Invalid {
            param: Cow::Borrowed(param),
            message: message.into(),
        }
    }

    pub(crate) fn not_found(what: &'static str) -> Self {
        EngineError::Denied(Denied::NotFound(what))
    }
}
