//! Turning a path the model wrote into a location inside the workspace.
//!
//! Two stages. [`RelPath::parse`] is purely lexical: it refuses NUL bytes,
//! absolute paths (a root or a drive prefix) and every `..` component, and
//! drops `.` and empty segments, so `./a//./b` is `a/b`. What remains is a
//! list of plain names below the root. [`Workspace::resolve`] then walks
//! those names from the root with `lstat`, one component at a time, and
//! refuses the path if any existing component — intermediate or final — is
//! a symbolic link: links are never followed, so nothing a link points at
//! can be reached, whether it points inside or outside.

use std::fs::{self, Metadata};
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::args::clip;
use crate::error::io_error;
use crate::{ToolError, Workspace};

/// Longest path, in bytes, a tool accepts.
const MAX_PATH_BYTES: usize = 4096;

/// A lexically normalised path relative to the workspace root: plain names
/// only (no root, no `.`, no `..`, no empty segment). Empty means the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelPath {
    parts: Vec<String>,
}

impl RelPath {
    /// Parses a path the model gave. `""` and `"."` both mean the root.
    pub(crate) fn parse(raw: &str) -> Result<RelPath, ToolError> {
        if raw.len() > MAX_PATH_BYTES {
            return Err(ToolError::InvalidArguments(format!(
                "the path is longer than {MAX_PATH_BYTES} bytes"
            )));
        }
        if raw.contains('\0') {
            return Err(ToolError::PathNotAllowed(
                "paths must not contain NUL bytes".to_owned(),
            ));
        }
        let mut parts = Vec::new();
        for component in Path::new(raw).components() {
            match component {
                Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(ToolError::PathNotAllowed(format!(
                        "`{}`: `..` is not allowed; paths are relative to the workspace root and stay inside it",
                        clip(raw, 200)
                    )));
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(ToolError::PathNotAllowed(format!(
                        "`{}` is absolute; paths are relative to the workspace root",
                        clip(raw, 200)
                    )));
                }
            }
        }
        Ok(RelPath { parts })
    }

    /// The plain names, root first.
    pub(crate) fn parts(&self) -> &[String] {
        &self.parts
    }

    /// Whether this is the workspace root itself.
    pub(crate) fn is_root(&self) -> bool {
        self.parts.is_empty()
    }

    /// The first `n` names joined with `/`, quoted for messages.
    fn quoted_prefix(&self, n: usize) -> String {
        if n == 0 {
            "`.`".to_owned()
        } else {
            format!("`{}`", clip(&self.parts[..n].join("/"), 200))
        }
    }

    /// The whole path joined with `/` (`.` for the root), for output.
    pub(crate) fn display(&self) -> String {
        if self.parts.is_empty() {
            ".".to_owned()
        } else {
            self.parts.join("/")
        }
    }

    /// The whole path quoted for messages.
    pub(crate) fn quoted(&self) -> String {
        self.quoted_prefix(self.parts.len())
    }
}

/// A [`RelPath`] checked against the file system.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The path as the model gave it, normalised.
    pub(crate) rel: RelPath,
    /// The absolute host path (never shown to the model).
    pub(crate) full: PathBuf,
    /// `lstat` of the final component; `None` when it does not exist.
    /// Never a symbolic link.
    pub(crate) meta: Option<Metadata>,
    /// How many leading components exist, each a real directory except
    /// possibly the last one of the whole path.
    pub(crate) existing: usize,
}

impl Resolved {
    /// The metadata of an existing target, or [`ToolError::NotFound`].
    pub(crate) fn existing_meta(&self) -> Result<&Metadata, ToolError> {
        self.meta
            .as_ref()
            .ok_or_else(|| ToolError::NotFound(format!("{} does not exist", self.rel.quoted())))
    }
}

impl Workspace {
    /// Walks `rel` from the root with `lstat`, refusing any component that
    /// is a symbolic link and any non-directory with names below it.
    /// Missing components are fine here; each tool decides what a missing
    /// target means.
    pub(crate) fn resolve(&self, rel: RelPath) -> Result<Resolved, ToolError> {
        let root_meta = self.check_root()?;
        let mut full = self.root().to_path_buf();
        let mut meta = Some(root_meta);
        let mut existing = 0;
        let count = rel.parts.len();
        for (i, name) in rel.parts.iter().enumerate() {
            full.push(name);
            match fs::symlink_metadata(&full) {
                Ok(found) => {
                    if found.file_type().is_symlink() {
                        return Err(ToolError::PathNotAllowed(format!(
                            "{} is a symbolic link; the workspace does not follow links",
                            rel.quoted_prefix(i + 1)
                        )));
                    }
                    if i + 1 < count && !found.is_dir() {
                        return Err(ToolError::InvalidArguments(format!(
                            "{} is not a directory",
                            rel.quoted_prefix(i + 1)
                        )));
                    }
                    existing = i + 1;
                    meta = Some(found);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    meta = None;
                    full.extend(&rel.parts[i + 1..]);
                    break;
                }
                Err(e) => return Err(io_error(&rel.quoted_prefix(i + 1), &e)),
            }
        }
        // Belt and braces: with no link on the way, the canonical form of an
        // existing target is the path itself, under the root.
        if meta.is_some() {
            let canonical = fs::canonicalize(&full).map_err(|e| io_error(&rel.quoted(), &e))?;
            if !canonical.starts_with(self.root()) {
                return Err(ToolError::PathNotAllowed(format!(
                    "{} resolves outside the workspace",
                    rel.quoted()
                )));
            }
        }
        Ok(Resolved {
            rel,
            full,
            meta,
            existing,
        })
    }

