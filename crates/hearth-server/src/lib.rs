//! The `hearth` server: HTTP surface, configuration, CLI and the error
//! envelope. No business logic lives here: handlers extract, call one
//! engine function and map the result.

pub mod app;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod gate;
pub mod gateway_config;
pub mod meter;
mod routes;
pub mod serve;
mod sse;
pub mod telemetry;

pub use config::Config;
pub use serve::{Running, start};
