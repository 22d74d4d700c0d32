//! The one error envelope every response uses:
//! `{"error":{"message","type","param","code"},"message"}`.
//!
//! Domain errors from the layers below are mapped here, once; internals
//! (database errors, upstream credentials) never reach the body.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_engine::EngineError;
use hearth_security::{AuthError, Denied};
use hearth_store::StoreError;
use serde::Serialize;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// The OpenAI-style `type`, e.g. `invalid_request_error`.
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<String>,
    pub message: String,
    /// Boxed to keep `Result<_, ApiError>` small on the success path.
    pub headers: Box<HeaderMap>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
    message: &'a str,
}

#[derive(Serialize)]
struct Body<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            code: None,
            param: None,
            message: message.into(),
            headers: Box::default(),
        }
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found_error", message).code("not_found")
    }

    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error; the request id identifies it in the server log",
        )
        .code("internal_error")
    }

    pub fn unavailable() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "the service is temporarily unavailable; retry shortly",
        )
        .code("service_unavailable")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Envelope {
            error: Body {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
            message: &self.message,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response.headers_mut().extend(*self.headers);
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Store(source) => {
                tracing::error!(error = %source, "authentication lookup failed");
                ApiError::unavailable()
            }
            other => {
                let code = match other {
                    AuthError::Missing => "missing_api_key",
                    AuthError::UserDisabled => "user_disabled",
                    _ => "invalid_api_key",
                };
                let mut err = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "authentication_error",
                    other.to_string(),
                )
                .code(code);
                err.headers
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                err
            }
        }
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> Self {
        match e {
            Denied::Forbidden { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "permission_error", e.to_string())
                    .code("forbidden")
            }
            Denied::NotFound(_) => ApiError::not_found(e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_retryable() {
            tracing::error!(error = %e, "database unavailable");
            ApiError::unavailable()
        } else {
            tracing::error!(error = %e, "database error");
            ApiError::internal()
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Denied(d) => d.into(),
            EngineError::Invalid { param, message } => ApiError::bad_request(message)
                .param(param)
                .code("invalid_value"),
            EngineError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "invalid_request_error", message)
                    .code("conflict")
            }
            // OpenAI's own shape for this case: 404, invalid_request_error.
            EngineError::ModelNotFound(message) => {
                ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
                    .param("model")
                    .code("model_not_found")
            }
            EngineError::Unsupported {
                param,
                message,
                code,
            }
            | EngineError::Rejected {
                param,
                message,
                code,
            } => {
                if code == "previous_response_not_found" {
                    ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
                        .param(param)
                        .code(code)
                } else {
                    ApiError::bad_request(message).param(param).code(code)
                }
            }
            EngineError::NotFoundMessage(message) => ApiError::not_found(message),
            EngineError::NoModels => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                EngineError::NoModels.to_string(),
            )
            .code("no_models_configured"),
            EngineError::TokensExhausted(decision) => {
                let secs = crate::gate::retry_after_secs(decision.retry_after);
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    format!(
                        "token rate limit of {} tokens per minute reached; retry after {secs} s",
                        decision.limit
                    ),
                )
                .code("rate_limit_exceeded");
                err.headers
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                err.headers.extend(crate::gate::token_headers(&decision));
                err
            }
            EngineError::Upstream(e) => upstream(&e),
            EngineError::Store(s) => s.into(),
        }
    }
}

/// An upstream failure as the client sees it: the provider's own view of
/// status and message (credentials already redacted), in our envelope.
fn upstream(e: &hearth_providers::ProviderError) -> ApiError {
    let view = e.client_view();
    let status = StatusCode::from_u16(view.status).unwrap_or(StatusCode::BAD_GATEWAY);
    if status.is_server_error() {
        tracing::warn!(error = %e, "upstream call failed");
    }
    let mut err = ApiError::new(status, view.kind, view.message).code(view.code);
    if let Some(param) = view.param {
        err = err.param(param);
    }
    if let Some(after) = view.retry_after {
        let secs = crate::gate::retry_after_secs(after);
        err.headers
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    err
}
