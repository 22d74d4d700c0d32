//! The tools Hearth runs for a model inside its server-side tool loop.
//!
//! Built-in tools are a closed set, [`BuiltinTool`]; tools that come from
//! outside (MCP integrations) are the open set, [`DynamicTool`]. The first
//! built-in family works on files in a per-conversation [`Workspace`]
//! directory and is confined to it.
//!
//! Codemap:
//! - `builtin.rs`: [`BuiltinTool`]: names, descriptions, JSON Schemas, and
//!   `run`, which parses arguments and runs the tool off the async threads
//!   under a deadline.
//! - `tools/`: one file per tool (`list_files`, `read_file`, `write_file`,
//!   `search_files`, `edit_file`).
//! - `workspace.rs`: [`Workspace`]: the root directory and its identity.
//! - `path.rs`: the model's path → a checked location inside the root.
//! - `fsops.rs`: opening, reading and atomically writing files so that the
//!   handle provably lies inside the root; quota accounting.
//! - `walk.rs`: sorted directory walks that never follow links.
//! - `args.rs`: reading tool arguments, naming the argument on every error.
//! - `deadline.rs`, `limits.rs`, `error.rs`, `dynamic.rs`.
//!
//! Architecture Invariant: this crate knows nothing of responses, agents,
//! organisations or the database; it sees a directory, JSON arguments and
//! limits. Every tool run is bounded in output size and in time.

mod args;
mod builtin;
mod deadline;
mod dynamic;
mod error;
mod fsops;
mod limits;
mod path;
mod tools;
mod walk;
mod workspace;

pub use builtin::BuiltinTool;
pub use dynamic::DynamicTool;
pub use error::ToolError;
pub use limits::ToolLimits;
pub use workspace::Workspace;

/// What the model sees as a tool's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// The text handed to the model; bounded by the tool's limits.
    pub text: String,
}

impl ToolOutput {
    /// An output carrying `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into() }
    }
}
