//! Hearth's business logic. Every entry point takes the caller's
//! [`Principal`](hearth_security::Principal) and checks what it may do
//! before doing it.
//!
//! Now: administration of organisations, users, keys and the audit log.
//! The gateway, responses loop and agents join here as they arrive.

pub mod admin;
mod error;
pub mod gateway;
pub mod metric_handles;
pub mod responses;

pub use error::EngineError;

use gateway::{Catalog, RetryPolicy};
use hearth_security::Authenticator;
use hearth_security::ratelimit::Limiter;
use hearth_store::Store;
use std::sync::Arc;

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
    pub(crate) limiter: Arc<Limiter>,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) limits: DefaultLimits,
    pub(crate) retry: RetryPolicy,
    pub(crate) responses: Arc<responses::ResponsesConfig>,
}

/// What the engine is built from.
pub struct EngineParts {
    pub store: Store,
    pub auth: Authenticator,
    pub limiter: Arc<Limiter>,
    pub catalog: Arc<Catalog>,
    pub limits: DefaultLimits,
    pub retry: RetryPolicy,
    pub responses: responses::ResponsesConfig,
}

impl Engine {
    pub fn new(parts: EngineParts) -> Self {
        Engine {
            store: parts.store,
            auth: parts.auth,
            limiter: parts.limiter,
            catalog: parts.catalog,
            limits: parts.limits,
            retry: parts.retry,
            responses: Arc::new(parts.responses),
        }
    }

    /// The model catalogue.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
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
