//! `edit_file`: replace an exact, unique string in a text file.

use serde_json::{Value, json};

use super::count;
use crate::args::Args;
use crate::deadline::Deadline;
use crate::fsops::{check_quota, looks_binary, open_resolved, read_capped, write_atomic};
use crate::path::RelPath;
use crate::{ToolError, ToolLimits, ToolOutput, Workspace};

pub(crate) const DESCRIPTION: &str = "Edit a text file in your workspace by exact replacement: \
`old_string` is replaced with `new_string`. `old_string` must match the file exactly, including \
whitespace and indentation, and must occur exactly once; include enough surrounding lines to make \
it unique. Set `replace_all` to true to replace every occurrence instead. `path` is relative to \
the workspace root. To create a file or replace all of it, use write_file.";

pub(crate) fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File to edit, relative to the workspace root."
            },
            "old_string": {
                "type": "string",
                "description": "The exact text to replace; must not be empty."
            },
            "new_string": {
                "type": "string",
                "description": "The text to put in its place."
            },
            "replace_all": {
                "type": "boolean",
                "description": "Replace every occurrence rather than requiring exactly one. Default false."
            }
        },
        "required": ["path", "old_string", "new_string"],
        "additionalProperties": false
    })
}

/// A parsed `edit_file` call.
#[derive(Debug)]
pub(crate) struct EditFile {
    path: RelPath,
    old_string: String,
    new_string: String,
    replace_all: bool,
}

impl EditFile {
    pub(crate) fn parse(args: &Value) -> Result<Self, ToolError> {
        let args = Args::new(args, &["path", "old_string", "new_string", "replace_all"])?;
        let path = RelPath::parse(args.string("path")?)?;
        let old_string = args.string("old_string")?;
        let new_string = args.string("new_string")?;
        if old_string.is_empty() {
            return Err(ToolError::InvalidArguments(
                "`old_string` must not be empty".to_owned(),
            ));
        }
        if old_string == new_string {
            return Err(ToolError::InvalidArguments(
                "`new_string` is the same as `old_string`; there is nothing to change".to_owned(),
            ));
        }
        Ok(Self {
            path,
            old_string: old_string.to_owned(),
            new_string: new_string.to_owned(),
            replace_all: args.opt_bool("replace_all")?.unwrap_or(false),
        })
    }

    pub(crate) fn run(
        self,
        ws: &Workspace,
        limits: &ToolLimits,
        deadline: Deadline,
    ) -> Result<ToolOutput, ToolError> {
        let resolved = ws.resolve(self.path)?;
        let what = resolved.rel.quoted();
        let max = limits.max_write_bytes;
        let mut file = open_resolved(ws, &resolved)?;
        let too_large = || {
            ToolError::TooLarge(format!(
                "{what} is larger than {max} bytes, the most edit_file edits"
            ))
        };
        let bytes = read_capped(&mut file, max, &what)?.ok_or_else(too_large)?;
        drop(file);
        if looks_binary(&bytes) {
            return Err(ToolError::InvalidArguments(format!(
                "{what} looks like a binary file; edit_file edits text only"
            )));
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            ToolError::InvalidArguments(format!(
                "{what} is not valid UTF-8; edit_file edits UTF-8 text only"
            ))
        })?;
        deadline.check()?;

