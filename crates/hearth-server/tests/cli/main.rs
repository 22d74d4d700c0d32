//! Process-level tests of the `hearth` binary: the README quick start,
//! bootstrap, configuration, graceful shutdown, CLI administration and
//! logs. Each test runs the real binary in its own empty temporary
//! directory, on a port the OS picks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod config;
mod logs;
mod shutdown;
mod startup;
mod support;