    /// Parses and resolves a path the model gave.
    #[cfg(test)]
    pub(crate) fn resolve_str(&self, raw: &str) -> Result<Resolved, ToolError> {
        self.resolve(RelPath::parse(raw)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(raw: &str) -> Vec<String> {
        RelPath::parse(raw).unwrap().parts().to_vec()
    }

    #[test]
    fn normalises_dots_and_slashes() {
        assert_eq!(parts("./a/./b"), ["a", "b"]);
        assert_eq!(parts("a//b/"), ["a", "b"]);
        assert!(parts(".").is_empty());
        assert!(parts("").is_empty());
        assert!(parts("./").is_empty());
        assert_eq!(parts("...").len(), 1, "`...` is an ordinary name");
        assert_eq!(parts("a..b/..c"), ["a..b", "..c"]);
        assert_eq!(RelPath::parse("./a/b/").unwrap().display(), "a/b");
        assert_eq!(RelPath::parse(".").unwrap().display(), ".");
    }

    #[test]
    fn refuses_escapes_lexically() {
        for raw in [
            "..",
            "../x",
            "a/../../x",
            "a/..",
            "a/b/../c",
            "/etc/passwd",
            "/",
            "//x",
            "a\0b",
            "./../x",
        ] {
            assert!(
                matches!(RelPath::parse(raw), Err(ToolError::PathNotAllowed(_))),
                "{raw:?} was not refused"
            );
        }
        assert!(matches!(
            RelPath::parse(&"a/".repeat(3000)),
            Err(ToolError::InvalidArguments(_))
        ));
    }

    #[test]
    fn messages_do_not_show_host_paths() {
        let base = tempfile::tempdir().unwrap();
        let ws = Workspace::open(base.path(), "w").unwrap();
        let host = base.path().to_string_lossy().into_owned();
        for raw in ["missing/x", "../x"] {
            let message = match ws.resolve_str(raw) {
                Ok(resolved) => resolved.existing_meta().unwrap_err().to_string(),
                Err(e) => e.to_string(),
            };
            assert!(!message.contains(&host), "{message}");
        }
    }

    #[test]
    fn resolves_existing_and_missing_targets() {
        let base = tempfile::tempdir().unwrap();
        let ws = Workspace::open(base.path(), "w").unwrap();
        fs::create_dir(ws.root().join("d")).unwrap();
        fs::write(ws.root().join("d/f"), "x").unwrap();

        let found = ws.resolve_str("./d//f").unwrap();
        assert_eq!(found.full, ws.root().join("d/f"));
        assert!(found.meta.as_ref().unwrap().is_file());
        assert_eq!(found.existing, 2);

        let missing = ws.resolve_str("d/new/deeper").unwrap();
        assert!(missing.meta.is_none());
        assert_eq!(missing.existing, 1);
        assert_eq!(missing.full, ws.root().join("d/new/deeper"));

        let root = ws.resolve_str(".").unwrap();
        assert!(root.rel.is_root() && root.meta.unwrap().is_dir());

        assert!(matches!(
            ws.resolve_str("d/f/under-a-file"),
            Err(ToolError::InvalidArguments(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_links_at_any_component() {
        use std::os::unix::fs::symlink;
        let base = tempfile::tempdir().unwrap();
        let ws = Workspace::open(base.path(), "w").unwrap();
        fs::create_dir(ws.root().join("d")).unwrap();
        fs::write(ws.root().join("d/f"), "x").unwrap();
        symlink("d", ws.root().join("inner-dir-link")).unwrap();
        symlink("d/f", ws.root().join("inner-file-link")).unwrap();
        symlink("/nonexistent", ws.root().join("dangling")).unwrap();
        for raw in [
            "inner-dir-link",
            "inner-dir-link/f",
            "inner-file-link",
            "dangling",
            "dangling/new",
        ] {
            assert!(
                matches!(ws.resolve_str(raw), Err(ToolError::PathNotAllowed(_))),
                "{raw} was not refused"
            );
        }
    }
}
