//! `read_file`: a text file's lines, from an offset, capped in bytes.

use std::io::{self, BufRead, BufReader, Cursor, Read};

use serde_json::{Value, json};

use crate::args::Args;
use crate::deadline::Deadline;
use crate::error::io_error;
use crate::fsops::{looks_binary, open_resolved, read_head};
use crate::path::RelPath;
use crate::{ToolError, ToolLimits, ToolOutput, Workspace};

pub(crate) const DESCRIPTION: &str = "Read a text file from your workspace. `path` is relative to \
the workspace root. To read part of a large file, give `offset` (the 1-based line number to start \
at) and `limit` (how many lines). Output longer than the size cap is cut off at a line boundary \
with a note saying which `offset` to use to read on. Binary files cannot be read.";

/// Read buffer size; also how often the deadline is checked within a line.
const BUFFER_BYTES: usize = 64 * 1024;

pub(crate) fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File to read, relative to the workspace root."
            },
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "1-based line number to start reading at. Default 1."
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": "Most lines to return. Default: as many as fit the size cap."
            }
        },
        "required": ["path"],
        "additionalProperties": false
    })
}

/// A parsed `read_file` call.
#[derive(Debug)]
pub(crate) struct ReadFile {
    path: RelPath,
    offset: u64,
    limit: Option<u64>,
}

/// Why reading stopped.
enum Stop {
    /// The end of the file.
    Eof,
    /// `limit` lines were read and more follow.
    Limit,
    /// The next line would not fit the byte cap.
    Cap,
    /// The first line alone exceeds the cap; its head was shown.
    LongLine,
}

