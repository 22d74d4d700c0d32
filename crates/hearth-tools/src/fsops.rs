//! File operations that stay inside the workspace even when something else
//! changes the tree between our checks and our calls.
//!
//! [`Workspace::resolve`] proves a path has no link on it at the moment it
//! looks. To close the window between that look and the open:
//! - reads open the file, then check that the handle is the very file that
//!   was checked (same device and inode) and, on Linux, that the kernel's
//!   own path for the handle lies under the root;
//! - writes never open an existing file for writing: they create a fresh,
//!   uniquely named file with `create_new` (which does not follow a link),
//!   check its handle the same way, fill it, and `rename` it over the
//!   target (which replaces the name itself and never writes through a
//!   link). The worst a concurrent swap can do is make the write fail, or
//!   leave a new empty temporary file that the write then removes; it can
//!   never overwrite or truncate a file outside the root.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::deadline::Deadline;
use crate::error::io_error;
use crate::path::Resolved;
use crate::walk::{Kind, Walk};
use crate::{ToolError, ToolLimits, Workspace};

/// How many leading bytes decide whether a file is binary.
const SNIFF_BYTES: usize = 8192;

/// A file's identity: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId(u64, u64);

impl FileId {
    /// The identity in `meta`; `None` where the platform has no inodes.
    pub(crate) fn of(meta: &Metadata) -> Option<FileId> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(FileId(meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }
}

/// Whether two metadata describe the same file (true when unknowable).
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    match (FileId::of(a), FileId::of(b)) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// Whether the kernel's path for an open handle lies under `root`. Linux
/// only (through `/proc/self/fd`); elsewhere, or without `/proc`, true, and
/// the identity checks stand alone.
fn handle_inside(file: &File, root: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        match fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
            Ok(actual) => actual.starts_with(root),
            Err(_) => true,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, root);
        true
    }
}

/// Opens an existing regular file for reading and proves the handle is the
/// file that was checked: `expected` is its `lstat` metadata, `what` its
/// quoted root-relative path for messages.
pub(crate) fn open_verified(
    ws: &Workspace,
    full: &Path,
    expected: &Metadata,
    what: &str,
) -> Result<File, ToolError> {
    if expected.is_dir() {
        return Err(ToolError::InvalidArguments(format!(
            "{what} is a directory, not a file"
        )));
    }
    if !expected.is_file() {
        return Err(ToolError::PathNotAllowed(format!(
            "{what} is not a regular file"
        )));
    }
    let file = File::open(full).map_err(|e| io_error(what, &e))?;
    let opened = file.metadata().map_err(|e| io_error(what, &e))?;
    if !opened.is_file() || !same_file(expected, &opened) || !handle_inside(&file, ws.root()) {
        return Err(ToolError::PathNotAllowed(format!(
            "{what} changed while it was being opened"
        )));
    }
    Ok(file)
}

/// Opens the resolved target, which must exist, as [`open_verified`].
pub(crate) fn open_resolved(ws: &Workspace, resolved: &Resolved) -> Result<File, ToolError> {
    let meta = resolved.existing_meta()?;
    open_verified(ws, &resolved.full, meta, &resolved.rel.quoted())
}

/// Whether `bytes` (a file's first bytes) look binary: a NUL among the
/// first 8 KiB, as git decides.
pub(crate) fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(SNIFF_BYTES).any(|&b| b == 0)
}

/// Reads the first 8 KiB of `file` (at most), for [`looks_binary`].
pub(crate) fn read_head(file: &mut File, what: &str) -> Result<Vec<u8>, ToolError> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    file.take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| io_error(what, &e))?;
    Ok(head)
}

/// Reads all of `file` if it holds at most `cap` bytes; `None` if more.
pub(crate) fn read_capped(
    file: &mut File,
    cap: usize,
    what: &str,
) -> Result<Option<Vec<u8>>, ToolError> {
    let mut bytes = Vec::new();
    file.take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(what, &e))?;
    Ok((bytes.len() <= cap).then_some(bytes))
}

/// Total size of the regular files in the workspace (links not followed).
pub(crate) fn workspace_usage(ws: &Workspace, deadline: Deadline) -> Result<u64, ToolError> {
    let mut walk = Walk::new(ws.root(), "", true, deadline)?;
    let mut total: u64 = 0;
    while let Some(entry) = walk.next_entry()? {
        if entry.kind == Kind::File {
            total = total.saturating_add(entry.meta.len());
        }
    }
    Ok(total)
}

