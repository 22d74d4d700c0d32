//! The README quick start, bootstrap and the PostgreSQL switch.

use crate::support::{Hearth, OWNER_KEY, audit_entries, me};
use hearth_store::Backend;
use hearth_store::testing::TestDatabase;

/// The lines of a `hearth serve` stderr that carry a generated key.
fn key_lines(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("hk-"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn quick_start_bootstraps_once_and_the_key_survives_a_restart() {
    let hearth = Hearth::new();
    let mut server = hearth.serve(&[]).await;

    assert!(
        hearth.dir().join("hearth-data/hearth.db").is_file(),
        "no ./hearth-data/hearth.db after the first start"
    );
    let lines = server.stderr_lines();
    let keys = key_lines(&lines);
    assert_eq!(keys.len(), 1, "expected one key line:\n{}", server.stderr());
    let key = keys[0].clone();
    assert!(
        key.len() >= 3 + 22,
        "a key of at least 128 random bits: {key}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains(&key)).count(),
        1,
        "the key is printed exactly once:\n{}",
        server.stderr()
    );
    assert!(
        !server.stderr().contains('\u{1b}'),
        "no terminal colour codes when stderr is not a terminal:\n{}",
        server.stderr()
    );

    let (status, body) = me(&server, &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "owner");
    assert_eq!(body["instance_owner"], true);
    server.stop("TERM").await;

    let mut again = hearth.serve(&[]).await;
    let lines = again.stderr_lines();
    assert!(
        key_lines(&lines).is_empty() && !again.stderr().contains(&key),
        "a restart must not print a key:\n{}",
        again.stderr()
    );
    assert!(
        !again.stderr().contains("Owner API key"),
        "{}",
        again.stderr()
    );
    let (status, body) = me(&again, &key).await;
    assert_eq!(
        status, 200,
        "the first key still works after a restart: {body}"
    );
    assert_eq!(body["role"], "owner");
    again.stop("TERM").await;
}

#[tokio::test]
async fn hearth_admin_key_becomes_the_owner_key() {
    assert_eq!(OWNER_KEY.chars().count(), 32);
    let mut hearth = Hearth::new().env("HEARTH_ADMIN_KEY", OWNER_KEY);
    let mut server = hearth.serve(&[]).await;
    let stderr = server.stderr();
    assert!(
        key_lines(&server.stderr_lines()).is_empty() && !stderr.contains("Owner API key"),
        "no key is printed when HEARTH_ADMIN_KEY is set:\n{stderr}"
    );
    assert!(
        !stderr.contains(OWNER_KEY),
        "HEARTH_ADMIN_KEY leaked to stderr:\n{stderr}"
    );
    let (status, body) = me(&server, OWNER_KEY).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "owner");
    assert_eq!(body["instance_owner"], true);
    let (status, _) = me(&server, "hearth-test-owner-key-0123456788").await;
    assert_eq!(status, 401, "only that exact string is the key");
    server.stop("TERM").await;

    // The key is stored: it keeps working without the variable.
    hearth.remove_env("HEARTH_ADMIN_KEY");
    let mut again = hearth.serve(&[]).await;
    assert!(
        key_lines(&again.stderr_lines()).is_empty(),
        "{}",
        again.stderr()
    );
    let (status, body) = me(&again, OWNER_KEY).await;
    assert_eq!(status, 200, "{body}");
    again.stop("TERM").await;
}

#[tokio::test]
async fn a_short_hearth_admin_key_fails_naming_the_variable() {
    for short in ["too-short", "0123456789abcde"] {
        let hearth = Hearth::new().env("HEARTH_ADMIN_KEY", short);
        let stderr = hearth.run_err(&["serve", "--listen", "127.0.0.1:0"]).await;
        assert!(stderr.contains("HEARTH_ADMIN_KEY"), "{stderr}");
        assert!(stderr.contains("16"), "says how long it must be: {stderr}");
        assert!(
            !stderr.contains(short),
            "does not echo the secret: {stderr}"
        );
        assert!(
            !hearth.dir().join("hearth-data").exists(),
            "fails before creating the database"
        );
        // The CLI refuses it the same way.
        let stderr = hearth.run_err(&["users", "list"]).await;
        assert!(stderr.contains("HEARTH_ADMIN_KEY"), "{stderr}");
    }
}

#[tokio::test]
async fn postgres_from_hearth_database_url_serves() {
    let Some(db) = TestDatabase::new(Backend::Postgres)
        .await
        .expect("postgres test database")
    else {
        return;
    };
    let hearth = Hearth::new()
        .env("HEARTH__DATABASE__URL", &db.url)
        .env("HEARTH_ADMIN_KEY", OWNER_KEY);
    let mut server = hearth.serve(&[]).await;
    let (status, body) = me(&server, OWNER_KEY).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "owner");

    // The CLI works on the same PostgreSQL database beside the server.
    let user = hearth
        .run_json(&["users", "create", "--email", "pg@x.io", "--role", "member"])
        .await;
    let user_id = user["id"].as_str().expect("user id");
    let created = hearth
        .run_json(&["keys", "create", "--user", user_id])
        .await;
    let key = created["key"].as_str().expect("key");
    let (status, body) = me(&server, key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "member");
    assert_eq!(body["user_id"], user_id);
    server.stop("TERM").await;
    assert!(
        !hearth.dir().join("hearth-data").exists(),
        "no SQLite database when PostgreSQL is configured"
    );

    // Restarted, the data (and the audit of the calls above) are there.
    let mut again = hearth.serve(&[]).await;
    let entries = audit_entries(&again, OWNER_KEY, "path_prefix=/v1/me").await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().any(|e| e["user_id"] == user_id));
    let listed = hearth.run_json(&["users", "list"]).await;
    assert!(
        listed
            .as_array()
            .expect("array")
            .iter()
            .any(|u| u["email"] == "pg@x.io")
    );
    again.stop("TERM").await;
}
