//! Why a caller was refused.

use hearth_store::StoreError;

/// Why authentication failed. Every variant but `Store` is the caller's
/// problem and maps to 401; the message is safe to show them.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credential header was sent at all.
    #[error("missing API key: send it as 'Authorization: Bearer <key>', 'x-api-key' or 'api-key'")]
    Missing,
    /// The `Authorization` header was present but not `Bearer <token>`.
    #[error("malformed Authorization header: expected 'Bearer <key>'")]
    Malformed,
    /// No key matches, or it was revoked or has expired.
    #[error("invalid API key: it does not exist, was revoked, or has expired")]
    InvalidKey,
    /// The key's user is disabled.
    #[error("the user this API key belongs to is disabled")]
    UserDisabled,
    /// The store could not be reached; retryable, maps to 503.
    #[error("authentication is temporarily unavailable")]
    Store(#[source] StoreError),
}

/// The principal lacks a permission (403), or the resource is outside its
/// reach (404, so other organisations' ids reveal nothing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("your role '{role}' does not allow this; it needs {needed}")]
    Forbidden { role: String, needed: &'static str },
    #[error("{0} not found")]
    NotFound(&'static str),
}