/// Refuses a write that would take a file from `old_len` to `new_len` bytes
/// if the workspace would then exceed its quota.
pub(crate) fn check_quota(
    ws: &Workspace,
    old_len: u64,
    new_len: u64,
    limits: &ToolLimits,
    deadline: Deadline,
) -> Result<(), ToolError> {
    let usage = workspace_usage(ws, deadline)?;
    let projected = usage.saturating_sub(old_len).saturating_add(new_len);
    if new_len > old_len && projected > limits.max_workspace_bytes {
        return Err(ToolError::TooLarge(format!(
            "this would bring the workspace to {projected} bytes, over its quota of {} bytes \
             (now {usage} bytes used); shrink or overwrite existing files first",
            limits.max_workspace_bytes
        )));
    }
    Ok(())
}

/// Replaces (or creates) the resolved target with `bytes`, creating missing
/// parent directories one at a time. See the module docs for why this is
/// safe against concurrent changes. Returns whether a file was replaced.
pub(crate) fn write_atomic(
    ws: &Workspace,
    resolved: &Resolved,
    bytes: &[u8],
) -> Result<bool, ToolError> {
    let parts = resolved.rel.parts();
    let Some((name, parents)) = parts.split_last() else {
        return Err(ToolError::InvalidArguments(
            "`path` must name a file, not the workspace root".to_owned(),
        ));
    };
    let what = resolved.rel.quoted();
    let dir = make_parents(ws, parents, resolved.existing)?;
    let target = dir.join(name);

    let (tmp, mut file) = create_temp(&dir, &what)?;
    let result = fill_and_rename(ws, resolved, &tmp, &mut file, &target, bytes);
    if result.is_err() {
        // Best effort: the temporary file is ours and uniquely named.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Walks `parents` below the root, creating the ones at index `existing`
/// and after, and checks every one with `lstat` (a plain directory, not a
/// link) — including those that existed, in case one was swapped since
/// resolve. Returns the absolute path of the innermost.
fn make_parents(ws: &Workspace, parents: &[String], existing: usize) -> Result<PathBuf, ToolError> {
    ws.check_root()?;
    let mut dir = ws.root().to_path_buf();
    for (i, part) in parents.iter().enumerate() {
        dir.push(part);
        let what = format!("`{}`", parents[..=i].join("/"));
        if i >= existing {
            match crate::workspace::create_private_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(&what, &e)),
            }
        }
        let meta = fs::symlink_metadata(&dir).map_err(|e| io_error(&what, &e))?;
        if meta.file_type().is_symlink() {
            return Err(ToolError::PathNotAllowed(format!(
                "{what} is a symbolic link; the workspace does not follow links"
            )));
        }
        if !meta.is_dir() {
            return Err(ToolError::InvalidArguments(format!(
                "{what} is not a directory"
            )));
        }
    }
    Ok(dir)
}

/// Creates a new, uniquely named file in `dir` (never following a link).
fn create_temp(dir: &Path, what: &str) -> Result<(PathBuf, File), ToolError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_error = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".hearth-tmp-{}-{n}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(io_error(what, &e)),
        }
    }
    let error = last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists));
    Err(io_error(what, &error))
}

