//! `list_files`: the entries of a workspace directory, optionally recursive.

use serde_json::{Value, json};

use super::count;
use crate::args::Args;
use crate::deadline::Deadline;
use crate::path::RelPath;
use crate::walk::{Entry, Kind, Walk};
use crate::{ToolError, ToolLimits, ToolOutput, Workspace};

pub(crate) const DESCRIPTION: &str = "List the files and directories in your workspace, a private \
directory for this conversation. `path` is relative to the workspace root (default \".\", the root \
itself). Each line is one entry with its path relative to the workspace root: directories end with \
`/`, files show their size in bytes. Set `recursive` to true to include everything below `path`. \
Long listings are cut off and say how many entries were left out.";

/// How many entries past the cap are counted before giving up on an exact
/// count of what was left out.
const MAX_COUNTED_OMISSIONS: u64 = 100_000;

pub(crate) fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Directory to list, relative to the workspace root. Default \".\"."
            },
            "recursive": {
                "type": "boolean",
                "description": "List everything below the directory, not only its own entries. Default false."
            }
        },
        "required": [],
        "additionalProperties": false
    })
}

/// A parsed `list_files` call.
#[derive(Debug)]
pub(crate) struct ListFiles {
    path: RelPath,
    recursive: bool,
}

impl ListFiles {
    pub(crate) fn parse(args: &Value) -> Result<Self, ToolError> {
        let args = Args::new(args, &["path", "recursive"])?;
        Ok(Self {
            path: RelPath::parse(args.opt_string("path")?.unwrap_or("."))?,
            recursive: args.opt_bool("recursive")?.unwrap_or(false),
        })
    }

    pub(crate) fn run(
        self,
        ws: &Workspace,
        limits: &ToolLimits,
        deadline: Deadline,
    ) -> Result<ToolOutput, ToolError> {
        let resolved = ws.resolve(self.path)?;
        let meta = resolved.existing_meta()?;
        if !meta.is_dir() {
            // A single file: its own line, as it would appear in a listing.
            let kind = if meta.is_file() {
                Kind::File
            } else {
                Kind::Other
            };
            return Ok(ToolOutput::new(line(
                &resolved.rel.display(),
                kind,
                meta.len(),
            )));
        }
        let rel = if resolved.rel.is_root() {
            String::new()
        } else {
            resolved.rel.display()
        };
        let mut walk = Walk::new(&resolved.full, &rel, self.recursive, deadline)?;
        let mut lines = Vec::new();
        while lines.len() < limits.max_list_entries {
            let Some(entry) = walk.next_entry()? else {
                break;
            };
            lines.push(entry_line(&entry));
        }
        let mut omitted: u64 = 0;
        while omitted < MAX_COUNTED_OMISSIONS && walk.next_entry()?.is_some() {
            omitted += 1;
        }
        if lines.is_empty() {
            return Ok(ToolOutput::new(format!(
                "{} is an empty directory.",
                resolved.rel.quoted()
            )));
        }
        let mut text = lines.join("\n");
        if omitted > 0 {
            let more = if omitted >= MAX_COUNTED_OMISSIONS {
                format!("at least {omitted} more entries")
            } else {
                count(omitted, "more entry", "more entries")
            };
            text.push_str(&format!(
                "\n[{more} not shown: the listing is capped at {} entries. List a subdirectory to see them.]",
                limits.max_list_entries
            ));
        }
        Ok(ToolOutput::new(text))
    }
}

fn entry_line(entry: &Entry) -> String {
    line(&entry.rel, entry.kind, entry.meta.len())
}

fn line(rel: &str, kind: Kind, len: u64) -> String {
    match kind {
        Kind::Dir => format!("{rel}/"),
        Kind::File => format!("{rel} ({})", count(len, "byte", "bytes")),
        Kind::Symlink => format!("{rel}@ (symbolic link; not followed)"),
        Kind::Other => format!("{rel} (special file)"),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::tools::testing::{later, limits, workspace};

    fn list(ws: &Workspace, args: Value, limits: &ToolLimits) -> Result<String, ToolError> {
        Ok(ListFiles::parse(&args)?.run(ws, limits, later())?.text)
    }

    #[test]
    fn lists_sorted_with_sizes_and_trailing_slashes() {
        let (_base, ws) = workspace();
        fs::create_dir_all(ws.root().join("src/deep")).unwrap();
        fs::write(ws.root().join("src/main.rs"), "fn main() {}").unwrap();
        fs::write(ws.root().join("src/deep/x"), "1").unwrap();
        fs::write(ws.root().join("README"), "").unwrap();

        assert_eq!(
            list(&ws, json!({}), &limits()).unwrap(),
            "README (0 bytes)\nsrc/"
        );
        assert_eq!(
            list(&ws, json!({"path": "src"}), &limits()).unwrap(),
            "src/deep/\nsrc/main.rs (12 bytes)"
        );
        assert_eq!(
            list(&ws, json!({"path": ".", "recursive": true}), &limits()).unwrap(),
            "README (0 bytes)\nsrc/\nsrc/deep/\nsrc/deep/x (1 byte)\nsrc/main.rs (12 bytes)"
        );
        assert_eq!(
            list(&ws, json!({"path": "src/main.rs"}), &limits()).unwrap(),
            "src/main.rs (12 bytes)"
        );
    }

    #[test]
    fn empty_missing_and_bad_arguments() {
        let (_base, ws) = workspace();
        assert_eq!(
            list(&ws, json!({}), &limits()).unwrap(),
            "`.` is an empty directory."
        );
        assert!(matches!(
            list(&ws, json!({"path": "nope"}), &limits()),
            Err(ToolError::NotFound(_))
        ));
        assert!(matches!(
            list(&ws, json!({"recursive": "yes"}), &limits()),
            Err(ToolError::InvalidArguments(m)) if m.contains("`recursive`")
        ));
        assert!(matches!(
            list(&ws, json!({"pth": "."}), &limits()),
            Err(ToolError::InvalidArguments(m)) if m.contains("`pth`")
        ));
    }

    #[test]
    fn caps_entries_and_says_how_many_were_left_out() {
        let (_base, ws) = workspace();
        for i in 0..25 {
            fs::write(ws.root().join(format!("f{i:02}")), "").unwrap();
        }
        let capped = ToolLimits {
            max_list_entries: 10,
            ..limits()
        };
        let text = list(&ws, json!({}), &capped).unwrap();
        assert_eq!(text.lines().count(), 11);
        assert!(text.starts_with("f00 (0 bytes)\n"));
        assert!(text.ends_with("[15 more entries not shown: the listing is capped at 10 entries. List a subdirectory to see them.]"), "{text}");
    }
}
