//! HTTP handlers, one file per resource. Each extracts, calls one engine
//! function and maps the result.

pub mod audit;
pub mod chat;
pub mod conversations;
pub mod keys;
pub mod me;
pub mod models;
pub mod ops;
pub mod orgs;
pub mod responses;
pub mod usage;
pub mod users;

use crate::error::ApiError;
use axum::http::{Method, StatusCode, Uri};

/// Unknown routes.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path())).code("unknown_route")
}

/// Known routes called with the wrong method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!("{method} is not allowed on {}", uri.path()),
    )
    .code("method_not_allowed")
}
