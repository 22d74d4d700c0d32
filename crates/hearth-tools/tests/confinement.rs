//! Adversarial tests: the file tools must never reach outside their
//! workspace, and must honour every size and time limit.
//!
//! "Outside" is a second temporary directory holding a secret file; every
//! test that could leak or write there checks it is untouched afterwards.

#![cfg(unix)]
// Helpers outside `#[test]` functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use hearth_tools::{BuiltinTool, ToolError, ToolLimits, Workspace};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A workspace under a temporary base, and an "outside" directory holding a
/// secret file, standing in for `/tmp` or `/etc`.
struct Fixture {
    base: TempDir,
    outside: TempDir,
    ws: Workspace,
}

const SECRET: &str = "top secret\n";

fn fixture() -> Fixture {
    let base = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), SECRET).unwrap();
    let ws = Workspace::open(base.path(), "conv_1").unwrap();
    Fixture { base, outside, ws }
}

impl Fixture {
    async fn call(&self, tool: BuiltinTool, args: Value) -> Result<String, ToolError> {
        self.call_with(tool, args, &ToolLimits::default()).await
    }

    async fn call_with(
        &self,
        tool: BuiltinTool,
        args: Value,
        limits: &ToolLimits,
    ) -> Result<String, ToolError> {
        tool.run(&self.ws, &args, limits).await.map(|out| out.text)
    }

    fn root(&self) -> &Path {
        self.ws.root()
    }

    /// The outside directory holds only the secret, unchanged.
    fn assert_outside_untouched(&self) {
        let names: Vec<String> = fs::read_dir(self.outside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["secret"], "something was created outside");
        assert_eq!(
            fs::read_to_string(self.outside.path().join("secret")).unwrap(),
            SECRET
        );
    }

    /// Nothing appeared in the base directory besides the workspace.
    fn assert_base_untouched(&self) {
        let names: Vec<String> = fs::read_dir(self.base.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["conv_1"],
            "something was created beside the workspace"
        );
    }
}

/// One call of every tool at `path` (plus the arguments each needs).
fn every_tool_at(path: &str) -> Vec<(BuiltinTool, Value)> {
    vec![
        (BuiltinTool::ListFiles, json!({"path": path})),
        (
            BuiltinTool::ListFiles,
            json!({"path": path, "recursive": true}),
        ),
        (BuiltinTool::ReadFile, json!({"path": path})),
        (
            BuiltinTool::WriteFile,
            json!({"path": path, "content": "pwned"}),
        ),
        (
            BuiltinTool::SearchFiles,
            json!({"query": "secret", "path": path}),
        ),
        (
            BuiltinTool::EditFile,
            json!({"path": path, "old_string": "top", "new_string": "pwned"}),
        ),
    ]
}

fn assert_not_allowed(result: Result<String, ToolError>, what: &str) {
    assert!(
        matches!(result, Err(ToolError::PathNotAllowed(_))),
        "{what}: expected PathNotAllowed, got {result:?}"
    );
}

#[tokio::test]
async fn lexical_escapes_are_refused_by_every_tool() {
    let f = fixture();
    fs::create_dir(f.root().join("a")).unwrap();
    let outside = f.outside.path().join("secret");
    let outside = outside.to_str().unwrap();
    for path in [
        "..",
        "../x",
        "../conv_1/x",
        "a/../../x",
        "a/..",
        "./../x",
        "/etc/passwd",
        "//etc/passwd",
        "/",
        outside,
        "a\0b",
    ] {
        for (tool, args) in every_tool_at(path) {
            let result = f.call(tool, args).await;
            assert_not_allowed(result, &format!("{} {path:?}", tool.name()));
        }
    }
    f.assert_base_untouched();
    f.assert_outside_untouched();
}

