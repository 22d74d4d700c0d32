//! `write_file`: create or replace a file with the given text.

use serde_json::{Value, json};

use super::count;
use crate::args::Args;
use crate::deadline::Deadline;
use crate::fsops::{check_quota, write_atomic};
use crate::path::RelPath;
use crate::{ToolError, ToolLimits, ToolOutput, Workspace};

pub(crate) const DESCRIPTION: &str = "Create a file in your workspace, or replace an existing one, \
with `content` (text). `path` is relative to the workspace root; missing parent directories are \
created. The whole file is replaced: to change part of an existing file, use edit_file instead. \
File size and the workspace's total size are limited.";

pub(crate) fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File to write, relative to the workspace root."
            },
            "content": {
                "type": "string",
                "description": "The complete new content of the file."
            }
        },
        "required": ["path", "content"],
        "additionalProperties": false
    })
}

/// A parsed `write_file` call.
#[derive(Debug)]
pub(crate) struct WriteFile {
    path: RelPath,
    content: String,
}

impl WriteFile {
    pub(crate) fn parse(args: &Value) -> Result<Self, ToolError> {
        let args = Args::new(args, &["path", "content"])?;
        let path = RelPath::parse(args.string("path")?)?;
        if path.is_root() {
            return Err(ToolError::InvalidArguments(
                "`path` must name a file, not the workspace root".to_owned(),
            ));
        }
        Ok(Self {
            path,
            content: args.string("content")?.to_owned(),
        })
    }

    pub(crate) fn run(
        self,
        ws: &Workspace,
        limits: &ToolLimits,
        deadline: Deadline,
    ) -> Result<ToolOutput, ToolError> {
        let len = self.content.len();
        if len > limits.max_write_bytes {
            return Err(ToolError::TooLarge(format!(
                "`content` is {len} bytes; write_file writes at most {} bytes",
                limits.max_write_bytes
            )));
        }
        let resolved = ws.resolve(self.path)?;
        let what = resolved.rel.quoted();
        let old_len = match &resolved.meta {
            None => 0,
            Some(meta) if meta.is_file() => meta.len(),
            Some(meta) if meta.is_dir() => {
                return Err(ToolError::InvalidArguments(format!(
                    "{what} is a directory, not a file"
                )));
            }
            Some(_) => {
                return Err(ToolError::PathNotAllowed(format!(
                    "{what} is not a regular file"
                )));
            }
        };
        check_quota(ws, old_len, len as u64, limits, deadline)?;
        deadline.check()?;
        let replaced = write_atomic(ws, &resolved, self.content.as_bytes())?;
        let verb = if replaced { "Replaced" } else { "Created" };
        Ok(ToolOutput::new(format!(
            "{verb} {what}: wrote {}.",
            count(len as u64, "byte", "bytes")
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::tools::testing::{later, limits, workspace};

    fn write(ws: &Workspace, args: Value, limits: &ToolLimits) -> Result<String, ToolError> {
        Ok(WriteFile::parse(&args)?.run(ws, limits, later())?.text)
    }

    #[test]
    fn creates_with_parents_then_replaces() {
        let (_base, ws) = workspace();
        assert_eq!(
            write(
                &ws,
                json!({"path": "./a/b/c.txt", "content": "hello"}),
                &limits()
            )
            .unwrap(),
            "Created `a/b/c.txt`: wrote 5 bytes."
        );
        assert_eq!(
            fs::read_to_string(ws.root().join("a/b/c.txt")).unwrap(),
            "hello"
        );
        assert_eq!(
            write(&ws, json!({"path": "a/b/c.txt", "content": ""}), &limits()).unwrap(),
            "Replaced `a/b/c.txt`: wrote 0 bytes."
        );
        assert_eq!(fs::read_to_string(ws.root().join("a/b/c.txt")).unwrap(), "");
    }

    #[test]
    fn refuses_too_large_content_and_quota_overflow() {
        let (_base, ws) = workspace();
        let small = ToolLimits {
            max_write_bytes: 10,
            max_workspace_bytes: 15,
            ..limits()
        };
        assert!(matches!(
            write(&ws, json!({"path": "f", "content": "x".repeat(11)}), &small),
            Err(ToolError::TooLarge(m)) if m.contains("11 bytes")
        ));
        assert!(!ws.root().join("f").exists());
        write(&ws, json!({"path": "f", "content": "x".repeat(10)}), &small).unwrap();
        assert!(matches!(
            write(&ws, json!({"path": "g", "content": "x".repeat(6)}), &small),
            Err(ToolError::TooLarge(m)) if m.contains("quota")
        ));
        assert!(!ws.root().join("g").exists());
        // Replacing a file counts only the difference.
        write(&ws, json!({"path": "f", "content": "y".repeat(10)}), &small).unwrap();
        write(&ws, json!({"path": "g", "content": "x".repeat(5)}), &small).unwrap();
    }

    #[test]
    fn refuses_directories_the_root_and_bad_arguments() {
        let (_base, ws) = workspace();
        fs::create_dir(ws.root().join("d")).unwrap();
        fs::write(ws.root().join("file"), "x").unwrap();
        for (args, expected) in [
            (json!({"path": "d", "content": "x"}), "directory"),
            (json!({"path": ".", "content": "x"}), "workspace root"),
            (
                json!({"path": "file/under", "content": "x"}),
                "not a directory",
            ),
            (json!({"path": "f"}), "`content`"),
            (json!({"path": "f", "content": 5}), "`content`"),
            (json!({"content": "x"}), "`path`"),
        ] {
            let error = write(&ws, args, &limits()).unwrap_err();
            assert!(
                matches!(&error, ToolError::InvalidArguments(m) if m.contains(expected)),
                "{error}"
            );
        }
    }
}
