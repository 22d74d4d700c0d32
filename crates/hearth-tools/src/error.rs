//! [`ToolError`]: why a tool call failed, in words safe to show the model.

use std::io;

/// A tool failure. The engine records it as a failed tool call that the
/// model sees, so every message is written for the model and never names a
/// host path outside the workspace (paths are shown relative to its root).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The arguments are missing, unknown, of the wrong type or out of
    /// range, or the target is the wrong kind of thing (a directory, a
    /// binary file). The model can retry with corrected arguments.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The path is absolute, contains `..` or NUL, or would go through a
    /// symbolic link or otherwise leave the workspace. Not retryable with
    /// the same path.
    #[error("path not allowed: {0}")]
    PathNotAllowed(String),
    /// The file or directory does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A size limit would be exceeded (content to write, file to edit,
    /// workspace quota). Retryable only with less data.
    #[error("too large: {0}")]
    TooLarge(String),
    /// `edit_file`: `old_string` was not found, or was found more than once
    /// without `replace_all`. Retryable with a different `old_string`.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The tool did not finish within its time limit. Retryable with a
    /// smaller request.
    #[error("the tool did not finish within its time limit")]
    Timeout,
    /// The file system failed. The message holds the error kind, never the
    /// operating system's text (which could carry host paths).
    #[error("I/O error: {0}")]
    Io(String),
}

impl ToolError {
    /// A stable snake_case code for the variant, for recording and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ToolError::InvalidArguments(_) => "invalid_arguments",
            ToolError::PathNotAllowed(_) => "path_not_allowed",
            ToolError::NotFound(_) => "not_found",
            ToolError::TooLarge(_) => "too_large",
            ToolError::Conflict(_) => "conflict",
            ToolError::Timeout => "timeout",
            ToolError::Io(_) => "io",
        }
    }
}

/// Maps an I/O error on `what` (a workspace-relative path, already quoted,
/// or a phrase) to a [`ToolError`] that reveals only the error kind.
pub(crate) fn io_error(what: &str, error: &io::Error) -> ToolError {
    match error.kind() {
        io::ErrorKind::NotFound => ToolError::NotFound(format!("{what} does not exist")),
        io::ErrorKind::PermissionDenied => ToolError::Io(format!("permission denied on {what}")),
        kind => ToolError::Io(format!("{kind} on {what}")),
    }
}