impl ReadFile {
    pub(crate) fn parse(args: &Value) -> Result<Self, ToolError> {
        let args = Args::new(args, &["path", "offset", "limit"])?;
        Ok(Self {
            path: RelPath::parse(args.string("path")?)?,
            offset: args.opt_positive("offset")?.unwrap_or(1),
            limit: args.opt_positive("limit")?,
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
        let mut file = open_resolved(ws, &resolved)?;
        let head = read_head(&mut file, &what)?;
        if looks_binary(&head) {
            return Err(ToolError::InvalidArguments(format!(
                "{what} looks like a binary file; read_file reads text only"
            )));
        }
        let mut reader = BufReader::with_capacity(BUFFER_BYTES, Cursor::new(head).chain(file));
        let io = |e: io::Error| io_error(&what, &e);

        let mut skipped: u64 = 0;
        let mut discard = Vec::new();
        while skipped + 1 < self.offset {
            if next_line(&mut reader, &mut discard, 0, deadline)?.is_none() {
                return Ok(ToolOutput::new(format!(
                    "[{what} has {skipped} lines; offset {} is past the end.]",
                    self.offset
                )));
            }
            skipped += 1;
        }

        let budget = limits.max_read_bytes;
        let mut out = Vec::new();
        let mut shown: u64 = 0;
        let stop = loop {
            if self.limit.is_some_and(|limit| shown >= limit) {
                break if reader.fill_buf().map_err(io)?.is_empty() {
                    Stop::Eof
                } else {
                    Stop::Limit
                };
            }
            let before = out.len();
            match next_line(&mut reader, &mut out, budget - before, deadline)? {
                None => break Stop::Eof,
                Some(true) => shown += 1,
                Some(false) if shown == 0 => break Stop::LongLine,
                Some(false) => {
                    out.truncate(before);
                    break Stop::Cap;
                }
            }
        };

        let mut text = String::from_utf8_lossy(&out).into_owned();
        let first = self.offset;
        let last = first + shown.saturating_sub(1);
        let note = match stop {
            Stop::Eof if shown == 0 && first == 1 => Some(format!("[{what} is empty.]")),
            Stop::Eof if shown == 0 => Some(format!(
                "[{what} has {skipped} lines; offset {first} is past the end.]"
            )),
            Stop::Eof => None,
            Stop::Limit => Some(format!(
                "[Showing lines {first}-{last}; the file continues. Call read_file with offset={} to read on.]",
                last + 1
            )),
            Stop::Cap => Some(format!(
                "[Truncated: output is capped at {budget} bytes. Showing lines {first}-{last}; call read_file with offset={} to read on.]",
                last + 1
            )),
            Stop::LongLine => Some(format!(
                "[Truncated: line {first} is longer than the {budget}-byte cap; only its beginning is shown. Call read_file with offset={} for the lines after it.]",
                first + 1
            )),
        };
        if let Some(note) = note {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&note);
        }
        Ok(ToolOutput::new(text))
    }
}

/// Reads one line (through its `\n`, or to the end of the file), appending
/// at most `keep` bytes of it to `out` and discarding the rest. Returns
/// `None` at the end of the file, else whether the whole line was kept.
/// Memory stays bounded however long the line is.
fn next_line(
    reader: &mut impl BufRead,
    out: &mut Vec<u8>,
    keep: usize,
    deadline: Deadline,
) -> Result<Option<bool>, ToolError> {
    let start = out.len();
    let mut seen = false;
    let mut whole = true;
    loop {
        deadline.check()?;
        let buf = reader
            .fill_buf()
            .map_err(|e| ToolError::Io(format!("{} while reading", e.kind())))?;
        if buf.is_empty() {
            return Ok(seen.then_some(whole));
        }
        seen = true;
        let (len, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (buf.len(), false),
        };
        let room = keep.saturating_sub(out.len() - start);
        let take = len.min(room);
        out.extend_from_slice(&buf[..take]);
        whole &= take == len;
        reader.consume(len);
        if done {
            return Ok(Some(whole));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::tools::testing::{later, limits, workspace};

    fn read(ws: &Workspace, args: Value, limits: &ToolLimits) -> Result<String, ToolError> {
        Ok(ReadFile::parse(&args)?.run(ws, limits, later())?.text)
    }

    fn numbered(n: usize) -> String {
        (1..=n).map(|i| format!("line {i}\n")).collect()
    }

    #[test]
    fn reads_whole_files_and_ranges() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("f.txt"), numbered(5)).unwrap();
        assert_eq!(
            read(&ws, json!({"path": "f.txt"}), &limits()).unwrap(),
            numbered(5)
        );
        assert_eq!(
            read(
                &ws,
                json!({"path": "f.txt", "offset": 2, "limit": 2}),
                &limits()
            )
            .unwrap(),
            "line 2\nline 3\n[Showing lines 2-3; the file continues. Call read_file with offset=4 to read on.]"
        );
        assert_eq!(
            read(
                &ws,
                json!({"path": "f.txt", "offset": 4, "limit": 2}),
                &limits()
            )
            .unwrap(),
            "line 4\nline 5\n"
        );
        assert_eq!(
            read(&ws, json!({"path": "f.txt", "offset": 9}), &limits()).unwrap(),
            "[`f.txt` has 5 lines; offset 9 is past the end.]"
        );
        assert_eq!(
            read(&ws, json!({"path": "f.txt", "offset": 6}), &limits()).unwrap(),
            "[`f.txt` has 5 lines; offset 6 is past the end.]"
        );
    }

    #[test]
    fn handles_empty_files_and_missing_final_newline() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("empty"), "").unwrap();
        fs::write(ws.root().join("no-newline"), "a\nb").unwrap();
        assert_eq!(
            read(&ws, json!({"path": "empty"}), &limits()).unwrap(),
            "[`empty` is empty.]"
        );
        assert_eq!(
            read(&ws, json!({"path": "no-newline"}), &limits()).unwrap(),
            "a\nb"
        );
    }

    #[test]
    fn truncates_at_a_line_boundary_and_says_how_to_read_on() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("f"), numbered(100)).unwrap();
        let small = ToolLimits {
            // "line N\n" is 7 bytes: exactly three lines fit.
            max_read_bytes: 21,
            ..limits()
        };
        let text = read(&ws, json!({"path": "f"}), &small).unwrap();
        assert_eq!(
            text,
            "line 1\nline 2\nline 3\n[Truncated: output is capped at 21 bytes. Showing lines 1-3; call read_file with offset=4 to read on.]"
        );
        let next = read(&ws, json!({"path": "f", "offset": 4}), &small).unwrap();
        assert!(
            next.starts_with("line 4\nline 5\nline 6\n[Truncated"),
            "{next}"
        );
    }

    #[test]
    fn shows_the_head_of_a_line_longer_than_the_cap() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("f"), format!("{}\nnext\n", "x".repeat(1000))).unwrap();
        let small = ToolLimits {
            max_read_bytes: 10,
            ..limits()
        };
        let text = read(&ws, json!({"path": "f"}), &small).unwrap();
        assert!(
            text.starts_with("xxxxxxxxxx\n[Truncated: line 1 is longer"),
            "{text}"
        );
        assert!(text.contains("offset=2"));
        assert_eq!(
            read(&ws, json!({"path": "f", "offset": 2}), &small).unwrap(),
            "next\n"
        );
    }

    #[test]
    fn refuses_binary_directories_and_missing_files() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("bin"), b"\x7fELF\0\0\x01").unwrap();
        fs::create_dir(ws.root().join("dir")).unwrap();
        assert!(matches!(
            read(&ws, json!({"path": "bin"}), &limits()),
            Err(ToolError::InvalidArguments(m)) if m.contains("binary")
        ));
        assert!(matches!(
            read(&ws, json!({"path": "dir"}), &limits()),
            Err(ToolError::InvalidArguments(m)) if m.contains("directory")
        ));
        assert!(matches!(
            read(&ws, json!({"path": "nope"}), &limits()),
            Err(ToolError::NotFound(_))
        ));
    }

    #[test]
    fn invalid_utf8_is_read_lossily() {
        let (_base, ws) = workspace();
        fs::write(ws.root().join("latin1"), b"caf\xe9\n").unwrap();
        assert_eq!(
            read(&ws, json!({"path": "latin1"}), &limits()).unwrap(),
            "caf\u{fffd}\n"
        );
    }

    #[test]
    fn argument_errors_name_the_argument() {
        let (_base, ws) = workspace();
        for (args, name) in [
            (json!({}), "`path`"),
            (json!({"path": "f", "offset": 0}), "`offset`"),
            (json!({"path": "f", "limit": "3"}), "`limit`"),
            (json!({"path": "f", "lines": 3}), "`lines`"),
        ] {
            let error = read(&ws, args, &limits()).unwrap_err();
            assert!(error.to_string().contains(name), "{error}");
        }
    }
}
