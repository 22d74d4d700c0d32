//! `search_files`: lines containing a plain substring, across the workspace.
//!
//! A substring, not a regular expression: its cost is linear in the text
//! searched, so no query can make a search blow up.

use std::fs::Metadata;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::count;
use crate::args::{Args, clip};
use crate::deadline::Deadline;
use crate::fsops::{looks_binary, open_verified, read_capped};
use crate::path::RelPath;
use crate::walk::{Kind, Walk};
use crate::{ToolError, ToolLimits, ToolOutput, Workspace};

pub(crate) const DESCRIPTION: &str = "Search the text files in your workspace for lines that \
contain `query` (plain text, not a regular expression). `path` limits the search to one file or \
directory (default: the whole workspace). Matching is case-sensitive unless `case_sensitive` is \
false. Each match is one line `path:line: text`, with the path relative to the workspace root. \
Binary and very large files are skipped; the number of matches shown is capped.";

/// Longest query, in bytes.
const MAX_QUERY_BYTES: usize = 1024;
/// Most characters of a matching line shown.
const MAX_LINE_CHARS: usize = 300;
/// Lines searched between deadline checks.
const LINES_PER_CHECK: usize = 4096;

pub(crate) fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "description": "Text to look for (plain text, not a regular expression)."
            },
            "path": {
                "type": "string",
                "description": "File or directory to search, relative to the workspace root. Default \".\"."
            },
            "case_sensitive": {
                "type": "boolean",
                "description": "Whether letter case must match. Default true."
            }
        },
        "required": ["query"],
        "additionalProperties": false
    })
}

/// A parsed `search_files` call.
#[derive(Debug)]
pub(crate) struct SearchFiles {
    query: String,
    path: RelPath,
    case_sensitive: bool,
}

/// What the search met besides matches.
#[derive(Default)]
struct Skipped {
    binary: u64,
    large: u64,
}

impl SearchFiles {
    pub(crate) fn parse(args: &Value) -> Result<Self, ToolError> {
        let args = Args::new(args, &["query", "path", "case_sensitive"])?;
        let query = args.string("query")?;
        if query.is_empty() {
            return Err(ToolError::InvalidArguments(
                "`query` must not be empty".to_owned(),
            ));
        }
        if query.len() > MAX_QUERY_BYTES {
            return Err(ToolError::InvalidArguments(format!(
                "`query` is longer than {MAX_QUERY_BYTES} bytes"
            )));
        }
        if query.contains('\n') {
            return Err(ToolError::InvalidArguments(
                "`query` must be on one line; search_files matches within single lines".to_owned(),
            ));
        }
        Ok(Self {
            query: query.to_owned(),
            path: RelPath::parse(args.opt_string("path")?.unwrap_or("."))?,
            case_sensitive: args.opt_bool("case_sensitive")?.unwrap_or(true),
        })
    }

    pub(crate) fn run(
        self,
        ws: &Workspace,
        limits: &ToolLimits,
        deadline: Deadline,
    ) -> Result<ToolOutput, ToolError> {
        let resolved = ws.resolve(self.path)?;
        let meta = resolved.existing_meta()?.clone();
        let needle = if self.case_sensitive {
            self.query.clone()
        } else {
            self.query.to_lowercase()
        };
        let mut search = Search {
            ws,
            needle,
            case_sensitive: self.case_sensitive,
            max_file_bytes: limits.max_write_bytes,
            max_matches: limits.max_search_matches,
            matches: Vec::new(),
            skipped: Skipped::default(),
            deadline,
        };

        if meta.is_dir() {
            let rel = if resolved.rel.is_root() {
                String::new()
            } else {
                resolved.rel.display()
            };
            let mut walk = Walk::new(&resolved.full, &rel, true, deadline)?;
            while !search.full() {
                let Some(entry) = walk.next_entry()? else {
                    break;
                };
                if entry.kind == Kind::File {
                    search.file(entry.full, &entry.meta, &entry.rel)?;
                }
            }
        } else {
            search.file(resolved.full.clone(), &meta, &resolved.rel.display())?;
        }
        Ok(ToolOutput::new(search.report(
            &self.query,
            &resolved.rel,
            limits,
        )))
    }
}

/// One search in progress.
struct Search<'a> {
    ws: &'a Workspace,
    /// The query, lower-cased when matching ignores case.
    needle: String,
    case_sensitive: bool,
    max_file_bytes: usize,
    max_matches: usize,
    /// `path:line: text` lines found so far.
    matches: Vec<String>,
    skipped: Skipped,
    deadline: Deadline,
}