        let found = text.matches(self.old_string.as_str()).count();
        if found == 0 {
            return Err(ToolError::Conflict(format!(
                "`old_string` was not found in {what}; it must match the file exactly, including \
                 whitespace and indentation (read the file to check)"
            )));
        }
        if found > 1 && !self.replace_all {
            return Err(ToolError::Conflict(format!(
                "`old_string` occurs {found} times in {what}; include more surrounding text to \
                 make it unique, or set `replace_all` to true to replace every occurrence"
            )));
        }
        let edited = if self.replace_all {
            text.replace(&self.old_string, &self.new_string)
        } else {
            text.replacen(&self.old_string, &self.new_string, 1)
        };
        if edited.len() > max {
            return Err(ToolError::TooLarge(format!(
                "the edit would make {what} {} bytes, over the {max}-byte limit",
                edited.len()
            )));
        }
        check_quota(ws, text.len() as u64, edited.len() as u64, limits, deadline)?;
        deadline.check()?;
        write_atomic(ws, &resolved, edited.as_bytes())?;
        Ok(ToolOutput::new(format!(
            "Edited {what}: replaced {}; the file is now {}.",
            count(found as u64, "occurrence", "occurrences"),
            count(edited.len() as u64, "byte", "bytes")
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::tools::testing::{later, limits, workspace};

    fn edit(ws: &Workspace, args: Value, limits: &ToolLimits) -> Result<String, ToolError> {
        Ok(EditFile::parse(&args)?.run(ws, limits, later())?.text)
    }

    #[test]
    fn replaces_a_unique_occurrence() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("f.rs"), "fn a() {}\nfn b() {}\n").unwrap();
        let text = edit(
            &ws,
            json!({"path": "f.rs", "old_string": "fn b()", "new_string": "fn c()"}),
            &limits(),
        )
        .unwrap();
        assert_eq!(
            text,
            "Edited `f.rs`: replaced 1 occurrence; the file is now 20 bytes."
        );
        assert_eq!(
            fs::read_to_string(ws.root().join("f.rs")).unwrap(),
            "fn a() {}\nfn c() {}\n"
        );
    }

    #[test]
    fn requires_uniqueness_unless_replace_all() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("f"), "x x x").unwrap();
        let error = edit(
            &ws,
            json!({"path": "f", "old_string": "x", "new_string": "y"}),
            &limits(),
        )
        .unwrap_err();
        assert!(
            matches!(&error, ToolError::Conflict(m) if m.contains("occurs 3 times")),
            "{error}"
        );
        assert_eq!(fs::read_to_string(ws.root().join("f")).unwrap(), "x x x");

        let text = edit(
            &ws,
            json!({"path": "f", "old_string": "x", "new_string": "yy", "replace_all": true}),
            &limits(),
        )
        .unwrap();
        assert!(text.contains("replaced 3 occurrences"), "{text}");
        assert_eq!(fs::read_to_string(ws.root().join("f")).unwrap(), "yy yy yy");

        let error = edit(
            &ws,
            json!({"path": "f", "old_string": "zz", "new_string": "y"}),
            &limits(),
        )
        .unwrap_err();
        assert!(
            matches!(&error, ToolError::Conflict(m) if m.contains("not found")),
            "{error}"
        );
    }

    #[test]
    fn refuses_empty_or_identical_strings_binary_and_missing_files() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("bin"), b"a\0b").unwrap();
        fs::write(ws.root().join("latin1"), b"caf\xe9").unwrap();
        for (args, expected) in [
            (
                json!({"path": "f", "old_string": "", "new_string": "y"}),
                "`old_string` must not be empty",
            ),
            (
                json!({"path": "f", "old_string": "a", "new_string": "a"}),
                "same",
            ),
            (json!({"path": "f", "old_string": "a"}), "`new_string`"),
            (
                json!({"path": "bin", "old_string": "a", "new_string": "b"}),
                "binary",
            ),
            (
                json!({"path": "latin1", "old_string": "caf", "new_string": "b"}),
                "UTF-8",
            ),
        ] {
            let error = edit(&ws, args, &limits()).unwrap_err();
            assert!(
                matches!(&error, ToolError::InvalidArguments(m) if m.contains(expected)),
                "{error}"
            );
        }
        assert!(matches!(
            edit(
                &ws,
                json!({"path": "nope", "old_string": "a", "new_string": "b"}),
                &limits()
            ),
            Err(ToolError::NotFound(_))
        ));
    }

    #[test]
    fn refuses_files_or_results_over_the_size_limit() {
        let (_base, ws) = workspace();
        let small = ToolLimits {
            max_write_bytes: 8,
            ..limits()
        };
        fs::write(ws.root().join("big"), "123456789").unwrap();
        fs::write(ws.root().join("ok"), "1234").unwrap();
        assert!(matches!(
            edit(
                &ws,
                json!({"path": "big", "old_string": "1", "new_string": "0"}),
                &small
            ),
            Err(ToolError::TooLarge(_))
        ));
        assert!(matches!(
            edit(
                &ws,
                json!({"path": "ok", "old_string": "1", "new_string": "abcdef"}),
                &small
            ),
            Err(ToolError::TooLarge(_))
        ));
        assert_eq!(fs::read_to_string(ws.root().join("ok")).unwrap(), "1234");
    }
}
