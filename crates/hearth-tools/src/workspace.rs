//! [`Workspace`]: the directory a conversation's file tools are confined to.

use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use crate::ToolError;
use crate::error::io_error;
use crate::fsops::FileId;

/// Longest workspace name [`Workspace::open`] accepts.
const MAX_NAME_LEN: usize = 128;

/// A directory the file tools are confined to (one per conversation).
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Canonical absolute path of the directory; no component is a link.
    root: PathBuf,
    /// Device and inode of `root` when opened. Every run checks that the
    /// path still names this directory, so replacing the root with a link
    /// (or another directory) after opening makes the tools refuse to work
    /// rather than write elsewhere. `None` where the platform has no inodes.
    id: Option<FileId>,
}

impl Workspace {
    /// Creates (if missing) and opens `base/<name>`.
    ///
    /// `name` must be a safe single path segment: 1 to 128 characters of
    /// `A-Z a-z 0-9 _ -`, else [`ToolError::InvalidArguments`]. `base` is
    /// created if missing. A `base/<name>` that exists but is a link or not a
    /// directory is refused with [`ToolError::PathNotAllowed`]. This does a
    /// few blocking file-system calls (create and stat one directory).
    pub fn open(base: &Path, name: &str) -> Result<Workspace, ToolError> {
        validate_name(name)?;
        fs::create_dir_all(base).map_err(|e| io_error("the workspace base directory", &e))?;
        let base =
            fs::canonicalize(base).map_err(|e| io_error("the workspace base directory", &e))?;
        let root = base.join(name);
        match create_private_dir(&root) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(&format!("workspace `{name}`"), &e)),
        }
        let meta = fs::symlink_metadata(&root)
            .map_err(|e| io_error(&format!("workspace `{name}`"), &e))?;
        if !is_plain_dir(&meta) {
            return Err(ToolError::PathNotAllowed(format!(
                "workspace `{name}` exists but is not a plain directory"
            )));
        }
        Ok(Workspace {
            root,
            id: FileId::of(&meta),
        })
    }

    /// The workspace directory (canonical, absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes the workspace directory and everything in it. Links inside
    /// are removed, never followed. Removing a workspace that is already
    /// gone succeeds; one whose root was replaced is left alone and refused.
    pub async fn remove(self) -> Result<(), ToolError> {
        let task = tokio::task::spawn_blocking(move || match self.check_root() {
            Ok(_) => {
                fs::remove_dir_all(&self.root).map_err(|e| io_error("the workspace directory", &e))
            }
            Err(ToolError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        });
        task.await
            .map_err(|_| ToolError::Io("the removal task failed".to_owned()))?
    }

    /// Checks that the root is still the directory opened: present, a
    /// directory, not a link, same device and inode. Returns its metadata.
    pub(crate) fn check_root(&self) -> Result<Metadata, ToolError> {
        let meta = fs::symlink_metadata(&self.root)
            .map_err(|e| io_error("the workspace directory", &e))?;
        let same = match (self.id, FileId::of(&meta)) {
            (Some(opened), Some(now)) => opened == now,
            _ => true,
        };
        if !is_plain_dir(&meta) || !same {
            return Err(ToolError::PathNotAllowed(
                "the workspace directory has been replaced; refusing to use it".to_owned(),
            ));
        }
        Ok(meta)
    }
}

/// A directory that is not a symbolic link (`meta` comes from `lstat`).
fn is_plain_dir(meta: &Metadata) -> bool {
    meta.is_dir() && !meta.file_type().is_symlink()
}

fn validate_name(name: &str) -> Result<(), ToolError> {
    let valid = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ToolError::InvalidArguments(format!(
            "a workspace name must be 1 to {MAX_NAME_LEN} characters of A-Z, a-z, 0-9, `_` or `-`"
        )))
    }
}

/// Creates one directory, readable only by its owner where that exists.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_safe_segments() {
        for good in ["conv_0197abc", "a", "A-b_9", &"x".repeat(128)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a b",
            "a\0b",
            "é",
            "a.b",
            &"x".repeat(129),
        ] {
            assert!(
                matches!(validate_name(bad), Err(ToolError::InvalidArguments(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn open_creates_a_canonical_root_and_reopens_it() {
        let base = tempfile::tempdir().unwrap();
        let ws = Workspace::open(&base.path().join("nested/base"), "conv_1").unwrap();
        assert!(ws.root().is_dir());
        assert_eq!(ws.root(), fs::canonicalize(ws.root()).unwrap());
        fs::write(ws.root().join("kept"), "x").unwrap();
        let again = Workspace::open(&base.path().join("nested/base"), "conv_1").unwrap();
        assert!(again.root().join("kept").is_file());
        assert!(again.check_root().is_ok());
    }

    #[test]
    fn open_refuses_a_file_in_the_way() {
        let base = tempfile::tempdir().unwrap();
        fs::write(base.path().join("taken"), "x").unwrap();
        assert!(matches!(
            Workspace::open(base.path(), "taken"),
            Err(ToolError::PathNotAllowed(_))
        ));
    }
}