#[tokio::test]
async fn messages_never_show_host_paths() {
    let f = fixture();
    symlink(f.outside.path(), f.root().join("link")).unwrap();
    let host = f.base.path().to_string_lossy().into_owned();
    let outside = f.outside.path().to_string_lossy().into_owned();
    for path in ["../x", "missing/file", "link/secret", "link"] {
        for (tool, args) in every_tool_at(path) {
            let message = match f.call(tool, args).await {
                Ok(text) => text,
                Err(e) => e.to_string(),
            };
            assert!(
                !message.contains(&host) && !message.contains(&outside),
                "{} {path}: {message}",
                tool.name()
            );
        }
    }
}

#[tokio::test]
async fn dot_segments_are_normalised() {
    let f = fixture();
    f.call(
        BuiltinTool::WriteFile,
        json!({"path": "./a/./b", "content": "hi\n"}),
    )
    .await
    .unwrap();
    assert_eq!(fs::read_to_string(f.root().join("a/b")).unwrap(), "hi\n");
    assert_eq!(
        f.call(BuiltinTool::ReadFile, json!({"path": "a//b"}))
            .await
            .unwrap(),
        "hi\n"
    );
    assert_eq!(
        f.call(BuiltinTool::ListFiles, json!({"path": "./a/"}))
            .await
            .unwrap(),
        "a/b (3 bytes)"
    );
}

#[tokio::test]
async fn a_link_to_an_outside_directory_is_never_followed() {
    let f = fixture();
    symlink(f.outside.path(), f.root().join("link")).unwrap();
    for path in ["link", "link/secret", "link/new.txt", "link/sub/new.txt"] {
        for (tool, args) in every_tool_at(path) {
            let result = f.call(tool, args).await;
            assert_not_allowed(result, &format!("{} {path}", tool.name()));
        }
    }
    // Listing and searching the root show the link but never go into it.
    let listing = f
        .call(BuiltinTool::ListFiles, json!({"recursive": true}))
        .await
        .unwrap();
    assert_eq!(listing, "link@ (symbolic link; not followed)");
    let found = f
        .call(BuiltinTool::SearchFiles, json!({"query": "secret"}))
        .await
        .unwrap();
    assert!(found.starts_with("No matches"), "{found}");
    f.assert_outside_untouched();
}

