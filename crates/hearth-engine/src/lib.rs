//! Hearth's business logic. Every entry point takes the caller's
//! [`Principal`](hearth_security::Principal) and checks what it may do
//! before doing it.
//!
//! Now: administration of organisations, users, keys and the audit log.
//! The gateway, responses loop and agents join here as they arrive.

pub mod admin;
mod error;

pub use error::EngineError;

use hearth_security::Authenticator;
use hearth_store::Store;

/// Default limits for organisations that set none of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultLimits {
    pub requests_per_minute: u64,
    pub tokens_per_minute: u64,
}

/// The engine: one handle per domain service. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) auth: Authenticator,
}

impl Engine {
    pub fn new(store: Store, auth: Authenticator) -> Self {
        Engine { store, auth }
    }
}

/// Facts about the HTTP call (or CLI command) that a state change is made
/// in, recorded with the change in the same transaction.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
}
