//! The LLM gateway: the model catalogue, request checks, routing with
//! retries and fallbacks, and token-per-minute limits.

mod call;
pub mod catalog;
mod validate;

pub use call::{CallOutcome, Endpoint, ModelCall, Reply, RetryPolicy, TokenCharge};
pub use catalog::{Catalog, CatalogError, ModelSettings, ModelView};
