//! `POST /v1/chat/completions` and `POST /v1/completions`: the gateway's
//! OpenAI-compatible endpoints, JSON or streamed as server-sent events.

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJsonLen, Caller};
use crate::meter::Meter;
use crate::sse;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use hearth_engine::gateway::{Endpoint, ModelCall, Reply};
use serde_json::{Map, Value};

pub async fn chat(
    State(app): State<AppState>,
    Caller(actor): Caller,
    meter: Meter,
    ApiJsonLen(body, body_len): ApiJsonLen<Map<String, Value>>,
) -> Result<Response, ApiError> {
    call(app, actor, meter, Endpoint::Chat, body, body_len).await
}

pub async fn completions(
    State(app): State<AppState>,
    Caller(actor): Caller,
    meter: Meter,
    ApiJsonLen(body, body_len): ApiJsonLen<Map<String, Value>>,
) -> Result<Response, ApiError> {
    call(app, actor, meter, Endpoint::Completion, body, body_len).await
}

async fn call(
    app: AppState,
    actor: hearth_security::Principal,
    meter: Meter,
    endpoint: Endpoint,
    body: Map<String, Value>,
    body_len: usize,
) -> Result<Response, ApiError> {
    if let Some(model) = body.get("model").and_then(Value::as_str) {
        meter.set_model(model);
    }
    let call = ModelCall {
        endpoint,
        body,
        body_len,
    };
    let outcome = app.engine.call_model(&actor, call).await?;
    meter.set_model(outcome.model.clone());
    let token_headers = crate::gate::token_headers(&outcome.tokens.decision);
    meter.set_charge(outcome.tokens);
    let mut response = match outcome.reply {
        Reply::Complete(completion) => {
            if let Some(usage) = completion.usage {
                meter.report(usage);
            }
            let json = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
            (json, completion.body).into_response()
        }
        Reply::Stream(events) => sse::relay(events, meter),
    };
    response.headers_mut().extend(token_headers);
    Ok(response)
}
