//! `--config FILE`, `HEARTH__SECTION__KEY` overrides, `--listen`, and
//! configuration errors that stop the process before it does anything.

use crate::support::{Hearth, OWNER_KEY, Server, http, me};
use std::time::{Duration, Instant};

/// Writes `conf/hearth.toml` in the working directory; its relative path.
fn write_config(hearth: &Hearth, text: &str) -> &'static str {
    let dir = hearth.dir().join("conf");
    std::fs::create_dir_all(&dir).expect("conf dir");
    std::fs::write(dir.join("hearth.toml"), text).expect("write config");
    "conf/hearth.toml"
}

#[tokio::test]
async fn the_config_file_is_used() {
    let hearth = Hearth::new().env("HEARTH_ADMIN_KEY", OWNER_KEY);
    let config = write_config(
        &hearth,
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[database]\nurl = \"sqlite://custom/data.db\"\n",
    );
    // `--config` before the subcommand; no `--listen`: the file's address.
    let mut server = Server::start(hearth.command(&["--config", config, "serve"])).await;
    assert_ne!(server.addr.port(), 0);
    assert!(
        hearth.dir().join("custom/data.db").is_file(),
        "the configured database"
    );
    assert!(
        !hearth.dir().join("hearth-data").exists(),
        "not the default database"
    );
    let (status, body) = me(&server, OWNER_KEY).await;
    assert_eq!(status, 200, "{body}");
    server.stop("TERM").await;

    // The CLI reads the same file, so it sees the same database.
    let users = hearth
        .run_json(&["users", "list", "--config", config])
        .await;
    assert_eq!(users.as_array().expect("array").len(), 1, "{users}");
    assert!(!hearth.dir().join("hearth-data").exists());
}

#[tokio::test]
async fn an_env_override_beats_the_file() {
    let hearth = Hearth::new()
        .env("HEARTH_ADMIN_KEY", OWNER_KEY)
        .env("HEARTH__LIMITS__REQUESTS_PER_MINUTE", "2");
    let config = write_config(&hearth, "[limits]\nrequests_per_minute = 1000\n");
    let mut server = hearth.serve(&["--config", config]).await;
    let client = http();
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let response = client
            .get(server.url("/v1/me"))
            .bearer_auth(OWNER_KEY)
            .send()
            .await
            .expect("GET /v1/me");
        statuses.push(response.status().as_u16());
        last = Some(response);
    }
    assert_eq!(statuses, [200, 200, 429]);
    let limited = last.expect("third response");
    let headers = limited.headers();
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(headers["x-ratelimit-limit-requests"], "2");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
    server.stop("TERM").await;
}

#[tokio::test]
async fn the_listen_flag_beats_the_config_file() {
    // A port that is taken: the file's address cannot be bound.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let hearth = Hearth::new();
    let config = write_config(
        &hearth,
        &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    );

    let stderr = hearth.run_err(&["serve", "--config", config]).await;
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")),
        "the file was read: {stderr}"
    );

    let mut server = hearth.serve(&["--config", config]).await;
    assert_ne!(server.addr.port(), port);
    let health = http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    server.stop("TERM").await;
    drop(taken);
}

/// A configuration problem: the process exits non-zero at once, with a
/// one-line message naming the key (and the variable, when it came from
/// the environment), before it creates a database.
async fn fails_naming(hearth: &Hearth, args: &[&str], names: &[&str]) {
    fails_naming_in(hearth, args, names, 1).await;
}

async fn fails_naming_in(hearth: &Hearth, args: &[&str], names: &[&str], max_lines: usize) {
    let started = Instant::now();
    let stderr = hearth.run_err(args).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?} to fail");
    for name in names {
        assert!(
            stderr.contains(name),
            "{args:?}: stderr does not name {name}:\n{stderr}"
        );
    }
    let lines = stderr.trim().lines().count();
    assert!(
        (1..=max_lines).contains(&lines),
        "{lines} lines, not a clear message:\n{stderr}"
    );
    assert!(
        !hearth.dir().join("hearth-data").exists(),
        "{args:?} created the database"
    );
}

#[tokio::test]
async fn bad_configuration_fails_fast_naming_the_key() {
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        "conf/hearth.toml",
    ];

    let hearth = Hearth::new();
    write_config(&hearth, "[database]\nurll = \"x\"\n");
    fails_naming(&hearth, &serve, &["database.urll"]).await;

    let hearth = Hearth::new();
    write_config(&hearth, "[limits]\nrequests_per_minute = \"lots\"\n");
    fails_naming(&hearth, &serve, &["limits.requests_per_minute"]).await;

    let hearth = Hearth::new();
    write_config(&hearth, "[limits]\nrequests_per_minute = 0\n");
    fails_naming(&hearth, &serve, &["limits.requests_per_minute"]).await;

    let hearth = Hearth::new();
    write_config(&hearth, "[server\nlisten = 1\n");
    // A syntax error shows where it is, over a few lines.
    fails_naming_in(&hearth, &serve, &["conf/hearth.toml", "TOML", "line 1"], 6).await;

    let hearth = Hearth::new();
    fails_naming(&hearth, &serve, &["conf/hearth.toml"]).await; // missing file

    let hearth = Hearth::new().env("HEARTH__DATABASE__NOPE", "1");
    fails_naming(
        &hearth,
        &serve[..3],
        &["HEARTH__DATABASE__NOPE", "database.nope"],
    )
    .await;

    // Beside a valid variable of the same section, the bad one is named.
    let hearth = Hearth::new()
        .env("HEARTH__DATABASE__URL", "sqlite://x.db")
        .env("HEARTH__DATABASE__NOPE", "1");
    fails_naming(&hearth, &serve[..3], &["HEARTH__DATABASE__NOPE"]).await;

    let hearth = Hearth::new().env("HEARTH__LIMITS__REQUESTS_PER_MINUTE", "lots");
    fails_naming(
        &hearth,
        &serve[..3],
        &[
            "HEARTH__LIMITS__REQUESTS_PER_MINUTE",
            "limits.requests_per_minute",
        ],
    )
    .await;

    let hearth = Hearth::new();
    fails_naming(
        &hearth,
        &["serve", "--listen", "localhost"],
        &["--listen", "localhost"],
    )
    .await;
    let hearth = Hearth::new().env("HEARTH__SERVER__LISTEN", "localhost");
    fails_naming(
        &hearth,
        &["serve"],
        &["server.listen", "HEARTH__SERVER__LISTEN"],
    )
    .await;

    // The CLI validates the same way.
    let hearth = Hearth::new().env("HEARTH__DATABASE__NOPE", "1");
    fails_naming(&hearth, &["users", "list"], &["HEARTH__DATABASE__NOPE"]).await;
}