impl Search<'_> {
    fn full(&self) -> bool {
        self.matches.len() >= self.max_matches
    }

    /// Searches one regular file, `rel` being its root-relative path.
    fn file(&mut self, full: PathBuf, meta: &Metadata, rel: &str) -> Result<(), ToolError> {
        self.deadline.check()?;
        if meta.len() > self.max_file_bytes as u64 {
            self.skipped.large += 1;
            return Ok(());
        }
        let what = format!("`{rel}`");
        let mut file = open_verified(self.ws, &full, meta, &what)?;
        let Some(bytes) = read_capped(&mut file, self.max_file_bytes, &what)? else {
            self.skipped.large += 1;
            return Ok(());
        };
        if looks_binary(&bytes) {
            self.skipped.binary += 1;
            return Ok(());
        }
        let text = String::from_utf8_lossy(&bytes);
        for (index, line) in text.lines().enumerate() {
            if index % LINES_PER_CHECK == 0 {
                self.deadline.check()?;
            }
            let hit = if self.case_sensitive {
                line.contains(&self.needle)
            } else {
                line.to_lowercase().contains(&self.needle)
            };
            if hit {
                let shown = clip(line.trim_end_matches('\r'), MAX_LINE_CHARS);
                self.matches.push(format!("{rel}:{}: {shown}", index + 1));
                if self.full() {
                    break;
                }
            }
        }
        Ok(())
    }

    fn report(self, query: &str, scope: &RelPath, limits: &ToolLimits) -> String {
        let capped = self.full();
        let mut text = if self.matches.is_empty() {
            format!(
                "No matches for `{}` in {}.",
                clip(query, 100),
                scope.quoted()
            )
        } else {
            self.matches.join("\n")
        };
        if capped {
            text.push_str(&format!(
                "\n[Stopped after {} matches; there may be more. Narrow the query or the path.]",
                limits.max_search_matches
            ));
        }
        let mut skipped = Vec::new();
        if self.skipped.binary > 0 {
            skipped.push(count(self.skipped.binary, "binary file", "binary files"));
        }
        if self.skipped.large > 0 {
            skipped.push(format!(
                "{} larger than {} bytes",
                count(self.skipped.large, "file", "files"),
                limits.max_write_bytes
            ));
        }
        if !skipped.is_empty() {
            text.push_str(&format!("\n[Skipped {}.]", skipped.join(" and ")));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::tools::testing::{later, limits, workspace};

    fn search(ws: &Workspace, args: Value, limits: &ToolLimits) -> Result<String, ToolError> {
        Ok(SearchFiles::parse(&args)?.run(ws, limits, later())?.text)
    }

    fn tree(ws: &Workspace) {
        fs::create_dir_all(ws.root().join("src/util")).unwrap();
        fs::write(
            ws.root().join("src/main.rs"),
            "fn main() {\n    helper();\n}\n",
        )
        .unwrap();
        fs::write(
            ws.root().join("src/util/mod.rs"),
            "pub fn helper() {}\r\n// HELPER docs\n",
        )
        .unwrap();
        fs::write(ws.root().join("notes.txt"), "call the Helper\n").unwrap();
    }

    #[test]
    fn finds_lines_with_paths_and_numbers() {
        let (_base, ws) = workspace();
        tree(&ws);
        assert_eq!(
            search(&ws, json!({"query": "helper"}), &limits()).unwrap(),
            "src/main.rs:2:     helper();\nsrc/util/mod.rs:1: pub fn helper() {}"
        );
        assert_eq!(
            search(
                &ws,
                json!({"query": "helper", "case_sensitive": false, "path": "src/util"}),
                &limits()
            )
            .unwrap(),
            "src/util/mod.rs:1: pub fn helper() {}\nsrc/util/mod.rs:2: // HELPER docs"
        );
        assert_eq!(
            search(
                &ws,
                json!({"query": "Helper", "path": "notes.txt"}),
                &limits()
            )
            .unwrap(),
            "notes.txt:1: call the Helper"
        );
        assert_eq!(
            search(&ws, json!({"query": "absent"}), &limits()).unwrap(),
            "No matches for `absent` in `.`."
        );
    }

    #[test]
    fn caps_matches_and_skips_binary_and_large_files() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("many"), "hit\n".repeat(50)).unwrap();
        fs::write(ws.root().join("bin"), b"hit\0").unwrap();
        fs::write(ws.root().join("huge"), "hit\n".repeat(100)).unwrap();
        let small = ToolLimits {
            max_search_matches: 5,
            max_write_bytes: 300,
            ..limits()
        };
        let text = search(&ws, json!({"query": "hit"}), &small).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5 + 2, "{text}");
        assert_eq!(lines[0], "many:1: hit");
        assert!(lines[5].starts_with("[Stopped after 5 matches"));
        assert_eq!(
            lines[6],
            "[Skipped 1 binary file and 1 file larger than 300 bytes.]"
        );
    }

    #[test]
    fn clips_long_lines() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("f"), format!("hit{}\n", "x".repeat(1000))).unwrap();
        let text = search(&ws, json!({"query": "hit"}), &limits()).unwrap();
        assert!(text.len() < 400 && text.ends_with('…'), "{text}");
    }

    #[test]
    fn stops_at_the_deadline() {
        let (_base, ws) = workspace();
        tree(&ws);
        let request = SearchFiles::parse(&json!({"query": "helper"})).unwrap();
        let expired = crate::deadline::Deadline::after(std::time::Duration::ZERO);
        assert!(matches!(
            request.run(&ws, &limits(), expired),
            Err(ToolError::Timeout)
        ));
    }

    #[test]
    fn rejects_bad_queries() {
        let (_base, ws) = workspace();
        for args in [
            json!({}),
            json!({"query": ""}),
            json!({"query": "a\nb"}),
            json!({"query": "x".repeat(2000)}),
            json!({"query": "a", "case_sensitive": 1}),
        ] {
            assert!(matches!(
                search(&ws, args, &limits()),
                Err(ToolError::InvalidArguments(_))
            ));
        }
        assert!(matches!(
            search(&ws, json!({"query": "a", "path": "nope"}), &limits()),
            Err(ToolError::NotFound(_))
        ));
    }
}
