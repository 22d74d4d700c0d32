//! [`DynamicTool`]: tools that come from outside Hearth (MCP integrations).

use std::future::Future;
use std::pin::Pin;

use crate::{ToolError, ToolOutput};

/// A tool whose set is open: discovered at run time rather than compiled in.
///
/// Implementations bound their own work in size and time, as built-in tools
/// do; the engine also bounds every call from outside.
pub trait DynamicTool: Send + Sync {
    /// The name the model calls the tool by; unique among offered tools.
    fn name(&self) -> &str;
    /// What the tool does, written for the model.
    fn description(&self) -> &str;
    /// A JSON Schema (`type: object`) for the arguments.
    fn parameters(&self) -> serde_json::Value;
    /// Runs the tool with the model's arguments (a JSON object).
    fn call<'a>(
        &'a self,
        args: &'a serde_json::Value,
    ) -> Pin<Box<dyn Future<Output = Result<ToolOutput, ToolError>> + Send + 'a>>;
}