#[tokio::test]
async fn a_link_to_an_outside_file_is_never_followed() {
    let f = fixture();
    symlink(f.outside.path().join("secret"), f.root().join("file-link")).unwrap();
    for (tool, args) in every_tool_at("file-link") {
        let result = f.call(tool, args).await;
        assert_not_allowed(result, tool.name());
    }
    let found = f
        .call(BuiltinTool::SearchFiles, json!({"query": "top"}))
        .await
        .unwrap();
    assert!(found.starts_with("No matches"), "{found}");
    // The link itself is still a link, pointing where it did.
    assert!(
        fs::symlink_metadata(f.root().join("file-link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    f.assert_outside_untouched();
}

#[tokio::test]
async fn a_dangling_link_cannot_be_written_through() {
    let f = fixture();
    symlink(f.outside.path().join("created"), f.root().join("dangling")).unwrap();
    for (tool, args) in every_tool_at("dangling") {
        let result = f.call(tool, args).await;
        assert_not_allowed(result, tool.name());
    }
    f.assert_outside_untouched();
}

#[tokio::test]
async fn a_linked_parent_directory_is_refused() {
    let f = fixture();
    fs::create_dir(f.root().join("a")).unwrap();
    symlink(f.outside.path(), f.root().join("a/b")).unwrap();
    for path in ["a/b/secret", "a/b/c.txt", "a/b/new/c.txt"] {
        for (tool, args) in every_tool_at(path) {
            let result = f.call(tool, args).await;
            assert_not_allowed(result, &format!("{} {path}", tool.name()));
        }
    }
    f.assert_outside_untouched();
}

#[tokio::test]
async fn links_inside_the_workspace_are_refused_too() {
    // Refusing every link, even one that stays inside, means no link can be
    // retargeted later to escape.
    let f = fixture();
    fs::create_dir(f.root().join("real")).unwrap();
    fs::write(f.root().join("real/f"), "inside\n").unwrap();
    symlink("real", f.root().join("alias")).unwrap();
    assert_not_allowed(
        f.call(BuiltinTool::ReadFile, json!({"path": "alias/f"}))
            .await,
        "read through an inner link",
    );
    assert_eq!(
        f.call(BuiltinTool::ReadFile, json!({"path": "real/f"}))
            .await
            .unwrap(),
        "inside\n"
    );
}

#[tokio::test]
async fn a_root_replaced_by_a_link_after_open_is_refused() {
    let f = fixture();
    f.call(BuiltinTool::WriteFile, json!({"path": "x", "content": "1"}))
        .await
        .unwrap();
    let root = f.root().to_path_buf();
    fs::rename(&root, f.base.path().join("moved")).unwrap();
    symlink(f.outside.path(), &root).unwrap();
    for path in ["x", "secret", "new.txt", "d/new.txt"] {
        for (tool, args) in every_tool_at(path) {
            let result = f.call(tool, args).await;
            assert_not_allowed(result, &format!("{} {path}", tool.name()));
        }
    }
    for (tool, args) in [
        (BuiltinTool::ListFiles, json!({})),
        (BuiltinTool::SearchFiles, json!({"query": "secret"})),
    ] {
        assert_not_allowed(f.call(tool, args).await, tool.name());
    }
    f.assert_outside_untouched();
    // Removing refuses too rather than deleting through the link.
    assert!(matches!(
        f.ws.clone().remove().await,
        Err(ToolError::PathNotAllowed(_))
    ));
    f.assert_outside_untouched();
}

#[tokio::test]
async fn a_root_replaced_by_another_directory_is_refused() {
    let f = fixture();
    let root = f.root().to_path_buf();
    fs::rename(&root, f.base.path().join("moved")).unwrap();
    fs::create_dir(&root).unwrap();
    assert_not_allowed(
        f.call(BuiltinTool::WriteFile, json!({"path": "x", "content": "1"}))
            .await,
        "write into a replaced root",
    );
    assert!(!root.join("x").exists());
}

#[tokio::test]
async fn read_is_truncated_at_the_cap_with_a_way_to_read_on() {
    let f = fixture();
    let content: String = (1..=10_000).map(|i| format!("line {i}\n")).collect();
    fs::write(f.root().join("big.txt"), &content).unwrap();
    let limits = ToolLimits {
        max_read_bytes: 1000,
        ..ToolLimits::default()
    };
    let text = f
        .call_with(BuiltinTool::ReadFile, json!({"path": "big.txt"}), &limits)
        .await
        .unwrap();
    let (body, note) = text.rsplit_once('\n').unwrap();
    assert!(body.len() <= 1000, "{} bytes", body.len());
    assert!(content.starts_with(body));
    assert!(note.starts_with("[Truncated"), "{note}");
    let offset: u64 = note
        .split("offset=")
        .nth(1)
        .unwrap()
        .trim_end_matches(" to read on.]")
        .parse()
        .unwrap();
    let next = f
        .call_with(
            BuiltinTool::ReadFile,
            json!({"path": "big.txt", "offset": offset, "limit": 1}),
            &limits,
        )
        .await
        .unwrap();
    assert!(next.starts_with(&format!("line {offset}\n")), "{next}");
}

#[tokio::test]
async fn writes_are_capped_per_file_and_per_workspace() {
    let f = fixture();
    let limits = ToolLimits {
        max_write_bytes: 1000,
        max_workspace_bytes: 2500,
        ..ToolLimits::default()
    };
    let chunk = "x".repeat(1000);
    assert!(matches!(
        f.call_with(
            BuiltinTool::WriteFile,
            json!({"path": "too-big", "content": "x".repeat(1001)}),
            &limits
        )
        .await,
        Err(ToolError::TooLarge(_))
    ));
    for name in ["a", "b"] {
        f.call_with(
            BuiltinTool::WriteFile,
            json!({"path": name, "content": chunk}),
            &limits,
        )
        .await
        .unwrap();
    }
    // A third file would take the workspace to 3000 bytes.
    assert!(matches!(
        f.call_with(
            BuiltinTool::WriteFile,
            json!({"path": "c", "content": chunk}),
            &limits
        )
        .await,
        Err(ToolError::TooLarge(m)) if m.contains("quota")
    ));
    // Files put there by other means count as well.
    fs::write(f.root().join("external"), "y".repeat(500)).unwrap();
    assert!(matches!(
        f.call_with(
            BuiltinTool::WriteFile,
            json!({"path": "d", "content": "z"}),
            &limits
        )
        .await,
        Err(ToolError::TooLarge(_))
    ));
    // An edit that grows a file past the quota is refused too.
    assert!(matches!(
        f.call_with(
            BuiltinTool::EditFile,
            json!({"path": "a", "old_string": "x", "new_string": "xx", "replace_all": true}),
            &limits
        )
        .await,
        Err(ToolError::TooLarge(_))
    ));
    for refused in ["too-big", "c", "d"] {
        assert!(!f.root().join(refused).exists(), "{refused}");
    }
    assert_eq!(fs::read_to_string(f.root().join("a")).unwrap(), chunk);
}

#[tokio::test]
async fn list_and_search_are_capped() {
    let f = fixture();
    for i in 0..50 {
        fs::write(f.root().join(format!("f{i:02}.txt")), "needle\nneedle\n").unwrap();
    }
    let limits = ToolLimits {
        max_list_entries: 20,
        max_search_matches: 7,
        ..ToolLimits::default()
    };
    let listing = f
        .call_with(BuiltinTool::ListFiles, json!({}), &limits)
        .await
        .unwrap();
    assert_eq!(listing.lines().count(), 21);
    assert!(listing.ends_with("[30 more entries not shown: the listing is capped at 20 entries. List a subdirectory to see them.]"), "{listing}");

    let found = f
        .call_with(
            BuiltinTool::SearchFiles,
            json!({"query": "needle"}),
            &limits,
        )
        .await
        .unwrap();
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 8, "{found}");
    assert_eq!(lines[0], "f00.txt:1: needle");
    assert_eq!(lines[6], "f03.txt:1: needle");
    assert!(lines[7].starts_with("[Stopped after 7 matches"));
}

#[tokio::test]
async fn the_timeout_is_honoured() {
    let f = fixture();
    let line = "some text that does not match the query at all\n".repeat(200);
    for d in 0..20 {
        let dir = f.root().join(format!("d{d}"));
        fs::create_dir(&dir).unwrap();
        for i in 0..100 {
            fs::write(dir.join(format!("f{i}")), &line).unwrap();
        }
    }
    let args = json!({"query": "NEEDLE", "case_sensitive": false});
    let tiny = ToolLimits {
        timeout: Duration::from_millis(1),
        ..ToolLimits::default()
    };
    let started = std::time::Instant::now();
    assert_eq!(
        f.call_with(BuiltinTool::SearchFiles, args.clone(), &tiny)
            .await,
        Err(ToolError::Timeout)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let none = ToolLimits {
        timeout: Duration::ZERO,
        ..ToolLimits::default()
    };
    for (tool, args) in [
        (BuiltinTool::ListFiles, json!({"recursive": true})),
        (
            BuiltinTool::WriteFile,
            json!({"path": "late", "content": "x"}),
        ),
    ] {
        assert_eq!(
            f.call_with(tool, args, &none).await,
            Err(ToolError::Timeout),
            "{}",
            tool.name()
        );
    }
    assert!(!f.root().join("late").exists());
    // The same search finishes with the default limit, so the timeout, not
    // an error, is what stopped it above.
    let found = f.call(BuiltinTool::SearchFiles, args).await.unwrap();
    assert!(found.starts_with("No matches"), "{found}");
}

#[tokio::test]
async fn edit_requires_a_unique_match() {
    let f = fixture();
    fs::write(f.root().join("f.py"), "x = 1\nx = 1\ny = 2\n").unwrap();
    let error = f
        .call(
            BuiltinTool::EditFile,
            json!({"path": "f.py", "old_string": "x = 1", "new_string": "x = 3"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ToolError::Conflict(m) if m.contains("occurs 2 times")),
        "{error}"
    );
    f.call(
        BuiltinTool::EditFile,
        json!({"path": "f.py", "old_string": "x = 1\ny", "new_string": "x = 3\ny"}),
    )
    .await
    .unwrap();
    assert_eq!(
        fs::read_to_string(f.root().join("f.py")).unwrap(),
        "x = 1\nx = 3\ny = 2\n"
    );
    assert!(matches!(
        f.call(
            BuiltinTool::EditFile,
            json!({"path": "f.py", "old_string": "", "new_string": "z"}),
        )
        .await,
        Err(ToolError::InvalidArguments(_))
    ));
}

#[tokio::test]
async fn binary_files_are_refused_and_skipped() {
    let f = fixture();
    fs::write(
        f.root().join("image.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR secret",
    )
    .unwrap();
    for (tool, args) in [
        (BuiltinTool::ReadFile, json!({"path": "image.png"})),
        (
            BuiltinTool::EditFile,
            json!({"path": "image.png", "old_string": "PNG", "new_string": "GIF"}),
        ),
    ] {
        assert!(
            matches!(f.call(tool, args).await, Err(ToolError::InvalidArguments(m)) if m.contains("binary")),
            "{}",
            tool.name()
        );
    }
    let found = f
        .call(BuiltinTool::SearchFiles, json!({"query": "secret"}))
        .await
        .unwrap();
    assert!(found.contains("[Skipped 1 binary file.]"), "{found}");
}

#[tokio::test]
async fn special_files_are_never_opened() {
    let f = fixture();
    let fifo = f.root().join("fifo");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !status.is_ok_and(|s| s.success()) {
        return; // No mkfifo on this system: nothing to test.
    }
    // Opening a FIFO for reading would block until a writer comes.
    assert_not_allowed(
        f.call(BuiltinTool::ReadFile, json!({"path": "fifo"})).await,
        "read a FIFO",
    );
    assert_not_allowed(
        f.call(
            BuiltinTool::WriteFile,
            json!({"path": "fifo", "content": "x"}),
        )
        .await,
        "write a FIFO",
    );
    let found = f
        .call(BuiltinTool::SearchFiles, json!({"query": "x"}))
        .await
        .unwrap();
    assert!(found.starts_with("No matches"));
}

#[test]
fn workspace_names_must_be_single_safe_segments() {
    let base = tempfile::tempdir().unwrap();
    let long = "x".repeat(129);
    for name in [
        "",
        ".",
        "..",
        "../x",
        "a/b",
        "/etc",
        "a b",
        "a.b",
        "a\0b",
        long.as_str(),
    ] {
        assert!(
            matches!(
                Workspace::open(base.path(), name),
                Err(ToolError::InvalidArguments(_))
            ),
            "{name:?}"
        );
    }
    assert_eq!(fs::read_dir(base.path()).unwrap().count(), 0);
    let ws = Workspace::open(base.path(), &"x".repeat(128)).unwrap();
    assert!(
        ws.root()
            .starts_with(fs::canonicalize(base.path()).unwrap())
    );
}

#[test]
fn a_link_in_place_of_the_workspace_is_refused_at_open() {
    let base = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), base.path().join("conv_1")).unwrap();
    assert!(matches!(
        Workspace::open(base.path(), "conv_1"),
        Err(ToolError::PathNotAllowed(_))
    ));
}

#[tokio::test]
async fn remove_deletes_the_workspace_but_not_what_links_point_at() {
    let f = fixture();
    fs::create_dir_all(f.root().join("a/b")).unwrap();
    fs::write(f.root().join("a/b/c"), "x").unwrap();
    symlink(f.outside.path(), f.root().join("a/link")).unwrap();
    let root = f.root().to_path_buf();
    f.ws.clone().remove().await.unwrap();
    assert!(!root.exists());
    f.assert_outside_untouched();
    // Removing again is fine: already gone.
    f.ws.clone().remove().await.unwrap();
}
