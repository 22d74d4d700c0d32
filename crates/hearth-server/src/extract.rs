//! Extractors whose rejections use the error envelope: JSON bodies that
//! name the offending field, query strings, and the authenticated caller.

use crate::app::AppState;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use bytes::{Bytes, BytesMut};
use hearth_engine::CallContext;
use hearth_security::Principal;
use http_body_util::BodyExt as _;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A JSON body. Wrong content type → 415, too large → 413, malformed JSON
/// or a wrong field → 400 with `param` naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let ApiJsonLen(value, _) = ApiJsonLen::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}

/// [`ApiJson`] that also gives the body's size in bytes (model calls
/// estimate prompt tokens from it).
pub struct ApiJsonLen<T>(pub T, pub usize);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJsonLen<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                "expected 'Content-Type: application/json'",
            )
            .code("unsupported_media_type"));
        }
        let bytes = read_body(req.into_body(), state.config.max_body_bytes).await?;
        let len = bytes.len();
        parse_json(&bytes).map(|value| ApiJsonLen(value, len))
    }
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Past the limit, at most this much more of a body is read (and thrown
/// away), for at most this long, before the 413 goes out.
const DRAIN_MAX_BYTES: usize = 8 * 1024 * 1024;
const DRAIN_MAX_TIME: Duration = Duration::from_secs(2);

/// Reads a body of at most `limit` bytes; a longer one is a 413.
async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::bad_request(format!("could not read the request body: {e}"))
                .code("invalid_body")
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > limit {
            drain(body).await;
            return Err(too_large());
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

/// Reads and discards the rest of a refused body, bounded in size and
/// time. Closing a connection whose request data is unread resets it, and
/// the reset destroys the 413 on its way to a client still sending: it
/// would see a broken connection instead of the error.
pub(crate) async fn drain(mut body: Body) {
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, async {
        let mut drained = 0_usize;
        while drained <= DRAIN_MAX_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => drained += frame.data_ref().map_or(0, Bytes::len),
                Some(Err(_)) | None => break,
            }
        }
    })
    .await;
}

pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        "request body too large",
    )
    .code("request_too_large")
}

/// Parses JSON, turning serde's errors into a 400 that names the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every JSON body Hearth takes is an object; say so plainly rather than
    // letting serde describe a sequence as a struct's fields.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(_) => {
                ApiError::bad_request("the request body must be a JSON object").code("invalid_body")
            }
            Err(e) => ApiError::bad_request(format!("the request body is not valid JSON: {e}"))
                .code("invalid_json"),
        });
    }
    // The common case pays for no path tracking; a body that fails is
    // parsed again, tracking the path, to say where.
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    if value.is_ok()
        && let Err(trailing) = de.end()
    {
        return Err(ApiError::bad_request(format!(
            "the request body is not valid JSON: {trailing}"
        ))
        .code("invalid_json"));
    }
    value.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            let what = if bytes.iter().all(u8::is_ascii_whitespace) {
                "the request body is empty; expected a JSON object".to_owned()
            } else {
                format!("the request body is not valid JSON: {inner}")
            };
            return ApiError::bad_request(what).code("invalid_json");
        }
        let message = inner.to_string();
        let field = named_field(&message);
        let param = match (path.as_str(), field) {
            (".", Some(f)) => f.to_owned(),
            (p, Some(f)) if message.starts_with("missing field") => format!("{p}.{f}"),
            (".", None) => String::new(),
            (p, _) => p.to_owned(),
        };
        let shown = strip_position(&message);
        let text = if param.is_empty() {
            format!("invalid request body: {shown}")
        } else {
            format!("invalid value for '{param}': {shown}")
        };
        let err = ApiError::bad_request(text).code("invalid_body");
        if param.is_empty() {
            err
        } else {
            err.param(param)
        }
    })
}

/// The field serde names in "missing field `x`" / "unknown field `x`".
fn named_field(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next()
}

/// Drops serde_json's " at line 1 column 9" suffix, which says nothing a
/// client can use once the field is named.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

/// A query string; bad parameters get a 400 naming them.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded_deserializer(query);
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                let param = named_field(&message).map_or(path, str::to_owned);
                ApiError::bad_request(format!("invalid query parameter '{param}': {message}"))
                    .param(param)
                    .code("invalid_query")
            })
    }
}

fn serde_urlencoded_deserializer(query: &str) -> serde_urlencoded::Deserializer<'_> {
    serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()))
}

/// The authenticated caller, put in the request by the gate.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(ApiError::internal)
    }
}

/// Facts about the call, recorded with any state change it makes.
pub struct Call(pub CallContext);

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CallContext>()
            .cloned()
            .map(Call)
            .ok_or_else(ApiError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn err(json: &str) -> ApiError {
        parse_json::<Body>(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(err(r#"{"email": 5}"#).param.as_deref(), Some("email"));
        assert_eq!(err(r#"{}"#).param.as_deref(), Some("email"));
        assert_eq!(
            err(r#"{"email":"a","inner":{"count":"x"}}"#)
                .param
                .as_deref(),
            Some("inner.count")
        );
        assert_eq!(
            err(r#"{"email":"a","inner":{}}"#).param.as_deref(),
            Some("inner.count")
        );
        assert_eq!(
            err(r#"{"email":"a","extra":1}"#).param.as_deref(),
            Some("extra")
        );
    }

    #[test]
    fn bodies_must_be_objects() {
        let e = err("[1, 2]");
        assert_eq!(e.code, Some("invalid_body"));
        assert!(e.message.contains("JSON object"), "{}", e.message);
        assert_eq!(err("[1, 2").code, Some("invalid_json"));
        assert_eq!(err("\"text\"").code, Some("invalid_body"));
    }

    #[test]
    fn syntax_errors_say_so() {
        let e = err("{not json");
        assert_eq!(e.code, Some("invalid_json"));
        assert!(err("").message.contains("empty"));
        assert_eq!(err(r#"{"email":"a"} trailing"#).code, Some("invalid_json"));
    }
}
