//! One file per built-in tool. Each has a `DESCRIPTION` for the model, a
//! `parameters()` JSON Schema, a request type parsed from the arguments
//! (`parse`), and a blocking `run` that checks its deadline as it goes.

pub(crate) mod edit_file;
pub(crate) mod list_files;
pub(crate) mod read_file;
pub(crate) mod search_files;
pub(crate) mod write_file;

/// `n` followed by `one` or `many`, as `n` is 1 or not.
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers shared by the tools' unit tests.

    use std::time::Duration;

    use crate::deadline::Deadline;
    use crate::{ToolLimits, Workspace};

    /// A fresh workspace; keep the guard alive for the test's duration.
    pub(crate) fn workspace() -> (tempfile::TempDir, Workspace) {
        let base = tempfile::tempdir().unwrap();
        let ws = Workspace::open(base.path(), "conv").unwrap();
        (base, ws)
    }

    pub(crate) fn later() -> Deadline {
        Deadline::after(Duration::from_secs(10))
    }

    pub(crate) fn limits() -> ToolLimits {
        ToolLimits::default()
    }
}