fn fill_and_rename(
    ws: &Workspace,
    resolved: &Resolved,
    tmp: &Path,
    file: &mut File,
    target: &Path,
    bytes: &[u8],
) -> Result<bool, ToolError> {
    let what = resolved.rel.quoted();
    let created = file.metadata().map_err(|e| io_error(&what, &e))?;
    let at_path = fs::symlink_metadata(tmp).map_err(|e| io_error(&what, &e))?;
    if !same_file(&created, &at_path) || !handle_inside(file, ws.root()) {
        return Err(ToolError::PathNotAllowed(format!(
            "{what}: a parent directory changed during the write"
        )));
    }
    // Keep the mode of a file being replaced (an executable stays one).
    if let Some(old) = resolved.meta.as_ref().filter(|meta| meta.is_file()) {
        file.set_permissions(old.permissions())
            .map_err(|e| io_error(&what, &e))?;
    }
    file.write_all(bytes).map_err(|e| io_error(&what, &e))?;
    file.flush().map_err(|e| io_error(&what, &e))?;

    // Something may have appeared at the target since resolve: rename would
    // replace a link (not write through it), but refuse rather than
    // silently replace a link or fail on a directory.
    let replaced = match fs::symlink_metadata(target) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(ToolError::PathNotAllowed(format!(
                "{what} is a symbolic link; the workspace does not follow links"
            )));
        }
        Ok(meta) if meta.is_dir() => {
            return Err(ToolError::InvalidArguments(format!(
                "{what} is a directory, not a file"
            )));
        }
        Ok(_) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(io_error(&what, &e)),
    };
    fs::rename(tmp, target).map_err(|e| io_error(&what, &e))?;
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::path::RelPath;

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let base = tempfile::tempdir().unwrap();
        let ws = Workspace::open(base.path(), "w").unwrap();
        (base, ws)
    }

    fn later() -> Deadline {
        Deadline::after(Duration::from_secs(10))
    }

    #[test]
    fn binary_means_a_nul_in_the_first_8_kib() {
        assert!(looks_binary(b"abc\0def"));
        assert!(!looks_binary("plain text, ünïcode".as_bytes()));
        let mut late_nul = vec![b'a'; SNIFF_BYTES];
        late_nul.push(0);
        assert!(!looks_binary(&late_nul));
    }

    #[test]
    fn atomic_write_creates_parents_and_replaces_keeping_the_mode() {
        let (_base, ws) = workspace();
        let resolved = ws.resolve(RelPath::parse("a/b/c.txt").unwrap()).unwrap();
        assert!(!write_atomic(&ws, &resolved, b"one").unwrap());
        assert_eq!(fs::read(ws.root().join("a/b/c.txt")).unwrap(), b"one");

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = ws.root().join("a/b/c.txt");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o750)).unwrap();
            let resolved = ws.resolve(RelPath::parse("a/b/c.txt").unwrap()).unwrap();
            assert!(write_atomic(&ws, &resolved, b"two").unwrap());
            assert_eq!(fs::read(&path).unwrap(), b"two");
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o750);
        }
        let leftovers: Vec<_> = fs::read_dir(ws.root().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| name.to_string_lossy().starts_with(".hearth-tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn usage_sums_regular_files() {
        let (_base, ws) = workspace();
        fs::create_dir(ws.root().join("d")).unwrap();
        fs::write(ws.root().join("d/a"), [0u8; 100]).unwrap();
        fs::write(ws.root().join("b"), [0u8; 20]).unwrap();
        assert_eq!(workspace_usage(&ws, later()).unwrap(), 120);
        let limits = ToolLimits {
            max_workspace_bytes: 150,
            ..ToolLimits::default()
        };
        assert!(check_quota(&ws, 0, 30, &limits, later()).is_ok());
        assert!(check_quota(&ws, 20, 50, &limits, later()).is_ok());
        assert!(matches!(
            check_quota(&ws, 0, 31, &limits, later()),
            Err(ToolError::TooLarge(_))
        ));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_handle_outside_the_root_is_detected() {
        let (base, ws) = workspace();
        let inside = ws.root().join("in");
        let outside = base.path().join("out");
        fs::write(&inside, "x").unwrap();
        fs::write(&outside, "x").unwrap();
        assert!(handle_inside(&File::open(inside).unwrap(), ws.root()));
        assert!(!handle_inside(&File::open(outside).unwrap(), ws.root()));
    }

    #[test]
    fn open_verified_refuses_a_file_swapped_after_the_check() {
        let (base, ws) = workspace();
        let path = ws.root().join("f");
        fs::write(&path, "checked").unwrap();
        let checked = fs::symlink_metadata(&path).unwrap();
        // Replace the checked file with a different one at the same name.
        fs::write(base.path().join("other"), "swapped").unwrap();
        fs::rename(base.path().join("other"), &path).unwrap();
        assert!(matches!(
            open_verified(&ws, &path, &checked, "`f`"),
            Err(ToolError::PathNotAllowed(_))
        ));
    }

    #[test]
    fn read_capped_refuses_more_than_the_cap() {
        let (_base, ws) = workspace();
        let path = ws.root().join("f");
        fs::write(&path, b"12345").unwrap();
        let mut file = File::open(&path).unwrap();
        assert_eq!(read_capped(&mut file, 5, "`f`").unwrap().unwrap(), b"12345");
        let mut file = File::open(&path).unwrap();
        assert!(read_capped(&mut file, 4, "`f`").unwrap().is_none());
    }
}
