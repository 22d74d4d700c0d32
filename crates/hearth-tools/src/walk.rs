//! Directory walks in sorted order that never follow symbolic links.
//!
//! Entries are typed with `lstat` semantics (`DirEntry::file_type` and
//! `DirEntry::metadata` do not follow links), so a link is reported as a
//! link and never descended into or read through.

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use crate::ToolError;
use crate::deadline::Deadline;
use crate::error::io_error;

/// What a directory entry is, seen without following links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink,
    /// A FIFO, socket or device: never opened.
    Other,
}

/// One entry met on a walk.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Path relative to the workspace root, `/`-separated, for output.
    pub(crate) rel: String,
    /// Absolute host path (never shown to the model).
    pub(crate) full: PathBuf,
    pub(crate) kind: Kind,
    /// `lstat` metadata of the entry.
    pub(crate) meta: Metadata,
}

/// A pre-order, depth-first walk below one directory, each directory's
/// entries sorted by name. Checks the deadline at every step.
pub(crate) struct Walk {
    stack: Vec<std::vec::IntoIter<Entry>>,
    recursive: bool,
    deadline: Deadline,
}

impl Walk {
    /// Starts a walk of the directory at `full`, whose root-relative path is
    /// `rel` (`""` for the root). Without `recursive`, yields only the
    /// directory's own entries.
    pub(crate) fn new(
        full: &Path,
        rel: &str,
        recursive: bool,
        deadline: Deadline,
    ) -> Result<Self, ToolError> {
        let first = read_sorted(full, rel, deadline)?;
        Ok(Self {
            stack: vec![first.into_iter()],
            recursive,
            deadline,
        })
    }

    /// The next entry, or `None` when the walk is done.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>, ToolError> {
        loop {
            self.deadline.check()?;
            let Some(top) = self.stack.last_mut() else {
                return Ok(None);
            };
            let Some(entry) = top.next() else {
                self.stack.pop();
                continue;
            };
            if self.recursive && entry.kind == Kind::Dir {
                let children = read_sorted(&entry.full, &entry.rel, self.deadline)?;
                self.stack.push(children.into_iter());
            }
            return Ok(Some(entry));
        }
    }
}

/// The entries of one directory, sorted by name.
fn read_sorted(full: &Path, rel: &str, deadline: Deadline) -> Result<Vec<Entry>, ToolError> {
    let what = || {
        if rel.is_empty() {
            "`.`".to_owned()
        } else {
            format!("`{rel}`")
        }
    };
    // The walk only descends into entries it saw as directories; check
    // again right before reading in case one was swapped for a link.
    let meta = fs::symlink_metadata(full).map_err(|e| io_error(&what(), &e))?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(ToolError::PathNotAllowed(format!(
            "{} changed while it was being read",
            what()
        )));
    }
    let mut entries = Vec::new();
    for dirent in fs::read_dir(full).map_err(|e| io_error(&what(), &e))? {
        deadline.check()?;
        let dirent = dirent.map_err(|e| io_error(&what(), &e))?;
        let meta = match dirent.metadata() {
            Ok(meta) => meta,
            // Removed between listing and stat: as if never listed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&what(), &e)),
        };
        let file_type = meta.file_type();
        let kind = if file_type.is_symlink() {
            Kind::Symlink
        } else if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        let name = dirent.file_name().to_string_lossy().into_owned();
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        entries.push(Entry {
            rel,
            full: dirent.path(),
            kind,
            meta,
        });
    }
    entries.sort_unstable_by(|a, b| a.full.cmp(&b.full));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn walk_all(dir: &Path, recursive: bool) -> Vec<(String, Kind)> {
        let mut walk =
            Walk::new(dir, "", recursive, Deadline::after(Duration::from_secs(10))).unwrap();
        let mut seen = Vec::new();
        while let Some(entry) = walk.next_entry().unwrap() {
            seen.push((entry.rel, entry.kind));
        }
        seen
    }

    #[test]
    fn walks_in_sorted_pre_order() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("b/c")).unwrap();
        fs::write(dir.path().join("b/c/z"), "").unwrap();
        fs::write(dir.path().join("b/a"), "").unwrap();
        fs::write(dir.path().join("a"), "").unwrap();
        let names: Vec<String> = walk_all(dir.path(), true)
            .into_iter()
            .map(|(rel, _)| rel)
            .collect();
        assert_eq!(names, ["a", "b", "b/a", "b/c", "b/c/z"]);
        let top: Vec<String> = walk_all(dir.path(), false)
            .into_iter()
            .map(|(rel, _)| rel)
            .collect();
        assert_eq!(top, ["a", "b"]);
    }

    #[cfg(unix)]
    #[test]
    fn reports_links_without_descending() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        assert_eq!(
            walk_all(dir.path(), true),
            [("link".to_owned(), Kind::Symlink)]
        );
    }

    #[test]
    fn stops_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), "").unwrap();
        assert!(matches!(
            Walk::new(dir.path(), "", true, Deadline::after(Duration::ZERO)),
            Err(ToolError::Timeout)
        ));
    }
}
