//! Structured logs: `RUST_LOG` and `log.format = "json"` apply, and no API
//! key secret ever reaches them.

use crate::support::{Hearth, LISTENING, http, me};
use serde_json::{Value, json};

/// The operator lines `hearth serve` prints as text whatever the log
/// format: the bootstrap notice, the one-time key and the address.
fn is_operator_line(line: &str) -> bool {
    let line = line.trim();
    line.is_empty()
        || line.starts_with("Bootstrapped organisation")
        || line.starts_with("Owner API key")
        || line.starts_with("hk-")
        || line.starts_with(LISTENING)
}

#[tokio::test]
async fn json_logs_at_debug_never_show_a_key() {
    let hearth = Hearth::new()
        .env("RUST_LOG", "debug")
        .env("HEARTH__LOG__FORMAT", "json");
    let mut server = hearth.serve(&[]).await;
    let owner = server
        .stderr_lines()
        .iter()
        .map(|l| l.trim().to_owned())
        .find(|l| l.starts_with("hk-"))
        .unwrap_or_else(|| panic!("no bootstrap key:\n{}", server.stderr()));

    // A session that presents the key every way it can be presented,
    // creates a user and a key, and is refused a few times.
    let client = http();
    assert_eq!(me(&server, &owner).await.0, 200);
    for header in ["x-api-key", "api-key"] {
        let r = client
            .get(server.url("/v1/me"))
            .header(header, &owner)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{header}");
    }
    let r = client
        .get(server.url("/v1/me"))
        .header("authorization", format!("Token {owner}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "malformed Authorization");
    let near_miss = format!("{owner}x");
    assert_eq!(me(&server, &near_miss).await.0, 401);
    let user: Value = client
        .post(server.url("/v1/admin/users"))
        .bearer_auth(&owner)
        .json(&json!({"email": "log@x.io", "role": "member"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created: Value = client
        .post(server.url("/v1/admin/api-keys"))
        .bearer_auth(&owner)
        .json(&json!({"user_id": user["id"], "name": "logged?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let member = created["key"].as_str().expect("created key").to_owned();
    assert_eq!(me(&server, &member).await.0, 200);
    let r = client
        .post(server.url("/v1/admin/users"))
        .bearer_auth(&member)
        .json(&json!({"email": "no@x.io", "role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    server.stop("TERM").await;

    let lines = server.stderr_lines();
    let mut json_lines = Vec::new();
    for line in lines.iter().filter(|l| !is_operator_line(l)) {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            value["level"].is_string() && value["timestamp"].is_string(),
            "a log event: {line}"
        );
        json_lines.push(value);
    }
    assert!(
        json_lines.iter().any(|v| v["level"] == "DEBUG"),
        "RUST_LOG=debug shows debug events:\n{}",
        server.stderr()
    );
    assert!(
        json_lines.iter().any(|v| v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("shutdown"))),
        "the shutdown is logged"
    );

    let with_owner: Vec<&String> = lines.iter().filter(|l| l.contains(&owner)).collect();
    assert_eq!(
        with_owner.len(),
        1,
        "the owner key beyond its bootstrap line: {with_owner:?}"
    );
    assert_eq!(with_owner[0].trim(), owner);
    assert!(
        !lines.iter().any(|l| l.contains(&member)),
        "a created key's secret reached the logs"
    );
    assert!(
        server.stdout().is_empty(),
        "serve writes nothing on stdout: {}",
        server.stdout()
    );
}
