//! [`ToolLimits`]: the size and time bounds every tool run obeys.

use std::time::Duration;

/// Bounds on one tool run. The defaults suit a conversation's scratch
/// workspace; the engine may tighten or loosen them per deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolLimits {
    /// Most bytes of file content `read_file` returns in one call (the
    /// output says how to read on). Default 256 KiB.
    pub max_read_bytes: usize,
    /// Largest content `write_file` accepts and largest file `edit_file`
    /// reads or produces; `search_files` skips files larger than this.
    /// Default 1 MiB.
    pub max_write_bytes: usize,
    /// Total size of the regular files in a workspace that a write or edit
    /// may not push it past. Default 64 MiB.
    pub max_workspace_bytes: u64,
    /// Most entries `list_files` shows (the output says how many it left
    /// out). Default 1000.
    pub max_list_entries: usize,
    /// Most matching lines `search_files` returns. Default 200.
    pub max_search_matches: usize,
    /// Wall-clock time one tool run may take, parsing excluded. Default 10 s.
    pub timeout: Duration,
}

impl Default for ToolLimits {
    fn default() -> Self {
        Self {
            max_read_bytes: 256 * 1024,
            max_write_bytes: 1024 * 1024,
            max_workspace_bytes: 64 * 1024 * 1024,
            max_list_entries: 1000,
            max_search_matches: 200,
            timeout: Duration::from_secs(10),
        }
    }
}
